"""Policy → set-based SQL (R13, R17): pure functions, no engine imported.

The SQL reads the frame tables `persons`, `facts` and `children` (docs/policy.md §1.1) and is
written in DuckDB's dialect; another engine translates it. Every number is an integer: weights
in ten-thousandths, points 0–100, scores in hundredths, thresholds compared by
cross-multiplication, so engines agree on every grade at a cut-off.

The plan is wide: one row per person with one column group per indicator. Facts are read in
one grouped pass per kind of fact (never once per indicator), then the children's sums,
families and birth spacing; one last statement joins them to the persons and computes values,
points, the bonus rule ("counted only when it raises the score", §1.6), dimension scores, the
total and the grade in nested projections, so no stage of ~150 columns is stored, and no sort
or window over 28 × persons rows is needed: the bonus rule is arithmetic inside the row.

Birth dates are read by the month (docs/policy.md §1.1): every one is taken as the last day of
its month (`_birth`), so the scores beside a masked file cannot tell the day of a birth.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

from fpcredit.evaluate.policy import (
    WEIGHT_UNIT,
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

__all__ = ["STATUS", "Plan", "add_months", "birth_month_end", "compile_policy"]


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


def birth_month_end(day: dt.date) -> dt.date:
    """A birth date as the evaluation reads it: the last day of its month (docs/policy.md §1.1)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _birth(expr: str) -> str:
    """`birth_month_end` in SQL: whatever the day of a birth, the scores are the same."""
    return f"last_day({expr})"


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
    parts = [_in(alias, f'"{attr}"', sorted(set(values))) for attr, values in sorted(where.items())]
    return " AND ".join(parts) or "TRUE"


def _in(alias: str, column: str, values: Iterable[str]) -> str:
    listed = [_quote(v) for v in values]
    if len(listed) == 1:  # cheaper than IN for DuckDB, which keeps a one-value IN as is
        return f"{alias}.{column} = {listed[0]}"
    return f"{alias}.{column} IN ({', '.join(listed)})"


def _sum(terms: list[str]) -> str:
    return "(" + " + ".join(terms) + ")" if terms else "0"


def _bigsum(expr: str, name: str) -> str:
    """sum() as BIGINT (DuckDB widens sums of BIGINT to HUGEINT: slow to carry and to read)."""
    return f'CAST(sum({expr}) AS BIGINT) AS "{name}"'


def _and(*conds: str) -> str:
    real = [c for c in conds if c != "TRUE"]
    return " AND ".join(real) or "TRUE"


@dataclass(frozen=True)
class _Agg:
    """A per-person aggregate of the facts pass: computed per kind, then combined.

    `expr` aggregates the rows of ONE kind that meet `cond` (the pass filters on the kind, so
    neither need): the same aggregate in one pass is computed once. `of` says whose row reads
    it: the person's own (`self`, joined to `pop`) or a parent's through the children's sums
    (`children`)."""

    kinds: tuple[str, ...]
    expr: str
    combine: str  # sum | max | min | bit_or: how the per-kind results combine
    name: str
    post: str = ""  # e.g. "> 0", applied to the combined value
    of: str = "self"
    cond: str = "TRUE"


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


def _schedule_terms(ind_id: str, m: ScheduleMeasure, ref: Callable[[str], str]) -> tuple[str, str]:
    """(done, due) for one child row `k`; `ref(name)` is the child's fact count `name`.

    Items with the same filter are ranked by due month, so the due ones are the first
    `due_g` of them, and the k-th is done when the count reaches k: `least(count, due_g)`."""
    groups = _schedule_groups(m)
    due: dict[int, list[str]] = {g: [] for g in groups.values()}
    for item in m.items:
        due[groups[_where("f", item.where)]].append(
            f"CAST(k.age_months >= {item.due_months + m.grace_months} AS BIGINT)"
        )
    done = [
        f"least(coalesce({ref(f'{ind_id}_{g}')}, 0), {_sum(terms)})" for g, terms in due.items()
    ]
    return _sum(done), _sum([t for terms in due.values() for t in terms])


class _Compiler:
    def __init__(self, policy: Policy, cut: dt.date) -> None:
        self.p = policy
        self.cut = cut
        self.c = _date(cut)
        # Filled by `facts_passes`: each aggregate's SQL on a person's row (`own`, over `pop`
        # joined to the kind passes as k0, k1, …) and on a child's row (`child`, over `kids`
        # joined to them as c0, c1, …), and those joins.
        self.own: dict[str, str] = {}
        self.child: dict[str, str] = {}
        self.own_joins: list[str] = []
        self.child_joins: list[str] = []

    # -- grouped passes over the frame ---------------------------------------------------
    def pop(self) -> str:
        born = _birth("birth_date")
        age = f"CAST(FLOOR({_months_between(born, self.c)} / 12) AS BIGINT)"
        return (
            f"SELECT *, {age} AS age FROM persons"
            f" WHERE birth_date IS NULL OR {age} >= {self.p.population.min_age}"
        )

    def kids(self) -> str:
        """Each parent's children born by the cut, with the end of the birth month as their
        `birth_date` (so registration timeliness and the buffer read it too) and their age."""
        born = _birth("min(birth_date)")
        return (
            f"SELECT parent_id, child_id, {born} AS birth_date,"
            f" min(registered_at) AS registered_at,"
            f" {_months_between(born, self.c)} AS age_months"
            f" FROM children WHERE {_birth('birth_date')} <= {self.c}"
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

    def _aggregates(self) -> list[_Agg]:
        """Every per-person aggregate over the facts, with the kinds it can read."""
        out: list[_Agg] = []
        for ind in self.p.indicators:
            m, i = ind.measure, ind.id
            if isinstance(m, CountMeasure):
                cond = _and(_where("f", m.where), self.window("f", m.window_months))
                out.append(_Agg(tuple(m.kinds), "count(*)", "sum", f"n_{i}", of=m.of, cond=cond))
            if isinstance(m, EventsMeasure):
                cond = f"{self.active('f')} AND {_in('f', 'credit_event_type', m.event_types)}"
                out.append(_Agg(("credit_event",), "count(*)", "sum", f"n_{i}", cond=cond))
            if isinstance(m, CoverageMeasure):
                out += self.coverage_aggregates(ind, m)
            if isinstance(m, ScheduleMeasure):
                for cond, g in _schedule_groups(m).items():
                    out.append(
                        _Agg((m.kind,), "count(*)", "sum", f"{i}_{g}", of="children", cond=cond)
                    )
        for kind in self._has_fact_kinds():
            out.append(_Agg((kind,), "count(*)", "sum", f"has_{kind}", "> 0"))
        for scope in self._scopes():
            cond = (
                f"f.difficulty_scope = {_quote(scope)}"
                f" AND TRY_CAST(f.valid_until AS DATE) >= {self.c}"
            )
            out.append(_Agg(("difficulty",), "count(*)", "sum", f"ex_{scope}", "> 0", cond=cond))
        out.append(_Agg(("credit_event",), self._cap_rank(), "max", "cap_rank"))
        for k, rule in enumerate(self.p.points.rules):
            cond = _where("f", rule.where)
            out.append(_Agg((rule.kind,), "count(*)", "sum", f"r_{k}", of=rule.of, cond=cond))
        sev = " ".join(
            f"WHEN {_quote(s)} THEN {r.points}" for s, r in sorted(self.p.severities.items())
        )
        if sev:
            points = f"CASE WHEN {self.active('f')} THEN CASE f.severity {sev} ELSE 0 END END"
            expr = f"CAST(sum({points}) AS BIGINT)"  # not HUGEINT: the points balance adds it
            out.append(_Agg(("credit_event",), expr, "sum", "sev_points"))
        return out

    def facts_passes(self) -> list[tuple[str, str]]:
        """The facts, aggregated per person they are about, one kind of fact at a time.

        For an adult these are their own counts (indicators, events, exemptions, caps,
        points); for a child, the counts their parents' child measures and schedules sum up.
        Each kind is aggregated over its own rows with only its own aggregates (the cost grows
        with rows, not rows × aggregates), each distinct aggregate once. The passes are not
        joined to each other: `pop` joins those with own aggregates, `kids` (in `family`) those
        with the children's, and each aggregate combines its kinds there.
        """
        aggs = self._aggregates()
        kinds = sorted({k for a in aggs for k in a.kinds})
        steps = []
        column: dict[tuple[int, str], str] = {}  # (pass, aggregate) -> its column in the pass
        for n, kind in enumerate(kinds):
            named: dict[str, str] = {}  # aggregate -> column
            for a in aggs:
                if kind in a.kinds:
                    expr = a.expr if a.cond == "TRUE" else f"{a.expr} FILTER (WHERE {a.cond})"
                    column[n, a.name] = named.setdefault(expr, a.name)
            cols = ", ".join(f'{expr} AS "{name}"' for expr, name in named.items())
            rows = self._rows(kind)
            steps.append(
                (f"agg{n}", f"SELECT f.person_id, {cols} FROM {rows} GROUP BY f.person_id")
            )
        for of, refs, joins, alias, on in (
            ("self", self.own, self.own_joins, "k", "pop.person_id"),
            ("children", self.child, self.child_joins, "c", "k.child_id"),
        ):
            used = sorted({n for n, kind in enumerate(kinds) for a in aggs
                           if a.of == of and kind in a.kinds})  # fmt: skip
            joins += [f"LEFT JOIN agg{n} {alias}{n} ON {alias}{n}.person_id = {on}" for n in used]
            for a in aggs:
                if a.of == of:
                    parts = [
                        f'{alias}{n}."{column[n, a.name]}"' for n in used if (n, a.name) in column
                    ]
                    ref = _combine(a.combine, parts)
                    refs[a.name] = f"({ref} {a.post})" if a.post else ref
        return steps

    def _rows(self, kind: str) -> str:
        """The facts of one kind dated up to the cut, with columns `_s_X`, `_e_X`: the first
        and last month each fact covers, for each coverage X of that kind (each computed
        once: parsing a period is the costliest expression of the pass)."""
        rows = f"SELECT f.* FROM facts f WHERE f.kind = {_quote(kind)} AND f.event_date <= {self.c}"
        starts, ends = [], []
        for ind in self.p.indicators:
            m, i = ind.measure, ind.id
            if isinstance(m, CoverageMeasure) and m.kind == kind:
                s, d = self._span(m)
                starts.append(f'{s} AS "_s_{i}"')
                if d == "1":
                    ends.append(f'"_s_{i}" AS "_e_{i}"')
                    continue
                starts.append(f'{d} AS "_d_{i}"')
                ends.append(
                    f'CASE WHEN "_d_{i}" = 0 THEN 99999999 ELSE "_s_{i}" + "_d_{i}" - 1 END'
                    f' AS "_e_{i}"'
                )
        if starts:
            rows = rows.replace("SELECT f.*", f"SELECT f.*, {', '.join(starts)}", 1)
            rows = f"SELECT *, {', '.join(ends)} FROM ({rows}) f"
        return f"({rows}) f"

    def _cap_rank(self) -> str:
        caps = self.p.grades.caps
        if not caps:
            return "0"
        order = self.p.grade_order
        rank = " ".join(f"WHEN {_quote(s)} THEN {order.index(g)}" for s, g in sorted(caps.items()))
        return f"max(CASE WHEN {self.active('f')} THEN CASE f.severity {rank} ELSE 0 END END)"

    def family(self) -> str:
        """Per parent, over their children (`kids`, each joined to its own facts passes): how
        many and the youngest's age, timely registrations, the children's counts, each
        schedule's due and done items, and the months of a child's buffer period."""
        cols = ["k.parent_id AS person_id", "count(*) AS kids", "min(k.age_months) AS youngest"]
        for ind in self.p.indicators:
            m = ind.measure
            if isinstance(m, TimelinessMeasure):
                timely = f"CAST(k.registered_at AS DATE) - k.birth_date <= {m.within_days}"
                cols.append(_bigsum(f"CASE WHEN {timely} THEN 1 ELSE 0 END", f"n_{ind.id}"))
            if isinstance(m, CountMeasure) and m.of == "children":
                cols.append(_bigsum(self.child[f"n_{ind.id}"], f"n_{ind.id}"))
            if isinstance(m, ScheduleMeasure):
                done, due = _schedule_terms(ind.id, m, self.child.__getitem__)
                cols += [_bigsum(done, f"n_{ind.id}"), _bigsum(due, f"d_{ind.id}")]
            if isinstance(m, CoverageMeasure) and m.buffer and self.p.buffer.months_after_birth:
                cols.append(self.buffer_bits(ind, m))
        for k, rule in enumerate(self.p.points.rules):
            if rule.of == "children":
                cols.append(_bigsum(self.child[f"r_{k}"], f"r_{k}"))
        # Children need not be persons of the frame themselves; their facts still count.
        return (
            f"SELECT {', '.join(cols)} FROM kids k {' '.join(self.child_joins)}"
            " GROUP BY k.parent_id"
        )

    def spacing(self) -> str:
        """Per parent: intervals between consecutive birth months, and those long enough.

        An interval is the difference of the month numbers (from the end of one birth month to
        the end of the next): the longest the two months allow, so reading births by the month
        never shortens one."""
        gap = "(bm - prev)"
        counts = "".join(
            ", "
            + _bigsum(f"CASE WHEN {gap} >= {i.measure.min_months} THEN 1 ELSE 0 END", f"n_{i.id}")
            for i in self.p.indicators
            if isinstance(i.measure, SpacingMeasure)
        )
        return (
            f"SELECT parent_id AS person_id, count(*) AS gaps{counts} FROM ("
            f"SELECT parent_id, bm, lag(bm) OVER (PARTITION BY parent_id ORDER BY bm) AS prev"
            f" FROM (SELECT DISTINCT parent_id, year(birth_date) * 12 + month(birth_date) AS bm"
            f" FROM kids)) WHERE prev IS NOT NULL GROUP BY parent_id"
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
        # The span is computed once per fact in the kind's rows (see `_rows`).
        s, end = f'f."_s_{ind.id}"', f'f."_e_{ind.id}"'
        match = _and(_where("f", m.where), f"{s} IS NOT NULL")
        if self._span(m)[1] == "1":  # one month each: the same bits, more simply
            bits = (
                f"CASE WHEN {s} BETWEEN {first} AND {last}"
                f" THEN CAST(1 AS BIGINT) << ({s} - {first}) ELSE CAST(0 AS BIGINT) END"
            )
        else:
            bits = _bits(f"greatest({s}, {first})", f"least({end}, {last})", first)
        kinds = (m.kind,)
        return [
            _Agg(kinds, f"bit_or({bits})", "bit_or", f"cm_{ind.id}", cond=match),
            _Agg(kinds, f"min({s})", "min", f"c0_{ind.id}", cond=match),
            _Agg(kinds, f"max({end})", "max", f"c1_{ind.id}", cond=match),
        ]

    def buffer_bits(self, ind: Indicator, m: CoverageMeasure) -> str:
        """Per parent (over `kids`): the window months inside a child's buffer period."""
        first, last = self._window_months(m)
        bm = "(year(k.birth_date) * 12 + month(k.birth_date))"
        hi = f"least({bm} + {self.p.buffer.months_after_birth - 1}, {last})"
        return f'bit_or({_bits(f"greatest({bm}, {first})", hi, first)}) AS "bm_{ind.id}"'

    def coverage(self, ind: Indicator, m: CoverageMeasure) -> tuple[str, str]:
        """(num, den) over the person's facts passes and their family's sums (fa)."""
        first, last = self._window_months(m)
        i = ind.id
        own = self.own
        cm, s0, s1 = f"coalesce({own[f'cm_{i}']}, 0)", own[f"c0_{i}"], own[f"c1_{i}"]
        lo = f"greatest({s0}, {first})" if m.since_first else str(first)
        hi = f"least({s1}, {last})" if m.until_last else str(last)
        eligible = _bits(lo, hi, first)
        buffered = "0"
        if m.buffer and self.p.buffer.occupations and self.p.buffer.months_after_birth:
            occs = _in("pop", "occupation", self.p.buffer.occupations)
            buffered = (
                f'bit_count(CASE WHEN {occs} THEN coalesce(fa."bm_{i}", 0) ELSE 0 END'
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
            return f'CAST(coalesce(pop."{m.field}", FALSE) AS INTEGER)', "1"
        if isinstance(m, CountMeasure | EventsMeasure):
            if isinstance(m, CountMeasure) and m.of == "children":
                return f'coalesce(fa."n_{i}", 0)', "1"
            return f"coalesce({self.own[f'n_{i}']}, 0)", "1"
        if isinstance(m, ScheduleMeasure):
            return f'fa."n_{i}"', f'fa."d_{i}"'
        if isinstance(m, TimelinessMeasure):
            return f'fa."n_{i}"', "fa.kids"
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
            conds.append("coalesce(fa.kids, 0) " + ("> 0" if a.has_children else "= 0"))
        if a.child_under_months is not None:
            conds.append(f"fa.youngest < {a.child_under_months}")
        if a.has_fact:
            conds.append("(" + " OR ".join(self.own[f"has_{k}"] for k in a.has_fact) + ")")
        return " AND ".join(f"coalesce({c}, FALSE)" for c in conds) or "TRUE"

    def exempt(self, ind: Indicator) -> str:
        return (
            " OR ".join(f"coalesce({self.own[f'ex_{s}']}, FALSE)" for s in ind.exempt_by) or "FALSE"
        )

    def status(self, ind: Indicator) -> str:
        """1 not applicable, 2 exempt, else 0 — before the value (its denominator) is known.

        The status `st_` is this, or 1 when the denominator is NULL or 0, else 0 (scored):
        small integers, cheap in a wide row."""
        applies, exempt = self.applies(ind), self.exempt(ind)
        if applies == "TRUE" and exempt == "FALSE":
            return "0"
        return f"CASE WHEN NOT ({applies}) THEN 1 WHEN {exempt} THEN 2 ELSE 0 END"

    def points(self, ind: Indicator, always: bool) -> str:
        """Points of the first band the value satisfies; NULL when not scored (`always`: the
        status is known to be 0). A regional indicator's `at_least` thresholds are multiplied
        by the coefficient of the person's class (`_cc`, 0 for a coefficient of 1)."""
        classes = self.coefficient_classes() if ind.regional else []
        points = self._bands(ind, Fraction(1))
        if len(classes) == 1:
            points = f'CASE WHEN "_cc" THEN {self._bands(ind, classes[0][0])} ELSE {points} END'
        elif classes:
            cases = " ".join(
                f"WHEN {n} THEN {self._bands(ind, c)}" for n, (c, _) in enumerate(classes, start=1)
            )
            points = f'CASE "_cc" {cases} ELSE {points} END'
        return points if always else f'CASE WHEN "st_{ind.id}" = 0 THEN {points} END'

    def _bands(self, ind: Indicator, coefficient: Fraction) -> str:
        num = f'"num_{ind.id}"'
        den = "1" if self.value(ind)[1] == "1" else f'"den_{ind.id}"'
        bands = []
        for band in ind.scoring.bands:
            parts = []
            if band.at_least is not None:
                parts.append(_compare(num, ">=", band.at_least * coefficient, den))
            if band.at_most is not None:
                parts.append(_compare(num, "<=", band.at_most, den))
            bands.append(f"WHEN {' AND '.join(parts)} THEN {band.points}")
        return f"CASE {' '.join(bands)} ELSE {ind.scoring.otherwise} END"

    def coefficient_classes(self) -> list[tuple[Fraction, list[str]]]:
        """The regional coefficients other than 1, each with its groups."""
        classes: dict[Fraction, list[str]] = {}
        for g, c in sorted(self.p.coefficients.items()):
            if c != 1:
                classes.setdefault(c, []).append(g)
        return sorted(classes.items())

    def coefficient_class(self) -> str:
        """`_cc`: which of `coefficient_classes` the person's group is in (1, 2, …; 0 for
        none), or whether it is in the one class, when there is one."""
        classes = self.coefficient_classes()
        if len(classes) == 1:
            return f"coalesce({_in('pop', chr(34) + 'group' + chr(34), classes[0][1])}, FALSE)"
        cases = " ".join(
            f"WHEN {_quote(g)} THEN {n}" for n, (_, gs) in enumerate(classes, start=1) for g in gs
        )
        return f'CASE pop."group" {cases} ELSE 0 END'


def _compare(num: str, op: str, t: Fraction, den: str) -> str:
    """num/den op t, by cross-multiplication (den > 0), without multiplying by a literal 1."""
    left = num if t.denominator == 1 else f"{num} * {t.denominator}"
    right = (
        str(t.numerator) if den == "1" else den if t.numerator == 1 else f"{t.numerator} * {den}"
    )
    return f"{left} {op} {right}"


def _when(cond: str, value: str) -> str:
    """`value` where `cond` holds, else 0."""
    return f"CASE WHEN {cond} THEN {value} ELSE 0 END"


def compile_policy(policy: Policy, cut: dt.date) -> Plan:
    """The SQL that evaluates `policy` at `cut` over the frame tables."""
    c = _Compiler(policy, cut)
    steps: list[tuple[str, str]] = [
        ("pop", c.pop()),
        ("kids", c.kids()),
        *c.facts_passes(),
    ]
    joins = list(c.own_joins)
    steps.append(("fam", c.family()))
    joins.append("LEFT JOIN fam fa ON fa.person_id = pop.person_id")
    steps.append(("spc", c.spacing()))
    joins.append("LEFT JOIN spc sp ON sp.person_id = pop.person_id")
    steps.append(("wide", _wide(c, policy, joins)))
    return Plan(tuple(steps), _results(), _dimensions(policy), _indicators(policy))


@dataclass(frozen=True)
class _Member:
    """One member of a weighted group: an indicator of a dimension, or a dimension of the total.

    `val` (SQL) is its score, never negative and 0 when it is not present (`have`); `bonus` is
    an SQL boolean ("TRUE" and "FALSE" known when compiling)."""

    key: str
    weight: int
    val: str
    have: str
    bonus: str
    always: bool = False  # present in every row (known when compiling)


@dataclass(frozen=True)
class _Group:
    """The bonus rule over one group, as projection levels: `first` and `second` hold helper
    columns, `inc` each member's inclusion (over them), and `weight`, `total` the included
    weight and weighted score (over the inclusion columns, named by `inc_name`)."""

    first: list[str]
    second: list[str]
    inc: dict[str, str]
    weight: str
    total: str


def _group(tag: str, g: str, members: list[_Member], inc_name: str) -> _Group:
    """The bonus rule of docs/policy.md §1.6 for one group: helper columns `_wb_g`, `_sb_g`
    (the base's weight and weighted score) and `_key_k` (the rank order as a number) in the
    first level, `_top_g` (the first in rank order) in the second. `tag` keeps the columns of
    the total (`_wbd_` …) apart from those of the dimensions.

    Taken in rank order (higher score, then the earlier key), a bonus k is included when the
    base and the bonus members ranked before it weigh 0, or when `val_k·W_k > S_k` over them.
    With a base (Wb > 0), `val_k·W_k − S_k = val_k·Wb − Sb − Σ_j w_j·max(val_j − val_k, 0)` over
    the present bonus members j: a member ranked after k adds 0, and so does one tied with k;
    absent members have val 0 and add 0 too. Without a base, W_k = 0 only for the first in rank
    order (weights are positive; one of weight 0 ranked before does not count), and any later
    one fails, as its score does not exceed the average of those before it. So the rule costs
    one term per pair of bonus members with a base, and none without: not a sort or a rank.
    """
    n = len(members)
    rank = {k: r for r, k in enumerate(sorted(m.key for m in members))}
    first, second, inc = [], [], {}
    base = [m for m in members if m.bonus != "TRUE"]
    bonus = [m for m in members if m.bonus != "FALSE"]
    static = all(m.bonus in ("TRUE", "FALSE") for m in members)
    # Whether the base can weigh 0 (then the first in rank order is the one included), and
    # whether it can weigh more (then the pairwise sum decides).
    sure = any(m.always and m.bonus == "FALSE" and m.weight > 0 for m in members)
    wb_col, sb_col, top_col = f'"_wb{tag}_{g}"', f'"_sb{tag}_{g}"', f'"_top{tag}_{g}"'
    if base:
        wb, sb = [], []
        for m in base:
            if m.bonus == "FALSE":
                wb.append(_when(m.have, str(m.weight)))
                sb.append(f"{m.weight} * {m.val}")
            else:
                wb.append(_when(f"{m.have} AND NOT {m.bonus}", str(m.weight)))
                sb.append(_when(f"NOT {m.bonus}", f"{m.weight} * {m.val}"))
        first += [f"{_sum(wb)} AS {wb_col}", f"{_sum(sb)} AS {sb_col}"]
    if bonus and not sure:
        for m in bonus:
            cond = m.have if m.bonus == "TRUE" else f"{m.have} AND {m.bonus}"
            key = f"{m.val} * {n} + {n - 1 - rank[m.key]}"
            first.append(f'CASE WHEN {cond} THEN {key} ELSE -1 END AS "_key{tag}_{m.key}"')
        keys = [f'"_key{tag}_{m.key}"' for m in bonus if m.weight > 0]
        top = f"greatest({', '.join(keys)})" if len(keys) > 1 else (keys or ["-1"])[0]
        second.append(f"{top} AS {top_col}")

    def bval(m: _Member) -> str:  # its score when a bonus, else 0
        return m.val if m.bonus == "TRUE" else f"CASE WHEN {m.bonus} THEN {m.val} ELSE 0 END"

    for m in members:
        if m.bonus == "FALSE":
            inc[m.key] = m.have
            continue
        first_ranked = f'"_key{tag}_{m.key}" {">=" if m.weight > 0 else ">"} {top_col}'
        raises = first_ranked
        if base:
            above = [
                _when(f"{bval(j)} > {m.val}", f"{j.weight} * ({bval(j)} - {m.val})")
                for j in bonus
                if j.key != m.key
            ]
            raises = f"{m.val} * {wb_col} - {sb_col} > {_sum(above)}"
            if not sure:
                raises = f"CASE WHEN {wb_col} = 0 THEN {first_ranked} ELSE {raises} END"
        if m.bonus == "TRUE":
            inc[m.key] = f"{m.have} AND {raises}"
        else:
            inc[m.key] = f"{m.have} AND (NOT {m.bonus} OR {raises})"

    def name(m: _Member) -> str:
        return f'"{inc_name.format(k=m.key)}"'

    if static and not base and all(m.weight > 0 for m in members):
        # Only the first in rank order is included: the score is its own (any weight will do).
        return _Group(first, second, inc, f"CAST({top_col} >= 0 AS BIGINT)", f"{top_col} // {n}")
    if static:
        # The base is included whenever present: its sums are already there.
        sums = [wb_col, sb_col] if base else ["0", "0"]
        weight = _sum([sums[0]] + [_when(name(m), str(m.weight)) for m in bonus])
        total = _sum([sums[1]] + [_when(name(m), f"{m.weight} * {m.val}") for m in bonus])
        return _Group(first, second, inc, weight, total)
    weight = _sum([_when(name(m), str(m.weight)) for m in members])
    total = _sum([_when(name(m), f"{m.weight} * {m.val}") for m in members])
    return _Group(first, second, inc, weight, total)


def _nest(source: str, levels: list[list[str]], final: list[str]) -> str:
    """One statement: each level's columns computed once over the level below (a subquery's
    projection is computed once per row and streamed; stages stored apart would copy every
    column at each stage). Read it whole: over only a few of its columns, DuckDB's optimizer
    inlines the levels into one another and planning takes minutes."""
    sql = source
    for n, cols in enumerate(levels):
        if cols:
            sql = f"SELECT *, {', '.join(cols)} FROM ({sql}) w{n}"
    return f"SELECT {', '.join(final)} FROM ({sql}) w"


def _wide(c: _Compiler, policy: Policy, joins: list[str]) -> str:
    """One row per evaluated person: every indicator, dimension, the total and the grade."""
    levels: list[list[str]] = []
    # Values from the joined passes; the status (st_) once the denominator is known, unless it
    # is always 1. `always`: scored in every row (a constant status).
    values, statuses, always = [], [], set()
    for ind in policy.indicators:
        num, den = c.value(ind)
        pre, key = c.status(ind), ind.id
        values += [f'CAST({num} AS BIGINT) AS "num_{key}"', f'CAST({den} AS BIGINT) AS "den_{key}"']
        if den == "1":
            values.append(f'{pre} AS "st_{key}"')
            if pre == "0":
                always.add(key)
            continue
        values.append(f'{pre} AS "_a_{key}"')
        statuses.append(
            f'CASE WHEN "_a_{key}" <> 0 THEN "_a_{key}" WHEN "den_{key}" IS NULL OR "den_{key}" = 0'
            f' THEN 1 ELSE 0 END AS "st_{key}"'
        )
    cap = f"coalesce({c.own['cap_rank']}, 0)"
    cc = f', {c.coefficient_class()} AS "_cc"' if c.coefficient_classes() else ""
    source = (
        f"SELECT pop.person_id{cc}, {cap} AS cap_rank,"
        f" {_points_balance(c)} AS points, {', '.join(values)}"
        f" FROM pop {' '.join(joins)}"
    )
    levels.append(statuses)
    # Points (p_, NULL when not scored; v_, 0 then) and whether scored (h_).
    levels.append([f'{c.points(i, i.id in always)} AS "p_{i.id}"' for i in policy.indicators])
    levels.append(
        [
            f'coalesce("p_{i.id}", 0) AS "v_{i.id}", "st_{i.id}" = 0 AS "h_{i.id}"'
            for i in policy.indicators
        ]
    )
    # Inclusion of the bonus indicators inside each dimension, then the dimension scores.
    first: list[str] = []
    second: list[str] = []
    inc: dict[str, str] = {}
    dim_cols, dim_members = [], []
    for d in policy.dimensions:
        members = [
            _Member(
                i.id,
                int(i.weight * WEIGHT_UNIT),
                f'"v_{i.id}"',
                f'"h_{i.id}"',
                "TRUE" if i.only_raises else "FALSE",
                i.id in always,
            )
            for i in policy.indicators_of(d.id)
        ]
        grp = _group("", d.id, members, "inc_{k}")
        first, second, inc = first + grp.first, second + grp.second, inc | grp.inc
        dim_cols += [f'{grp.weight} AS "_w_{d.id}"', f'{grp.total} AS "_s_{d.id}"']
        # A dimension whose included indicators are all bonus indicators is a bonus itself.
        base = any(m.bonus == "FALSE" for m in members)
        sure = any(m.bonus == "FALSE" and m.always and m.weight > 0 for m in members)
        dbonus = "FALSE" if sure else f'("_wb_{d.id}" = 0)' if base else "TRUE"
        dim_members.append(
            _Member(
                d.id,
                int(d.weight * WEIGHT_UNIT),
                f'coalesce("dim_{d.id}", 0)',
                f'"dim_{d.id}" IS NOT NULL',
                dbonus,
                sure,
            )
        )
    levels += [first, second, [f'{inc[i.id]} AS "inc_{i.id}"' for i in policy.indicators]]
    levels.append(dim_cols)
    levels.append(
        [
            f'CASE WHEN "_w_{d.id}" = 0 THEN NULL ELSE (200 * CAST("_s_{d.id}" AS BIGINT)'
            f' + "_w_{d.id}") // (2 * "_w_{d.id}") END AS "dim_{d.id}"'
            for d in policy.dimensions
        ]
    )
    # Dimensions into the total, by the same rule; then the grade.
    grp = _group("d", "", dim_members, "dinc_{k}")
    levels += [grp.first, grp.second, [f'{grp.inc[m.key]} AS "dinc_{m.key}"' for m in dim_members]]
    levels.append([f'{grp.weight} AS "_w_"', f'{grp.total} AS "_s_"'])
    levels.append(
        [
            'CASE WHEN "_w_" = 0 THEN NULL ELSE (2 * CAST("_s_" AS BIGINT) + "_w_") // (2 * "_w_")'
            " END AS total_centi"
        ]
    )
    # The columns of `evaluate_wide`, in its order and types.
    final = ["person_id", "total_centi", f"{_grade(policy)} AS grade", "points"]
    for d in policy.dimensions:
        final += [f'"dim_{d.id}"', f'"dinc_{d.id}"']
    for i in policy.indicators:
        final += [
            f'"st_{i.id}"',
            f'"num_{i.id}"',
            f'"den_{i.id}"',
            f'CAST("p_{i.id}" AS BIGINT) AS "p_{i.id}"',
            f'"inc_{i.id}"',
        ]
    return _nest(source, levels, final)


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
    terms = [f"CASE WHEN coalesce(fa.kids, 0) > 0 THEN {p.initial} ELSE 0 END"]
    for k, rule in enumerate(p.rules):
        count = c.own[f"r_{k}"] if rule.of == "self" else f'fa."r_{k}"'
        term = f"{rule.points} * coalesce({count}, 0)"
        terms.append(f"least({term}, {rule.cap})" if rule.cap is not None else term)
    if c.p.severities:
        terms.append(f"coalesce({c.own['sev_points']}, 0)")
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
