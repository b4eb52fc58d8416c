"""The tables outside the trail's entries, against an insider with database access: accounts,
clients, sessions, persons, links, clerks' decisions and results files. Each change behind the
platform's back fails `audit verify --witness` (a real witness process) or is refused when
used; the platform's own writes keep everything verified."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.evaluate.results import Results
from fpcredit.evaluate.run import EvaluationError, latest
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.guard.keys.rotate import rotate_keys
from fpcredit.guard.trail.log import Trail
from fpcredit.guard.trail.seal import RowSealer, canon, canonical_select
from fpcredit.guard.trail.sealing import digest_rows
from fpcredit.guard.trail.verify import verify
from fpcredit.link import review
from fpcredit.link.config import load_config
from fpcredit.link.index import link
from fpcredit.service import _note_adoption, initialise, load_province
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store, utc_now
from fpcredit.synth import generate
from tests.guard.test_insider import _sign, _verify, home_settings, witness

__all__ = ["home_settings", "witness"]  # the witness fixtures, used here as there
AS_OF = dt.date(2026, 6, 30)
PASSWORD = "Fp-credit-2026!"


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FPCREDIT_LANGUAGE", "en")  # the reasons are matched by table name


@pytest.fixture
def province(home_settings: Settings, store: Store, tmp_path: Path) -> Store:
    """A small evaluated province on the test's backend (emptied first: `store`)."""
    generate(people=60, seed=3, out=tmp_path / "feeds", until=AS_OF)
    load_province(home_settings, tmp_path / "feeds", AS_OF)
    return open_store(home_settings)


def _ok(settings: Settings) -> None:
    """Sign and witness the trail as it is, then verify it whole."""
    store = open_store(settings)
    try:
        _sign(Trail(store, settings), settings)
    finally:
        store.engine.dispose()
    code, report = _verify(settings)
    assert code == 0 and report["ok"], json.dumps(report, ensure_ascii=False)


def _broken(settings: Settings, table: str) -> dict[str, Any]:
    code, report = _verify(settings)
    assert code == 1 and not report["ok"], report
    assert table in str(report["reason"]) or "evaluation" in str(report["reason"]), report
    return report


def _staff(store: Store, settings: Settings, role: str = "county") -> str:
    made = accounts.add_user(store, role, "330106", f"{role}clerk", PASSWORD, settings=settings)
    return made.totp_secret


def test_the_platforms_own_writes_keep_every_covered_table_verified(
    province: Store, home_settings: Settings
) -> None:
    store, settings = province, home_settings
    vault = load_vault(settings.keys_dir)
    _staff(store, settings)
    accounts.disable_user(store, "countyclerk")
    accounts.reset_user(store, "countyclerk", settings=settings)
    accounts.enable_user(store, "countyclerk")
    client_id, _secret = clients.add_client(store, "health", ["data_quality"], settings=settings)
    clients.disable_client(store, client_id)
    with store.engine.connect() as conn:
        ids = list(conn.scalars(sa.select(s.links.c.person_id).distinct().limit(3)))
    review.merge(store, vault, ids[0], ids[1], "clerk", "one family")
    link(store, vault, load_config(), full=True, apply=True)
    rotate_keys(settings, store, lambda _m: None)
    _ok(settings)


def _promote(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(s.users.update().values(role="national", region="000000"))


def _client_purposes(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(s.clients.update().values(purposes='["incentive_verification"]'))


def _move_a_link(store: Store) -> None:
    with store.engine.begin() as conn:
        first = conn.execute(sa.select(s.links).order_by(s.links.c.mention_id).limit(1)).one()
        other = conn.scalar(sa.select(s.persons.c.id).where(s.persons.c.id != first.person_id))
        conn.execute(
            s.links.update().where(s.links.c.mention_id == first.mention_id).values(person_id=other)
        )


def _drop_a_link(store: Store) -> None:
    with store.engine.begin() as conn:
        first = conn.scalar(sa.select(sa.func.min(s.links.c.mention_id)))
        conn.execute(s.links.delete().where(s.links.c.mention_id == first))


def _move_a_person(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            s.persons.update()
            .where(s.persons.c.id == sa.select(sa.func.min(s.persons.c.id)).scalar_subquery())
            .values(hukou_region="110101", residence_region="110101")
        )


def _rewrite_a_decision(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(s.link_decisions.update().values(reason="nothing to see"))


ATTACKS: dict[str, tuple[Callable[[Store], None], str]] = {
    "a county clerk promoted to national": (_promote, "users"),
    "a client given another purpose": (_client_purposes, "clients"),
    "a record moved to another person": (_move_a_link, "links"),
    "a record taken off its person": (_drop_a_link, "links"),
    "a person moved to another region": (_move_a_person, "persons"),
    "a clerk's decision rewritten": (_rewrite_a_decision, "link_decisions"),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_a_change_behind_the_platforms_back_fails_verification(
    province: Store, home_settings: Settings, attack: str
) -> None:
    store, settings = province, home_settings
    _staff(store, settings)
    clients.add_client(store, "health", ["data_quality"], settings=settings)
    vault = load_vault(settings.keys_dir)
    with store.engine.connect() as conn:
        ids = list(conn.scalars(sa.select(s.links.c.person_id).distinct().limit(2)))
    review.merge(store, vault, ids[0], ids[1], "clerk", "one family")
    _ok(settings)
    damage, table = ATTACKS[attack]
    damage(store)
    _broken(settings, table)


def test_an_account_changed_in_the_database_cannot_log_in(
    province: Store, home_settings: Settings
) -> None:
    store, settings = province, home_settings
    secret = _staff(store, settings)
    auth = Authenticator(store, settings)
    auth.login_staff("countyclerk", PASSWORD, totp_code(secret, utc_now()))
    _promote(store)
    with pytest.raises(AuthError) as refused:
        auth.login_staff(
            "countyclerk", PASSWORD, totp_code(secret, utc_now() + dt.timedelta(seconds=31))
        )
    assert refused.value.code == "altered"


def test_an_account_put_back_to_an_older_version_fails_verification(
    province: Store, home_settings: Settings
) -> None:
    store, settings = province, home_settings
    _staff(store, settings)
    with store.engine.connect() as conn:
        before = dict(conn.execute(sa.select(s.users)).mappings().one())
    accounts.disable_user(store, "countyclerk")
    _ok(settings)
    # The old row, its old seal included: it still opens at login, but no longer adds up.
    with store.engine.begin() as conn:
        conn.execute(s.users.update().values(**{k: v for k, v in before.items() if k != "id"}))
    _broken(settings, "users")


def test_an_edited_results_file_is_refused_and_fails_verification(
    province: Store, home_settings: Settings
) -> None:
    store, settings = province, home_settings
    run = latest(store, settings.home, AS_OF)
    table = pq.read_table(run.path)
    grades = pa.array(["D"] * table.num_rows)
    pq.write_table(
        table.set_column(table.schema.get_field_index("grade"), "grade", grades), run.path
    )
    with pytest.raises(EvaluationError, match=str(run.id)):
        latest(store, settings.home, AS_OF)
    results = Results(store, settings.home)
    assert results.person(int(table.column("person_id")[0].as_py())) is None
    assert results.refused is not None
    _broken(settings, "evaluation")
    # Recording the edited file's hash in the row too is a change of a covered row.
    from fpcredit.evaluate.run import file_sha256

    with store.engine.begin() as conn:
        conn.execute(s.evaluations.update().values(results_sha256=file_sha256(run.path)))
    with pytest.raises(EvaluationError):
        latest(store, settings.home, AS_OF)
    _broken(settings, "evaluations")


def test_the_canonical_rows_are_the_same_in_python_and_duckdb(
    province: Store, home_settings: Settings
) -> None:
    """The few-rows path (Python) and the many-rows path (DuckDB) hash a row alike."""
    store = province
    sealer = RowSealer.of(home_settings.keys_dir)
    for table in ("persons", "links"):
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text(canonical_select(table, store.dialect))).all()
            bulk = digest_rows(conn, table, "", {}, sealer)
        assert bulk == sealer.digest(table, rows)
        assert bulk.count == len(rows) > 0
    assert canon("sessions").columns[0] == "id"


def _legacy_rows(store: Store, settings: Settings) -> None:
    """Rows as the code before this coverage wrote them: no seals, no digests, no entries."""
    with store.engine.begin() as conn:
        uid = conn.execute(
            s.users.insert()
            .values(
                username="oldclerk",
                role="county",
                region="330106",
                password_hash="x",
                must_change=True,
                totp_secret_enc=b"\x01",
                failed_logins=0,
                created_at=utc_now(),
                last_used_at=utc_now(),
                password_changed_at=utc_now(),
            )
            .returning(s.users.c.id)
        ).scalar_one()
        conn.execute(s.persons.insert().values(id=1, created_at=utc_now(), mentions=0))
        conn.execute(
            s.link_decisions.insert().values(
                action="merge", same=True, left_mentions="[]", right_mentions="[]",
                decided_by="clerk", decided_at=utc_now(), reason="legacy",
            )
        )  # fmt: skip
    assert uid


def test_an_upgraded_store_is_adopted_once_right_after_its_migration(
    settings: Settings, store: Store
) -> None:
    initialise(settings)
    _legacy_rows(store, settings)
    assert not verify(store, settings)["ok"]  # uncovered rows
    initialise(settings)  # no migration ran: an insider's rows are not taken in
    assert not verify(store, settings)["ok"]
    _note_adoption(settings, "0009")  # what `init` notes when it migrates a 0009 store
    initialise(settings)
    report = verify(store, settings)
    assert report["ok"], report
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(s.users.c.seal)) is not None
    # Once: rows added behind the platform's back afterwards are not adopted by a second note.
    with store.engine.begin() as conn:
        conn.execute(s.persons.insert().values(id=2, created_at=utc_now(), mentions=0))
    _note_adoption(settings, "0009")
    initialise(settings)
    assert not verify(store, settings)["ok"]
