"""The grouped passes over the frame: the evaluated persons, their children, the facts
aggregated per person one kind of fact at a time, then the families' sums and birth spacing.

Birth dates are read by the month (docs/policy.md §1.1): every one is taken as the last day of
its month (`_birth`), so the scores beside a masked file cannot tell the day of a birth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from fpcredit.evaluate.compile import sql
from fpcredit.evaluate.compile.dates import add_months
from fpcredit.evaluate.policy_model import (
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    Indicator,
    Policy,
    ScheduleMeasure,
    SpacingMeasure,
    TimelinessMeasure,
)

__all__ = ["FactsCompiler"]


def _birth(expr: str) -> str:
    """`dates.birth_month_end` in SQL: whatever the day of a birth, the scores are the same."""
    return f"last_day({expr})"


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


def _schedule_groups(m: ScheduleMeasure) -> dict[str, int]:
    """Each distinct filter of a schedule's items, numbered."""
    groups: dict[str, int] = {}
    for item in m.items:
        groups.setdefault(sql.where("f", item.where), len(groups))
    return groups


def _schedule_terms(ind_id: str, m: ScheduleMeasure, ref: Callable[[str], str]) -> tuple[str, str]:
    """(done, due) for one child row `k`; `ref(name)` is the child's fact count `name`.

    Items with the same filter are ranked by due month, so the due ones are the first
    `due_g` of them, and the k-th is done when the count reaches k: `least(count, due_g)`."""
    groups = _schedule_groups(m)
    due: dict[int, list[str]] = {g: [] for g in groups.values()}
    for item in m.items:
        due[groups[sql.where("f", item.where)]].append(
            f"CAST(k.age_months >= {item.due_months + m.grace_months} AS BIGINT)"
        )
    done = [
        f"least(coalesce({ref(f'{ind_id}_{g}')}, 0), {sql.sum_(terms)})" for g, terms in due.items()
    ]
    return sql.sum_(done), sql.sum_([t for terms in due.values() for t in terms])


class FactsCompiler:
    """The policy at a cut date, and the statements that read the frame: the evaluated
    persons (`pop`), their children (`kids`), the grouped facts passes, the families' sums
    (`family`) and birth spacing (`spacing`). `Compiler` adds the per-indicator columns."""

    def __init__(self, policy: Policy, cut: dt.date) -> None:
        self.p = policy
        self.cut = cut
        self.c = sql.date(cut)
        # Filled by `facts_passes`: each aggregate's SQL on a person's row (`own`, over `pop`
        # joined to the kind passes as k0, k1, …) and on a child's row (`child`, over `kids`
        # joined to them as c0, c1, …), and those joins.
        self.own: dict[str, str] = {}
        self.child: dict[str, str] = {}
        self.own_joins: list[str] = []
        self.child_joins: list[str] = []

    def pop(self) -> str:
        born = _birth("birth_date")
        age = f"CAST(FLOOR({sql.months_between(born, self.c)} / 12) AS BIGINT)"
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
            f" {sql.months_between(born, self.c)} AS age_months"
            f" FROM children WHERE {_birth('birth_date')} <= {self.c}"
            f" AND parent_id IN (SELECT person_id FROM pop) GROUP BY parent_id, child_id"
        )

    def active(self, alias: str) -> str:
        """A credit event still disclosed at the cut date."""
        cases = " ".join(
            f"WHEN {sql.quote(sev)} THEN CAST({alias}.event_date + INTERVAL {rule.max_months} MONTH"
            f" AS DATE)"
            for sev, rule in sorted(self.p.severities.items())
        )
        if not cases:
            return "FALSE"
        return (
            f"({alias}.kind = 'credit_event' AND {self.c} < CASE {alias}.severity {cases}"
            f" ELSE NULL END)"
        )

    def births_in_window(self, m: TimelinessMeasure) -> str:
        """Whether a child `k` was born in the measure's window (the dates of `window`)."""
        if m.window_months is None:
            return "TRUE"
        return f"k.birth_date > {sql.date(add_months(self.cut, -m.window_months))}"

    def window(self, alias: str, months: int | None) -> str:
        if months is None:
            return "TRUE"
        return f"{alias}.event_date > {sql.date(add_months(self.cut, -months))}"

    def _aggregates(self) -> list[_Agg]:
        """Every per-person aggregate over the facts, with the kinds it can read."""
        out: list[_Agg] = []
        for ind in self.p.indicators:
            m, i = ind.measure, ind.id
            if isinstance(m, CountMeasure):
                cond = sql.and_(sql.where("f", m.where), self.window("f", m.window_months))
                out.append(_Agg(tuple(m.kinds), "count(*)", "sum", f"n_{i}", of=m.of, cond=cond))
            if isinstance(m, EventsMeasure):
                cond = f"{self.active('f')} AND {sql.in_('f', 'credit_event_type', m.event_types)}"
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
                f"f.difficulty_scope = {sql.quote(scope)}"
                f" AND TRY_CAST(f.valid_until AS DATE) >= {self.c}"
            )
            out.append(_Agg(("difficulty",), "count(*)", "sum", f"ex_{scope}", "> 0", cond=cond))
        out.append(_Agg(("credit_event",), self._cap_rank(), "max", "cap_rank"))
        for k, rule in enumerate(self.p.points.rules):
            cond = sql.where("f", rule.where)
            out.append(_Agg((rule.kind,), "count(*)", "sum", f"r_{k}", of=rule.of, cond=cond))
        sev = " ".join(
            f"WHEN {sql.quote(s)} THEN {r.points}" for s, r in sorted(self.p.severities.items())
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
        rows = (
            f"SELECT f.* FROM facts f WHERE f.kind = {sql.quote(kind)} AND f.event_date <= {self.c}"
        )
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
        rank = " ".join(
            f"WHEN {sql.quote(s)} THEN {order.index(g)}" for s, g in sorted(caps.items())
        )
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
                born = self.births_in_window(m)
                cols.append(
                    sql.bigsum(f"CASE WHEN {born} AND {timely} THEN 1 ELSE 0 END", f"n_{ind.id}")
                )
                cols.append(sql.bigsum(f"CASE WHEN {born} THEN 1 ELSE 0 END", f"d_{ind.id}"))
            if isinstance(m, CountMeasure) and m.of == "children":
                cols.append(sql.bigsum(self.child[f"n_{ind.id}"], f"n_{ind.id}"))
            if isinstance(m, ScheduleMeasure):
                done, due = _schedule_terms(ind.id, m, self.child.__getitem__)
                cols += [sql.bigsum(done, f"n_{ind.id}"), sql.bigsum(due, f"d_{ind.id}")]
            if isinstance(m, CoverageMeasure) and m.buffer and self.p.buffer.months_after_birth:
                cols.append(self.buffer_bits(ind, m))
        for k, rule in enumerate(self.p.points.rules):
            if rule.of == "children":
                cols.append(sql.bigsum(self.child[f"r_{k}"], f"r_{k}"))
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
            + sql.bigsum(
                f"CASE WHEN {gap} >= {i.measure.min_months} THEN 1 ELSE 0 END", f"n_{i.id}"
            )
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
        match = sql.and_(sql.where("f", m.where), f"{s} IS NOT NULL")
        if self._span(m)[1] == "1":  # one month each: the same bits, more simply
            bits = (
                f"CASE WHEN {s} BETWEEN {first} AND {last}"
                f" THEN CAST(1 AS BIGINT) << ({s} - {first}) ELSE CAST(0 AS BIGINT) END"
            )
        else:
            bits = sql.bits(f"greatest({s}, {first})", f"least({end}, {last})", first)
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
        return f'bit_or({sql.bits(f"greatest({bm}, {first})", hi, first)}) AS "bm_{ind.id}"'

    def _duration(self, m: CoverageMeasure) -> str:
        if not m.duration_attr or not m.durations:
            return str(m.default_duration)
        cases = " ".join(
            f"WHEN {sql.quote(code)} THEN {d}" for code, d in sorted(m.durations.items())
        )
        return f'CASE f."{m.duration_attr}" {cases} ELSE {m.default_duration} END'

    def _has_fact_kinds(self) -> list[str]:
        return sorted({k for i in self.p.indicators for k in (i.applies.has_fact or [])})

    def _scopes(self) -> list[str]:
        return sorted({s for i in self.p.indicators for s in i.exempt_by})
