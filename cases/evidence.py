"""Evidence files, stored content-addressed under the data directory.

A file is kept at ``DATA_DIR/evidence/ab/cdef…`` named by its SHA-256, written to a temporary
file and renamed into place, so that a crash never leaves half a file under a valid name and
the same photo uploaded twice is stored once. The type is read from the content (magic
bytes), never from the name; the name people gave is kept only as text in the database. Every
read checks the content against its name (``EvidenceCorrupted`` for a damaged or tampered file),
and uploading the genuine file again repairs it.
"""

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workflow.errors import EvidenceCorrupted, InvalidInput, NotFound

log = logging.getLogger("caseflow.evidence")
MAX_BYTES = 20 * 1024 * 1024
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)
ALLOWED_DESCRIPTION = "JPEG、PNG、GIF、WebP 图片，PDF，Word/Excel 文档"
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    media_type: str
    original_name: str


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its first bytes, or None when not an allowed type."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            if media_type == "application/zip":
                return _office_type(data)
            return media_type
    return None


def _office_type(data: bytes) -> str | None:
    head = data[:4096]
    if b"word/" in head:
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    if b"xl/" in head:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if b"[Content_Types].xml" in head:
        return "application/vnd.openxmlformats-officedocument"
    return None


def safe_name(name: str) -> str:
    """A display name without directories or control characters (never used as a path)."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "file"


class EvidenceStore:
    def __init__(self, data_dir: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = Path(data_dir) / "evidence"
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise NotFound("证明材料", sha256)
        return self.root / sha256[:2] / sha256[2:]

    def check(self, data: bytes, name: str) -> StoredFile:
        """Validate size and type; return what would be stored (nothing is written)."""
        if len(data) > self.max_bytes:
            raise InvalidInput("evidence", f"文件“{safe_name(name)}”大小{len(data)}字节，超过上限{self.max_bytes}字节")
        if not data:
            raise InvalidInput("evidence", f"文件“{safe_name(name)}”是空文件")
        media_type = sniff(data)
        if media_type is None:
            raise InvalidInput("evidence", f"文件“{safe_name(name)}”类型不允许；允许：{ALLOWED_DESCRIPTION}")
        return StoredFile(hashlib.sha256(data).hexdigest(), len(data), media_type, safe_name(name))

    def put(self, data: bytes, name: str) -> StoredFile:
        """Store ``data`` (idempotent) and return its description."""
        stored = self.check(data, name)
        target = self.path(stored.sha256)
        if target.exists() and target.stat().st_size == stored.size and file_sha256(target) == stored.sha256:
            return stored  # a damaged copy under this name is replaced by the genuine one
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return stored

    def read(self, sha256: str) -> bytes:
        """The file's content, checked against its SHA-256: ``EvidenceCorrupted`` when it differs."""
        path = self.path(sha256)
        if not path.exists():
            raise NotFound("证明材料", sha256)
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            log.error("evidence file %s does not match its SHA-256 (content hashes to %s)", path, actual)
            raise EvidenceCorrupted(sha256, actual)
        return data


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
