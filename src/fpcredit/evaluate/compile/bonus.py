"""The bonus rule of docs/policy.md §1.6 ("counted only when it raises the score") as
arithmetic inside one row: no sort or window over the members of a group."""

from __future__ import annotations

from dataclasses import dataclass

from fpcredit.evaluate.compile import sql

__all__ = ["Group", "Member", "bonus_rule"]


@dataclass(frozen=True)
class Member:
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
class Group:
    """The bonus rule over one group, as projection levels: `first` and `second` hold helper
    columns, `inc` each member's inclusion (over them), and `weight`, `total` the included
    weight and weighted score (over the inclusion columns, named by `inc_name`)."""

    first: list[str]
    second: list[str]
    inc: dict[str, str]
    weight: str
    total: str


def bonus_rule(tag: str, g: str, members: list[Member], inc_name: str) -> Group:
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
                wb.append(sql.when(m.have, str(m.weight)))
                sb.append(f"{m.weight} * {m.val}")
            else:
                wb.append(sql.when(f"{m.have} AND NOT {m.bonus}", str(m.weight)))
                sb.append(sql.when(f"NOT {m.bonus}", f"{m.weight} * {m.val}"))
        first += [f"{sql.sum_(wb)} AS {wb_col}", f"{sql.sum_(sb)} AS {sb_col}"]
    if bonus and not sure:
        for m in bonus:
            cond = m.have if m.bonus == "TRUE" else f"{m.have} AND {m.bonus}"
            key = f"{m.val} * {n} + {n - 1 - rank[m.key]}"
            first.append(f'CASE WHEN {cond} THEN {key} ELSE -1 END AS "_key{tag}_{m.key}"')
        keys = [f'"_key{tag}_{m.key}"' for m in bonus if m.weight > 0]
        top = f"greatest({', '.join(keys)})" if len(keys) > 1 else (keys or ["-1"])[0]
        second.append(f"{top} AS {top_col}")

    def bval(m: Member) -> str:  # its score when a bonus, else 0
        return m.val if m.bonus == "TRUE" else f"CASE WHEN {m.bonus} THEN {m.val} ELSE 0 END"

    for m in members:
        if m.bonus == "FALSE":
            inc[m.key] = m.have
            continue
        first_ranked = f'"_key{tag}_{m.key}" {">=" if m.weight > 0 else ">"} {top_col}'
        raises = first_ranked
        if base:
            above = [
                sql.when(f"{bval(j)} > {m.val}", f"{j.weight} * ({bval(j)} - {m.val})")
                for j in bonus
                if j.key != m.key
            ]
            raises = f"{m.val} * {wb_col} - {sb_col} > {sql.sum_(above)}"
            if not sure:
                raises = f"CASE WHEN {wb_col} = 0 THEN {first_ranked} ELSE {raises} END"
        if m.bonus == "TRUE":
            inc[m.key] = f"{m.have} AND {raises}"
        else:
            inc[m.key] = f"{m.have} AND (NOT {m.bonus} OR {raises})"

    def name(m: Member) -> str:
        return f'"{inc_name.format(k=m.key)}"'

    if static and not base and all(m.weight > 0 for m in members):
        # Only the first in rank order is included: the score is its own (any weight will do).
        return Group(first, second, inc, f"CAST({top_col} >= 0 AS BIGINT)", f"{top_col} // {n}")
    if static:
        # The base is included whenever present: its sums are already there.
        sums = [wb_col, sb_col] if base else ["0", "0"]
        weight = sql.sum_([sums[0]] + [sql.when(name(m), str(m.weight)) for m in bonus])
        total = sql.sum_([sums[1]] + [sql.when(name(m), f"{m.weight} * {m.val}") for m in bonus])
        return Group(first, second, inc, weight, total)
    weight = sql.sum_([sql.when(name(m), str(m.weight)) for m in members])
    total = sql.sum_([sql.when(name(m), f"{m.weight} * {m.val}") for m in members])
    return Group(first, second, inc, weight, total)
