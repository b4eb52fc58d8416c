"""Policy → set-based SQL (R13, R17): pure functions, no engine imported.

The SQL reads the frame tables `persons`, `facts` and `children` (docs/policy.md §1.1) and is
written in DuckDB's dialect; another engine translates it. Every number is an integer: weights
in ten-thousandths, points 0–100, scores in hundredths, thresholds compared by
cross-multiplication, so engines agree on every grade at a cut-off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from fpcredit.evaluate.policy import (
    WEIGHT_UNIT,
    Band,
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    FlagMeasure,
    Indicator,
    Policy,
    ScheduleMeasure,
    SpacingMeasure,
    TimelinessMeasure,
    Where,
)

__all__ = ["Plan", "add_months", "compile_policy"]


@dataclass(frozen=True)
class Plan:
    """Tables to materialise in order, then the three result queries."""

    steps: tuple[tuple[str, str], ...]
    results: str
    dimensions: str
    indicators: str


def add_months(day: dt.date, months: int) -> dt.date:
    """Move by calendar months, clamping the day to the target month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _months_between(start: str, end: str) -> str:
    """Whole months from `start` to `end` (both SQL date expressions)."""
    return (
        f"((year({end}) - year({start})) * 12 + month({end}) - month({start})"
        f" - CASE WHEN day({end}) < day({start}) THEN 1 ELSE 0 END)"
    )


def _where(alias: str, where: Where) -> str:
    """Canonical (sorted) so that equal filters give equal text: schedules group by it."""
    parts = [
        f'{alias}."{attr}" IN ({", ".join(_quote(v) for v in sorted(set(values)))})'
        for attr, values in sorted(where.items())
    ]
    return " AND ".join(parts) or "TRUE"


def _kinds(alias: str, kinds: list[str]) -> str:
    return f"{alias}.kind IN ({', '.join(_quote(k) for k in kinds)})"


class _Compiler:
    def __init__(self, policy: Policy, cut: dt.date) -> None:
        self.p = policy
        self.cut = cut
        self.c = _date(cut)

    # -- shared tables -------------------------------------------------------------------
    def pop(self) -> str:
        age = f"CAST(FLOOR({_months_between('birth_date', self.c)} / 12) AS BIGINT)"
        return (
            f"SELECT *, {age} AS age FROM persons"
            f" WHERE birth_date IS NULL OR {age} >= {self.p.population.min_age}"
        )

    def kids(self) -> str:
        return (
            f"SELECT parent_id, child_id, min(birth_date) AS birth_date,"
            f" min(registered_at) AS registered_at, {_months_between('min(birth_date)', self.c)}"
            f" AS age_months FROM children WHERE birth_date <= {self.c}"
            f" GROUP BY parent_id, child_id"
        )

    def extras(self) -> str:
        """Per evaluated person: children, fact kinds present, exemptions, grade cap."""
        cols = ["pop.person_id"]
        cols.append("(SELECT count(*) FROM kids k WHERE k.parent_id = pop.person_id) AS n_kids")
        cols.append(
            "(SELECT min(age_months) FROM kids k WHERE k.parent_id = pop.person_id)"
            " AS youngest_months"
        )
        for kind in self._has_fact_kinds():
            cols.append(
                f"EXISTS (SELECT 1 FROM vf WHERE vf.person_id = pop.person_id"
                f' AND vf.kind = {_quote(kind)}) AS "has_{kind}"'
            )
        for scope in self._scopes():
            cols.append(
                f"EXISTS (SELECT 1 FROM vf WHERE vf.person_id = pop.person_id"
                f" AND vf.kind = 'difficulty' AND vf.difficulty_scope = {_quote(scope)}"
                f' AND TRY_CAST(vf.valid_until AS DATE) >= {self.c}) AS "ex_{scope}"'
            )
        cols.append(f"({self._cap_rank()}) AS cap_rank")
        return f"SELECT {', '.join(cols)} FROM pop"

    def _has_fact_kinds(self) -> list[str]:
        return sorted({k for i in self.p.indicators for k in (i.applies.has_fact or [])})

    def _scopes(self) -> list[str]:
        return sorted({s for i in self.p.indicators for s in i.exempt_by})

    def _active(self, alias: str) -> str:
        """A credit event still disclosed at the cut date."""
        cases = " ".join(
            f"WHEN {_quote(sev)} THEN CAST({alias}.event_date + INTERVAL {rule.max_months} MONTH"
            f" AS DATE)"
            for sev, rule in sorted(self.p.severities.items())
        )
        if not cases:
            return "FALSE"
        return (
            f"({alias}.kind = 'credit_event' AND {self.c} < CASE {alias}.severity {cases}"
            f" ELSE NULL END)"
        )

    def _cap_rank(self) -> str:
        order = self.p.grade_order
        caps = self.p.grades.caps
        if not caps:
            return "0"
        cases = " ".join(
            f"WHEN {_quote(sev)} THEN {order.index(grade)}" for sev, grade in sorted(caps.items())
        )
        return (
            f"SELECT coalesce(max(CASE e.severity {cases} ELSE 0 END), 0) FROM vf e"
            f" WHERE e.person_id = pop.person_id AND {self._active('e')}"
        )

    # -- measures: (person_id, num, den) for the persons where a value exists --------------
    def measure(self, ind: Indicator) -> str:
        m = ind.measure
        if isinstance(m, FlagMeasure):
            flag = f'CASE WHEN "{m.field}" THEN 1 ELSE 0 END'
            return f"SELECT person_id, {flag} AS num, 1 AS den FROM pop"
        if isinstance(m, CountMeasure):
            return self._count(m)
        if isinstance(m, ScheduleMeasure):
            return self._schedule(m)
        if isinstance(m, TimelinessMeasure):
            return (
                f"SELECT parent_id AS person_id, sum(CASE WHEN CAST(registered_at AS DATE)"
                f" - birth_date <= {m.within_days} THEN 1 ELSE 0 END) AS num, count(*) AS den"
                f" FROM kids GROUP BY parent_id"
            )
        if isinstance(m, SpacingMeasure):
            return self._spacing()
        if isinstance(m, CoverageMeasure):
            return self._coverage(ind, m)
        assert isinstance(m, EventsMeasure)
        types = ", ".join(_quote(t) for t in m.event_types)
        return (
            f"SELECT person_id, count(*) AS num, 1 AS den FROM vf f WHERE {self._active('f')}"
            f" AND f.credit_event_type IN ({types}) GROUP BY person_id"
        )

    def _window(self, alias: str, months: int | None) -> str:
        if months is None:
            return "TRUE"
        return f"{alias}.event_date > {_date(add_months(self.cut, -months))}"

    def _count(self, m: CountMeasure) -> str:
        window = self._window("f", m.window_months)
        cond = f"{_kinds('f', m.kinds)} AND {_where('f', m.where)} AND {window}"
        if m.of == "self":
            return (
                f"SELECT person_id, count(*) AS num, 1 AS den FROM vf f WHERE {cond}"
                " GROUP BY person_id"
            )
        return (
            f"SELECT k.parent_id AS person_id, count(DISTINCT f.fact_id) AS num, 1 AS den"
            f" FROM kids k JOIN vf f ON f.person_id = k.child_id WHERE {cond} GROUP BY k.parent_id"
        )

    def _schedule(self, m: ScheduleMeasure) -> str:
        groups: dict[str, int] = {}
        counts, due_terms, done_terms = [], [], []
        ranked: dict[str, int] = {}
        order = sorted(range(len(m.items)), key=lambda i: (m.items[i].due_months, i))
        for i in order:
            item = m.items[i]
            cond = _where("f", item.where)
            g = groups.setdefault(cond, len(groups))
            ranked[cond] = ranked.get(cond, 0) + 1
            due = f"k.age_months >= {item.due_months + m.grace_months}"
            due_terms.append(f"CASE WHEN {due} THEN 1 ELSE 0 END")
            done_terms.append(
                f"CASE WHEN {due} AND coalesce(n.g{g}, 0) >= {ranked[cond]} THEN 1 ELSE 0 END"
            )
        for cond, g in groups.items():
            counts.append(f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END) AS g{g}")
        per_child = (
            f"SELECT f.person_id, {', '.join(counts)} FROM vf f"
            f" WHERE f.kind = {_quote(m.kind)} GROUP BY f.person_id"
        )
        return (
            f"SELECT k.parent_id AS person_id, sum({' + '.join(done_terms)}) AS num,"
            f" sum({' + '.join(due_terms)}) AS den FROM kids k"
            f" LEFT JOIN ({per_child}) n ON n.person_id = k.child_id GROUP BY k.parent_id"
        )

    def _spacing(self) -> str:
        gap = _months_between("prev", "birth_date")
        return (
            f"SELECT parent_id AS person_id, min({gap}) AS num, 1 AS den FROM ("
            f"SELECT parent_id, birth_date, lag(birth_date) OVER"
            f" (PARTITION BY parent_id ORDER BY birth_date) AS prev"
            f" FROM (SELECT DISTINCT parent_id, birth_date FROM kids))"
            f" WHERE prev IS NOT NULL GROUP BY parent_id"
        )

    def _coverage(self, ind: Indicator, m: CoverageMeasure) -> str:
        last = self.cut.year * 12 + self.cut.month
        first = last - m.window_months + 1
        if m.month_from == "period":
            digits = "replace(f.period, '-', '')"
            start = (
                f"TRY_CAST(substr({digits}, 1, 4) AS BIGINT) * 12"
                f" + TRY_CAST(substr({digits}, 5, 2) AS BIGINT)"
            )
            length = "1"
        else:
            start = "year(f.event_date) * 12 + month(f.event_date)"
            length = self._duration(m)
        spans = (
            f"SELECT f.person_id, {start} AS s, {length} AS d FROM vf f"
            f" WHERE f.kind = {_quote(m.kind)} AND {_where('f', m.where)}"
        )
        months = f"SELECT range AS m FROM range({first}, {last + 1})"
        # Eligible months are the window cut to [lo, hi], less the uncovered buffer months.
        # greatest/least skip NULLs, so a person without facts is handled explicitly.
        lo = f"CASE WHEN st.s0 > {first} THEN st.s0 ELSE {first} END"
        hi = f"CASE WHEN st.s1 < {last} THEN st.s1 ELSE {last} END"
        lo = lo if m.since_first else str(first)
        hi = hi if m.until_last else str(last)
        covered = (
            f"SELECT DISTINCT sp.person_id, w.m FROM ({spans}) sp JOIN ({months}) w"
            f" ON w.m >= sp.s AND (sp.d = 0 OR w.m < sp.s + sp.d)"
        )
        bounds = (
            f"SELECT person_id, min(s) AS s0,"
            f" CASE WHEN bool_or(d = 0) THEN {last} ELSE max(s + d - 1) END AS s1"
            f" FROM ({spans}) WHERE s IS NOT NULL GROUP BY person_id"
        )
        buffered = "0"
        if m.buffer and self.p.buffer.occupations and self.p.buffer.months_after_birth:
            occs = ", ".join(_quote(o) for o in self.p.buffer.occupations)
            bm = "year(k.birth_date) * 12 + month(k.birth_date)"
            buffered = (
                f"(SELECT count(DISTINCT w.m) FROM kids k JOIN ({months}) w"
                f" ON w.m >= {bm} AND w.m < {bm} + {self.p.buffer.months_after_birth}"
                f" WHERE k.parent_id = pop.person_id AND pop.occupation IN ({occs})"
                f" AND w.m >= {lo} AND w.m <= {hi}"
                f" AND NOT EXISTS (SELECT 1 FROM cov c WHERE c.person_id = pop.person_id"
                f" AND c.m = w.m))"
            )
        missing = " OR ".join(["st.s0 IS NULL"] * (m.since_first or m.until_last)) or "FALSE"
        span = f"CASE WHEN {missing} THEN 0 ELSE greatest(0, {hi} - {lo} + 1) END"
        return (
            f"WITH cov AS ({covered}) SELECT pop.person_id,"
            f" (SELECT count(*) FROM cov c WHERE c.person_id = pop.person_id) AS num,"
            f" coalesce({span}, 0) - {buffered} AS den"
            f" FROM pop LEFT JOIN ({bounds}) st ON st.person_id = pop.person_id"
        )

    def _duration(self, m: CoverageMeasure) -> str:
        if not m.duration_attr or not m.durations:
            return str(m.default_duration)
        cases = " ".join(f"WHEN {_quote(code)} THEN {d}" for code, d in sorted(m.durations.items()))
        return f'CASE f."{m.duration_attr}" {cases} ELSE {m.default_duration} END'

    # -- applicability and scoring ------------------------------------------------------------
    def applies(self, ind: Indicator) -> str:
        a = ind.applies
        conds = []
        if a.sex is not None:
            conds.append(f"pop.sex = {a.sex}")
        if a.min_age is not None:
            conds.append(f"pop.age >= {a.min_age}")
        if a.max_age is not None:
            conds.append(f"pop.age <= {a.max_age}")
        if a.groups is not None:
            conds.append(f'pop."group" IN ({", ".join(_quote(g) for g in a.groups)})')
        if a.occupations is not None:
            conds.append(f"pop.occupation IN ({', '.join(_quote(o) for o in a.occupations)})")
        if a.has_children is not None:
            conds.append("x.n_kids > 0" if a.has_children else "x.n_kids = 0")
        if a.child_under_months is not None:
            conds.append(f"x.youngest_months < {a.child_under_months}")
        if a.has_fact:
            conds.append("(" + " OR ".join(f'x."has_{k}"' for k in a.has_fact) + ")")
        return " AND ".join(f"coalesce({c}, FALSE)" for c in conds) or "TRUE"

    def exempt(self, ind: Indicator) -> str:
        return " OR ".join(f'x."ex_{s}"' for s in ind.exempt_by) or "FALSE"

    def points(self, ind: Indicator) -> str:
        """Points of the first band the value (q.num / q.den) satisfies."""
        bands = " ".join(f"WHEN {self._band(ind, b)} THEN {b.points}" for b in ind.scoring.bands)
        return f"CASE {bands} ELSE {ind.scoring.otherwise} END"

    def _band(self, ind: Indicator, band: Band) -> str:
        parts = []
        if band.at_least is not None:
            parts.append(self._at_least(ind, band.at_least))
        if band.at_most is not None:
            t = band.at_most
            parts.append(f"q.num * {t.denominator} <= {t.numerator} * q.den")
        return " AND ".join(parts)

    def _at_least(self, ind: Indicator, t: Fraction) -> str:
        def cond(c: Fraction) -> str:
            q = t * c
            return f"q.num * {q.denominator} >= {q.numerator} * q.den"

        if not ind.regional or not self.p.coefficients:
            return cond(Fraction(1))
        cases = " ".join(
            f"WHEN {_quote(g)} THEN {cond(c)}" for g, c in sorted(self.p.coefficients.items())
        )
        return f'CASE q."group" {cases} ELSE {cond(Fraction(1))} END'

    def indicator(self, ind: Indicator) -> str:
        weight = int(ind.weight * WEIGHT_UNIT)
        status = (
            f"CASE WHEN NOT ({self.applies(ind)}) THEN 'not_applicable'"
            f" WHEN {self.exempt(ind)} THEN 'exempt'"
        )
        always = isinstance(ind.measure, CountMeasure | EventsMeasure)
        num = "coalesce(m.num, 0)" if always else "m.num"
        den = "coalesce(m.den, 1)" if always else "m.den"
        status += f" WHEN {den} IS NULL OR {den} = 0 THEN 'not_applicable' ELSE 'scored' END"
        inner = (
            f'SELECT pop.person_id, pop."group", {status} AS status,'
            f" CAST({num} AS BIGINT) AS num, CAST({den} AS BIGINT) AS den"
            f" FROM pop JOIN extras x ON x.person_id = pop.person_id"
            f" LEFT JOIN ({self.measure(ind)}) m ON m.person_id = pop.person_id"
        )
        return (
            f"SELECT q.person_id, {_quote(ind.id)} AS indicator, {_quote(ind.dimension)}"
            f" AS dimension, {weight} AS weight, {str(ind.only_raises).upper()} AS bonus,"
            f" q.status, q.num, q.den,"
            f" CASE WHEN q.status = 'scored' THEN {self.points(ind)} END AS points"
            f" FROM ({inner}) q"
        )


def _greedy(table: str, key: str, unit: str, weight: str, score: str, base: str) -> str:
    """Base rows plus bonus rows taken in descending score while each raises the mean."""
    frame = (
        f"PARTITION BY {key} ORDER BY {score} DESC, {unit}"
        f" ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    )
    return (
        f"SELECT t.*, CASE WHEN NOT t.bonus THEN TRUE"
        f" ELSE (b.bw + coalesce(sum({weight}) OVER ({frame}), 0)) = 0"
        f" OR {score} * (b.bw + coalesce(sum({weight}) OVER ({frame}), 0))"
        f" > b.bs + coalesce(sum({weight} * {score}) OVER ({frame}), 0) END AS included"
        f" FROM {table} t JOIN ({base}) b USING ({key})"
    )


def compile_policy(policy: Policy, cut: dt.date) -> Plan:
    """The SQL that evaluates `policy` at `cut` over the frame tables."""
    c = _Compiler(policy, cut)
    indicators = " UNION ALL ".join(c.indicator(i) for i in policy.indicators)
    scored = "SELECT * FROM ind WHERE status = 'scored'"
    ind_base = (
        "SELECT person_id, dimension, coalesce(sum(CASE WHEN NOT bonus THEN weight END), 0) AS bw,"
        " coalesce(sum(CASE WHEN NOT bonus THEN weight * points END), 0) AS bs"
        " FROM ind_scored GROUP BY person_id, dimension"
    )
    dim_weights = " UNION ALL ".join(
        f"SELECT {_quote(d.id)} AS dimension, {int(d.weight * WEIGHT_UNIT)} AS dweight"
        for d in policy.dimensions
    )
    dims = (
        "SELECT person_id, dimension, dw.dweight AS weight, bool_and(bonus) AS bonus,"
        " (200 * sum(weight * points) + sum(weight)) // (2 * sum(weight)) AS score"
        " FROM ind_incl JOIN dw USING (dimension) WHERE included"
        " GROUP BY person_id, dimension, dw.dweight"
    )
    dim_base = (
        "SELECT person_id, coalesce(sum(CASE WHEN NOT bonus THEN weight END), 0) AS bw,"
        " coalesce(sum(CASE WHEN NOT bonus THEN weight * score END), 0) AS bs"
        " FROM dim_scored GROUP BY person_id"
    )
    totals = (
        "SELECT person_id, (2 * sum(weight * score) + sum(weight)) // (2 * sum(weight)) AS total"
        " FROM dim_incl WHERE included GROUP BY person_id"
    )
    steps = (
        ("pop", c.pop()),
        ("kids", c.kids()),
        ("vf", f"SELECT * FROM facts WHERE event_date <= {c.c}"),
        ("extras", c.extras()),
        ("ind", indicators),
        ("ind_scored", scored),
        ("ind_incl", _greedy("ind_scored", "person_id, dimension", "indicator", "weight",
                             "points", ind_base)),
        ("dw", dim_weights),
        ("dim_scored", dims),
        ("dim_incl", _greedy("dim_scored", "person_id", "dimension", "weight", "score",
                             dim_base)),
        ("totals", totals),
        ("balance", _points(c)),
    )  # fmt: skip
    return Plan(steps, _results(c), _dimensions(), _indicators())


def _points(c: _Compiler) -> str:
    p = c.p.points
    terms = [f"CASE WHEN x.n_kids > 0 THEN {p.initial} ELSE 0 END"]
    for rule in p.rules:
        cond = f"f.kind = {_quote(rule.kind)} AND {_where('f', rule.where)}"
        if rule.of == "self":
            n = f"(SELECT count(*) FROM vf f WHERE f.person_id = pop.person_id AND {cond})"
        else:
            n = (
                f"(SELECT count(DISTINCT f.fact_id) FROM kids k JOIN vf f"
                f" ON f.person_id = k.child_id WHERE k.parent_id = pop.person_id AND {cond})"
            )
        term = f"{rule.points} * {n}"
        terms.append(f"least({term}, {rule.cap})" if rule.cap is not None else term)
    sev = " ".join(f"WHEN {_quote(s)} THEN {r.points}" for s, r in sorted(c.p.severities.items()))
    if sev:
        terms.append(
            f"(SELECT coalesce(sum(CASE e.severity {sev} ELSE 0 END), 0) FROM vf e"
            f" WHERE e.person_id = pop.person_id AND {c._active('e')})"
        )
    return (
        f"SELECT pop.person_id, {' + '.join(terms)} AS points"
        f" FROM pop JOIN extras x ON x.person_id = pop.person_id"
    )


def _results(c: _Compiler) -> str:
    order = c.p.grade_order
    cut_cases = " ".join(
        f"WHEN t.total >= {int(c.p.grades.cutoffs[g] * 100)} THEN {order.index(g)}"
        for g in order[:-1]
    )
    rank = f"greatest(CASE {cut_cases} ELSE {len(order) - 1} END, x.cap_rank)"
    names = " ".join(f"WHEN {i} THEN {_quote(g)}" for i, g in enumerate(order))
    return (
        f"SELECT pop.person_id, CAST(t.total AS BIGINT) AS total_centi,"
        f" CASE WHEN t.total IS NULL THEN NULL ELSE CASE {rank} {names} END END AS grade,"
        f" CAST(b.points AS BIGINT) AS points FROM pop JOIN extras x ON x.person_id = pop.person_id"
        f" LEFT JOIN totals t ON t.person_id = pop.person_id"
        f" JOIN balance b ON b.person_id = pop.person_id ORDER BY pop.person_id"
    )


def _dimensions() -> str:
    return (
        "SELECT pop.person_id, d.dimension, CAST(s.score AS BIGINT) AS score_centi,"
        " coalesce(s.included, FALSE) AS included"
        " FROM pop CROSS JOIN dw d LEFT JOIN dim_incl s"
        " ON s.person_id = pop.person_id AND s.dimension = d.dimension"
        " ORDER BY pop.person_id, d.dimension"
    )


def _indicators() -> str:
    return (
        "SELECT i.person_id, i.indicator, i.status,"
        " CASE WHEN i.status = 'scored' THEN i.num END AS num,"
        " CASE WHEN i.status = 'scored' THEN i.den END AS den,"
        " CAST(i.points AS BIGINT) AS points,"
        " coalesce(s.included, FALSE) AS included"
        " FROM ind i LEFT JOIN ind_incl s ON s.person_id = i.person_id"
        " AND s.indicator = i.indicator ORDER BY i.person_id, i.indicator"
    )
