"""Application services shared by the CLI and the web app: open, initialise, ingest, load a
province."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from fpcredit.collect.ingest import FileReport, Progress, ingest_file
from fpcredit.collect.mapping import load_mapping
from fpcredit.config import Settings
from fpcredit.files import private_dir, write_private
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store

if TYPE_CHECKING:
    from fpcredit.evaluate.policy import LoadedPolicy
    from fpcredit.evaluate.run import Run
    from fpcredit.guard.auth.admin import Administration
    from fpcredit.link.write import LinkReport

__all__ = [
    "DEMO_ACCOUNTS_FILE",
    "DemoAccounts",
    "DemoCitizen",
    "DemoClient",
    "DemoStaff",
    "ProvinceLoad",
    "Steps",
    "feed_path",
    "ingest_paths",
    "initialise",
    "load_province",
    "open_ready_store",
    "seed_demo_accounts",
]
log = logging.getLogger(__name__)
# A long task's progress: the step now, and how many of how many are done (None: unknown).
Steps = Callable[[str, int | None, int | None], None]


def initialise(settings: Settings) -> bool:
    """Create the keys if absent and migrate the store; True when keys were created.

    A store from before the trail had MACs, or before it covered accounts, clients, persons,
    links, clerks' decisions and results files, is brought under it once, right after the
    migration that made room for it (see `_adopt`)."""
    private_dir(settings.home)  # before the keys' folder is made inside it
    created = create_keys(settings.keys_dir, settings.crypto)
    store = open_store(settings)
    try:
        _note_adoption(settings, store.revision())
        store.upgrade()
        sealed = _adopt(store, settings)
    finally:
        store.engine.dispose()
    if sealed:
        log.warning(text("trail.sealed", count=sealed))
    return created


# What an upgrade from before a revision must adopt afterwards, and the revision that brought it.
_ADOPT_SINCE: Final = {"macs": "0008", "coverage": "0011"}


def _pending(settings: Settings) -> Path:
    # Outside the database: somebody with database access alone cannot ask for an adoption
    # (it would take in whatever they had changed).
    return settings.home / "trail" / "adopt.pending"


def _note_adoption(settings: Settings, revision: str | None) -> None:
    """Before migrating an existing store, write down what must be adopted after it; a run
    that dies before adopting leaves the note for the next `init`."""
    if revision is None:
        return  # a new store: everything in it is written under the trail from the start
    steps = [step for step, since in _ADOPT_SINCE.items() if revision < since]
    if steps:
        write_private(
            private_dir(_pending(settings).parent) / "adopt.pending", "\n".join(steps).encode()
        )


def _adopt(store: Store, settings: Settings) -> int:
    """Carry out the noted adoption: first entries for the newly covered tables, then MACs for
    the entries from before MACs (only once everything verifies); returns the entries sealed."""
    from fpcredit.evaluate.run import adopt_results
    from fpcredit.guard.trail.sealing import adopt, adopt_ranges
    from fpcredit.guard.trail.verify import seal

    path = _pending(settings)
    if not path.exists():
        return 0
    steps = set(path.read_text().split())
    if "coverage" in steps:
        adopt_ranges(store, settings.keys_dir, ["link_decisions"])
        adopt_results(store, settings.home)
        adopt(store, settings.keys_dir)
    sealed = seal(store, settings) if "macs" in steps else 0
    path.unlink()
    return sealed


def open_ready_store(settings: Settings) -> Store:
    """The store, refusing to run on a database that `fpcredit init` has not prepared."""
    store = open_store(settings)
    store.require_current()
    return store


def feed_path(folder: Path, source: str, mappings_dir: Path | None = None) -> Path:
    """Where a source's feed lies in a feeds folder (`fpcredit synth` writes them there):
    DIR/<source>.<ext>, the extension the format its mapping file names."""
    return folder / f"{source}.{load_mapping(source, mappings_dir).format}"


def ingest_paths(
    settings: Settings, source: str, paths: Sequence[Path], progress: Progress | None = None
) -> list[FileReport]:
    """Ingest files one by one, each atomically; the first unreadable file stops the run."""
    store = open_ready_store(settings)
    vault = load_vault(settings.keys_dir)
    reports = []
    for path in paths:

        def note(stage: str, name: str = path.name) -> None:
            if progress:
                progress(f"{name}: {stage}")

        reports.append(ingest_file(store, vault, source, path, note, settings.mappings_dir))
    return reports


@dataclass(frozen=True)
class ProvinceLoad:
    """What `load_province` did: each feed's ingestion, the link run, and the evaluation with
    the policy it ran under."""

    ingested: list[FileReport]
    link: LinkReport
    evaluation: Run
    policy: LoadedPolicy
    without_feed: tuple[str, ...] = ()  # departments whose feed was not in the folder


def load_province(
    settings: Settings, feeds: Path, as_of: dt.date, progress: Steps | None = None
) -> ProvinceLoad:
    """Initialise the store, ingest the feed in `feeds` of every department (packaged, or in
    `settings.mappings_dir`; one without a feed there is passed over and named in the result),
    link, and evaluate as of `as_of` under the active policy: a synthetic province made ready to
    serve (`fpcredit demo`; tests and benchmarks start from this). `progress` hears of each step
    and, while the feeds are ingested, how many of them are done."""
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.run import evaluate
    from fpcredit.link.config import load_config
    from fpcredit.link.index import link

    note = progress or _quiet
    note("init", None, None)
    initialise(settings)
    store = open_ready_store(settings)
    try:
        vault = load_vault(settings.keys_dir)
        ingested, without_feed = _ingest_feeds(settings, store, vault, feeds, note)
        linked = link(store, vault, load_config(), progress=lambda what: note(what, None, None))
        note("evaluate", None, None)
        policy = active_policy(store)
        run = evaluate(store, settings.home, policy, as_of)
    finally:
        store.engine.dispose()
    return ProvinceLoad(ingested, linked, run, policy, without_feed)


def _ingest_feeds(
    settings: Settings, store: Store, vault: Vault, feeds: Path, note: Steps
) -> tuple[list[FileReport], tuple[str, ...]]:
    """Each department's feed in `feeds`, in the order of `sources`; and the departments that
    had none there."""
    from fpcredit.collect.mapping import sources

    names = sources(settings.mappings_dir)
    ingested, without_feed = [], []
    for done, source in enumerate(names):
        path = feed_path(feeds, source, settings.mappings_dir)
        if not path.exists():
            without_feed.append(source)
            continue

        def stage(what: str, name: str = path.name, done: int = done) -> None:
            note(f"{name}: {what}", done, len(names))

        ingested.append(ingest_file(store, vault, source, path, stage, settings.mappings_dir))
    return ingested, tuple(without_feed)


def _quiet(step: str, done: int | None, total: int | None) -> None:
    pass


# --- demo accounts (`fpcredit demo`) ---------------------------------------------------------

# Personal names, as the platform wants of every account (accounts.RESERVED_WORDS refuses
# `demo`, `admin`, `staff`…): one per staff role the portal and console are shown with.
DEMO_STAFF: Final = (("county", "wang.fang"), ("province", "li.na"), ("auditor", "zhao.lei"))
DEMO_DEPARTMENT: Final = "health"  # verifies the incentives it provides
DEMO_ACCOUNTS_FILE: Final = Path("demo") / "accounts.json"  # under FPCREDIT_HOME


@dataclass(frozen=True)
class DemoStaff:
    """A staff or administrator account: its one-time password (changed at the first login)
    and TOTP secret as they were handed out."""

    username: str
    role: str
    region: str
    password: str
    totp_secret: str


@dataclass(frozen=True)
class DemoClient:
    """A department system's client credentials."""

    client_id: str
    client_secret: str
    department: str
    purposes: tuple[str, ...]
    incentives: tuple[str, ...]


@dataclass(frozen=True)
class DemoCitizen:
    """A synthetic person who logs in with an ID number and an SMS code (to `phone`, masked
    as the outbox shows its recipients)."""

    kind: str  # best_a | best_below_a | other_county
    person_id: int
    id_number: str
    name: str  # masked
    region: str  # hukou county
    grade: str
    total: float
    phone: str  # masked


@dataclass(frozen=True)
class DemoAccounts:
    """What `seed_demo_accounts` made; `as_json` is what `demo/accounts.json` holds."""

    evaluation_id: int
    staff: tuple[DemoStaff, ...]
    client: DemoClient
    citizens: tuple[DemoCitizen, ...]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (lists, not tuples): what the accounts file holds."""
        plain: dict[str, Any] = json.loads(json.dumps(asdict(self), ensure_ascii=False))
        return plain

    @classmethod
    def from_json(cls, data: str) -> DemoAccounts:
        """The accounts as `as_json` wrote them (the accounts file)."""
        raw = json.loads(data)
        kept = raw["client"]
        lists = {"purposes": tuple(kept["purposes"]), "incentives": tuple(kept["incentives"])}
        return cls(
            int(raw["evaluation_id"]),
            tuple(DemoStaff(**one) for one in raw["staff"]),
            DemoClient(**{**kept, **lists}),
            tuple(DemoCitizen(**one) for one in raw["citizens"]),
        )

    def user(self, role: str) -> DemoStaff:
        """The staff account of `role`."""
        return next(s for s in self.staff if s.role == role)


def seed_demo_accounts(settings: Settings) -> DemoAccounts:
    """Log-ins for a loaded province (`load_province`): a county clerk (the county holding most
    persons), a province analyst, an auditor, the department client of `DEMO_DEPARTMENT`, and
    three citizens of the newest official evaluation with a phone on file — the best graded A,
    the best graded below A, and one more (in another county where there is one). Written to
    `FPCREDIT_HOME/demo/accounts.json` (0600).

    Safe to run again: an existing account is reset (a new one-time password and TOTP secret,
    on the trail like the first), the department's active client is retired and replaced (its
    secret is stored hashed only), so the file always holds working log-ins."""
    from fpcredit.evaluate.run import latest
    from fpcredit.guard.auth.admin import Actor, Administration, appending_to
    from fpcredit.guard.trail.log import Trail

    store = open_ready_store(settings)
    try:
        vault = load_vault(settings.keys_dir)
        admin = Administration(
            store, settings, Actor.operator(), appending_to(Trail(store, settings)), vault=vault
        )
        run = latest(store, settings.home, _newest_official(store))
        county = _largest_county(store)
        staff = tuple(
            _demo_staff(admin, role, name, county if role == "county" else county[:2] + "0000")
            for role, name in DEMO_STAFF
        )
        made = DemoAccounts(
            run.id, staff, _demo_client(admin), _demo_citizens(store, vault, run.path, county)
        )
    finally:
        store.engine.dispose()
    data = json.dumps(made.as_json(), ensure_ascii=False, indent=2).encode()
    write_private(
        private_dir(settings.home / DEMO_ACCOUNTS_FILE.parent) / DEMO_ACCOUNTS_FILE.name, data
    )
    return made


def _newest_official(store: Store) -> dt.date:
    from fpcredit.evaluate.run import EvaluationError

    e = s.evaluations
    query = sa.select(e.c.as_of).where(e.c.kind == "official").order_by(e.c.id.desc()).limit(1)
    with store.engine.connect() as conn:
        as_of = conn.scalar(query)
    if as_of is None:
        raise EvaluationError(text("demo.no_evaluation"))
    return as_of  # type: ignore[no-any-return]


def _largest_county(store: Store) -> str:
    """The hukou county (a county-level code) holding the most live persons."""
    p = s.persons
    query = (
        sa.select(p.c.hukou_region)
        .where(p.c.merged_into.is_(None), p.c.hukou_region.is_not(None))
        .where(sa.func.substr(p.c.hukou_region, 5, 2) != "00")
        .group_by(p.c.hukou_region)
        .order_by(sa.func.count().desc(), p.c.hukou_region)
        .limit(1)
    )
    with store.engine.connect() as conn:
        return str(conn.scalar(query))


def _demo_staff(admin: Administration, role: str, username: str, region: str) -> DemoStaff:
    from fpcredit.errors import AuthError

    try:
        made = admin.add_user(role, region, username)
    except AuthError as e:
        if e.code != "user_exists":
            raise
        made = admin.reset_user(username)
    assert made.password is not None  # generated: nobody chose it
    user = made.user
    return DemoStaff(user.username, user.role.value, user.region, made.password, made.totp_secret)


def _demo_client(admin: Administration) -> DemoClient:
    from fpcredit.evaluate.active import active_policy
    from fpcredit.guard.access import Purpose

    for old in admin.clients():
        if old.source == DEMO_DEPARTMENT and old.disabled_at is None:
            admin.disable_client(old.client_id)
    provided = active_policy(admin.store).policy.incentives
    incentives = tuple(sorted(i.id for i in provided if i.department == DEMO_DEPARTMENT))
    purposes = (Purpose.INCENTIVE_VERIFICATION.value,)
    client_id, secret = admin.add_client(DEMO_DEPARTMENT, purposes, incentives)
    return DemoClient(client_id, secret, DEMO_DEPARTMENT, purposes, incentives)


def _demo_citizens(
    store: Store, vault: Vault, results: Path, county: str
) -> tuple[DemoCitizen, ...]:
    """The best A, the best below A (the province is mostly A), and one more: each graded, with
    a phone, and alone with their ID number among live persons (so a code login finds them);
    the first two from `county` where it has them, the third from another county."""
    import pyarrow.parquet as pq

    rows = pq.read_table(results, columns=["person_id", "total", "grade", "points"]).to_pylist()
    # Among equal totals (most of an A grade is 100.00) the one with the most points: a demo
    # citizen who can redeem some.
    graded = sorted(
        (r for r in rows if r["grade"]),
        key=lambda r: (-r["total"], -(r["points"] or 0), r["person_id"]),
    )
    people = _loginable(store, vault, {int(r["person_id"]) for r in graded})
    best = graded[0]["grade"] if graded else None
    wanted: tuple[tuple[str, Callable[[str], bool], Callable[[str], bool]], ...] = (
        ("best_a", lambda grade: grade == best, lambda home: home == county),
        ("best_below_a", lambda grade: grade != best, lambda home: home == county),
        ("other_county", lambda grade: True, lambda home: home != county),
    )
    chosen: list[DemoCitizen] = []
    for kind, grade_fits, home_fits in wanted:
        taken = {c.person_id for c in chosen}
        pool = [
            r for r in graded
            if r["person_id"] in people and r["person_id"] not in taken and grade_fits(r["grade"])
        ]  # fmt: skip
        here = [r for r in pool if home_fits(people[r["person_id"]][2])]
        row = (here or pool or [None])[0]  # a province of one county: anyone
        if row is not None:
            number, name, home, phone = people[row["person_id"]]
            chosen.append(
                DemoCitizen(kind, int(row["person_id"]), number, name, home, str(row["grade"]),
                            float(row["total"]), phone)
            )  # fmt: skip
    return tuple(chosen)


def _loginable(store: Store, vault: Vault, ids: set[int]) -> dict[int, tuple[str, str, str, str]]:
    """Of `ids`, the live persons a citizen login reaches: person id → (ID number, masked name,
    hukou county, masked phone)."""
    from fpcredit.guard.masking import mask_name
    from fpcredit.notify.channels import phone_of
    from fpcredit.notify.sms import mask_phone

    p = s.persons
    live = sa.and_(p.c.merged_into.is_(None), p.c.mentions > 0)
    twins = sa.select(p.c.id_number_bidx).where(live).group_by(p.c.id_number_bidx)
    alone = twins.having(sa.func.count() == 1)
    query = (
        sa.select(p.c.id, p.c.id_number_enc, p.c.name_enc, p.c.hukou_region)
        .where(live, p.c.id_number_enc.is_not(None), p.c.id_number_bidx.in_(alone))
        .order_by(p.c.id)
    )
    found: dict[int, tuple[str, str, str, str]] = {}
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            if int(row.id) not in ids or not row.hukou_region:
                continue
            phone = phone_of(conn, vault, int(row.id))
            number = vault.decrypt(row.id_number_enc, "id_number")
            if phone and number:
                name = mask_name(vault.decrypt(row.name_enc, "name") or "")
                found[int(row.id)] = (number, name, row.hukou_region, mask_phone(phone))
    return found
