"""Uploaded ledger workbooks, for the API and the pages alike: the file's own name without any
directory (it is recorded with the import) and a streamed copy to disk that refuses what is not
an ``.xlsx`` workbook, is empty or is too large — before anything is read or stored. What the
workbook holds is ``ledger``'s to judge."""

import os
import re
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import UploadFile

from workflow.errors import InvalidInput, PayloadTooLarge

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1024 * 1024
SUFFIXES = (".xlsx", ".xlsm")


def attachment(name: str, fallback: str = "ledger.xlsx") -> dict[str, str]:
    """The headers of a download named ``name`` for browsers (RFC 6266 ``filename*``), with an
    ASCII ``fallback`` for the others."""
    ascii_name = name if re.fullmatch(r"[A-Za-z0-9._ -]+", name) else fallback
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"}


def safe_name(filename: str) -> str:
    """``../../台账.xlsx`` → ``台账.xlsx``; refuses other formats with the way to convert them."""
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name.lower().endswith(SUFFIXES):
        raise InvalidInput("file", f"只能导入 .xlsx 工作簿；“{name or filename}”请先在 Excel 或 WPS 中另存为 .xlsx")
    if len(name) > 120 or name.startswith("."):
        stem, suffix = os.path.splitext(name)
        name = (stem.lstrip(".")[:100] or "台账") + suffix
    return name


async def save_upload(upload: UploadFile, target: Path, limit: int) -> int:
    """Copy the upload to ``target`` in chunks; its size. The caller removes ``target`` when
    this raises."""
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            if size == 0 and not chunk.startswith(ZIP_MAGIC):
                raise InvalidInput("file", "这不是 .xlsx 工作簿（.xls 或其他格式请先在 Excel 或 WPS 中另存为 .xlsx）")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            out.write(chunk)
    if size == 0:
        raise InvalidInput("file", "上传的文件是空的")
    return size
