"""The service's person locator (link/file.py: Locator) answers exactly as `locate` does."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpcredit.link.file import Ask, Located, Locator, locate
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from tests.clocks import Seconds

P = s.persons
REGIONS = [None, "110105", "110106", "330102", "330103"]


def _write(store: Store, people: list[tuple[int | None, str | None, str | None]]) -> None:
    """Persons 1..n: (merged_into, hukou, residence); replaces whatever was there."""
    with store.engine.begin() as conn:
        conn.execute(P.update().values(merged_into=None))
        conn.execute(P.delete())
        now = utc_now()
        conn.execute(
            P.insert(),
            [
                {"id": i, "created_at": now, "hukou_region": h, "residence_region": r}
                for i, (_, h, r) in enumerate(people, start=1)
            ],
        )
        for i, (into, _, _) in enumerate(people, start=1):
            if into is not None:
                conn.execute(P.update().where(P.c.id == i).values(merged_into=into))


@st.composite
def _population(draw: st.DrawFn) -> list[tuple[int | None, str | None, str | None]]:
    n = draw(st.integers(1, 40))
    region = st.sampled_from(REGIONS)
    merged = st.one_of(st.none(), st.integers(1, n))  # self-merges and cycles included
    return draw(st.lists(st.tuples(merged, region, region), min_size=n, max_size=n))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=_population())
def test_the_locator_answers_as_the_store_does(
    store: Store, people: list[tuple[int | None, str | None, str | None]]
) -> None:
    _write(store, people)
    locator = Locator(store, recheck_s=3600)
    for pid in range(0, len(people) + 3):
        assert locator.locate(pid) == locate(store, pid), pid
        known = locator.known(pid)
        if pid <= len(people) and pid >= 1:
            assert known == locate(store, pid)  # in the snapshot: answered from memory
        else:
            assert known is Ask.STORE  # not in it: only the store can tell


def test_long_merge_chains_stop_where_locate_stops(store: Store) -> None:
    # 1 → 2 → … → 20: locate reads at most 16 rows, so only the last 16 persons resolve.
    people: list[tuple[int | None, str | None, str | None]] = [
        (i + 1, "110105", None) for i in range(1, 20)
    ]
    people.append((None, "330102", "330103"))
    _write(store, people)
    locator = Locator(store)
    answers = [locator.locate(pid) for pid in range(1, 21)]
    assert answers == [locate(store, pid) for pid in range(1, 21)]
    assert answers[-1] == Located(20, "330102", "330103")
    assert answers[0] is None and answers[4] == Located(20, "330102", "330103")


def test_changes_are_seen_after_the_recheck(store: Store) -> None:
    _write(store, [(None, "110105", None), (None, "330102", None)])
    clock = Seconds()
    locator = Locator(store, recheck_s=1.0, clock=clock)
    assert locator.locate(1) == Located(1, "110105", None)
    # A clerk merges 1 into 2 (a decision is recorded), and a person 3 appears.
    with store.engine.begin() as conn:
        conn.execute(P.update().where(P.c.id == 1).values(merged_into=2))
        conn.execute(
            s.link_decisions.insert().values(
                action="merge",
                same=True,
                left_mentions="[]",
                right_mentions="[]",
                person_id=2,
                other_person_id=1,
                decided_by="clerk:1",
                decided_at=utc_now(),
                reason="test",
            )
        )
        conn.execute(P.insert().values(id=3, created_at=utc_now(), hukou_region="330103"))
    # Before the recheck, memory still answers for 1; an id it never saw goes to the store.
    assert locator.known(1) == Located(1, "110105", None)
    assert locator.locate(3) == Located(3, "330103", None)
    clock.advance(0.99)
    assert locator.known(1) == Located(1, "110105", None)  # not due yet
    clock.advance(0.01)
    assert locator.known(1) is Ask.STORE  # a recheck is due: memory does not answer
    assert locator.locate(1) == Located(2, "330102", None)
    assert locator.known(1) == Located(2, "330102", None)
    assert locator.known(3) == Located(3, "330103", None)


@pytest.mark.parametrize("pid", [0, -1, 10**12])
def test_nobody_is_asked_of_the_store(store: Store, pid: int) -> None:
    _write(store, [(None, "110105", None)])
    locator = Locator(store)
    assert locator.locate(pid) is None
