"""Vectorised validation: a feed's string columns → typed standard columns plus quality issues.

Everything here is Polars expressions over whole columns; no Python loop per row. Output
columns are named by their target path (`fact.event_date`, `mother.id_number`, …). Each
`Check` is a boolean column that marks rows with one issue on one field; whether it quarantines
the row or only flags the field depends on the rule and on whether the field is required.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from fpcredit.collect.mapping import ColumnMap, KindFromColumn, Mapping, Target
from fpcredit.standard.elements import COMMON_FIELDS, Element, Standard
from fpcredit.standard.idcard import PROVINCE_PREFIXES, WEIGHTS

__all__ = ["Check", "Validated", "validate"]

KIND = "_kind"
ROW = "_row"
KEY = "_record_key"
# Rules that always quarantine, whatever field they are on.
ALWAYS_QUARANTINE = frozenset({"unparseable_row", "no_identity", "date_future"})
# Rules that never quarantine: the record stays and the field is marked unusable.
NEVER_QUARANTINE = frozenset(
    {
        "id_length",
        "id_characters",
        "id_region",
        "id_birth_date",
        "id_check_digit",
        "id_birth_mismatch",
        "id_sex_mismatch",
        "name_invalid",
        "phone_invalid",
        "region_invalid",
        "births_gt_pregnancies",
        "before_birth",
        "mother_under_14",
        "recorded_before_event",
    }
)
_NAME_PATTERN = r"^[\p{Han}A-Za-z·•\. ]{1,30}$"
_CHECK_CHARS = "10X98765432"


@dataclass(frozen=True)
class Check:
    """Rows where `condition` holds have `rule` broken on `field` (a target path)."""

    field: str
    rule: str
    condition: pl.Expr


@dataclass(frozen=True)
class Validated:
    """Typed rows (one per parsed input row) and the issues found in them."""

    frame: pl.DataFrame
    issues: pl.DataFrame  # _row, field, rule, action


def _blank_to_null(col: str) -> pl.Expr:
    stripped = pl.col(col).str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def add_id_columns(frame: pl.DataFrame, raw: pl.Expr, path: str, today: dt.date) -> pl.DataFrame:
    """Add the normalised ID (null unless valid) and its `#status`/`#reason` columns.

    Computed in stages over temporary columns: one nested expression would re-evaluate the
    cleaned text for each of the 17 weighted digits.
    """
    s = raw.str.replace_all(r"[\s\-\u3000]", "").str.to_uppercase()
    frame = frame.with_columns(pl.when(s == "").then(None).otherwise(s).alias("_id_s"))
    s = pl.col("_id_s")
    is15 = s.str.len_chars() == 15
    upgraded = s.str.slice(0, 6) + pl.lit("19") + s.str.slice(6, 9)
    frame = frame.with_columns(
        pl.when(is15).then(upgraded).otherwise(s.str.slice(0, 17)).alias("_id_17")
    )
    first17 = pl.col("_id_17")
    digits = [
        first17.str.slice(i, 1).cast(pl.Int32, strict=False) * w for i, w in enumerate(WEIGHTS)
    ]
    remainder = pl.sum_horizontal(digits) % 11
    check = remainder.replace_strict(dict(enumerate(_CHECK_CHARS)), return_dtype=pl.String)
    frame = frame.with_columns(
        check.alias("_id_check"),
        first17.str.slice(6, 8).str.to_date("%Y%m%d", strict=False).alias("_id_born"),
    )
    full = first17 + pl.when(is15).then(pl.col("_id_check")).otherwise(s.str.slice(17, 1))
    born = pl.col("_id_born")
    reason = _id_reason(s, full, pl.col("_id_check"), born, today)
    frame = frame.with_columns(full.alias("_id_full"), reason.alias(f"{path}#reason"))
    reason = pl.col(f"{path}#reason")
    status = (
        pl.when(s.is_null())
        .then(pl.lit("missing"))
        .when(reason.is_null())
        .then(pl.lit("valid"))
        .otherwise(pl.lit("invalid"))
    )
    return frame.with_columns(
        pl.when(reason.is_null()).then(pl.col("_id_full")).otherwise(None).alias(path),
        status.alias(f"{path}#status"),
    ).drop("_id_s", "_id_17", "_id_check", "_id_born", "_id_full")


def _id_reason(s: pl.Expr, full: pl.Expr, check: pl.Expr, born: pl.Expr, today: dt.date) -> pl.Expr:
    """The first GB 11643 check an ID fails, in the order `idcard.parse` applies them."""
    return (
        pl.when(s.is_null())
        .then(None)
        .when(~s.str.len_chars().is_in([15, 18]))
        .then(pl.lit("length"))
        .when(~s.str.contains(r"^(\d{15}|\d{17}[\dX])$"))
        .then(pl.lit("characters"))
        .when(~s.str.slice(0, 2).is_in(sorted(PROVINCE_PREFIXES)))
        .then(pl.lit("region"))
        .when(born.is_null() | (born < dt.date(1900, 1, 1)) | (born > today))
        .then(pl.lit("birth_date"))
        .when(full.str.slice(17, 1) != check)
        .then(pl.lit("check_digit"))
        .otherwise(None)
    )


def _convert(raw: pl.Expr, el: Element, spec: ColumnMap, std: Standard) -> tuple[pl.Expr, str]:
    """Typed value (null when unusable) and the rule broken when raw is set but value is null."""
    if spec.codes is not None:
        raw = raw.replace_strict(spec.codes, default=None, return_dtype=pl.String)
    if el.type == "code":
        return pl.when(raw.is_in(sorted(std.codes_of(el)))).then(raw), "code_unknown"
    if el.type in ("date", "month"):
        fmt = spec.format or "%Y-%m-%d"
        text = raw + pl.lit("01") if fmt == "%Y%m" else raw
        return text.str.to_date(fmt + ("%d" if fmt == "%Y%m" else ""), strict=False), (
            "date_impossible"
        )
    if el.type == "datetime":
        parsed = raw.str.to_datetime(spec.format or "%Y-%m-%d %H:%M:%S", strict=False)
        return parsed, "date_impossible"
    if el.type == "integer":
        return _in_range(raw.cast(pl.Int64, strict=False), el), "number_invalid"
    if el.type == "decimal":
        number = raw.cast(pl.Decimal(18, 2), strict=False)
        return _in_range(number, el), "number_invalid"
    return _convert_text(raw, el)


def _in_range(value: pl.Expr, el: Element) -> pl.Expr:
    ok = pl.lit(True)
    if el.min is not None:
        ok = ok & (value >= el.min)
    if el.max is not None:
        ok = ok & (value <= el.max)
    return pl.when(ok).then(value)


def _convert_text(raw: pl.Expr, el: Element) -> tuple[pl.Expr, str]:
    patterns = {
        "digits": (rf"^\d{{{el.length}}}$", "format_invalid"),
        "region": (r"^\d{6}$", "region_invalid"),
        "phone": (r"^1\d{10}$", "phone_invalid"),
        "name": (_NAME_PATTERN, "name_invalid"),
    }
    if el.type not in patterns:
        return raw, "format_invalid"
    pattern, rule = patterns[el.type]
    ok = raw.str.contains(pattern)
    if el.type == "region":
        ok = ok & raw.str.slice(0, 2).is_in(sorted(PROVINCE_PREFIXES))
    return pl.when(ok).then(raw), rule


class _Builder:
    """Accumulates typed columns and checks for one mapping."""

    def __init__(self, mapping: Mapping, std: Standard, today: dt.date) -> None:
        self.m, self.std, self.today = mapping, std, today
        self.columns: list[pl.Expr] = []
        self.checks: list[Check] = []
        self.done: set[str] = set()
        self.ids: list[tuple[pl.Expr, str]] = []

    def required(self, target: Target) -> pl.Expr:
        """True on rows whose kind requires this field."""
        if target.owner != "fact":
            return pl.lit(False)
        if target.element in COMMON_FIELDS:
            return pl.lit(True)
        kinds = [k for k in self.m.kinds() if target.element in self.std.datasets[k].required()]
        return pl.col(KIND).is_in(kinds)

    def add(self, column: str, target: Target) -> None:
        if target.path in self.done:
            return
        self.done.add(target.path)
        raw, el = _blank_to_null(column), self.std.elements[target.element]
        if el.type == "id_number":
            self.ids.append((raw, target.path))
            return
        value, rule = _convert(raw, el, self.m.columns[column], self.std)
        self.columns.append(value.alias(target.path))
        self.checks.append(Check(target.path, rule, raw.is_not_null() & value.is_null()))
        self.checks.append(Check(target.path, "required_missing", raw.is_null()))

    def kind(self) -> pl.Expr:
        if isinstance(self.m.kind, KindFromColumn):
            raw = _blank_to_null(self.m.kind.source_column)
            kind = raw.replace_strict(self.m.kind.codes, default=None, return_dtype=pl.String)
            self.checks.append(Check("kind", "code_unknown", kind.is_null()))
            return kind.alias(KIND)
        return pl.lit(self.m.kind).alias(KIND)


def _with_missing(raw: pl.DataFrame, mapping: Mapping) -> pl.DataFrame:
    wanted = [c for c in mapping.columns if c not in raw.columns]
    wanted += [
        d.source_column for d in mapping.derived.values() if d.source_column not in raw.columns
    ]
    return raw.with_columns([pl.lit(None, pl.String).alias(c) for c in dict.fromkeys(wanted)])


def _from_id(role: str) -> dict[str, pl.Expr]:
    """Birth date and sex encoded in a role's (valid, normalised) ID; null without one."""
    idc = pl.col(f"{role}.id_number")
    odd = idc.str.slice(16, 1).cast(pl.Int32, strict=False) % 2 == 1
    return {
        "birth_date": idc.str.slice(6, 8).str.to_date("%Y%m%d", strict=False),
        "sex": pl.when(odd).then(pl.lit("1")).when(idc.is_not_null()).then(pl.lit("2")),
    }


def _person_defaults(frame: pl.DataFrame, mapping: Mapping) -> pl.DataFrame:
    """Constants, derived fields, and birth date/sex taken from a valid ID when not stated."""
    exprs = [pl.lit(v).alias(k) for k, v in mapping.constants.items() if k not in frame.columns]
    for path, d in mapping.derived.items():
        exprs.append(
            _blank_to_null(d.source_column)
            .replace_strict(d.codes, default=None, return_dtype=pl.String)
            .alias(path)
        )
    frame = frame.with_columns(exprs)
    fill = []
    for role in mapping.roles():
        for element, derived in _from_id(role).items():
            col = f"{role}.{element}"
            fill.append(
                pl.col(col).fill_null(derived) if col in frame.columns else derived.alias(col)
            )
    return frame.with_columns(fill)


def _identity_checks(mapping: Mapping) -> list[Check]:
    """Stated birth date and sex against the ID (both columns exist after _person_defaults)."""
    rules = {"birth_date": "id_birth_mismatch", "sex": "id_sex_mismatch"}
    checks = []
    for role in mapping.roles():
        idc = pl.col(f"{role}.id_number")
        for element, from_id in _from_id(role).items():
            path = f"{role}.{element}"
            checks.append(
                Check(path, rules[element], idc.is_not_null() & (pl.col(path) != from_id))
            )
    subject = mapping.subject
    anonymous = pl.col(f"{subject}.name").is_null() & pl.col(f"{subject}.id_number#status").eq(
        "missing"
    )
    checks.append(Check(f"{subject}.name", "no_identity", anonymous))
    return checks


def _common_checks(today: dt.date) -> list[Check]:
    event, recorded = pl.col("fact.event_date"), pl.col("fact.recorded_at")
    return [
        Check("fact.event_date", "date_future", event > today),
        Check("fact.event_date", "date_impossible", event < dt.date(1900, 1, 1)),
        Check("fact.recorded_at", "recorded_before_event", recorded.dt.date() < event),
    ]


def _ensure_id_columns(frame: pl.DataFrame, roles: list[str]) -> pl.DataFrame:
    exprs = []
    for role in roles:
        path = f"{role}.id_number"
        if path not in frame.columns:
            exprs += [
                pl.lit(None, pl.String).alias(path),
                pl.lit("missing").alias(f"{path}#status"),
                pl.lit(None, pl.String).alias(f"{path}#reason"),
            ]
        if f"{role}.name" not in frame.columns:
            exprs.append(pl.lit(None, pl.String).alias(f"{role}.name"))
    return frame.with_columns(exprs) if exprs else frame


def _action(rule: str, required: pl.Expr) -> pl.Expr:
    if rule in ALWAYS_QUARANTINE:
        return pl.lit("quarantined")
    if rule in NEVER_QUARANTINE:
        return pl.lit("flagged")
    return pl.when(required).then(pl.lit("quarantined")).otherwise(pl.lit("flagged"))


def _collect_issues(
    frame: pl.DataFrame, checks: list[Check], builder: _Builder, mapping: Mapping
) -> pl.DataFrame:
    targets = {t.path: t for _, t in mapping.targets()}
    parts = []
    for check in checks:
        target = targets.get(check.field)
        required = builder.required(target) if target else pl.lit(True)
        cond = check.condition & required if check.rule == "required_missing" else check.condition
        part = frame.filter(cond.fill_null(False)).select(
            pl.col(ROW),
            pl.lit(check.field).alias("field"),
            pl.lit(check.rule).alias("rule"),
            _action(check.rule, required).alias("action"),
        )
        parts.append(part)
    empty = pl.DataFrame(
        schema={ROW: pl.Int64, "field": pl.String, "rule": pl.String, "action": pl.String}
    )
    return pl.concat([empty, *parts]) if parts else empty


def validate(
    raw: pl.DataFrame,
    mapping: Mapping,
    std: Standard,
    today: dt.date,
    extra_checks: list[Check] | None = None,
) -> Validated:
    """Type every mapped column and find every issue; `raw` has string columns and `_row`."""
    raw = _with_missing(raw, mapping)
    builder = _Builder(mapping, std, today)
    kind = builder.kind()
    for column, target in mapping.targets():
        builder.add(column, target)
    key = _blank_to_null(mapping.record_key).alias(KEY)
    builder.checks.append(Check("record_key", "required_missing", pl.col(KEY).is_null()))
    frame = raw.with_columns(kind, key).with_columns(builder.columns)
    for id_raw, path in builder.ids:
        frame = add_id_columns(frame, id_raw, path, today)
    frame = _ensure_id_columns(frame, mapping.roles())
    for role in mapping.roles():
        path = f"{role}.id_number"
        reason = pl.col(f"{path}#reason")
        for r in ("length", "characters", "region", "birth_date", "check_digit"):
            builder.checks.append(Check(path, f"id_{r}", reason == r))
    frame = _person_defaults(frame, mapping)
    checks = [*builder.checks, *_identity_checks(mapping), *_common_checks(today)]
    checks += extra_checks or []
    issues = _collect_issues(frame, checks, builder, mapping)
    return Validated(frame, issues)
