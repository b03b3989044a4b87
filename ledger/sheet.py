"""Reading a ledger (台账) sheet: finding the sheet and its header row, then its data rows.

``LedgerSheet`` finds the sheet of a workbook that holds a ledger of one type and its header row
(title rows above it, two-row headers, merged cells — read from the sheet XML, which read-only
openpyxl skips — filled in as a clerk sees them) and yields the data rows; for large sheets it
does all of that in a child process so that parsing overlaps with validation. What a header or a
cell means is ``ledger.cells``'s; what an import does with the rows is ``ledger.importer``'s.
"""

import multiprocessing
import re
import threading
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

from ledger.cells import HeaderIndex, blank, fold
from ledger.model import Column

_SPACE = re.compile(r"\s+")

HEADER_SEARCH_ROWS = 30
"""The header row is looked for among this many rows at the top of a sheet (title rows above)."""
MIN_HEADER_SCORE = 2
MAX_FILLED_CELLS = 1_000_000
"""Merged ranges larger than this are not filled in (a whole-column merge is a drawing, not data)."""
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Found:
    """A column found in a sheet."""

    column: Column
    index: int
    """0-based position in the row."""
    header: str
    """The header as written (white space removed)."""

    @property
    def letter(self) -> str:
        return get_column_letter(self.index + 1)


@dataclass
class Layout:
    sheet: str
    first_row: int
    """The first header row (1-based)."""
    header_row: int
    """The last header row; data starts below it."""
    found: dict[str, Found]
    unknown: list[tuple[str, str]]
    """(letter, header) of headers that name no column."""
    repeated: list[tuple[str, str]]
    """(letter, header) of second headers for a column already found."""
    score: int


def merged_ranges(path: Path, member: str) -> list[tuple[int, int, int, int]]:
    """The merged ranges (min_row, min_col, max_row, max_col) of one sheet, read from its XML
    (read-only workbooks do not parse them). Streams the part: memory stays flat."""
    found: list[tuple[int, int, int, int]] = []
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        tail = b""
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            data = tail + chunk
            if b"mergeCell" in data:
                last = 0
                for match in _MERGE.finditer(data):
                    min_col, min_row, max_col, max_row = range_boundaries(match.group(1).decode())
                    found.append((min_row, min_col, max_row, max_col))
                    last = match.end()
                tail = data[max(last, len(data) - 300) :]
            else:
                tail = data[-300:]
    return sorted(set(found))


class Sheet:
    """One worksheet of a read-only workbook; rows come with merged cells filled in (every cell
    of a merged range reads as its top-left cell, as a clerk sees it)."""

    def __init__(self, worksheet: Any, merges: list[tuple[int, int, int, int]]) -> None:
        self.ws = worksheet
        self.title: str = worksheet.title
        self.size_hint: int | None = worksheet.max_row if isinstance(worksheet.max_row, int) else None
        # the <dimension> a writer put in the file may be wrong: read every row that is there
        worksheet.reset_dimensions()
        self.anchors: dict[int, list[int]] = {}
        self.followers: dict[int, list[tuple[int, tuple[int, int]]]] = {}
        for min_row, min_col, max_row, max_col in merges:
            if (max_row - min_row + 1) * (max_col - min_col + 1) > MAX_FILLED_CELLS:
                continue
            anchor = (min_row, min_col - 1)
            self.anchors.setdefault(min_row, []).append(min_col - 1)
            for r in range(min_row, max_row + 1):
                for c in range(min_col - 1, max_col):
                    if (r, c) != anchor:
                        self.followers.setdefault(r, []).append((c, anchor))

    def rows(self, first: int = 1) -> Iterator[tuple[int, list[Any]]]:
        """(row number, values) from row ``first`` on."""
        cache: dict[tuple[int, int], Any] = {}
        rows = self.ws.iter_rows(values_only=True)
        try:
            for number, raw in enumerate(rows, start=1):
                values = list(raw)
                for c in self.anchors.get(number, ()):
                    cache[(number, c)] = values[c] if c < len(values) else None
                for c, anchor in self.followers.get(number, ()):
                    if c >= len(values):
                        values.extend([None] * (c + 1 - len(values)))
                    if values[c] is None:
                        values[c] = cache.get(anchor)
                if number >= first:
                    yield number, values
        finally:
            rows.close()

    def top(self, count: int = HEADER_SEARCH_ROWS) -> list[tuple[int, list[Any]]]:
        result = []
        rows = self.rows()
        try:
            for item in rows:
                result.append(item)
                if len(result) >= count:
                    break
        finally:
            rows.close()
        return result


def _matched(values: list[Any], index: HeaderIndex) -> set[str]:
    return {col.key for col in (index.match(v) for v in values) if col is not None}


def find_layout(title: str, top: list[tuple[int, list[Any]]], index: HeaderIndex) -> Layout | None:
    """The header row among the top rows: the row naming the most columns (a two-row header
    — group titles above, column names below — counts as one)."""
    best: tuple[int, int, int, list[Any]] | None = None
    for i, (number, values) in enumerate(top):
        candidates = [(len(_matched(values, index)), number, number, values)]
        if i + 1 < len(top):
            below_number, below = top[i + 1]
            width = max(len(values), len(below))
            padded = values + [None] * (width - len(values))
            under = below + [None] * (width - len(below))
            combined = [u if index.match(u) is not None else v for v, u in zip(padded, under, strict=True)]
            score = len(_matched(combined, index))
            if score > max(candidates[0][0], len(_matched(below, index))):
                candidates.append((score, number, below_number, combined))
        for candidate in candidates:
            if best is None or candidate[0] > best[0]:
                best = candidate
    if best is None or best[0] < MIN_HEADER_SCORE:
        return None
    score, first, last, values = best
    found: dict[str, Found] = {}
    unknown: list[tuple[str, str]] = []
    repeated: list[tuple[str, str]] = []
    for i, value in enumerate(values):
        if blank(value):
            continue
        written = _SPACE.sub("", str(value))
        col = index.match(value)
        if col is None:
            unknown.append((get_column_letter(i + 1), written))
        elif col.key in found:
            if found[col.key].header != written or not _is_merged_twin(values, i, found[col.key].index):
                repeated.append((get_column_letter(i + 1), written))
        else:
            found[col.key] = Found(col, i, written)
    return Layout(title, first, last, found, unknown, repeated, score)


def _is_merged_twin(values: list[Any], i: int, first: int) -> bool:
    """A header merged across columns reads the same in each: only the first one counts."""
    return all(values[j] == values[first] for j in range(first, i + 1))


def open_workbook(path: Path) -> Any:
    """A read-only workbook (values of formulas as last computed); warnings about features
    openpyxl drops (WPS extensions, data validation) are not the clerk's problem."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_workbook(path, read_only=True, data_only=True)


def choose_sheet(workbook: Any, path: Path, index: HeaderIndex, preferred: str) -> tuple[Sheet, Layout] | None:
    """The sheet holding the ledger: the one named like the type if it has a header, else the
    sheet whose header names the most columns."""
    best: tuple[Sheet, Layout] | None = None
    for ws in workbook.worksheets:
        if not hasattr(ws, "iter_rows"):
            continue
        member = getattr(ws, "_worksheet_path", None)
        merges = merged_ranges(path, member) if member else []
        sheet = Sheet(ws, merges)
        layout = find_layout(ws.title, sheet.top(), index)
        if layout is None:
            continue
        if fold(ws.title) == fold(preferred):
            return sheet, layout
        if best is None or layout.score > best[1].score:
            best = (sheet, layout)
    return best


# --- a ledger sheet, read here or in a second process ---------------------------------------------

BACKGROUND_XML_BYTES = 4_000_000
"""Sheets with more XML than this (about 5,000 rows) are parsed in a child process while the
caller validates: openpyxl is pure Python, so on a second core parsing and validating overlap."""
_BATCH = 2000
_POLL_SECONDS = 1.0


def largest_sheet_bytes(path: Path) -> int:
    """The size of the largest worksheet XML in the file (without parsing anything)."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = [
                i.file_size
                for i in archive.infolist()
                if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
            ]
    except (zipfile.BadZipFile, OSError):
        return 0
    return max(sizes, default=0)


class LedgerSheet:
    """The sheet of a workbook that holds a ledger of one type: its layout (``None`` when no
    header was found) and its data rows. Use as a context manager; ``rows()`` once."""

    def __init__(self, path: Path, columns: tuple[Column, ...], preferred: str, *, background: bool = False) -> None:
        self.path = path
        self.columns = columns
        self.preferred = preferred
        self.layout: Layout | None = None
        self.size_hint: int | None = None
        self.background = background
        self._workbook: Any = None
        self._sheet: Sheet | None = None
        self._child: Any = None
        self._queue: Any = None

    def __enter__(self) -> "LedgerSheet":
        if self.background:
            self._start_child()
        else:
            self._workbook = open_workbook(self.path)
            chosen = choose_sheet(self._workbook, self.path, HeaderIndex(self.columns), self.preferred)
            if chosen is not None:
                self._sheet, self.layout = chosen
                self.size_hint = self._sheet.size_hint
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        assert self.layout is not None
        if self._sheet is not None:
            yield from self._sheet.rows(self.layout.header_row + 1)
            return
        while True:
            message = self._receive()
            if message is None:
                return
            yield from message

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
        if self._child is not None:
            if self._child.is_alive():
                self._child.terminate()
            self._child.join()
            self._queue.close()
            self._queue.join_thread()
            self._child = None

    def _start_child(self) -> None:
        # fork is quick, but forking a process with other threads (the web server's) can copy a
        # lock held by one of them into the child: spawn there.
        methods = multiprocessing.get_all_start_methods()
        alone = threading.active_count() == 1
        context = multiprocessing.get_context("fork" if "fork" in methods and alone else "spawn")
        self._queue = context.Queue(maxsize=8)
        args = (str(self.path), self.columns, self.preferred, self._queue)
        self._child = context.Process(target=_produce, args=args, daemon=True)
        self._child.start()
        first = self._receive()
        if first is not None:
            self.layout, self.size_hint = first

    def _receive(self) -> Any:
        while True:
            try:
                message = self._queue.get(timeout=_POLL_SECONDS)
            except Empty:
                if not self._child.is_alive():
                    raise RuntimeError("the sheet reader stopped unexpectedly") from None
                continue
            if isinstance(message, str):
                raise RuntimeError(f"reading the sheet failed: {message}")
            return message


def _produce(path: str, columns: tuple[Column, ...], preferred: str, queue: Any) -> None:
    """The child process: find the sheet and its header, send (layout, size hint), then batches
    of rows, then ``None``. Errors are sent as text."""
    try:
        with LedgerSheet(Path(path), columns, preferred) as sheet:
            if sheet.layout is None:
                queue.put(None)
                return
            queue.put((sheet.layout, sheet.size_hint))
            batch: list[tuple[int, list[Any]]] = []
            for item in sheet.rows():
                batch.append(item)
                if len(batch) >= _BATCH:
                    queue.put(batch)
                    batch = []
            if batch:
                queue.put(batch)
            queue.put(None)
    except KeyboardInterrupt:
        return
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
        queue.put(f"{type(exc).__name__}: {exc}")
