"""Per-indicator columns over the joined row: each indicator's value (num, den), whether it
applies or is exempt (its status), and its points by band, with the regional coefficients."""

from __future__ import annotations

from fractions import Fraction

from fpcredit.evaluate.compile import sql
from fpcredit.evaluate.compile.facts import FactsCompiler
from fpcredit.evaluate.policy_model import (
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    FlagMeasure,
    Indicator,
    ScheduleMeasure,
    SpacingMeasure,
    TimelinessMeasure,
)

__all__ = ["Compiler"]


class Compiler(FactsCompiler):
    """`FactsCompiler` with the per-indicator columns, read over the row of `pop` joined to
    the facts passes (`FactsCompiler.own`), the family's sums (`fa`) and spacing (`sp`)."""

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
            return f'fa."n_{i}"', f'fa."d_{i}"'
        if isinstance(m, SpacingMeasure):
            return f'sp."n_{i}"', "CASE WHEN sp.gaps > 0 THEN 1 END"
        assert isinstance(m, CoverageMeasure)
        return self.coverage(ind, m)

    def coverage(self, ind: Indicator, m: CoverageMeasure) -> tuple[str, str]:
        """(num, den) over the person's facts passes and their family's sums (fa)."""
        first, last = self._window_months(m)
        i = ind.id
        own = self.own
        cm, s0, s1 = f"coalesce({own[f'cm_{i}']}, 0)", own[f"c0_{i}"], own[f"c1_{i}"]
        lo = f"greatest({s0}, {first})" if m.since_first else str(first)
        hi = f"least({s1}, {last})" if m.until_last else str(last)
        eligible = sql.bits(lo, hi, first)
        buffered = "0"
        if m.buffer and self.p.buffer.occupations and self.p.buffer.months_after_birth:
            occs = sql.in_("pop", "occupation", self.p.buffer.occupations)
            buffered = (
                f'bit_count(CASE WHEN {occs} THEN coalesce(fa."bm_{i}", 0) ELSE 0 END'
                f" & ~{cm} & {eligible})"
            )
        den = f"bit_count({eligible}) - {buffered}"
        if m.since_first or m.until_last:
            den = f"CASE WHEN {s0} IS NULL THEN 0 ELSE {den} END"
        return f"bit_count({cm})", den

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
            conds.append(f'pop."group" IN ({", ".join(sql.quote(g) for g in a.groups)})')
        if a.occupations is not None:
            conds.append(sql.in_("pop", "occupation", a.occupations))
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
                parts.append(sql.compare(num, ">=", band.at_least * coefficient, den))
            if band.at_most is not None:
                parts.append(sql.compare(num, "<=", band.at_most, den))
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
            return f"coalesce({sql.in_('pop', chr(34) + 'group' + chr(34), classes[0][1])}, FALSE)"
        cases = " ".join(
            f"WHEN {sql.quote(g)} THEN {n}"
            for n, (_, gs) in enumerate(classes, start=1)
            for g in gs
        )
        return f'CASE pop."group" {cases} ELSE 0 END'
