"""Store → evaluation frame: what was known at the end of a cut date (docs/policy.md §1.9).

Three reads (facts, mentions, birth registrations), each filtered in the store to the records
known at the cut date and the fact versions current then — in bulk through `read_arrow`, for a
few persons (an explanation) through the store's own connection; DuckDB then derives each
person's attributes and flags from those mentions alone, so later data cannot change them.

A birth registration's event date is the child's birth date, which the evaluation reads by the
month (docs/policy.md §1.1): the registration counts from the end of its birth month on (at a
mid-month cut, one of that month is not known yet) and its fact is dated at that month's end,
so nothing in the frame tells the day of a birth but the birth dates themselves.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from fpcredit.evaluate.frame import CHILDREN_SCHEMA, PERSON_SCHEMA, Frame, facts_schema
from fpcredit.store.arrow import (
    PLAIN_MENTION_COLUMNS,
    PLAIN_MENTION_FIELDS,
    fetch_arrow,
    read_arrow,
)
from fpcredit.store.db import Store

__all__ = ["load_frame"]

_KNOWN = """
f.recorded_at < '{known}' AND (f.superseded_at IS NULL OR f.superseded_at >= '{known}')
AND f.disputed = false
"""
_FACTS = """
SELECT f.id, l.person_id, f.kind, CAST(f.event_date AS TEXT), CAST(f.recorded_at AS TEXT), f.attrs
FROM facts f JOIN links l ON l.mention_id = f.subject_mention_id
WHERE f.event_date <= '{cut}' {born} AND {known} {persons} {repaired}
"""
# A credit repair approved on or before the cut (and known by then) ends the event's effect
# from the decision date on (cases/service.py, docs/services.md); earlier cuts still see it.
_REPAIRED = """
AND NOT EXISTS (SELECT 1 FROM cases c JOIN case_steps st ON st.case_id = c.id
  WHERE c.fact_id = f.id AND c.kind = 'repair' AND st.step = 'decided'
  AND st.outcome = 'approve' AND st.at < '{known}' AND st.at < '{day_after}')
"""
# A birth registration dated in the cut's month, at a cut before that month's end.
_BORN_LATER = "AND (f.kind <> 'birth_registration' OR f.event_date <= '{month_over}')"
_FACTS_SCHEMA = pa.schema(
    [
        ("fact_id", pa.int64()),
        ("person_id", pa.int64()),
        ("kind", pa.string()),
        ("event_date", pa.string()),
        ("recorded_at", pa.string()),
        ("attrs", pa.string()),
    ]
)
_MENTIONS = f"""
SELECT l.person_id, r.source, m.id_status, m.name_bidx, {PLAIN_MENTION_COLUMNS},
       CASE WHEN m.phone_enc IS NULL THEN 0 ELSE 1 END, CAST(f.recorded_at AS TEXT), m.id
FROM mentions m JOIN links l ON l.mention_id = m.id JOIN records r ON r.id = m.record_id
JOIN facts f ON f.record_id = r.id
WHERE f.event_date <= '{{cut}}' {{born}} AND {{known}} {{persons}}
"""
_MENTIONS_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("source", pa.string()),
        ("id_status", pa.string()),
        ("name_bidx", pa.binary()),
        *PLAIN_MENTION_FIELDS,
        ("phone", pa.int64()),
        ("recorded_at", pa.string()),
        ("mention_id", pa.int64()),
    ]
)
_BIRTHS = """
SELECT pl.person_id, cl.person_id, CAST(f.event_date AS TEXT), CAST(f.recorded_at AS TEXT)
FROM facts f
JOIN mentions p ON p.record_id = f.record_id AND p.role IN ('mother', 'father')
JOIN links pl ON pl.mention_id = p.id
JOIN mentions c ON c.record_id = f.record_id AND c.role = 'child'
JOIN links cl ON cl.mention_id = c.id
WHERE f.kind = 'birth_registration' AND {known} {persons}
"""
_BIRTHS_SCHEMA = pa.schema(
    [
        ("parent_id", pa.int64()),
        ("child_id", pa.int64()),
        ("birth_date", pa.string()),
        ("registered_at", pa.string()),
    ]
)

# A value is taken from the latest record known, the hukou authority (police) first; sex and
# birth date by majority, because one mistyped record must not outvote the rest.
_PERSONS = """
WITH m AS (
  SELECT *, CAST(recorded_at AS TIMESTAMP) AS t, source = 'police' AS police FROM mentions
),
latest AS (
  SELECT person_id,
    arg_max(hukou_region, (hukou_region IS NOT NULL, police, t, mention_id)) AS hukou_region,
    arg_max(residence_region, (residence_region IS NOT NULL, police, t, mention_id))
      AS residence_region,
    arg_max(urban_rural, (urban_rural IS NOT NULL, police, t, mention_id)) AS urban_rural,
    arg_max(occupation, (occupation IS NOT NULL, police, t, mention_id)) AS occupation,
    bool_or(id_status = 'valid') AS id_valid,
    count(DISTINCT name_bidx) <= 1 AS name_consistent,
    count(DISTINCT birth_date) <= 1 AS birth_date_consistent,
    bool_or(hukou_region IS NOT NULL) AS hukou_known,
    bool_or(residence_region IS NOT NULL) AS residence_known,
    bool_or(phone = 1) AS phone_known
  FROM m GROUP BY person_id
),
votes AS (
  SELECT person_id, 'sex' AS field, CAST(sex AS TEXT) AS value,
         count(*) AS n, bool_or(id_status = 'valid') AS valid, max(t) AS t
  FROM m WHERE sex IN (1, 2) GROUP BY person_id, sex
  UNION ALL
  SELECT person_id, 'birth_date', birth_date, count(*), bool_or(id_status = 'valid'), max(t)
  FROM m WHERE birth_date IS NOT NULL GROUP BY person_id, birth_date
),
majority AS (
  SELECT person_id,
    arg_max(value, (valid, n, t, value)) FILTER (WHERE field = 'sex') AS sex,
    arg_max(value, (valid, n, t, value)) FILTER (WHERE field = 'birth_date') AS birth_date
  FROM votes GROUP BY person_id
)
SELECT l.person_id, CAST(v.sex AS TINYINT) AS sex, CAST(v.birth_date AS DATE) AS birth_date,
  CASE WHEN l.hukou_region IS NOT NULL AND l.residence_region IS NOT NULL
            AND l.hukou_region <> l.residence_region THEN 'migrant'
       WHEN l.urban_rural IN ('urban', 'rural') THEN l.urban_rural
       ELSE 'unknown' END AS "group",
  l.occupation, l.id_valid, l.name_consistent, l.birth_date_consistent, l.hukou_known,
  l.residence_known, l.phone_known
FROM latest l LEFT JOIN majority v USING (person_id)
ORDER BY l.person_id
"""


def _born(cut: dt.date) -> str:
    """The filter keeping out birth registrations whose birth month is not over at `cut`."""
    if cut.day == calendar.monthrange(cut.year, cut.month)[1]:
        return ""
    return _BORN_LATER.format(month_over=(cut.replace(day=1) - dt.timedelta(days=1)).isoformat())


def _in(column: str, ids: Sequence[int] | None) -> str:
    if ids is None:
        return ""
    listed = ", ".join(str(int(i)) for i in ids) or "NULL"
    return f"AND {column} IN ({listed})"


def load_frame(
    store: Store,
    cut: dt.date,
    attributes: Sequence[str],
    persons: Sequence[int] | None = None,
    known: dt.datetime | None = None,
) -> Frame:
    """The frame known at the end of `cut` (or at `known`, for restatements with late facts).

    `persons` limits it to some persons (the explanation of one person and their children).
    """
    until = known or dt.datetime.combine(cut + dt.timedelta(days=1), dt.time())
    known_sql = _KNOWN.format(known=until.strftime("%Y-%m-%d %H:%M:%S.%f"))
    dated = {"cut": cut.isoformat(), "born": _born(cut), "known": known_sql}
    repaired = _REPAIRED.format(
        known=until.strftime("%Y-%m-%d %H:%M:%S.%f"), day_after=cut + dt.timedelta(days=1)
    )
    reads = [
        (
            _FACTS.format(**dated, persons=_in("l.person_id", persons), repaired=repaired),
            _FACTS_SCHEMA,
        ),
        (_MENTIONS.format(**dated, persons=_in("l.person_id", persons)), _MENTIONS_SCHEMA),
        (_BIRTHS.format(known=known_sql, persons=_in("pl.person_id", persons)), _BIRTHS_SCHEMA),
    ]
    if persons is None:
        facts, mentions, births = (read_arrow(store.engine.url, q, sch) for q, sch in reads)
    else:
        with store.engine.connect() as conn:
            facts, mentions, births = (fetch_arrow(conn, q, sch) for q, sch in reads)
    con = duckdb.connect(":memory:")
    try:
        con.register("raw_facts", facts)
        con.register("mentions", mentions)
        con.register("births", births)
        return Frame(
            con.sql(_PERSONS).to_arrow_table().cast(PERSON_SCHEMA),
            _facts(con, attributes),
            _children(con),
        )
    finally:
        con.close()


def _facts(con: duckdb.DuckDBPyConnection, attributes: Sequence[str]) -> pa.Table:
    schema = facts_schema(attributes)
    extracted = "".join(
        f", json_extract_string(attrs, '$.{a}') AS \"{a}\"" for a in sorted(attributes)
    )
    day = "CAST(event_date AS DATE)"
    sql = (
        f"SELECT fact_id, person_id, kind, CASE WHEN kind = 'birth_registration'"
        f" THEN last_day({day}) ELSE {day} END AS event_date,"
        f" CAST(recorded_at AS TIMESTAMP) AS recorded_at{extracted} FROM raw_facts"
    )
    return con.sql(sql).to_arrow_table().cast(schema)


def _children(con: duckdb.DuckDBPyConnection) -> pa.Table:
    sql = (
        "SELECT parent_id, child_id,"
        " arg_min(CAST(birth_date AS DATE), CAST(registered_at AS TIMESTAMP)) AS birth_date,"
        " min(CAST(registered_at AS TIMESTAMP)) AS registered_at"
        " FROM births WHERE parent_id <> child_id GROUP BY parent_id, child_id"
    )
    return con.sql(sql).to_arrow_table().cast(CHILDREN_SCHEMA)
