"""Policy → set-based SQL (R13, R17): pure functions, no engine imported.

The SQL reads the frame tables `persons`, `facts` and `children` (docs/policy.md §1.1) and is
written in DuckDB's dialect; another engine translates it. Every number is an integer: weights
in ten-thousandths, points 0–100, scores in hundredths, thresholds compared by
cross-multiplication, so engines agree on every grade at a cut-off.

The plan is wide: one row per person with one column group per indicator. Facts are read in a
few grouped passes (the person's own facts, their children's, schedules, families, coverage),
never once per indicator; the bonus rule ("counted only when it raises the score", §1.6) is a
pairwise comparison inside the row, so no sort or window over 28 × persons rows is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
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

__all__ = ["STATUS", "Plan", "add_months", "compile_policy"]


@dataclass(frozen=True)
class Plan:
    """Tables to materialise in order (the last is `wide`), then the result queries."""

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


def _in(alias: str, column: str, values: Iterable[str]) -> str:
    return f"{alias}.{column} IN ({', '.join(_quote(v) for v in values)})"


def _sum(terms: list[str]) -> str:
    return "(" + " + ".join(terms) + ")" if terms else "0"


class _Compiler:
    def __init__(self, policy: Policy, cut: dt.date) -> None:
        self.p = policy
        self.cut = cut
        self.c = _date(cut)
        self.steps: list[tuple[str, str]] = []
        self.joins: list[str] = []

    # -- grouped passes over the frame ---------------------------------------------------
    def pop(self) -> str:
        age = f"CAST(FLOOR({_months_between('birth_date', self.c)} / 12) AS BIGINT)"
        return (
            f"SELECT *, {age} AS age FROM persons"
            f" WHERE birth_date IS NULL OR {age} >= {self.p.population.min_age}"
        )

    def kids(self) -> str:
        return (
            f"SELECT parent_id, child_id, min(birth_date) AS birth_date,"
            f" min(registered_at) AS registered_at,"
            f" {_months_between('min(birth_date)', self.c)} AS age_months"
            f" FROM children WHERE birth_date <= {self.c}"
            f" AND parent_id IN (SELECT person_id FROM pop) GROUP BY parent_id, child_id"
        )

    def active(self, alias: str) -> str:
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

    def window(self, alias: str, months: int | None) -> str:
        if months is None:
            return "TRUE"
        return f"{alias}.event_date > {_date(add_months(self.cut, -months))}"

    def _counted(self, m: CountMeasure) -> str:
        cond = f"{_in('f', 'kind', m.kinds)} AND {_where('f', m.where)}"
        return f"count(*) FILTER (WHERE {cond} AND {self.window('f', m.window_months)})"

    def own(self) -> str:
        """One pass over the person's own facts: counts, events, exemptions, caps, points."""
        cols = ["f.person_id"]
        for ind in self.p.indicators:
            m = ind.measure
            if isinstance(m, CountMeasure) and m.of == "self":
                cols.append(f'{self._counted(m)} AS "n_{ind.id}"')
            if isinstance(m, EventsMeasure):
                types = _in("f", "credit_event_type", m.event_types)
                cols.append(
                    f'count(*) FILTER (WHERE {self.active("f")} AND {types}) AS "n_{ind.id}"'
                )
        for kind in self._has_fact_kinds():
            cols.append(f'count(*) FILTER (WHERE f.kind = {_quote(kind)}) > 0 AS "has_{kind}"')
        for scope in self._scopes():
            cols.append(
                f"count(*) FILTER (WHERE f.kind = 'difficulty' AND f.difficulty_scope ="
                f" {_quote(scope)} AND TRY_CAST(f.valid_until AS DATE) >= {self.c}) > 0"
                f' AS "ex_{scope}"'
            )
        caps = self.p.grades.caps
        if not caps:
            cols.append("0 AS cap_rank")
        else:
            order = self.p.grade_order
            rank = " ".join(
                f"WHEN {_quote(s)} THEN {order.index(g)}" for s, g in sorted(caps.items())
            )
            cols.append(
                f"max(CASE WHEN {self.active('f')} THEN CASE f.severity {rank} ELSE 0 END END)"
                " AS cap_rank"
            )
        for k, rule in enumerate(self.p.points.rules):
            if rule.of == "self":
                cond = f"f.kind = {_quote(rule.kind)} AND {_where('f', rule.where)}"
                cols.append(f'count(*) FILTER (WHERE {cond}) AS "r_{k}"')
        sev = " ".join(
            f"WHEN {_quote(s)} THEN {r.points}" for s, r in sorted(self.p.severities.items())
        )
        if sev:
            cols.append(
                f"sum(CASE WHEN {self.active('f')} THEN CASE f.severity {sev} ELSE 0 END END)"
                " AS sev_points"
            )
        return (
            f"SELECT {', '.join(cols)} FROM facts f WHERE f.event_date <= {self.c}"
            f" AND f.person_id IN (SELECT person_id FROM pop) GROUP BY f.person_id"
        )

    def theirs(self) -> str | None:
        """One pass over the children's facts: child counts and child point rules."""
        cols = []
        for ind in self.p.indicators:
            m = ind.measure
            if isinstance(m, CountMeasure) and m.of == "children":
                cols.append(f'{self._counted(m)} AS "n_{ind.id}"')
        for k, rule in enumerate(self.p.points.rules):
            if rule.of == "children":
                cond = f"f.kind = {_quote(rule.kind)} AND {_where('f', rule.where)}"
                cols.append(f'count(*) FILTER (WHERE {cond}) AS "r_{k}"')
        if not cols:
            return None
        return (
            f"SELECT k.parent_id AS person_id, {', '.join(cols)} FROM kids k"
            f" JOIN facts f ON f.person_id = k.child_id WHERE f.event_date <= {self.c}"
            f" GROUP BY k.parent_id"
        )

    def family(self) -> str:
        cols = ["parent_id AS person_id", "count(*) AS n_kids", "min(age_months) AS youngest"]
        for ind in self.p.indicators:
            m = ind.measure
            if isinstance(m, TimelinessMeasure):
                cols.append(
                    f"sum(CASE WHEN CAST(registered_at AS DATE) - birth_date <= {m.within_days}"
                    f' THEN 1 ELSE 0 END) AS "n_{ind.id}"'
                )
        return f"SELECT {', '.join(cols)} FROM kids GROUP BY parent_id"

    def spacing(self) -> str:
        gap = _months_between("prev", "birth_date")
        return (
            f"SELECT parent_id AS person_id, min({gap}) AS gap FROM ("
            f"SELECT parent_id, birth_date, lag(birth_date) OVER"
            f" (PARTITION BY parent_id ORDER BY birth_date) AS prev"
            f" FROM (SELECT DISTINCT parent_id, birth_date FROM kids))"
            f" WHERE prev IS NOT NULL GROUP BY parent_id"
        )

    def schedules(self) -> str | None:
        """Per child: matching facts per (schedule, filter); per parent: due and done."""
        counts, sums = [], []
        for ind in self.p.indicators:
            m = ind.measure
            if not isinstance(m, ScheduleMeasure):
                continue
            groups: dict[str, int] = {}
            ranked: dict[str, int] = {}
            due_terms, done_terms = [], []
            for i in sorted(range(len(m.items)), key=lambda i: (m.items[i].due_months, i)):
                item = m.items[i]
                cond = _where("f", item.where)
                g = groups.setdefault(cond, len(groups))
                ranked[cond] = ranked.get(cond, 0) + 1
                due = f"k.age_months >= {item.due_months + m.grace_months}"
                due_terms.append(f"CASE WHEN {due} THEN 1 ELSE 0 END")
                done_terms.append(
                    f'CASE WHEN {due} AND coalesce(c."{ind.id}_{g}", 0) >= {ranked[cond]}'
                    " THEN 1 ELSE 0 END"
                )
            for cond, g in groups.items():
                counts.append(
                    f"count(*) FILTER (WHERE f.kind = {_quote(m.kind)} AND {cond})"
                    f' AS "{ind.id}_{g}"'
                )
            sums.append(f'sum({_sum(done_terms)}) AS "n_{ind.id}"')
            sums.append(f'sum({_sum(due_terms)}) AS "d_{ind.id}"')
        if not sums:
            return None
        per_child = (
            f"SELECT f.person_id AS child_id, {', '.join(counts)} FROM facts f"
            f" WHERE f.event_date <= {self.c} AND f.person_id IN (SELECT child_id FROM kids)"
            f" GROUP BY f.person_id"
        )
        return (
            f"SELECT k.parent_id AS person_id, {', '.join(sums)} FROM kids k"
            f" LEFT JOIN ({per_child}) c ON c.child_id = k.child_id GROUP BY k.parent_id"
        )

    def coverage(self, ind: Indicator, m: CoverageMeasure) -> str:
        """(person_id, num, den) for every evaluated person."""
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
            f"SELECT f.person_id, {start} AS s, {length} AS d FROM facts f"
            f" WHERE f.event_date <= {self.c} AND f.kind = {_quote(m.kind)}"
            f" AND {_where('f', m.where)} AND f.person_id IN (SELECT person_id FROM pop)"
        )
        months = f"SELECT range AS m FROM range({first}, {last + 1})"
        # Eligible months: the window cut to [lo, hi], less the uncovered buffer months.
        lo = f"CASE WHEN b.s0 > {first} THEN b.s0 ELSE {first} END" if m.since_first else str(first)
        hi = f"CASE WHEN b.s1 < {last} THEN b.s1 ELSE {last} END" if m.until_last else str(last)
        ctes = [
            f"sp AS (SELECT * FROM ({spans}) WHERE s IS NOT NULL)",
            # A payment covers one month: no range join needed.
            f"cov AS (SELECT DISTINCT person_id, s AS m FROM sp WHERE s BETWEEN {first} AND {last})"
            if m.month_from == "period"
            else f"cov AS (SELECT DISTINCT sp.person_id, w.m FROM sp JOIN ({months}) w"
            f" ON w.m >= sp.s AND (sp.d = 0 OR w.m < sp.s + sp.d))",
            f"bnd AS (SELECT person_id, min(s) AS s0, CASE WHEN bool_or(d = 0) THEN {last}"
            f" ELSE max(s + d - 1) END AS s1 FROM sp GROUP BY person_id)",
            "num AS (SELECT person_id, count(*) AS n FROM cov GROUP BY person_id)",
        ]
        buffered = "0"
        if m.buffer and self.p.buffer.occupations and self.p.buffer.months_after_birth:
            occs = _in("p", "occupation", self.p.buffer.occupations)
            bm = "year(k.birth_date) * 12 + month(k.birth_date)"
            ctes.append(
                f"buf AS (SELECT k.parent_id AS person_id, count(DISTINCT w.m) AS n FROM kids k"
                f" JOIN pop p ON p.person_id = k.parent_id AND {occs}"
                f" JOIN ({months}) w ON w.m >= {bm}"
                f" AND w.m < {bm} + {self.p.buffer.months_after_birth}"
                f" LEFT JOIN bnd b ON b.person_id = k.parent_id"
                f" LEFT JOIN cov c ON c.person_id = k.parent_id AND c.m = w.m"
                f" WHERE c.m IS NULL AND w.m >= {lo} AND w.m <= {hi} GROUP BY k.parent_id)"
            )
            buffered = "coalesce(u.n, 0)"
        bounded = m.since_first or m.until_last
        span = f"greatest(0, {hi} - {lo} + 1)"
        den = f"CASE WHEN b.s0 IS NULL THEN 0 ELSE {span} END" if bounded else span
        buf_join = " LEFT JOIN buf u ON u.person_id = p.person_id" if buffered != "0" else ""
        return (
            f"WITH {', '.join(ctes)} SELECT p.person_id, coalesce(n.n, 0) AS num,"
            f" {den} - {buffered} AS den FROM pop p"
            f" LEFT JOIN bnd b ON b.person_id = p.person_id"
            f" LEFT JOIN num n ON n.person_id = p.person_id{buf_join}"
        )

    def _duration(self, m: CoverageMeasure) -> str:
        if not m.duration_attr or not m.durations:
            return str(m.default_duration)
        cases = " ".join(f"WHEN {_quote(code)} THEN {d}" for code, d in sorted(m.durations.items()))
        return f'CASE f."{m.duration_attr}" {cases} ELSE {m.default_duration} END'

    def _has_fact_kinds(self) -> list[str]:
        return sorted({k for i in self.p.indicators for k in (i.applies.has_fact or [])})

    def _scopes(self) -> list[str]:
        return sorted({s for i in self.p.indicators for s in i.exempt_by})

    # -- per-indicator columns -------------------------------------------------------------
    def value(self, ind: Indicator) -> tuple[str, str]:
        """(num, den) SQL over the joined row; den NULL or 0 means not applicable."""
        m, i = ind.measure, ind.id
        if isinstance(m, FlagMeasure):
            return f'CASE WHEN pop."{m.field}" THEN 1 ELSE 0 END', "1"
        if isinstance(m, CountMeasure | EventsMeasure):
            alias = "th" if isinstance(m, CountMeasure) and m.of == "children" else "ow"
            return f'coalesce({alias}."n_{i}", 0)', "1"
        if isinstance(m, ScheduleMeasure):
            return f'sc."n_{i}"', f'sc."d_{i}"'
        if isinstance(m, TimelinessMeasure):
            return f'fa."n_{i}"', "fa.n_kids"
        if isinstance(m, SpacingMeasure):
            return "sp.gap", "CASE WHEN sp.gap IS NULL THEN NULL ELSE 1 END"
        assert isinstance(m, CoverageMeasure)
        return f'"cv_{i}".num', f'"cv_{i}".den'

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
            conds.append(_in("pop", "occupation", a.occupations))
        if a.has_children is not None:
            conds.append("coalesce(fa.n_kids, 0) " + ("> 0" if a.has_children else "= 0"))
        if a.child_under_months is not None:
            conds.append(f"fa.youngest < {a.child_under_months}")
        if a.has_fact:
            conds.append("(" + " OR ".join(f'ow."has_{k}"' for k in a.has_fact) + ")")
        return " AND ".join(f"coalesce({c}, FALSE)" for c in conds) or "TRUE"

    def exempt(self, ind: Indicator) -> str:
        return " OR ".join(f'coalesce(ow."ex_{s}", FALSE)' for s in ind.exempt_by) or "FALSE"

    def status(self, ind: Indicator, den: str) -> str:
        """0 scored, 1 not applicable, 2 exempt (small integers: cheap in a wide row)."""
        return (
            f"CASE WHEN NOT ({self.applies(ind)}) THEN 1 WHEN {self.exempt(ind)} THEN 2"
            f" WHEN {den} IS NULL OR {den} = 0 THEN 1 ELSE 0 END"
        )

    def points(self, ind: Indicator) -> str:
        """Points of the first band the value satisfies (over columns num_X, den_X)."""
        bands = " ".join(f"WHEN {self._band(ind, b)} THEN {b.points}" for b in ind.scoring.bands)
        return f'CASE WHEN "st_{ind.id}" = 0 THEN CASE {bands} ELSE {ind.scoring.otherwise} END END'

    def _band(self, ind: Indicator, band: Band) -> str:
        num, den = f'"num_{ind.id}"', f'"den_{ind.id}"'
        parts = []
        if band.at_least is not None:
            parts.append(self._at_least(ind, band.at_least, num, den))
        if band.at_most is not None:
            t = band.at_most
            parts.append(f"{num} * {t.denominator} <= {t.numerator} * {den}")
        return " AND ".join(parts)

    def _at_least(self, ind: Indicator, t: Fraction, num: str, den: str) -> str:
        def cond(c: Fraction) -> str:
            q = t * c
            return f"{num} * {q.denominator} >= {q.numerator} * {den}"

        if not ind.regional or not self.p.coefficients:
            return cond(Fraction(1))
        cases = " ".join(
            f"WHEN {_quote(g)} THEN {cond(c)}" for g, c in sorted(self.p.coefficients.items())
        )
        return f'CASE "group" {cases} ELSE {cond(Fraction(1))} END'


def _when(cond: str, value: str) -> str:
    """`value` where `cond` holds, else 0 — arithmetic, not CASE: a row holds hundreds."""
    return f"({value}) * CAST({cond} AS BIGINT)"


def _greedy(
    members: list[tuple[str, int, str]], score: str, included: str
) -> tuple[list[str], str, str]:
    """Inclusion columns for one group: the indicators of a dimension, or the dimensions.

    members: (key, weight, bonus) where bonus is an SQL boolean. A bonus member is included
    when the base plus every bonus member ranked before it (a higher score, or an equal score
    and an earlier key) weigh 0, or when its score times that weight exceeds their weighted
    score (docs/policy.md §1.6). Evaluated pairwise inside the row, so nothing is sorted.
    """
    s = score.format
    cols = []
    have = {k: f"{s(k=k)} IS NOT NULL" for k, _, _ in members}
    val = {k: f"coalesce({s(k=k)}, 0)" for k, _, _ in members}
    base = [(k, w, f"({have[k]} AND NOT {b})") for k, w, b in members if b != "TRUE"]
    base_w = _sum([_when(c, str(w)) for _, w, c in base])
    base_s = _sum([_when(c, f"{w} * {val[k]}") for k, w, c in base])
    for k, _, b in members:
        if b == "FALSE":
            cols.append(f'{have[k]} AS "{included.format(k=k)}"')
            continue
        before = [
            (k2, w2, f"({have[k2]} AND {b2} AND {val[k2]} {'>=' if k2 < k else '>'} {val[k]})")
            for k2, w2, b2 in members
            if k2 != k and b2 != "FALSE"
        ]
        weight = _sum([base_w] + [_when(c, str(w2)) for _, w2, c in before])
        total = _sum([base_s] + [_when(c, f"{w2} * {val[k2]}") for k2, w2, c in before])
        raises = f"({weight} = 0 OR {val[k]} * {weight} > {total})"
        cols.append(f'{have[k]} AND (NOT {b} OR {raises}) AS "{included.format(k=k)}"')
    inc = included.format
    weight = _sum([_when(f'"{inc(k=k)}"', str(w)) for k, w, _ in members])
    total = _sum([_when(f'"{inc(k=k)}"', f"{w} * {val[k]}") for k, w, _ in members])
    return cols, weight, total


def compile_policy(policy: Policy, cut: dt.date) -> Plan:
    """The SQL that evaluates `policy` at `cut` over the frame tables."""
    c = _Compiler(policy, cut)
    steps: list[tuple[str, str]] = [("pop", c.pop()), ("kids", c.kids()), ("own", c.own())]
    joins = ["LEFT JOIN own ow ON ow.person_id = pop.person_id"]
    theirs = c.theirs()
    if theirs:
        steps.append(("theirs", theirs))
        joins.append("LEFT JOIN theirs th ON th.person_id = pop.person_id")
    steps.append(("fam", c.family()))
    joins.append("LEFT JOIN fam fa ON fa.person_id = pop.person_id")
    steps.append(("spc", c.spacing()))
    joins.append("LEFT JOIN spc sp ON sp.person_id = pop.person_id")
    sched = c.schedules()
    if sched:
        steps.append(("sched", sched))
        joins.append("LEFT JOIN sched sc ON sc.person_id = pop.person_id")
    for ind in policy.indicators:
        if isinstance(ind.measure, CoverageMeasure):
            steps.append((f"cv_{ind.id}", c.coverage(ind, ind.measure)))
            joins.append(f'LEFT JOIN "cv_{ind.id}" ON "cv_{ind.id}".person_id = pop.person_id')
    steps.extend(_wide(c, policy, joins))
    return Plan(tuple(steps), _results(), _dimensions(policy), _indicators(policy))


def _wide(c: _Compiler, policy: Policy, joins: list[str]) -> list[tuple[str, str]]:
    """Staged, each stage materialised: later stages refer to a column many times, and an
    inlined expression would be recomputed at every reference."""
    # Stage 1: values and statuses from the joined passes.
    values = []
    for ind in policy.indicators:
        num, den = c.value(ind)
        i = ind.id
        values += [
            f'CAST({num} AS BIGINT) AS "num_{i}"',
            f'CAST({den} AS BIGINT) AS "den_{i}"',
            f'{c.status(ind, den)} AS "st_{i}"',
        ]
    points = [_points_balance(c)]
    stage1 = (
        f'SELECT pop.person_id, pop."group", coalesce(ow.cap_rank, 0) AS cap_rank,'
        f" {', '.join(points)} AS points, {', '.join(values)}"
        f" FROM pop {' '.join(joins)}"
    )
    # Stage 2: points per indicator.
    stage2 = "SELECT *, " + ", ".join(f'{c.points(i)} AS "p_{i.id}"' for i in policy.indicators)
    stage2 += " FROM s1"
    # Stage 3: inclusion inside each dimension, then dimension scores.
    inc_cols, dim_cols = [], []
    for d in policy.dimensions:
        members = [
            (i.id, int(i.weight * WEIGHT_UNIT), str(i.only_raises).upper())
            for i in policy.indicators_of(d.id)
        ]
        cols, weight, total = _greedy(members, '"p_{k}"', "inc_{k}")
        inc_cols += cols
        base = _sum([_when(f'"inc_{k}"', str(w)) for k, w, b in members if b == "FALSE"])
        dim_cols += [
            f"CASE WHEN {weight} = 0 THEN NULL ELSE (200 * {total} + {weight}) // (2 * {weight})"
            f' END AS "dim_{d.id}"',
            f'{base} = 0 AS "dbonus_{d.id}"',
        ]
    stage3 = f"SELECT *, {', '.join(inc_cols)} FROM s2"
    stage4 = f"SELECT *, {', '.join(dim_cols)} FROM s3"
    # Stage 5: dimensions into the total, by the same rule; then the grade.
    dims = [(d.id, int(d.weight * WEIGHT_UNIT), f'"dbonus_{d.id}"') for d in policy.dimensions]
    cols, weight, total = _greedy(dims, '"dim_{k}"', "dinc_{k}")
    stage5 = f"SELECT *, {', '.join(cols)} FROM s4"
    total_sql = (
        f"CASE WHEN {weight} = 0 THEN NULL ELSE (2 * {total} + {weight}) // (2 * {weight}) END"
    )
    stage6 = f"SELECT *, CAST({total_sql} AS BIGINT) AS total_centi FROM s5"
    stage7 = f"SELECT *, {_grade(policy)} AS grade FROM s6"
    return [
        ("s2", f"WITH s1 AS ({stage1}) {stage2}"),
        ("s4", f"WITH s3 AS ({stage3}) {stage4}"),
        ("wide", f"WITH s5 AS ({stage5}), s6 AS ({stage6}) {stage7}"),
    ]


def _grade(policy: Policy) -> str:
    order = policy.grade_order
    cut_cases = " ".join(
        f"WHEN total_centi >= {int(policy.grades.cutoffs[g] * 100)} THEN {order.index(g)}"
        for g in order[:-1]
    )
    rank = f"greatest(CASE {cut_cases} ELSE {len(order) - 1} END, cap_rank)"
    names = " ".join(f"WHEN {i} THEN {_quote(g)}" for i, g in enumerate(order))
    return f"CASE WHEN total_centi IS NULL THEN NULL ELSE CASE {rank} {names} END END"


def _points_balance(c: _Compiler) -> str:
    p = c.p.points
    terms = [f"CASE WHEN coalesce(fa.n_kids, 0) > 0 THEN {p.initial} ELSE 0 END"]
    for k, rule in enumerate(p.rules):
        alias = "ow" if rule.of == "self" else "th"
        term = f'{rule.points} * coalesce({alias}."r_{k}", 0)'
        terms.append(f"least({term}, {rule.cap})" if rule.cap is not None else term)
    if c.p.severities:
        terms.append("coalesce(ow.sev_points, 0)")
    return f"CAST({_sum(terms)} AS BIGINT)"


def _results() -> str:
    return "SELECT person_id, total_centi, grade, points FROM wide ORDER BY person_id"


def _dimensions(policy: Policy) -> str:
    parts = [
        f'SELECT person_id, {_quote(d.id)} AS dimension, CAST("dim_{d.id}" AS BIGINT)'
        f' AS score_centi, "dinc_{d.id}" AS included FROM wide'
        for d in policy.dimensions
    ]
    return " UNION ALL ".join(parts) + " ORDER BY person_id, dimension"


STATUS = "CASE {col} WHEN 0 THEN 'scored' WHEN 2 THEN 'exempt' ELSE 'not_applicable' END"


def _indicators(policy: Policy) -> str:
    parts = [
        f"SELECT person_id, {_quote(i.id)} AS indicator,"
        f" {STATUS.format(col=f'{chr(34)}st_{i.id}{chr(34)}')} AS status,"
        f' CASE WHEN "st_{i.id}" = 0 THEN "num_{i.id}" END AS num,'
        f' CASE WHEN "st_{i.id}" = 0 THEN "den_{i.id}" END AS den,'
        f' CAST("p_{i.id}" AS BIGINT) AS points, "inc_{i.id}" AS included FROM wide'
        for i in policy.indicators
    ]
    return " UNION ALL ".join(parts) + " ORDER BY person_id, indicator"
