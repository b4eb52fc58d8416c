"""The points ledger on every backend: earnings are the deltas, postings balance, redemptions
and reversals keep balance = sum of entries, and an edited row fails `audit verify`."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from fpcredit.guard.trail.verify import verify
from fpcredit.incentives import points as ledger
from fpcredit.incentives.points_earnings import post_earnings
from fpcredit.store import schema as s
from tests.points.conftest import Book, item


def _post(book: Book, points: list[int | None]) -> int:
    evaluation = book.evaluation()
    with book.store.engine.begin() as conn:
        return post_earnings(conn, evaluation, book.results(points), keys_dir=book.store.keys_dir)


def _ok(book: Book) -> bool:
    return bool(verify(book.store, book.settings, verifier_key=book.trail.verifier_key())["ok"])


@pytest.mark.parametrize("bulk", [False, True], ids=["rows", "driver"])
def test_two_evaluations_post_exactly_the_deltas(
    book: Book, bulk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if bulk:  # the path of a province's evaluation (≥ 1,000 rows): through the driver
        monkeypatch.setattr(ledger, "_BULK", 2)
    first = [100, 0, 40, None, 7, 300]
    second = [130, 20, 10, 50, 7, None]
    assert _post(book, first) == 4  # 0 and None change nothing
    assert [book.balance(p) for p in book.persons] == [100, 0, 40, 0, 7, 300]
    assert _post(book, second) == 4  # +30, +20, −30, +50; 7 and None unchanged
    assert [book.balance(p) for p in book.persons] == [130, 20, 10, 50, 7, 300]
    with book.store.engine.connect() as conn:
        kinds = conn.execute(sa.select(s.points_postings.c.kind)).scalars().all()
        source = ledger.account_of(conn, person_id=None)
        assert ledger.balance(conn, source) == -(130 + 20 + 10 + 50 + 7 + 300)
    assert kinds == ["earning", "earning"]
    assert book.agrees() and _ok(book)


def test_reposting_an_evaluation_posts_nothing(book: Book) -> None:
    evaluation = book.evaluation()
    table = book.results([5, 6, 7, 8, 9, 10])
    for expected in (6, 0, 0):
        with book.store.engine.begin() as conn:
            assert post_earnings(conn, evaluation, table, keys_dir=book.store.keys_dir) == expected
    with book.store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(s.points_postings)) == 1
        assert conn.scalar(sa.select(sa.func.count()).select_from(s.points_entries)) == 7
    assert sum(book.balance(p) for p in book.persons) == 45


def test_redeem_replay_conflict_refusal_and_cancel(book: Book) -> None:
    _post(book, [100, 0, 0, 0, 0, 0])
    who, catalogue = book.persons[0], [item(60), item(30, "cdc", "visit")]
    done, replayed = ledger.redeem(book.store, who, "check_plus", "key-0001", catalogue, actor="t")
    assert not replayed and book.balance(who) == 40
    again, replayed = ledger.redeem(book.store, who, "check_plus", "key-0001", catalogue, actor="t")
    assert replayed and again == done and book.balance(who) == 40
    with pytest.raises(ledger.PointsError) as e:
        ledger.redeem(book.store, who, "visit", "key-0001", catalogue, actor="t")
    assert e.value.code == "key_reused"
    with pytest.raises(ledger.PointsError) as e:
        ledger.redeem(book.store, who, "check_plus", "key-0002", catalogue, actor="t")
    assert e.value.code == "insufficient"
    with pytest.raises(ledger.PointsError) as e:
        ledger.cancel(book.store, done.id, "cdc", actor="t")
    assert e.value.code == "not_provider"
    first = ledger.cancel(book.store, done.id, "health", actor="t")
    assert ledger.cancel(book.store, done.id, "health", actor="t") == first
    assert book.balance(who) == 100
    with book.store.engine.connect() as conn:
        kinds = (
            conn.execute(sa.select(s.points_postings.c.kind).order_by(s.points_postings.c.id))
            .scalars()
            .all()
        )
        notes = conn.scalar(
            sa.select(sa.func.count()).select_from(s.notifications)
            .where(s.notifications.c.kind == "redemption")
        )  # fmt: skip
    assert kinds == ["earning", "redemption", "reversal"] and notes == 2
    assert book.agrees() and _ok(book)


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE points_entries SET amount = amount + 500"
        " WHERE id = (SELECT max(id) FROM points_entries)",
        "UPDATE points_redemptions SET price = 1",
        "UPDATE points_accounts SET person_id = NULL WHERE kind = 'person'",
        "UPDATE points_postings SET kind = 'reversal' WHERE kind = 'redemption'",
    ],
    ids=["amount", "price", "account", "kind"],
)
def test_an_edited_ledger_row_fails_audit_verify(book: Book, tamper: str) -> None:
    _post(book, [100, 50, 0, 0, 0, 0])
    ledger.redeem(book.store, book.persons[0], "check_plus", "key-0001", [item(60)], actor="t")
    assert _ok(book)
    with book.store.engine.begin() as conn:
        conn.execute(sa.text(tamper))
    assert not _ok(book)


def test_postings_that_do_not_balance_are_refused(book: Book) -> None:
    for legs in ([(1, 5)], [(1, 5), (2, -4)], [(1, 0), (2, 0)]):
        with pytest.raises(ValueError):
            ledger.check_legs([a for _, a in legs])


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("earn"), st.lists(st.integers(-50, 200), min_size=6, max_size=6)),
            st.tuples(st.just("redeem"), st.integers(0, 5), st.integers(1, 120)),
            st.tuples(st.just("cancel"), st.integers(0, 20)),
        ),
        max_size=12,
    )
)
def test_property_legs_sum_to_zero_and_balance_is_the_sum(book: Book, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    """Any sequence of earnings, redemptions and cancellations: each posting's legs sum to zero,
    every balance is what a model of the rules says, and no redemption overdraws."""
    store = book.store
    with store.engine.begin() as conn:  # each example starts from an empty ledger
        for table in (s.notifications, s.points_entries, s.points_postings, s.points_redemptions):
            conn.execute(table.delete())
    model = {p: book.balance(p) for p in book.persons}
    level = dict.fromkeys(book.persons, 0)
    done: list[tuple[int, int, int]] = []  # redemption id, person, price
    cancelled: set[int] = set()
    for n, op in enumerate(ops):
        if op[0] == "earn":
            _post(book, list(op[1]))
            for p, now in zip(book.persons, op[1], strict=True):
                model[p] += now - level[p]
                level[p] = now
        elif op[0] == "redeem":
            who, price = book.persons[op[1]], op[2]
            try:
                r, _ = ledger.redeem(
                    store,
                    who,
                    f"r{price}",
                    f"key-{n:05d}",
                    [item(price, rid=f"r{price}")],
                    actor="t",
                )
            except ledger.PointsError as e:
                assert e.code == "insufficient" and model[who] < price
            else:
                assert model[who] >= price
                model[who] -= price
                done.append((r.id, who, price))
        elif done:
            rid, who, price = done[op[1] % len(done)]
            ledger.cancel(store, rid, "health", actor="t")
            if rid not in cancelled:
                model[who] += price
                cancelled.add(rid)
    assert {p: book.balance(p) for p in book.persons} == model
    assert book.agrees()


def test_earnings_and_redemptions_race_without_deadlock(book: Book) -> None:
    """Redemptions (row lock, then the trail's lock) beside earnings (the trail's lock, then
    entries that refer to the locked rows): all finish, and the balances are the rules'."""
    import threading

    _post(book, [1000] * len(book.persons))
    errors: list[BaseException] = []
    applied = Counter()  # type: ignore[var-annotated]

    def redeem(worker: int) -> None:
        try:
            for n in range(8):
                who = book.persons[(worker + n) % len(book.persons)]
                ledger.redeem(book.store, who, "check_plus", f"race-{worker}-{n:04d}",
                              [item(7)], actor="t")  # fmt: skip
                applied[who] += 1
        except BaseException as e:
            errors.append(e)

    def earn() -> None:
        try:
            for level in (1010, 1020, 1030):
                _post(book, [level] * len(book.persons))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=redeem, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=earn))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert [book.balance(p) for p in book.persons] == [1030 - 7 * applied[p] for p in book.persons]
    assert book.agrees() and _ok(book)


@given(st.lists(st.integers(-(10**6), 10**6), max_size=8))
def test_property_check_legs_accepts_exactly_the_balanced(amounts: list[int]) -> None:
    balanced = len(amounts) >= 2 and 0 not in amounts and sum(amounts) == 0
    try:
        ledger.check_legs(amounts)
    except ValueError:
        assert not balanced
    else:
        assert balanced
    closed = [*amounts, -sum(amounts)] if sum(amounts) else amounts
    if len(closed) >= 2 and 0 not in closed:
        ledger.check_legs(closed)  # closing any legs with their negated sum balances them
