"""Loading and validating the data element standard (elements.yaml)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from fpcredit.errors import StandardError

__all__ = [
    "COMMON_FIELDS",
    "CodeTable",
    "Dataset",
    "Element",
    "Standard",
    "load_standard",
]

ElementType = Literal[
    "id_number",
    "name",
    "text",
    "date",
    "datetime",
    "month",
    "integer",
    "decimal",
    "code",
    "region",
    "phone",
    "address",
    "digits",
]
Frequency = Literal["realtime", "weekly", "monthly"]
# Every data set carries these two, required: the bi-temporal pair of R7.
COMMON_FIELDS = ("event_date", "recorded_at")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeTable(_Strict):
    zh: str
    en: str
    codes: dict[str, str]  # code → its Chinese label
    codes_en: dict[str, str]  # code → its English label, for exactly the same codes

    @model_validator(mode="after")
    def _both_languages(self) -> CodeTable:
        if set(self.codes) != set(self.codes_en):
            raise ValueError(f"code table {self.zh}: codes and codes_en must list the same codes")
        return self

    def label(self, code: str, lang: str) -> str:
        """The code's label in `lang` ('zh' or 'en'); an unknown code as it is."""
        return (self.codes if lang == "zh" else self.codes_en).get(code, code)


class Element(_Strict):
    zh: str
    en: str
    type: ElementType
    code_table: str | None = None
    identifier: bool = False
    length: int | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _code_needs_table(self) -> Element:
        if (self.type == "code") != (self.code_table is not None):
            raise ValueError("type 'code' needs a code_table, and only code elements have one")
        if self.type == "digits" and not self.length:
            raise ValueError("type 'digits' needs a length")
        return self


class Department(_Strict):
    zh: str
    en: str


class Exchanged(_Strict):
    """What of a data set's records crosses to a person's hukou province (R8): the subject's
    elements and the fact's; event_date and recorded_at always go with them."""

    subject: list[str]
    fact: list[str]


class Dataset(_Strict):
    zh: str
    en: str
    authority: str
    frequency: Frequency
    fields: dict[str, Literal["required", "optional"]]
    exchange: Exchanged | None = None

    def required(self) -> list[str]:
        return [f for f, need in self.fields.items() if need == "required"]


class Standard(_Strict):
    version: str
    title: str
    title_en: str
    departments: dict[str, Department]
    code_tables: dict[str, CodeTable]
    elements: dict[str, Element]
    datasets: dict[str, Dataset]

    @model_validator(mode="after")
    def _references_resolve(self) -> Standard:
        for name, el in self.elements.items():
            if el.code_table and el.code_table not in self.code_tables:
                raise ValueError(f"element {name}: unknown code table {el.code_table!r}")
        for name, ds in self.datasets.items():
            if ds.authority not in self.departments:
                raise ValueError(f"data set {name}: unknown department {ds.authority!r}")
            for field in ds.fields:
                if field not in self.elements:
                    raise ValueError(f"data set {name}: unknown element {field!r}")
            if ds.exchange is not None:
                for field in ds.exchange.fact:
                    if field not in ds.fields:
                        raise ValueError(f"data set {name}: exchanges {field!r}, not its field")
                for field in ds.exchange.subject:
                    if field not in self.elements:
                        raise ValueError(f"data set {name}: exchanges unknown {field!r}")
        return self

    def codes(self, element: str) -> dict[str, str]:
        """The code table of a code element, by element name."""
        return self.codes_of(self.elements[element])

    def label(self, element: str, code: str | None, lang: str) -> str | None:
        """What a code of a code element means, in `lang` ('zh' or 'en'): a citizen reads
        灵活就业人员（自由职业）, not `F`. None stays None; an unknown code is shown as it is."""
        table = self.elements[element].code_table
        if code is None or table is None:
            return code
        return self.code_tables[table].label(code, lang)

    def codes_of(self, element: Element) -> dict[str, str]:
        """The code table of a code element."""
        table = element.code_table
        return self.code_tables[table].codes if table else {}


def parse_standard(text: str, origin: str = "elements.yaml") -> Standard:
    """Validate a standard document; StandardError names the first problem."""
    try:
        return Standard.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as e:
        raise StandardError(f"{origin}: {e}") from e


@functools.cache
def load_standard() -> Standard:
    """The standard shipped with this version of fpcredit."""
    text = (resources.files("fpcredit.standard") / "elements.yaml").read_text(encoding="utf-8")
    return parse_standard(text)
