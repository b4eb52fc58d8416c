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


@dataclass(frozen=True)
class _Agg:
    """A per-person aggregate of the facts pass: computed per kind, then combined."""

    kinds: tuple[str, ...]
    expr: str
    combine: str  # sum | max | min | bit_or: how the per-kind results combine
    name: str
    post: str = ""  # e.g. "> 0", applied to the combined value


def _combine(how: str, parts: list[str]) -> str:
    """One person's aggregate from its per-kind values (each NULL where the kind is absent)."""
    if len(parts) == 1:
        return parts[0]
    if how == "sum":
        return "(" + " + ".join(f"coalesce({p}, 0)" for p in parts) + ")"
    if how == "bit_or":
        return "(" + " | ".join(f"coalesce({p}, 0)" for p in parts) + ")"
    # greatest/least skip NULLs: absent kinds do not count.
    return f"{'greatest' if how == 'max' else 'least'}({', '.join(parts)})"


def _bits(lo: str, hi: str, first: int) -> str:
    """The months lo…hi as bits of a 64-bit integer (bit 0 = month `first`); 0 when empty."""
    return (
        f"CASE WHEN ({hi}) >= ({lo}) THEN ((CAST(1 AS BIGINT) << (({hi}) - ({lo}) + 1)) - 1)"
        f" << (({lo}) - {first}) ELSE CAST(0 AS BIGINT) END"
    )


def _schedule_groups(m: ScheduleMeasure) -> dict[str, int]:
    """Each distinct filter of a schedule's items, numbered."""
    groups: dict[str, int] = {}
    for item in m.items:
        groups.setdefault(_where("f", item.where), len(groups))
    return groups


def _schedule_terms(ind_id: str, m: ScheduleMeasure) -> tuple[str, str]:
    """(done, due) for one child row `k` joined to its fact counts `c`."""
    groups = _schedule_groups(m)
    ranked: dict[str, int] = {}
    due_terms, done_terms = [], []
    for i in sorted(range(len(m.items)), key=lambda i: (m.items[i].due_months, i)):
        item = m.items[i]
        cond = _where("f", item.where)
        ranked[cond] = ranked.get(cond, 0) + 1
        due = f"k.age_months >= {item.due_months + m.grace_months}"
        due_terms.append(f"CAST({due} AS BIGINT)")
        done_terms.append(
            f'CAST({due} AND coalesce(c."{ind_id}_{groups[cond]}", 0) >= {ranked[cond]} AS BIGINT)'
        )
    return _sum(done_terms), _sum(due_terms)


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

    def _aggregates(self) -> list[_Agg]:
        """Every per-person aggregate over the facts, with the kinds it can read."""
        out: list[_Agg] = []
        for ind in self.p.indicators:
            m, i = ind.measure, ind.id
            if isinstance(m, CountMeasure):
                out.append(_Agg(tuple(m.kinds), self._counted(m), "sum", f"n_{i}"))
            if isinstance(m, EventsMeasure):
                types = _in("f", "credit_event_type", m.event_types)
                cond = f"{self.active('f')} AND {types}"
                out.append(
                    _Agg(("credit_event",), f"count(*) FILTER (WHERE {cond})", "sum", f"n_{i}")
                )
            if isinstance(m, CoverageMeasure):
                out += self.coverage_aggregates(ind, m)
            if isinstance(m, ScheduleMeasure):
                for cond, g in _schedule_groups(m).items():
                    expr = f"count(*) FILTER (WHERE f.kind = {_quote(m.kind)} AND {cond})"
                    out.append(_Agg((m.kind,), expr, "sum", f"{i}_{g}"))
        for kind in self._has_fact_kinds():
            out.append(_Agg((kind,), "count(*)", "sum", f"has_{kind}", "> 0"))
        for scope in self._scopes():
            cond = (
                f"f.difficulty_scope = {_quote(scope)}"
                f" AND TRY_CAST(f.valid_until AS DATE) >= {self.c}"
            )
            out.append(_Agg(("difficulty",), f"count(*) FILTER (WHERE {cond})", "sum",
                            f"ex_{scope}", "> 0"))  # fmt: skip
        out.append(_Agg(("credit_event",), self._cap_rank(), "max", "cap_rank"))
        for k, rule in enumerate(self.p.points.rules):
            cond = f"f.kind = {_quote(rule.kind)} AND {_where('f', rule.where)}"
            out.append(_Agg((rule.kind,), f"count(*) FILTER (WHERE {cond})", "sum", f"r_{k}"))
        sev = " ".join(
            f"WHEN {_quote(s)} THEN {r.points}" for s, r in sorted(self.p.severities.items())
        )
        if sev:
            expr = f"sum(CASE WHEN {self.active('f')} THEN CASE f.severity {sev} ELSE 0 END END)"
            out.append(_Agg(("credit_event",), expr, "sum", "sev_points"))
        return out

    def facts_passes(self) -> list[tuple[str, str]]:
        """The facts, aggregated per person they are about, one kind of fact at a time.

        For an adult these are their own counts (indicators, events, exemptions, caps,
        points); for a child, the counts their parents' child measures and schedules sum up.
        Each kind is aggregated over its own rows with only its own aggregates (the cost grows
        with rows, not rows × aggregates); `agg` then puts each person's kinds side by side.
        """
        aggs = self._aggregates()
        kinds = sorted({k for a in aggs for k in a.kinds})
        steps = []
        for n, kind in enumerate(kinds):
            named = ", ".join(f'{a.expr} AS "{a.name}"' for a in aggs if kind in a.kinds)
            rows = (
                f"(SELECT f.*{self._spans(kind)} FROM facts f"
                f" WHERE f.kind = {_quote(kind)} AND f.event_date <= {self.c})"
            )
            steps.append(
                (f"agg{n}", f"SELECT f.person_id, {named} FROM {rows} f GROUP BY f.person_id")
            )
        joins = "".join(
            f" LEFT JOIN agg{n} k{n} ON k{n}.person_id = p.person_id" for n in range(len(kinds))
        )
        cols = []
        for a in aggs:
            parts = [f'k{n}."{a.name}"' for n, kind in enumerate(kinds) if kind in a.kinds]
            cols.append(f'{_combine(a.combine, parts)} {a.post} AS "{a.name}"'.replace("  ", " "))
        # Children need not be persons of the frame themselves; their facts still count.
        ids = "(SELECT person_id FROM pop UNION SELECT child_id FROM kids)"
        steps.append(("agg", f"SELECT p.person_id, {', '.join(cols)} FROM {ids} p{joins}"))
        return steps

    def _spans(self, kind: str) -> str:
        """Columns `_s_X`, `_e_X`: first and last month each fact covers, for coverage X."""
        cols = []
        for ind in self.p.indicators:
            m = ind.measure
            if isinstance(m, CoverageMeasure) and m.kind == kind:
                s, d = self._span(m)
                end = f"CASE WHEN {d} = 0 THEN 99999999 ELSE {s} + {d} - 1 END"
                cols.append(f', {s} AS "_s_{ind.id}", {end} AS "_e_{ind.id}"')
        return "".join(cols)

    def _cap_rank(self) -> str:
        caps = self.p.grades.caps
        if not caps:
            return "0"
        order = self.p.grade_order
        rank = " ".join(f"WHEN {_quote(s)} THEN {order.index(g)}" for s, g in sorted(caps.items()))
        return f"max(CASE WHEN {self.active('f')} THEN CASE f.severity {rank} ELSE 0 END END)"

    def children_sums(self) -> str | None:
        """Per parent: the children's counts, and each schedule's due and done items."""
        cols = []
        for ind in self.p.indicators:
            m = ind.measure
            if isinstance(m, CountMeasure) and m.of == "children":
                cols.append(f'sum(c."n_{ind.id}") AS "n_{ind.id}"')
            if isinstance(m, ScheduleMeasure):
                done, due = _schedule_terms(ind.id, m)
                cols += [f'sum({done}) AS "n_{ind.id}"', f'sum({due}) AS "d_{ind.id}"']
            if isinstance(m, CoverageMeasure) and m.buffer and self.p.buffer.months_after_birth:
                cols.append(self.buffer_bits(ind, m))
        for k, rule in enumerate(self.p.points.rules):
            if rule.of == "children":
                cols.append(f'sum(c."r_{k}") AS "r_{k}"')
        if not cols:
            return None
        return (
            f"SELECT k.parent_id AS person_id, {', '.join(cols)} FROM kids k"
            f" LEFT JOIN agg c ON c.person_id = k.child_id GROUP BY k.parent_id"
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
        """Per parent: intervals between consecutive births, and those long enough."""
        gap = _months_between("prev", "birth_date")
        counts = "".join(
            f', sum(CASE WHEN {gap} >= {i.measure.min_months} THEN 1 ELSE 0 END) AS "n_{i.id}"'
            for i in self.p.indicators
            if isinstance(i.measure, SpacingMeasure)
        )
        return (
            f"SELECT parent_id AS person_id, count(*) AS gaps{counts} FROM ("
            f"SELECT parent_id, birth_date, lag(birth_date) OVER"
            f" (PARTITION BY parent_id ORDER BY birth_date) AS prev"
            f" FROM (SELECT DISTINCT parent_id, birth_date FROM kids))"
            f" WHERE prev IS NOT NULL GROUP BY parent_id"
        )

    def _window_months(self, m: CoverageMeasure) -> tuple[int, int]:
        last = self.cut.year * 12 + self.cut.month
        return last - m.window_months + 1, last

    def _span(self, m: CoverageMeasure) -> tuple[str, str]:
        """(first month, months covered; 0 = every month on) of a fact `f`."""
        if m.month_from == "period":
            # YYYY-MM, YYYYMM or YYYY-MM-DD: the month follows the year, after a dash or not.
            month = "CASE WHEN substr(f.period, 5, 1) = '-' THEN 6 ELSE 5 END"
            start = (
                f"TRY_CAST(substr(f.period, 1, 4) AS BIGINT) * 12"
                f" + TRY_CAST(substr(f.period, {month}, 2) AS BIGINT)"
            )
            return start, "1"
        return "year(f.event_date) * 12 + month(f.event_date)", self._duration(m)

    def coverage_aggregates(self, ind: Indicator, m: CoverageMeasure) -> list[_Agg]:
        """In the facts pass: the window months covered, as bits, and the first and last month
        any matching fact covers (a duration of 0 covers every month on)."""
        first, last = self._window_months(m)
        # The span is computed once per fact in the kind's projection (see facts_pass).
        s, end = f'f."_s_{ind.id}"', f'f."_e_{ind.id}"'
        match = f"{_where('f', m.where)} AND {s} IS NOT NULL"
        bits = _bits(f"greatest({s}, {first})", f"least({end}, {last})", first)
        kinds = (m.kind,)
        return [
            _Agg(kinds, f"bit_or({bits}) FILTER (WHERE {match})", "bit_or", f"cm_{ind.id}"),
            _Agg(kinds, f"min({s}) FILTER (WHERE {match})", "min", f"c0_{ind.id}"),
            _Agg(kinds, f"max({end}) FILTER (WHERE {match})", "max", f"c1_{ind.id}"),
        ]

    def buffer_bits(self, ind: Indicator, m: CoverageMeasure) -> str:
        """Per parent (over `kids`): the window months inside a child's buffer period."""
        first, last = self._window_months(m)
        bm = "(year(k.birth_date) * 12 + month(k.birth_date))"
        hi = f"least({bm} + {self.p.buffer.months_after_birth - 1}, {last})"
        return f'bit_or({_bits(f"greatest({bm}, {first})", hi, first)}) AS "bm_{ind.id}"'

    def coverage(self, ind: Indicator, m: CoverageMeasure) -> tuple[str, str]:
        """(num, den) over the facts pass (ow) and the children's sums (th)."""
        first, last = self._window_months(m)
        i = ind.id
        cm, s0, s1 = f'coalesce(ow."cm_{i}", 0)', f'ow."c0_{i}"', f'ow."c1_{i}"'
        lo = f"greatest({s0}, {first})" if m.since_first else str(first)
        hi = f"least({s1}, {last})" if m.until_last else str(last)
        eligible = _bits(lo, hi, first)
        buffered = "0"
        if m.buffer and self.p.buffer.occupations and self.p.buffer.months_after_birth:
            occs = _in("pop", "occupation", self.p.buffer.occupations)
            buffered = (
                f'bit_count(CASE WHEN {occs} THEN coalesce(th."bm_{i}", 0) ELSE 0 END'
                f" & ~{cm} & {eligible})"
            )
        den = f"bit_count({eligible}) - {buffered}"
        if m.since_first or m.until_last:
            den = f"CASE WHEN {s0} IS NULL THEN 0 ELSE {den} END"
        return f"bit_count({cm})", den

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
            return f'th."n_{i}"', f'th."d_{i}"'
        if isinstance(m, TimelinessMeasure):
            return f'fa."n_{i}"', "fa.n_kids"
        if isinstance(m, SpacingMeasure):
            return f'sp."n_{i}"', "CASE WHEN sp.gaps > 0 THEN 1 END"
        assert isinstance(m, CoverageMeasure)
        return self.coverage(ind, m)

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
        """Points of the first band the value satisfies; 0 when not scored (see `h_`)."""
        bands = " ".join(f"WHEN {self._band(ind, b)} THEN {b.points}" for b in ind.scoring.bands)
        return (
            f'CASE WHEN "st_{ind.id}" <> 0 THEN 0'
            f" ELSE CASE {bands} ELSE {ind.scoring.otherwise} END END"
        )

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
    steps: list[tuple[str, str]] = [
        ("pop", c.pop()),
        ("kids", c.kids()),
        *c.facts_passes(),
    ]
    joins = ["LEFT JOIN agg ow ON ow.person_id = pop.person_id"]
    theirs = c.children_sums()
    if theirs:
        steps.append(("theirs", theirs))
        joins.append("LEFT JOIN theirs th ON th.person_id = pop.person_id")
    steps.append(("fam", c.family()))
    joins.append("LEFT JOIN fam fa ON fa.person_id = pop.person_id")
    steps.append(("spc", c.spacing()))
    joins.append("LEFT JOIN spc sp ON sp.person_id = pop.person_id")
    steps.extend(_wide(c, policy, joins))
    return Plan(tuple(steps), _results(), _dimensions(policy), _indicators(policy))


def _ranked(members: list[tuple[str, int, bool]]) -> list[str]:
    """For each bonus indicator k: the weight `W_k` and weighted points `S_k` of the base and of
    the bonus indicators ranked before it (higher points, or equal points and an earlier id)."""
    base = [(k, w) for k, w, bonus in members if not bonus]
    base_w = [_when(f'"h_{k}"', str(w)) for k, w in base]
    base_s = [_when(f'"h_{k}"', f'{w} * "v_{k}"') for k, w in base]
    cols = []
    for k, _, bonus in members:
        if not bonus:
            continue
        before = [
            (k2, w2, f'("h_{k2}" AND "v_{k2}" {">=" if k2 < k else ">"} "v_{k}")')
            for k2, w2, b2 in members
            if b2 and k2 != k
        ]
        cols.append(f'{_sum(base_w + [_when(c, str(w2)) for _, w2, c in before])} AS "W_{k}"')
        points = [_when(c, f'{w2} * "v_{k2}"') for k2, w2, c in before]
        cols.append(f'{_sum(base_s + points)} AS "S_{k}"')
    return cols


def _wide(c: _Compiler, policy: Policy, joins: list[str]) -> list[tuple[str, str]]:
    """Staged, each stage materialised: later stages refer to a column many times, and an
    inlined expression would be recomputed at every reference."""
    # Stage 1: values and statuses from the joined passes; points (v_) and whether scored (h_).
    values = []
    for ind in policy.indicators:
        num, den = c.value(ind)
        i = ind.id
        values += [
            f'CAST({num} AS BIGINT) AS "num_{i}"',
            f'CAST({den} AS BIGINT) AS "den_{i}"',
            f'{c.status(ind, den)} AS "st_{i}"',
        ]
    stage1 = (
        f'SELECT pop.person_id, pop."group", coalesce(ow.cap_rank, 0) AS cap_rank,'
        f" {_points_balance(c)} AS points, {', '.join(values)}"
        f" FROM pop {' '.join(joins)}"
    )
    scored = ", ".join(
        f'{c.points(i)} AS "v_{i.id}", "st_{i.id}" = 0 AS "h_{i.id}"' for i in policy.indicators
    )
    stage2 = f"WITH s1 AS ({stage1}) SELECT *, {scored} FROM s1"
    # Stage 3: ranks of the bonus indicators inside each dimension.
    groups = [
        (
            d,
            [
                (i.id, int(i.weight * WEIGHT_UNIT), i.only_raises)
                for i in policy.indicators_of(d.id)
            ],
        )
        for d in policy.dimensions
    ]
    ranks = [col for _, members in groups for col in _ranked(members)]
    stage3 = f"SELECT *, {', '.join(ranks)} FROM s2" if ranks else "SELECT * FROM s2"
    # Stage 4: inclusion (a bonus counts when it raises the score), dimension scores.
    inc_cols, dim_cols = [], []
    for d, members in groups:
        for k, _, bonus in members:
            raises = f'("W_{k}" = 0 OR "v_{k}" * "W_{k}" > "S_{k}")'
            inc_cols.append(f'"h_{k}" AND {raises if bonus else "TRUE"} AS "inc_{k}"')
        weight = _sum([_when(f'"inc_{k}"', str(w)) for k, w, _ in members])
        total = _sum([_when(f'"inc_{k}"', f'{w} * "v_{k}"') for k, w, _ in members])
        base = _sum([_when(f'"inc_{k}"', str(w)) for k, w, bonus in members if not bonus])
        dim_cols += [
            f"CASE WHEN {weight} = 0 THEN NULL ELSE (200 * {total} + {weight}) // (2 * {weight})"
            f' END AS "dim_{d.id}"',
            f'{base} = 0 AS "dbonus_{d.id}"',
        ]
    # Each stage carries forward only what later stages read (W_, S_ stop here).
    per = [f'"{c}_{i.id}"' for i in policy.indicators for c in ("num", "den", "st", "v", "h")]
    keep = ", ".join(["person_id", '"group"', "cap_rank", "points", *per])
    incs = ", ".join(f'"inc_{i.id}"' for i in policy.indicators)
    stage4 = (
        f"WITH s3i AS (SELECT {keep}, {', '.join(inc_cols)} FROM s3)"
        f" SELECT {keep}, {incs}, {', '.join(dim_cols)} FROM s3i"
    )
    # Stage 5: dimensions into the total, by the same rule; then the grade.
    dims = [(d.id, int(d.weight * WEIGHT_UNIT), f'"dbonus_{d.id}"') for d in policy.dimensions]
    cols, weight, total = _greedy(dims, '"dim_{k}"', "dinc_{k}")
    stage5 = f"SELECT *, {', '.join(cols)} FROM s4"
    total_sql = (
        f"CASE WHEN {weight} = 0 THEN NULL ELSE (2 * {total} + {weight}) // (2 * {weight}) END"
    )
    stage6 = f"SELECT *, CAST({total_sql} AS BIGINT) AS total_centi FROM s5"
    points = ", ".join(
        f'CASE WHEN "h_{i.id}" THEN "v_{i.id}" END AS "p_{i.id}"' for i in policy.indicators
    )
    out = ["person_id", "points", "total_centi"]
    out += [f'"{c}_{d.id}"' for d in policy.dimensions for c in ("dim", "dinc")]
    out += [f'"{c}_{i.id}"' for i in policy.indicators for c in ("num", "den", "st", "inc")]
    stage7 = f"SELECT {', '.join(out)}, {_grade(policy)} AS grade, {points} FROM s6"
    return [
        ("s2", stage2),
        ("s3", stage3),
        ("s4", stage4),
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
