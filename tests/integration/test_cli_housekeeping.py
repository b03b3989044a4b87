"""``caseflow housekeeping [--dry-run] [--json]`` as an operator (or cron) runs it, at the fake
instant of ``CASEFLOW_FAKE_NOW``: a dry run counts, a run removes, a second run finds nothing;
a retention the law does not allow is refused before anything is touched."""

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path

from cli_support import FAKE_NOW, assert_refused, make_cli, tiny_png


def orphan(data_dir: Path, data: bytes, age: timedelta) -> Path:
    """A file in the evidence store that no case cites, written ``age`` before the fake now."""
    digest = hashlib.sha256(data).hexdigest()
    path = data_dir / "evidence" / digest[:2] / digest[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = (datetime.fromisoformat(FAKE_NOW) - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_housekeeping_counts_then_removes_orphaned_evidence(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    cli.ok("init")
    stale = orphan(cli.data_dir, tiny_png(1), timedelta(days=2))
    size = stale.stat().st_size
    recent = orphan(cli.data_dir, tiny_png(2), timedelta(minutes=5))

    dry = cli.json("housekeeping", "--dry-run")
    assert dry["dry_run"] is True and dry["now"] == datetime.fromisoformat(FAKE_NOW).isoformat()
    assert (dry["evidence_files"], dry["evidence_bytes"]) == (1, size)
    assert dry["orphans"] == [stale.parent.name + stale.name] and stale.exists()

    table = cli.ok("housekeeping").stdout
    assert "已清理" in table and "孤立的证明材料文件" in table and f"1（{size} 字节）" in table
    assert not stale.exists() and recent.exists()
    again = cli.json("housekeeping")
    assert (again["evidence_files"], again["idempotency_records"], again["tokens"], again["signin_records"]) == (0, 0, 0, 0)


def test_a_retention_shorter_than_six_months_is_refused(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    cli.ok("init")
    stale = orphan(cli.data_dir, tiny_png(3), timedelta(days=2))
    cli.env["CASEFLOW_SIGNIN_RETENTION_DAYS"] = "90"
    assert_refused(cli.run("housekeeping"), "CASEFLOW_SIGNIN_RETENTION_DAYS", "不能小于 180")
    assert stale.exists()
