"""Which rules apply to a case: the current definition of each workflow type, and every older
version a case was pinned to, read back from the ``workflow_definition`` table."""

import threading
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from cases import repository as repo
from workflow.errors import CaseflowError, InvalidInput
from workflow.loader import load_workflow_text
from workflow.org import Organisation
from workflow.rulebook import Rulebook
from workflow.spec import WorkflowSpec


class Definitions:
    def __init__(self, specs: dict[str, WorkflowSpec], org: Organisation) -> None:
        self.org = org
        self.specs = dict(specs)
        self._rulebooks = {spec.version: Rulebook(spec, org) for spec in specs.values()}
        self._lock = threading.Lock()

    @property
    def types(self) -> list[str]:
        return list(self.specs)

    def current(self, case_type: str) -> Rulebook:
        spec = self.specs.get(case_type)
        if spec is None:
            raise InvalidInput("type", f"未知案件类型“{case_type}”；可选：{'、'.join(self.specs)}")
        return self._rulebooks[spec.version]

    def register(self, conn: Connection, now: datetime) -> None:
        """Store the text of every current definition, in the caller's transaction (an insert
        that does nothing when the version is stored already)."""
        for spec in self.specs.values():
            repo.save_definition(
                conn,
                {
                    "version": spec.version,
                    "type": spec.type,
                    "source_file": spec.source_file,
                    "source_text": spec.source_text,
                    "loaded_at": now,
                },
            )

    def pinned(self, conn: Connection, version: str) -> Rulebook:
        """The rulebook of the definition version a case started on."""
        rulebook = self._rulebooks.get(version)
        if rulebook is not None:
            return rulebook
        row = repo.definition_text(conn, version)
        if row is None:
            raise CaseflowError(f"案件所用的流程定义版本 {version[:12]} 不存在", {"version": version})
        spec = self._with_obligations(load_workflow_text(row.source_text, f"{row.source_file}@{version[:12]}", self.org))
        with self._lock:
            return self._rulebooks.setdefault(version, Rulebook(spec, self.org))

    def _with_obligations(self, spec: WorkflowSpec) -> WorkflowSpec:
        """A version from before definitions declared obligations (责任清单) owes what the current
        version of its type declares, where the states it names exist in the old one: running
        cases get a responsibility list without changing the rules they started on."""
        current = self.specs.get(spec.type)
        if spec.obligations or current is None or not current.obligations:
            return spec
        grafted = {k: o for k, o in current.obligations.items() if set(o.states) <= set(spec.states)}
        return replace(spec, obligations=grafted)
