"""Evidence files: content-addressed under ``data_dir/evidence/ab/cdef…``, stored once, and
refused (``InvalidInput``, nothing written anywhere) when too large or of a type not allowed."""

import hashlib

import pytest
from helpers import (
    PNG,
    evidence_files,
    evidence_rows,
    new_site_case,
    photo,
    tiny_png,
    walk_site_to,
)

from cases.models import EvidenceFile
from cases.service import Upload
from workflow.errors import EvidenceCorrupted, InvalidInput, NotFound

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode."
)


@pytest.fixture
def site(app, actors):
    number = new_site_case(app)["number"]
    walk_site_to(app, number, "clearing")
    return number


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def item(case, key):
    return next(i for i in case["items"] if i["key"] == key)


def stored_row(app, digest):
    with app.db.read() as conn:
        return conn.execute(EvidenceFile.__table__.select().where(EvidenceFile.__table__.c.sha256 == digest)).first()


def test_stored_content_addressed_under_data_dir(app, actors, site, data_dir):
    case = app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("断水现场.png", PNG)])
    digest = sha(PNG)
    path = data_dir / "evidence" / digest[:2] / digest[2:]
    assert evidence_files(data_dir) == [path]
    assert path.read_bytes() == PNG
    assert app.evidence.read(digest) == PNG
    assert item(case, "cut_water")["evidence"] == [digest]
    row = stored_row(app, digest)
    assert (row.size, row.media_type, row.original_name, row.created_by) == (
        len(PNG),
        "image/png",
        "断水现场.png",
        "water",
    )
    assert app.cases.history(site)[-1]["payload"]["evidence"] == [digest]


def test_same_file_twice_is_stored_once(app, actors, site, data_dir):
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("a.png", PNG)])
    case = app.cases.complete_item(
        site,
        "cut_power",
        actors.power,
        {"meter_reading": "5"},
        evidence=[Upload("b.png", PNG), Upload("c.png", PNG)],
    )
    assert len(evidence_files(data_dir)) == 1 and evidence_rows(app) == 1
    assert item(case, "cut_power")["evidence"] == [sha(PNG)]  # listed once on the item
    assert item(case, "cut_water")["evidence"] == [sha(PNG)]
    assert stored_row(app, sha(PNG)).original_name == "a.png"  # the first description is kept


def test_several_files_on_one_item(app, actors, site, data_dir):
    files = [Upload("1.png", tiny_png(1)), Upload("plan.pdf", PDF), Upload("2.png", tiny_png(2))]
    case = app.cases.complete_item(site, "clear_materials", actors.kongcheng, evidence=files)
    assert item(case, "clear_materials")["evidence"] == [sha(f.data) for f in files]
    assert sorted(p.name for p in evidence_files(data_dir)) == sorted(sha(f.data)[2:] for f in files)
    assert stored_row(app, sha(PDF)).media_type == "application/pdf"


def test_type_is_read_from_content_and_name_is_only_text(app, actors, site, data_dir):
    case = app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("../../etc/passwd.exe", PNG)])
    assert item(case, "cut_water")["evidence"] == [sha(PNG)]
    row = stored_row(app, sha(PNG))
    assert row.media_type == "image/png" and row.original_name == "passwd.exe"
    assert evidence_files(data_dir) == [data_dir / "evidence" / sha(PNG)[:2] / sha(PNG)[2:]]


BAD_FILES = [
    pytest.param([Upload("setup.exe", EXE)], id="exe"),
    pytest.param([Upload("photo.png", b"this is plain text, not a photo\n")], id="text-named-png"),
    pytest.param([Upload("empty.png", b"")], id="empty"),
    pytest.param([Upload("ok.png", tiny_png(7)), Upload("setup.exe", EXE)], id="good-and-bad"),
    pytest.param([Upload("big.png", PNG + b"\x00" * 200)], id="too-large"),
]


@pytest.mark.parametrize("uploads", BAD_FILES)
def test_bad_files_are_refused_and_nothing_is_written(app, actors, site, data_dir, uploads):
    app.evidence.max_bytes = 128  # PNG (69 bytes) fits, 269 bytes do not
    before = (
        app.cases.show(site),
        app.cases.history(site),
        evidence_files(data_dir),
        evidence_rows(app),
    )
    with pytest.raises(InvalidInput) as refused:
        app.cases.complete_item(site, "cut_water", actors.water, evidence=uploads)
    assert refused.value.field == "evidence"
    assert (
        app.cases.show(site),
        app.cases.history(site),
        evidence_files(data_dir),
        evidence_rows(app),
    ) == before
    assert not (data_dir / "evidence").exists() or not any((data_dir / "evidence").rglob("*"))  # no temp files


def test_size_limit_is_inclusive(app, actors, site, data_dir):
    app.evidence.max_bytes = len(PNG)
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("exact.png", PNG)])
    assert evidence_rows(app) == 1
    with pytest.raises(InvalidInput):
        app.cases.complete_item(site, "clear_products", actors.kongcheng, evidence=[Upload("x.png", PNG + b"\x00")])
    assert evidence_rows(app) == 1


def test_evidence_on_an_action_that_takes_none_is_refused(app, actors, site, data_dir):
    """``submit_clearance`` takes no files: refused with InvalidInput, no row written."""
    for key, actor in (
        ("cut_water", actors.water),
        ("clear_materials", actors.kongcheng),
        ("clear_products", actors.kongcheng),
        ("clear_equipment", actors.kongcheng),
    ):
        app.cases.complete_item(site, key, actor, evidence=[photo()])
    app.cases.complete_item(site, "cut_power", actors.power, {"meter_reading": "1"}, evidence=[photo()])
    rows = evidence_rows(app)
    with pytest.raises(InvalidInput) as refused:
        app.cases.advance(site, "submit_clearance", actors.kongcheng, evidence=[photo(3)])
    assert refused.value.field == "evidence"
    assert evidence_rows(app) == rows and app.cases.show(site)["state"] == "clearing"


def test_required_evidence_missing_is_refused(app, actors, site):
    with pytest.raises(InvalidInput) as refused:
        app.cases.complete_item(site, "cut_water", actors.water)
    assert refused.value.field == "evidence"
    assert item(app.cases.show(site), "cut_water")["done"] is False


@pytest.mark.parametrize("tampering", ["same_size", "truncated", "appended"])
def test_a_tampered_file_is_refused_on_read_and_a_genuine_upload_repairs_it(
    app, actors, site, data_dir, tampering, caplog
):
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("断水.png", PNG)])
    digest = sha(PNG)
    path = data_dir / "evidence" / digest[:2] / digest[2:]
    forged = {
        "same_size": PNG[:-5] + b"XXXXX",
        "truncated": PNG[:20],
        "appended": PNG + b"<script>",
    }[tampering]
    path.write_bytes(forged)
    with pytest.raises(EvidenceCorrupted) as refused:
        app.cases.evidence_file(digest, actors.water)
    assert refused.value.http_status == 500 and refused.value.code == "evidence_corrupted"
    assert "损坏或被篡改" in refused.value.message
    assert refused.value.details == {"sha256": digest, "actual_sha256": sha(forged)}
    assert any("does not match its SHA-256" in r.getMessage() for r in caplog.records)
    with pytest.raises(EvidenceCorrupted):
        app.evidence.read(digest)
    # the same photo uploaded again (on another item) puts the genuine content back
    app.cases.complete_item(site, "cut_power", actors.power, {"meter_reading": "5"}, evidence=[Upload("b.png", PNG)])
    assert path.read_bytes() == PNG
    assert app.cases.evidence_file(digest, actors.water)[1] == PNG


def test_a_missing_file_is_not_found(app, actors, site, data_dir):
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("断水.png", PNG)])
    (data_dir / "evidence" / sha(PNG)[:2] / sha(PNG)[2:]).unlink()
    with pytest.raises(NotFound):
        app.cases.evidence_file(sha(PNG), actors.water)
