"""The data element standard: valid, complete, rendered docs up to date, mappings resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from fpcredit.collect.adapters import ADAPTERS
from fpcredit.collect.mapping import load_mapping, parse_mapping, sources
from fpcredit.errors import StandardError
from fpcredit.standard.elements import load_standard, parse_standard
from fpcredit.standard.render import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_standard_covers_the_spec_data_sets() -> None:
    std = load_standard()
    wanted = {
        "person",
        "household_membership",
        "marriage",
        "birth_registration",
        "contraception",
        "prenatal_check",
        "postnatal_check",
        "vaccination",
        "child_health_check",
        "infant_care",
        "maternity_insurance_payment",
        "subsidy_grant",
        "credit_event",
        "difficulty",
    }
    assert wanted <= set(std.datasets)
    for ds in std.datasets.values():
        assert ds.authority in std.departments


def test_docs_standard_md_is_current() -> None:
    rendered = render_markdown()
    on_disk = (ROOT / "docs" / "standard.md").read_text(encoding="utf-8")
    assert on_disk == rendered, "run: fpcredit standard render --out docs/standard.md"


def test_every_source_has_an_adapter_and_a_valid_mapping() -> None:
    departments = {"health", "police", "civil", "hrss", "cdc", "mch", "credit"}
    assert set(sources()) == set(ADAPTERS) == departments
    for source in sources():
        assert load_mapping(source).source == source


def test_bad_standard_and_mapping_are_explained() -> None:
    with pytest.raises(StandardError, match="unknown code table"):
        parse_standard(
            "version: '1'\ntitle: t\ntitle_en: t\ndepartments: {}\ncode_tables: {}\n"
            "elements: {x: {zh: x, en: x, type: code, code_table: nope}}\ndatasets: {}\n"
        )
    with pytest.raises(StandardError, match="religion"):
        parse_mapping(
            "source: x\nformat: csv\nrecord_key: k\nkind: marriage\nsubject: wife\n"
            "columns: {k: {to: fact.religion}}\n",
            "x.yaml",
        )


def test_every_code_reads_in_both_languages_and_an_unknown_code_stays_as_it_is() -> None:
    std = load_standard()
    assert std.label("occupation", "F", "zh") == "灵活就业人员（自由职业）"
    assert std.label("occupation", "F", "en") == "flexible employment (self-employed)"
    assert std.label("occupation", "Q", "zh") == "Q" and std.label("sex", None, "en") is None
    for name, table in std.code_tables.items():
        assert table.en and set(table.codes_en) == set(table.codes), name
        assert all(table.label(code, "en") != "" for code in table.codes), name
    with pytest.raises(StandardError, match="same codes"):
        parse_standard(
            "version: '1'\ntitle: t\ntitle_en: t\ndepartments: {}\n"
            "code_tables: {t: {zh: 表, en: table, codes: {a: 甲, b: 乙}, codes_en: {a: A}}}\n"
            "elements: {}\ndatasets: {}\n"
        )
