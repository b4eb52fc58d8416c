"""`GET /v1/me/export` (JSON and PDF) and `POST /v1/me/feedback` through the served API."""

from __future__ import annotations

import subprocess
from pathlib import Path

import sqlalchemy as sa

from fpcredit.guard.masking import mask_name
from fpcredit.guard.trail.log import Trail
from fpcredit.messages import text, using_language
from fpcredit.store import schema as s
from fpcredit.subjects.pdf import render_pdf
from tests.web.conftest import Web

HEADINGS_ZH = ("个人信用档案导出", "一、档案信息", "二、最新信用评价", "三、评价说明摘要",
               "四、查询记录摘要")  # fmt: skip


def _pdftotext(pdf: bytes, tmp: Path) -> str:
    path = tmp / "export.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


def _exports(web: Web) -> int:
    trail = Trail(web.store, web.settings)
    entries = trail.for_subject(str(web.inside.id)).entries
    return sum(1 for p in entries if p.entry.action == "self_export")


def test_the_json_export_is_the_citizens_own_masked_view(web: Web) -> None:
    before = _exports(web)
    r = web.client.get("/v1/me/export", headers=web.auth("citizen"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    me = web.client.get("/v1/me", headers=web.auth("citizen")).json()
    assert doc["file"]["name"] == mask_name(web.inside.name) == me["name"]
    assert doc["file"]["id_number"] == me["id_number"] != web.inside.id_number
    assert doc["credit"]["person_id"] == web.inside.id
    assert doc["explanation"]["grade"] == doc["credit"]["grade"]
    assert doc["explanation"]["indicators"]
    assert doc["access_log"]["counted"] >= 1 and doc["language"] == "zh"
    assert _exports(web) == before + 1  # the export is on the citizen's access log


def test_the_pdf_export_reads_back_in_chinese(web: Web, tmp_path: Path) -> None:
    r = web.client.get("/v1/me/export", params={"format": "pdf"}, headers=web.auth("citizen"))
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert "attachment" in r.headers["content-disposition"]
    extracted = _pdftotext(r.content, tmp_path)
    assert mask_name(web.inside.name) in extracted
    for heading in HEADINGS_ZH:
        assert heading in extracted
    assert web.inside.name not in extracted and web.inside.id_number not in extracted


def test_the_pdf_export_is_in_english_when_asked(web: Web, tmp_path: Path) -> None:
    headers = {**web.auth("citizen"), "Accept-Language": "en"}
    r = web.client.get("/v1/me/export", params={"format": "pdf"}, headers=headers)
    assert r.status_code == 200
    extracted = _pdftotext(r.content, tmp_path)
    assert "1. Your file" in extracted and "Personal credit file export" in extracted
    assert mask_name(web.inside.name) in extracted


def test_the_same_export_gives_the_same_pdf(web: Web) -> None:
    doc = web.client.get("/v1/me/export", headers=web.auth("citizen")).json()
    with using_language("zh"):
        first, second = render_pdf(doc), render_pdf(doc)
    assert first == second


def test_a_format_other_than_json_or_pdf_is_refused(web: Web) -> None:
    r = web.client.get("/v1/me/export", params={"format": "docx"}, headers=web.auth("citizen"))
    assert r.status_code == 422


def test_feedback_is_taken_and_its_complaint_sealed(web: Web) -> None:
    complaint = "补贴发放太慢，已经等了三个月"
    body = {"about": "case", "ref": "42", "satisfaction": 2, "complaint": complaint}
    r = web.client.post("/v1/me/feedback", json=body, headers=web.auth("citizen"))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["complaint"] is True and complaint not in r.text
    with web.store.engine.connect() as conn:
        row = conn.execute(sa.select(s.feedback).where(s.feedback.c.id == answer["id"])).one()
    assert row.person_id == web.inside.id and complaint.encode() not in bytes(row.complaint_enc)


def test_bad_feedback_is_a_clear_422(web: Web) -> None:
    auth = web.auth("citizen")
    good = {"about": "incentive", "ref": "free_reproductive_check", "satisfaction": 5}
    assert web.client.post("/v1/me/feedback", json=good, headers=auth).status_code == 201
    for change in (
        {"ref": "no_such_incentive"},
        {"satisfaction": 0},
        {"satisfaction": 6},
        {"about": "shop"},
        {"ref": ""},
        {"ref": "a b"},
        {"complaint": "长" * 501},
        {"complaint": "   "},
    ):
        r = web.client.post("/v1/me/feedback", json={**good, **change}, headers=auth)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["detail"]
    with using_language("en"):
        assert "500" in text("subject.complaint_too_long", limit=500)
