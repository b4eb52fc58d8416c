"""A small evaluated province served by the app on each backend, with a citizen and two clerks."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.explain import ExplainError, explain
from fpcredit.guard.access import Role
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.service import load_province
from fpcredit.store import schema as s
from fpcredit.synth import generate
from fpcredit.web.app import create_app
from tests.conftest import PG_ADMIN_URL, _pg_available
from tests.leaks import KNOWN_NAMES
from tests.web.conftest import (
    NO_RATE_LIMITS,
    Person,
    Web,
    _login_citizen,
    _login_staff,
    _pick,
    _scan,
    _truth_names,
)

PEOPLE = 150
MOVING: dict[str, list[int]] = {}  # store URL → the citizen's facts whose dispute moves the total
AS_OF = dt.date(2026, 6, 30)


def _pg_url() -> Iterator[str]:
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable (set FPCREDIT_TEST_PG_URL)")
    name = f"fpcredit_cases_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _serve(tmp: Path, url: str | None) -> Iterator[Web]:
    feeds = tmp / "feeds"
    generate(people=PEOPLE, seed=23, out=feeds, until=AS_OF)
    settings = Settings(home=tmp / "home", database_url=url, **NO_RATE_LIMITS)
    load_province(settings, feeds, AS_OF)
    app = create_app(settings)
    with TestClient(app) as client:
        client.event_hooks["response"] = [_scan]
        store = app.state.services.store
        inside, outside = _pick(store, settings)
        w = Web(settings, store, client, inside, outside, _truth_names(feeds))
        w.inside = _disputable(w, settings)
        KNOWN_NAMES.update(w.truth_names)
        _login_staff(w, "clerk_in", Role.COUNTY, w.inside.county, "clerk.in")
        _login_staff(w, "clerk_out", Role.COUNTY, outside.county, "clerk.out")
        _login_citizen(w)
        yield w


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Web]:
    """The province on SQLite, then on PostgreSQL (its own database, dropped afterwards)."""
    tmp = tmp_path_factory.mktemp(f"cases-{request.param}")
    if request.param == "postgres":
        urls = _pg_url()
        url = next(urls)
        try:
            yield from _serve(tmp, url)
        finally:
            next(urls, None)
    else:
        yield from _serve(tmp, None)


def _disputable(w: Web, settings: Settings) -> Person:
    """A person with a phone and a valid ID number (a citizen who can log in), in the county of
    `w.inside`, with facts whose dispute moves the total."""
    vault = load_vault(settings.keys_dir)
    p, m, lk = s.persons, s.mentions, s.links
    with w.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(p.c.id, p.c.id_number_enc, p.c.name_enc, p.c.hukou_region)
            .where(p.c.merged_into.is_(None), p.c.id_number_enc.is_not(None))
            .where(p.c.hukou_region == p.c.residence_region)
            .where(p.c.hukou_region != w.outside.county)
            .where(
                sa.exists()
                .where(lk.c.person_id == p.c.id, lk.c.mention_id == m.c.id)
                .where(m.c.phone_enc.is_not(None))
            )
            .order_by(p.c.id)
        ).all()
    for r in rows:
        try:
            moving = facts_that_move_the_total(w, int(r.id), enough=2)
            if len(moving) >= 2:
                MOVING[str(w.store.engine.url)] = moving
                return Person(
                    int(r.id),
                    vault.decrypt(r.id_number_enc, "id_number") or "",
                    vault.decrypt(r.name_enc, "name") or "",
                    r.hukou_region,
                )
        except ExplainError:
            continue
    raise AssertionError("no person in the province has two facts that move their total")


def moving_facts(w: Web) -> list[int]:
    """Two facts of the citizen's explanation whose dispute changes their total."""
    return MOVING[str(w.store.engine.url)]


def facts_that_move_the_total(w: Web, person_id: int, enough: int = 2) -> list[int]:
    """Facts of the person's explanation whose dispute changes their total (found by trying
    each one in this process, its disputed flag restored at once), up to `enough`."""
    store = w.store
    policy = active_policy(store)
    before = explain(store, policy, person_id, AS_OF)
    ids = sorted(
        {f["fact_id"] for line in before["indicators"] for f in line["facts"] if "fact_id" in f
         and f["of"] == "self"}
    )  # fmt: skip
    moving = []
    for fact_id in ids:
        with store.engine.begin() as conn:
            conn.execute(sa.update(s.facts).where(s.facts.c.id == fact_id).values(disputed=True))
        try:
            after = explain(store, policy, person_id, AS_OF)
        finally:
            with store.engine.begin() as conn:
                conn.execute(
                    sa.update(s.facts).where(s.facts.c.id == fact_id).values(disputed=False)
                )
        if after["total"] != before["total"]:
            moving.append(fact_id)
            if len(moving) >= enough:
                break
    return moving
