"""The citizen's export as a PDF in their language, with a CJK font embedded (fpdf2).

The font is WenQuanYi Zen Hei (`fonts-wqy-zenhei`, installed by scripts/setup), embedded as a
subset with its Unicode map, so `pdftotext` gives back the same Chinese characters. The same
document gives the same bytes: the creation date is the export's own time, and nothing else
in the file depends on the clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from fpcredit.errors import FpcreditError
from fpcredit.messages import text

__all__ = ["FONT_PATH", "render_pdf"]

FONT_PATH: Final = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")  # Debian's path
_FONT: Final = "zenhei"
_LINE_MM: Final = 6.0


class _Document(FPDF):
    """A4 pages, each with its number in the footer."""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, size=8)
        self.cell(0, 5, text("subject.page", page=self.page_no()), align="C")


def _new(generated_at: dt.datetime) -> _Document:
    """An A4 document with the font loaded. Parsed afresh each time (about a second for the
    16 MB collection): writing a document subsets the parsed font in place, so a parsed font
    cannot be shared between documents."""
    if not FONT_PATH.is_file():
        raise FpcreditError(text("subject.font_missing", path=FONT_PATH))
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # bitmap tables are not subset
    pdf = _Document(format="A4")
    pdf.add_font(_FONT, "", str(FONT_PATH))
    pdf.set_creator("fpcredit")
    pdf.set_producer("fpcredit")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_creation_date(generated_at.replace(tzinfo=dt.UTC))
    pdf.set_title(text("subject.export_title"))
    pdf.add_page()
    return pdf


def _line(pdf: FPDF, value: str, size: float = 10.5) -> None:
    pdf.set_font(_FONT, size=size)
    pdf.multi_cell(0, _LINE_MM, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, value: str) -> None:
    pdf.ln(3)
    _line(pdf, value, size=13)
    pdf.ln(1)


def _field(pdf: FPDF, key: str, value: Any) -> None:
    shown = text("subject.none") if value is None or value == "" else str(value)
    _line(pdf, f"{text(key)}：{shown}")


# The file's fields in the order shown, each with the key of its label.
_FILE_FIELDS: Final = (
    ("person_id", "subject.field_person_id"),
    ("name", "subject.field_name"),
    ("id_number", "subject.field_id_number"),
    ("phone", "subject.field_phone"),
    ("address", "subject.field_address"),
    ("sex", "subject.field_sex"),
    ("birth_date", "subject.field_birth_date"),
    ("hukou_region", "subject.field_hukou_region"),
    ("residence_region", "subject.field_residence_region"),
    ("urban_rural", "subject.field_urban_rural"),
    ("occupation", "subject.field_occupation"),
)


def _file(pdf: FPDF, file: dict[str, Any]) -> None:
    _heading(pdf, text("subject.section_file"))
    for column, key in _FILE_FIELDS:
        value = file[column] or (file["birth_year"] if column == "birth_date" else None)
        _field(pdf, key, value)
    records = "，".join(f"{k} {v}" for k, v in sorted(file["records_by_source"].items()))
    _field(pdf, "subject.field_records", records)
    _field(pdf, "subject.field_facts", file["facts_total"])
    disputed = [str(f["id"]) for f in file["facts"] if f["disputed"]]
    _field(pdf, "subject.field_disputed", "，".join(disputed) if disputed else None)


def _credit(pdf: FPDF, credit: dict[str, Any] | None, summary: dict[str, Any] | None) -> None:
    _heading(pdf, text("subject.section_credit"))
    if credit is None or summary is None:
        _line(pdf, text("subject.not_evaluated"))
        return
    _field(pdf, "subject.field_total", credit["total"])
    _field(pdf, "subject.field_grade", credit["grade"])
    _field(pdf, "subject.field_points", credit["points"])
    _field(pdf, "subject.field_policy", f"{credit['policy_id']} {credit['policy_version']}")
    _field(pdf, "subject.field_score_date", credit["score_date"])
    _heading(pdf, text("subject.section_explanation"))
    for d in summary["dimensions"]:
        _line(pdf, text("subject.dimension_line", name=d["name"], score=d["score"] or "—"))
    for i in summary["indicators"]:
        points = "—" if i["points"] is None else i["points"]
        _line(pdf, text("subject.indicator_line", name=i["name"], status=i["status"],
                        points=points))  # fmt: skip


def _access(pdf: FPDF, access: dict[str, Any]) -> None:
    _heading(pdf, text("subject.section_access"))
    _field(pdf, "subject.field_access_total", access["counted"])
    for action, count in access["by_action"].items():
        _line(pdf, text("subject.access_count", action=action, count=count))
    for e in access["newest"]:
        at = str(e["at"])[:19].replace("T", " ")
        _line(pdf, text("subject.access_line", at=at, actor=e["actor"], action=e["action"],
                        purpose=e["purpose"] or "—", outcome=e["outcome"]), size=9)  # fmt: skip


def render_pdf(doc: dict[str, Any]) -> bytes:
    """The export (`ExportView` as JSON-ready data) as a PDF in the current language."""
    generated_at = dt.datetime.fromisoformat(str(doc["generated_at"]))
    pdf = _new(generated_at)
    _line(pdf, text("subject.export_title"), size=16)
    _line(pdf, text("subject.generated_at", at=generated_at.strftime("%Y-%m-%d %H:%M:%S")))
    _line(pdf, text("subject.export_intro"), size=9)
    _file(pdf, doc["file"])
    _credit(pdf, doc["credit"], doc["explanation"])
    _access(pdf, doc["access_log"])
    return bytes(pdf.output())
