"""A realistic evaluation frame at scale, generated in bulk (numpy + pyarrow, no per-row Python).

    from frame_gen import make_frame
    frame = make_frame(1_000_000, seed=1, cut=date(2026, 6, 30), attributes=policy.attributes())

The frame is what `fpcredit.evaluate.load.load_frame` would hand the engine for a province at
the cut date `C` (docs/policy.md §1.1, §1.9): persons sorted by `person_id`, facts with the
policy's attribute columns, and the (parent, child) rows of birth registrations. It is made for
benchmarks, so it aims at the *shape* of real data (sizes, shares, which facts go with whom)
rather than at any one indicator's outcome:

- persons: ~75 % adults aged 18–70; ~22.5 % children born in the last 10 years, each with a
  mother (a woman aged 22–49) and, for most, her partner as father; ~2.5 % aged 10–17 without
  parents in the frame. Sex 1/2 (0.5 % unknown), 0.5 % of adults without a birth date; group
  urban/rural/migrant/unknown ≈ 44/10/44/2 % (a couple and their children share the group);
  occupation codes 1–8, F (freelancers, ≈ 10 % of adults), N, S (pupils), or null; each flag
  true for 90–97 %.
- children: about 0.6 per adult woman, a father row for ~93 % of the mothers with a partner;
  births of one mother 1–5 years apart (1 % twins); ~4 % registered late (91–720 days);
  registrations not yet recorded at `C` are absent, as the loader would leave them out.
- facts, ~14 per person: each child's vaccinations (the national schedule, vaccine + dose) and
  health checks (1 month to 6 years) from birth, infant care under 3; each birth's prenatal
  and postnatal checks and, often, a contraception measure after it; women's contraception
  (long-acting methods once, short ones renewed); monthly maternity-insurance payments of
  insured adults aged 20–59 (`period` 'YYYY-MM', `insured_status` '1' for ~95 %); rare credit
  events and difficulty records; household memberships and marriages (kinds the default
  policy does not read, as in the store). Except the children's vaccinations and checks, fact
  dates lie in the `HISTORY_YEARS` before `C`. `recorded_at` is 1–10 days after the event
  (3 % weeks to months later); a fact not yet recorded at the end of `C` is absent. Facts are
  in `recorded_at` order, `fact_id` 1, 2, … in that order, as rows arrive in the store.

Deterministic for a seed (numpy's PCG64): the same arguments give the same frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fpcredit.evaluate.frame import CHILDREN_SCHEMA, PERSON_SCHEMA, Frame, facts_schema

__all__ = ["HISTORY_YEARS", "make_frame"]

HISTORY_YEARS = 6
YEAR = 365.25
MONTH = YEAR / 12
DAY_US = 86_400_000_000
EPOCH = dt.date(1970, 1, 1)

ADULT_SHARE, CHILD_SHARE = 0.75, 0.225  # the rest are 10–17 without parents in the frame
GROUPS = ["urban", "rural", "migrant", "unknown"]
GROUP_P = [0.44, 0.10, 0.44, 0.02]
OCCUPATIONS = ["1", "2", "3", "4", "5", "6", "7", "8", "F", "N", "S"]
OCCUPATION_P = [0.03, 0.13, 0.09, 0.22, 0.14, 0.14, 0.005, 0.065, 0.10, 0.08, 0.0]
OCCUPATION_NULL = 0.05
FLAGS_P = {
    "id_valid": 0.97,
    "name_consistent": 0.96,
    "birth_date_consistent": 0.97,
    "hukou_known": 0.95,
    "residence_known": 0.93,
    "phone_known": 0.90,
}
# Insured share of adults aged 20–59 by group (urban, rural, migrant, unknown).
INSURED_P = np.array([0.30, 0.08, 0.20, 0.15])

# The national immunisation schedule (vaccine, due month); doses are counted per vaccine.
VACCINES = [
    "HepB",
    "BCG",
    "IPV",
    "bOPV",
    "DTaP",
    "DT",
    "MMR",
    "JE-L",
    "MPSV-A",
    "MPSV-AC",
    "HepA-L",
]
SCHEDULE = [
    ("HepB", 0), ("HepB", 1), ("HepB", 6), ("BCG", 0), ("IPV", 2), ("IPV", 3), ("bOPV", 4),
    ("bOPV", 48), ("DTaP", 3), ("DTaP", 4), ("DTaP", 5), ("DTaP", 18), ("DT", 72), ("MMR", 8),
    ("MMR", 18), ("JE-L", 8), ("JE-L", 24), ("MPSV-A", 6), ("MPSV-A", 9), ("MPSV-AC", 36),
    ("MPSV-AC", 72), ("HepA-L", 18),
]  # fmt: skip
CHECK_MONTHS = [1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72]
METHODS = [
    "IUD",
    "implant",
    "female_sterilisation",
    "male_sterilisation",
    "condom",
    "oral_pill",
    "injection",
    "other",
]
WOMAN_METHOD_P = [0.30, 0.10, 0.05, 0.0, 0.25, 0.15, 0.05, 0.10]
# Months a short-acting method lasts before it is renewed (0: long-acting, recorded once).
RENEW_MONTHS = np.array([0, 0, 0, 0, 6, 6, 3, 6])
SCOPES = ["contraception", "insurance", "checks", "vaccination", "infant_care"]

KINDS = [
    "household_membership",
    "marriage",
    "vaccination",
    "child_health_check",
    "infant_care",
    "prenatal_check",
    "postnatal_check",
    "contraception",
    "maternity_insurance_payment",
    "credit_event",
    "difficulty",
]
# Attribute vocabularies: a fact's attribute is a code into its list (-1 null). `period` holds a
# month index (months since 1970-01) and `valid_until` a day number; both become text at the end.
VOCAB: dict[str, list[str]] = {
    "vaccine": VACCINES,
    "dose": ["1", "2", "3", "4"],
    "contraception_method": METHODS,
    "insured_status": ["1", "2", "3"],
    "employment_type": ["10", "20", "30"],
    "credit_event_type": ["false_declaration", "data_fraud"],
    "severity": ["minor", "general", "serious"],
    "difficulty_scope": SCOPES,
    "difficulty_reason": ["illness", "disability", "disaster", "migrant_work", "income", "other"],
    "registration_type": ["1", "2"],
}
MONTH_ATTRS, DAY_ATTRS = {"period"}, {"valid_until"}


@dataclass
class _Population:
    """Everyone, by internal index: adults first, then the 10–17s, then the children."""

    birth: np.ndarray  # day numbers (days since 1970-01-01), never unknown internally
    sex: np.ndarray  # 1 or 2
    group: np.ndarray  # index into GROUPS
    occupation: np.ndarray  # index into OCCUPATIONS, -1 null
    adult: np.ndarray  # bool
    mother: np.ndarray  # per child (index of the mother), in child order
    father: np.ndarray  # per child, -1 without a father row
    child: np.ndarray  # internal indices of the children
    partner: np.ndarray  # per person, -1 without one


@dataclass
class _Facts:
    """Facts as parallel arrays, chunk by chunk; attributes as codes (-1 null)."""

    attributes: set[str]
    chunks: list[tuple[int, np.ndarray, np.ndarray, dict[str, np.ndarray]]] = field(
        default_factory=list
    )

    def add(self, kind: str, who: np.ndarray, day: np.ndarray, **attrs: np.ndarray) -> None:
        kept = {a: np.asarray(v, np.int32) for a, v in attrs.items() if a in self.attributes}
        self.chunks.append((KINDS.index(kind), who.astype(np.int32), day.astype(np.int32), kept))


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _month_of(day: np.ndarray) -> np.ndarray:
    """Month index (months since 1970-01) of day numbers."""
    return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _first_day(month: np.ndarray) -> np.ndarray:
    return month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with counts k_i: the item of each of the Σk rows and its rank 0..k_i-1."""
    counts = counts.astype(np.int64)
    item = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return item, np.arange(item.size) - starts[item]


def _population(rng: np.random.Generator, n: int, c: int) -> _Population:
    n_adult = round(ADULT_SHARE * n)
    n_child = round(CHILD_SHARE * n)
    n_teen = n - n_adult - n_child
    age = np.concatenate(
        [
            rng.uniform(18 * YEAR, 71 * YEAR, n_adult),
            rng.uniform(10 * YEAR, 18 * YEAR, n_teen),
            np.zeros(n_child),  # set from the mother below
        ]
    )
    birth = (c - age).astype(np.int64)
    sex = rng.integers(1, 3, n).astype(np.int8)
    group = rng.choice(len(GROUPS), n, p=GROUP_P).astype(np.int8)
    occupation = rng.choice(len(OCCUPATIONS), n, p=OCCUPATION_P).astype(np.int8)
    occupation[rng.random(n) < OCCUPATION_NULL] = -1
    adult = np.zeros(n, bool)
    adult[:n_adult] = True
    years = age / YEAR
    women = np.flatnonzero(adult & (sex == 2) & (years >= 22) & (years < 50))
    men = np.flatnonzero(adult & (sex == 1) & (years >= 22) & (years < 60))

    # Couples: most women of child-bearing age have a partner, who shares their group.
    partnered = women[rng.random(women.size) < 0.85]
    partnered = partnered[: men.size]
    partner = np.full(n, -1, np.int64)
    husbands = rng.permutation(men)[: partnered.size]
    partner[partnered], partner[husbands] = husbands, partnered
    group[husbands] = group[partnered]

    child = np.arange(n_adult + n_teen, n)
    if women.size == 0:  # a toy population: children without parents
        birth[child] = c - rng.integers(0, int(10 * YEAR), n_child)
        none = np.full(n_child, -1, np.int64)
        return _Population(birth, sex, group, occupation, adult, none, none, child, partner)

    # Each child picks a mother; one mother's births are 1–5 years apart (1 % twins), the first
    # after she turned 20 and within the last 10 years.
    mother = np.sort(rng.choice(women, n_child))
    first = np.r_[True, mother[1:] != mother[:-1]] if n_child else np.zeros(0, bool)
    family = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    gap = rng.uniform(365, 5 * YEAR, n_child)
    gap[(rng.random(n_child) < 0.01) | first] = 0
    offset = np.cumsum(gap)
    offset -= offset[starts][family]
    span = offset[np.r_[starts[1:] - 1, n_child - 1]] if n_child else offset
    lo = np.maximum(c - 10 * YEAR, birth[mother[starts]] + 20 * YEAR)
    begin = lo + rng.random(starts.size) * np.maximum(0, c - span - lo)
    # A family too large for the mother's years squeezes its gaps to fit (rarely below a year).
    squeeze = np.minimum(1, (c - lo) / np.maximum(span, 1))
    born = begin[family] + offset * squeeze[family]
    birth[child] = born.astype(np.int64)
    group[child] = group[mother]
    child_age = (c - birth[child]) / YEAR
    occupation[child] = np.where(child_age >= 6, OCCUPATIONS.index("S"), -1)
    occupation[n_adult : n_adult + n_teen] = OCCUPATIONS.index("S")
    father = partner[mother]
    father[rng.random(n_child) >= 0.93] = -1
    return _Population(birth, sex, group, occupation, adult, mother, father, child, partner)


def _persons(rng: np.random.Generator, pop: _Population, ids: np.ndarray) -> pa.Table:
    n = pop.birth.size
    sex = pa.array(pop.sex, mask=rng.random(n) < 0.005)
    birth = pa.array(
        pop.birth.astype(np.int32), pa.date32(), mask=pop.adult & (rng.random(n) < 0.005)
    )
    group = pa.array(GROUPS).take(pa.array(pop.group))
    occ = pa.array(OCCUPATIONS).take(pa.array(pop.occupation, mask=pop.occupation < 0))
    flags = [pa.array(rng.random(n) < p) for p in FLAGS_P.values()]
    table = pa.Table.from_arrays(
        [pa.array(ids), sex, birth, group, occ, *flags], schema=PERSON_SCHEMA
    )
    return table.take(pa.array(np.argsort(ids)))


def _children(rng: np.random.Generator, pop: _Population, ids: np.ndarray, c: int) -> pa.Table:
    kids = pop.child[pop.mother >= 0]
    mother = pop.mother[pop.mother >= 0]
    father = pop.father[pop.mother >= 0]
    k = kids.size
    delay = rng.integers(1, 61, k)
    slow = rng.random(k)
    delay[slow < 0.10] = rng.integers(61, 91, (slow < 0.10).sum())
    delay[slow < 0.04] = rng.integers(91, 721, (slow < 0.04).sum())
    registered = (pop.birth[kids] + delay) * DAY_US + rng.integers(8 * 3600, 18 * 3600, k) * 10**6
    has_father = father >= 0
    parent = np.concatenate([mother, father[has_father]])
    child = np.concatenate([kids, kids[has_father]])
    reg = np.concatenate([registered, registered[has_father]])
    known = reg < (c + 1) * DAY_US
    parent, child, reg = parent[known], child[known], reg[known]
    order = np.lexsort((ids[child], ids[parent]))
    parent, child, reg = parent[order], child[order], reg[order]
    return pa.Table.from_arrays(
        [
            pa.array(ids[parent]),
            pa.array(ids[child]),
            pa.array(pop.birth[child].astype(np.int32), pa.date32()),
            pa.array(reg, pa.timestamp("us")),
        ],
        schema=CHILDREN_SCHEMA,
    )


def _household(rng: np.random.Generator, pop: _Population, facts: _Facts, c: int) -> None:
    n = pop.birth.size
    lo = np.maximum(pop.birth + 10, c - HISTORY_YEARS * YEAR)
    who = np.r_[np.arange(n), np.flatnonzero(rng.random(n) < 0.15)]  # some moved house
    facts.add("household_membership", who, lo[who] + rng.random(who.size) * (c - lo[who]))
    # Marriages registered in the history window (earlier ones are not in the store).
    wives = np.flatnonzero((pop.sex == 2) & (pop.partner >= 0))
    wives = wives[rng.random(wives.size) < 0.35]
    day = c - rng.random(wives.size) * HISTORY_YEARS * YEAR
    code = np.zeros(wives.size, np.int32)
    facts.add("marriage", wives, day, registration_type=code)
    facts.add("marriage", pop.partner[wives], day, registration_type=code)


def _child_services(rng: np.random.Generator, pop: _Population, facts: _Facts, c: int) -> None:
    kids = pop.child
    birth = pop.birth[kids]
    # How reliably a family keeps to the schedules: most very well, some poorly.
    care = rng.choice([0.97, 0.80, 0.40], kids.size, p=[0.85, 0.10, 0.05])
    vaccine = np.array([VACCINES.index(v) for v, _ in SCHEDULE])
    due = np.array([m for _, m in SCHEDULE]) * MONTH
    dose = np.array([[v for v, _ in SCHEDULE[:i]].count(v) for i, (v, _) in enumerate(SCHEDULE)])
    done = rng.random((kids.size, len(SCHEDULE))) < care[:, None]
    k, i = np.nonzero(done)
    day = birth[k] + due[i] + rng.exponential(10, k.size)
    facts.add("vaccination", kids[k], day, vaccine=vaccine[i], dose=dose[i])

    due = np.array(CHECK_MONTHS) * MONTH
    done = rng.random((kids.size, due.size)) < care[:, None] * 0.92
    k, i = np.nonzero(done)
    day = birth[k] + due[i] + rng.uniform(-10, 25, k.size)
    facts.add("child_health_check", kids[k], day)

    # Infant care: ~45 % of children take part, about 4 sessions a year from 6 months to 3 years.
    start = birth + 6 * MONTH
    length = np.maximum(0, np.minimum(birth + 36 * MONTH, c) - start)
    counts = rng.poisson(4 * length / YEAR) * (rng.random(kids.size) < 0.45)
    k, _ = _expand(counts)
    facts.add("infant_care", kids[k], start[k] + rng.random(k.size) * length[k])


def _maternity(rng: np.random.Generator, pop: _Population, facts: _Facts, c: int) -> None:
    has_mother = pop.mother >= 0
    mother, born = pop.mother[has_mother], pop.birth[pop.child[has_mother]]
    horizon = c - HISTORY_YEARS * YEAR
    recent = born - 270 >= horizon
    mother, born = mother[recent], born[recent]
    b, _ = _expand(rng.binomial(8, 0.7, born.size))
    facts.add("prenatal_check", mother[b], born[b] - rng.uniform(7, 270, b.size))
    first = rng.random(born.size) < 0.85
    second = rng.random(born.size) < 0.70
    facts.add("postnatal_check", mother[first], born[first] + rng.uniform(3, 8, first.sum()))
    facts.add("postnatal_check", mother[second], born[second] + rng.uniform(28, 43, second.sum()))
    after = rng.random(born.size) < 0.45
    method = rng.choice(len(METHODS), after.sum(), p=WOMAN_METHOD_P)
    day = born[after] + rng.uniform(42, 365, after.sum())
    facts.add("contraception", mother[after], day, contraception_method=method)

    # Contraception of women aged 20–49: long-acting once, short-acting renewed for a while.
    years = (c - pop.birth) / YEAR
    women = np.flatnonzero(pop.adult & (pop.sex == 2) & (years >= 20) & (years < 50))
    women = women[rng.random(women.size) < 0.50]
    method = rng.choice(len(METHODS), women.size, p=WOMAN_METHOD_P)
    start = horizon + rng.random(women.size) * (c - horizon)
    renew = RENEW_MONTHS[method] * MONTH
    room = np.where(renew > 0, (c - start) // np.maximum(renew, 1), 0)
    counts = 1 + np.minimum(rng.geometric(0.3, women.size) - 1, room)
    w, rank = _expand(counts)
    day = start[w] + rank * renew[w] + rng.uniform(-7, 7, w.size)
    facts.add("contraception", women[w], day, contraception_method=method[w])
    men = np.flatnonzero(pop.adult & (pop.sex == 1) & (rng.random(pop.sex.size) < 0.003))
    code = np.full(men.size, METHODS.index("male_sterilisation"))
    day = horizon + rng.random(men.size) * (c - horizon)
    facts.add("contraception", men, day, contraception_method=code)


def _insurance(rng: np.random.Generator, pop: _Population, facts: _Facts, c: int) -> None:
    years = (c - pop.birth) / YEAR
    adults = np.flatnonzero(pop.adult & (years >= 20) & (years < 60))
    insured = adults[rng.random(adults.size) < INSURED_P[pop.group[adults]]]
    last = int(_month_of(np.array([c]))[0])
    first = last - HISTORY_YEARS * 12 + 1
    m = insured.size
    start = np.where(rng.random(m) < 0.4, first, rng.integers(first, last + 1, m))
    end = np.where(
        rng.random(m) < 0.8, last - rng.integers(0, 2, m), rng.integers(first, last + 1, m)
    )
    end = np.maximum(end, start)
    p, rank = _expand(end - start + 1)
    paid = rng.random(p.size) < 0.96
    p, month = p[paid], (start[p] + rank)[paid]
    day = _first_day(month) + rng.integers(0, 28, month.size)
    status = rng.choice(3, month.size, p=[0.95, 0.04, 0.01])
    freelance = pop.occupation[insured[p]] == OCCUPATIONS.index("F")
    facts.add(
        "maternity_insurance_payment",
        insured[p],
        day,
        period=month,
        insured_status=status,
        employment_type=freelance.astype(np.int32),
    )


def _credit(rng: np.random.Generator, pop: _Population, facts: _Facts, c: int) -> None:
    adults = np.flatnonzero(pop.adult)
    horizon = c - HISTORY_YEARS * YEAR
    who = adults[rng.random(adults.size) < 0.015]
    who = np.r_[who, who[rng.random(who.size) < 0.2]]  # a few have two
    facts.add(
        "credit_event",
        who,
        horizon + rng.random(who.size) * (c - horizon),
        credit_event_type=rng.choice(2, who.size, p=[0.6, 0.4]),
        severity=rng.choice(3, who.size, p=[0.5, 0.35, 0.15]),
    )
    who = adults[rng.random(adults.size) < 0.02]
    day = (horizon + rng.random(who.size) * (c - horizon)).astype(np.int64)
    facts.add(
        "difficulty",
        who,
        day,
        difficulty_scope=rng.integers(0, len(SCOPES), who.size),
        difficulty_reason=rng.integers(0, len(VOCAB["difficulty_reason"]), who.size),
        valid_until=day + rng.integers(180, 731, who.size),
    )


def _decode(codes: np.ndarray, vocab: pa.Array) -> pa.Array:
    """Codes into `vocab` → plain text (null where the code is negative)."""
    indices = pa.array(codes, mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, vocab).cast(pa.string())


def _text(attribute: str, codes: np.ndarray) -> pa.Array:
    """An attribute's codes → its text column."""
    if attribute in VOCAB:
        return _decode(codes, pa.array(VOCAB[attribute]))
    valid = codes >= 0
    if attribute not in MONTH_ATTRS | DAY_ATTRS or not valid.any():
        return pa.nulls(codes.size, pa.string())
    lo, hi = int(codes[valid].min()), int(codes[valid].max())
    values = np.arange(lo, hi + 1)
    if attribute in MONTH_ATTRS:
        days = pa.array(_first_day(values).astype(np.int32), pa.date32())
        vocab = pc.utf8_slice_codeunits(days.cast(pa.string()), 0, 7)
    else:
        vocab = pa.array(values.astype(np.int32), pa.date32()).cast(pa.string())
    return _decode(np.where(valid, codes - lo, -1), vocab)


def _facts_table(
    rng: np.random.Generator, facts: _Facts, ids: np.ndarray, c: int, attributes: Sequence[str]
) -> pa.Table:
    sizes = [w.size for _, w, _, _ in facts.chunks]
    offsets = np.cumsum([0, *sizes])
    kind = np.repeat(np.array([k for k, _, _, _ in facts.chunks], np.int8), sizes)
    who = np.concatenate([w for _, w, _, _ in facts.chunks])
    day = np.concatenate([d for _, _, d, _ in facts.chunks])
    n = day.size
    delay = rng.integers(1, 11, n, dtype=np.int32)
    slow = rng.random(n) < 0.03
    delay[slow] = rng.integers(30, 181, slow.sum(), dtype=np.int32)
    arrived = day + delay
    # What the loader provides at C: dated on or before C and recorded by the end of C.
    keep = np.flatnonzero((day <= c) & (arrived <= c))
    # Rows arrive day by day (a stable radix sort on the day; within a day, feed by feed) at
    # increasing times from 08:00 to 20:00, so that fact_id follows recorded_at.
    lo = int(arrived[keep].min(initial=c))
    key = arrived[keep] - lo
    key = key.astype(np.uint16) if key.max(initial=0) < 2**16 else key
    order = keep[np.argsort(key, kind="stable")]
    arrived = arrived[order].astype(np.int64)
    per_day = np.bincount(arrived - lo)
    rank = np.arange(order.size) - (np.cumsum(per_day) - per_day)[arrived - lo]
    hours = 3600 * 10**6
    recorded = arrived * DAY_US + 8 * hours + rank * (12 * hours) // per_day[arrived - lo]
    kinds = pa.array(KINDS)
    columns: dict[str, pa.Array] = {
        "fact_id": pa.array(np.arange(1, order.size + 1, dtype=np.int64)),
        "person_id": pa.array(ids[who[order]]),
        "kind": pa.DictionaryArray.from_arrays(pa.array(kind[order]), kinds).cast(pa.string()),
        "event_date": pa.array(day[order], pa.date32()),
        "recorded_at": pa.array(recorded, pa.timestamp("us")),
    }
    # Attributes are sparse: scatter each chunk's codes to where its rows went.
    where = np.full(n, -1, np.int64)
    where[order] = np.arange(order.size)
    for attribute in attributes:
        codes = np.full(order.size, -1, np.int32)
        for i, (_, _, _, attrs) in enumerate(facts.chunks):
            if attribute in attrs:
                to = where[offsets[i] : offsets[i + 1]]
                kept = to >= 0
                codes[to[kept]] = attrs[attribute][kept]
        columns[attribute] = _text(attribute, codes)
    schema = facts_schema(attributes)
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def make_frame(persons: int, seed: int, cut: dt.date, attributes: Sequence[str]) -> Frame:
    """A frame of `persons` persons (children included) known at the end of `cut`."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    c = _days(cut)
    pop = _population(streams[0], persons, c)
    ids = streams[1].permutation(persons).astype(np.int64) + 1  # person_id of each index
    facts = _Facts(set(attributes))
    _household(streams[2], pop, facts, c)
    _child_services(streams[3], pop, facts, c)
    _maternity(streams[4], pop, facts, c)
    _insurance(streams[5], pop, facts, c)
    _credit(streams[6], pop, facts, c)
    table = _facts_table(streams[7], facts, ids, c, sorted(set(attributes)))
    return Frame(_persons(streams[0], pop, ids), table, _children(streams[1], pop, ids, c))
