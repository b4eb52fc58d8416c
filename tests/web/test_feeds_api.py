"""A department's feed pushed over HTTP: the command line's report, once per file, own source
only, within its limits, on the trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.collect import ingest
from fpcredit.collect.ingest import first_ingestion, ingest_file, ingest_once
from fpcredit.config import Settings
from fpcredit.guard.access import ROLE_PURPOSES, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.keys.crypto import Vault, load_vault
from fpcredit.guard.trail.log import Trail
from fpcredit.service import initialise, open_ready_store
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from fpcredit.synth import generate
from fpcredit.web.api import feeds as api_feeds
from fpcredit.web.api.feeds import UPLOADS
from fpcredit.web.app import create_app
from tests.collect.feeds import HEALTH_COLUMNS, health_row, write_csv
from tests.web.conftest import NEW_PASSWORD, NO_RATE_LIMITS

AS_OF = dt.date(2026, 6, 30)
# The CLI's JSON keys (`fpcredit ingest --json`), and what a push adds to them.
CLI_KEYS = {"path", "source", "rows", "accepted", "duplicates", "quarantined", "flagged",
            "dropped_fields"}  # fmt: skip
PUSH_KEYS = CLI_KEYS | {"ingestion_id", "file_sha256", "replayed"}
COUNTS = ("rows", "accepted", "duplicates", "quarantined", "flagged", "dropped_fields")
WRITTEN = (s.ingestions, s.records, s.mentions, s.facts, s.quarantine, s.quality_issues)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic province's department files, in their native formats."""
    out = tmp_path_factory.mktemp("feeds")
    generate(people=120, seed=5, out=out, until=AS_OF)
    return out


@dataclass
class Served:
    settings: Settings
    store: Store
    client: TestClient
    tokens: dict[str, str]

    def push(
        self, who: str, source: str, body: Any, *, name: str | None = None, **headers: str
    ) -> Any:
        params = {"name": name} if name is not None else None
        auth = {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}
        return self.client.post(
            f"/v1/feeds/{source}", content=body, params=params, headers={**auth, **headers}
        )

    def counts(self) -> dict[str, int]:
        with self.store.engine.connect() as conn:
            return {
                t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in WRITTEN
            }

    def entries(self, outcome: str | None = None) -> list[sa.Row[Any]]:
        e = s.ledger_entries
        query = sa.select(e).where(e.c.action == "feed_push").order_by(e.c.idx)
        if outcome is not None:
            query = query.where(e.c.outcome == outcome)
        with self.store.engine.connect() as conn:
            return list(conn.execute(query).all())

    def subject(self, subject: str) -> str:
        return Trail(self.store, self.settings).subject_hash(subject)

    def left_behind(self) -> list[Path]:
        folder = self.settings.home / UPLOADS
        return sorted(folder.iterdir()) if folder.exists() else []


def _client_token(client: TestClient, client_id: str, secret: str) -> str:
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _staff_token(client: TestClient, store: Store, settings: Settings) -> str:
    enrolment = accounts.add_user(store, Role.COUNTY, "330106", "feed.clerk", settings=settings)
    body = {
        "grant_type": "password",
        "username": "feed.clerk",
        "password": enrolment.password,
        "new_password": NEW_PASSWORD,
        "totp": totp_code(enrolment.totp_secret, utc_now()),
    }
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _citizen_token(client: TestClient) -> str:
    """A citizen's session, opened as the citizen's login opens it (no province is loaded)."""
    sessions = client.app.state.services.identity.sessions  # type: ignore[attr-defined]
    purposes = ROLE_PURPOSES[Role.CITIZEN]
    with sessions.store.engine.begin() as conn:
        opened = sessions.open(conn, Role.CITIZEN, "1", "330106", purposes, None, utc_now())
    return str(sessions.issue(*opened).token)


@pytest.fixture
def serve(settings: Settings, store: Store) -> Iterator[Callable[..., Served]]:
    """The service on a fresh home (SQLite, and PostgreSQL where it is reachable), with the
    mch and health commissions' clients logged in; keyword arguments change its settings."""
    opened: list[TestClient] = []

    def make(**changes: Any) -> Served:
        chosen = settings.model_copy(update={**NO_RATE_LIMITS, **changes})
        initialise(chosen)
        client = TestClient(create_app(chosen))
        client.__enter__()
        opened.append(client)
        served_store = client.app.state.services.store  # type: ignore[attr-defined]
        tokens = {}
        for source in ("mch", "health"):
            made = clients.add_client(
                served_store, source, ROLE_PURPOSES[Role.DEPARTMENT], settings=chosen
            )
            tokens[source] = _client_token(client, *made)
        return Served(chosen, served_store, client, tokens)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _reference(tmp_path: Path, source: str, path: Path) -> dict[str, Any]:
    """What `fpcredit ingest` reports for the file in another fresh home."""
    settings = Settings(home=tmp_path / "reference")
    initialise(settings)
    store = open_ready_store(settings)
    try:
        report = ingest_file(store, load_vault(settings.keys_dir), source, path)
    finally:
        store.engine.dispose()
    return report.as_json()


@pytest.mark.parametrize("source", ["mch", "health"])
def test_a_push_reports_what_the_command_line_reports(
    serve: Callable[..., Served],
    feeds: Path,
    tmp_path: Path,
    source: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = serve()
    monkeypatch.setattr(api_feeds, "_BLOCK", 1000)  # many blocks written, hashed in turn
    path = next(feeds.glob(f"{source}.*"))  # mch: Parquet; health: GB18030 CSV
    r = served.push(source, source, path.read_bytes(), name=f"/secret/folder/{path.name}")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == PUSH_KEYS
    expected = _reference(tmp_path, source, path)
    assert set(expected) == CLI_KEYS
    assert {k: answer[k] for k in COUNTS} == {k: expected[k] for k in COUNTS}
    assert answer["rows"] == answer["accepted"] + answer["duplicates"] + answer["quarantined"]
    assert answer["accepted"] > 0
    assert answer["source"] == source
    assert answer["path"] == path.name  # the name given, never a folder
    assert answer["replayed"] is False
    with served.store.engine.connect() as conn:
        row = conn.execute(sa.select(s.ingestions)).one()
    assert (row.id, row.path) == (answer["ingestion_id"], path.name)
    assert row.file_sha256 == answer["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert served.counts()["records"] == answer["accepted"]
    # On the trail: the push (who, the ingestion) beside the ingestion's change entries.
    [entry] = served.entries()
    assert entry.outcome == "ok"
    assert entry.actor.startswith(f"department:{source}-")
    assert entry.subject_hash == served.subject(f"ingestion:{answer['ingestion_id']}")
    assert served.left_behind() == []
    folder = served.settings.home / UPLOADS
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_resend_answers_the_first_report_and_changes_nothing(
    serve: Callable[..., Served], feeds: Path
) -> None:
    served = serve()
    body = (feeds / "mch.parquet").read_bytes()
    first = served.push("mch", "mch", body, name="mch-2026-06.parquet")
    assert first.status_code == 200, first.text
    before = served.counts()
    again = served.push("mch", "mch", body, name="renamed.parquet")
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "replayed": True}  # the first name, the first id
    assert served.counts() == before
    assert [e.outcome for e in served.entries()] == ["ok", "replayed"]
    # Without the name: the first ingestion's all the same.
    third = served.push("mch", "mch", body)
    assert third.json() == {**first.json(), "replayed": True}
    assert served.counts() == before


def test_a_file_the_command_line_ingested_is_replayed_without_its_folder(
    serve: Callable[..., Served], feeds: Path
) -> None:
    served = serve()
    path = feeds / "health.csv"
    report = ingest_file(served.store, load_vault(served.settings.keys_dir), "health", path)
    before = served.counts()
    r = served.push("health", "health", path.read_bytes(), name="anything.csv")
    assert r.status_code == 200, r.text
    assert r.json()["replayed"] is True
    assert r.json()["path"] == "health.csv"
    assert str(feeds) not in r.text
    assert {k: r.json()[k] for k in COUNTS} == {k: report.as_json()[k] for k in COUNTS}
    assert served.counts() == before


def test_another_departments_source_is_refused_and_on_the_trail(
    serve: Callable[..., Served], feeds: Path
) -> None:
    served = serve()
    body = (feeds / "health.csv").read_bytes()
    r = served.push("mch", "health", body)
    assert r.status_code == 403
    assert r.json()["detail"] == "本客户端只能推送本部门（mch）的数据文件"
    en = served.push("mch", "health", body, **{"Accept-Language": "en"})
    assert en.status_code == 403
    assert en.json()["detail"] == "this client may push only its own department's feeds (mch)"
    refused = served.entries("refused_source")
    assert len(refused) == 2
    assert refused[0].actor.startswith("department:mch-")
    assert refused[0].subject_hash == served.subject("source:health")
    assert refused[0].address == "testclient"
    assert set(served.counts().values()) == {0}
    assert served.left_behind() == []


def test_an_unknown_source_is_404(serve: Callable[..., Served]) -> None:
    served = serve()
    r = served.push("mch", "nosuch", b"a,b\n1,2\n", **{"Accept-Language": "en"})
    assert r.status_code == 404
    assert r.json()["detail"].startswith("no such department source; the sources are: cdc, ")
    assert "nosuch" not in r.text
    assert [e.outcome for e in served.entries()] == ["unknown_source"]
    assert set(served.counts().values()) == {0}


def test_only_a_department_client_may_push(serve: Callable[..., Served], feeds: Path) -> None:
    served = serve()
    served.tokens["county"] = _staff_token(served.client, served.store, served.settings)
    served.tokens["citizen"] = _citizen_token(served.client)
    body = (feeds / "mch.parquet").read_bytes()
    assert served.push("anonymous", "mch", body).status_code == 401
    bad = served.push("mch", "mch", body, Authorization="Bearer not-a-token")
    assert bad.status_code == 401
    for who in ("county", "citizen"):
        r = served.push(who, "mch", body)
        assert r.status_code == 403, r.text
        assert r.json()["detail"] == f"角色 {who} 无权访问此功能"
    assert set(served.counts().values()) == {0}
    assert served.left_behind() == []


def test_a_body_over_the_limit_is_413_and_nothing_is_written(
    serve: Callable[..., Served], feeds: Path
) -> None:
    served = serve(feed_max_bytes=2048)
    body = (feeds / "mch.parquet").read_bytes()
    assert len(body) > 2048
    declared = served.push("mch", "mch", body)  # Content-Length, refused before a byte is read
    assert declared.status_code == 413
    assert declared.json()["detail"] == "请求体过大（上限 2048 字节）"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    streamed = served.push("mch", "mch", chunks())
    assert streamed.status_code == 413, streamed.text
    lying = served.push("mch", "mch", body, **{"Content-Length": "1000"})
    assert lying.status_code == 413, lying.text
    assert set(served.counts().values()) == {0}
    assert served.entries() == []
    assert served.left_behind() == []


def test_the_global_body_limit_does_not_cut_a_feed(
    serve: Callable[..., Served], feeds: Path
) -> None:
    served = serve(max_body_bytes=1024)
    body = (feeds / "mch.parquet").read_bytes()
    assert len(body) > 1024
    assert served.push("mch", "mch", body).status_code == 200
    other = served.client.post("/v1/auth/token", content=b"x" * 2048)
    assert other.status_code == 413


def test_pushes_over_the_rate_are_429_with_retry_after(
    serve: Callable[..., Served], feeds: Path
) -> None:
    served = serve(feed_pushes_per_minute=2)
    body = (feeds / "mch.parquet").read_bytes()
    statuses = [served.push("mch", "mch", body).status_code for _ in range(2)]
    assert statuses == [200, 200]
    limited = served.push("mch", "mch", body, **{"Accept-Language": "en"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["detail"] == (
        "too many pushes from this client (at most 2 a minute); try again later"
    )
    # Another client's allowance is its own.
    assert served.push("health", "health", (feeds / "health.csv").read_bytes()).status_code == 200


def test_a_file_without_a_required_column_is_422_and_nothing_is_written(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve()
    rows = [health_row(f"33010600000{i}") for i in range(3)]
    for row in rows:
        del row["登记证编号"]
    body = write_csv(tmp_path / "health.csv", rows).read_bytes()
    r = served.push("health", "health", body)
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body"]
    assert problem["msg"] == "文件无法入库，未写入任何数据：缺少必需列“登记证编号”"
    en = served.push("health", "health", body, **{"Accept-Language": "en"})
    assert en.json()["detail"][0]["msg"] == (
        "the file cannot be ingested and nothing of it was stored: "
        "required column '登记证编号' is missing"
    )
    assert set(served.counts().values()) == {0}
    assert [e.outcome for e in served.entries()] == ["rejected", "rejected"]
    assert served.left_behind() == []
    for empty in (b"", b"\xff\xfe\x00garbage"):
        r = served.push("health", "health", empty)
        assert r.status_code == 422, r.text
    garbage = served.push("mch", "mch", b"PAR1 not really a parquet file")
    assert garbage.status_code == 422, garbage.text


def test_broken_rows_are_quarantined_and_counted(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve()
    good = [health_row(f"33010600000{i}", 新生儿姓名=f"张小{n}") for i, n in enumerate("明亮")]
    missing_date = health_row("330106000009", 出生日期="")
    path = write_csv(tmp_path / "health.csv", [*good, missing_date])
    text = path.read_bytes().decode("gb18030")
    # A row with too many fields: unparseable, kept verbatim in the quarantine.
    text += ",".join(["330106000008", *["x"] * len(HEALTH_COLUMNS)]) + "\n"
    path.write_bytes(text.encode("gb18030"))
    r = served.push("health", "health", path.read_bytes(), name="health.csv")
    assert r.status_code == 200, r.text
    answer = r.json()
    expected = _reference(tmp_path, "health", path)
    assert {k: answer[k] for k in COUNTS} == {k: expected[k] for k in COUNTS}
    assert (answer["rows"], answer["accepted"], answer["quarantined"]) == (4, 2, 2)
    assert served.counts()["quarantine"] == 2


def test_two_sends_at_once_write_the_file_once(
    store: Store, vault: Vault, feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sends miss the look before reading; the look after the lock lets one write."""
    looked: set[int] = set()
    both_looked = threading.Barrier(2)

    def first(conn: sa.Connection, source: str, sha256: str) -> ingest.Ingested | None:
        found = first_ingestion(conn, source, sha256)
        if threading.get_ident() not in looked:  # the look before reading: wait for the other
            looked.add(threading.get_ident())
            both_looked.wait(timeout=30)
        return found

    monkeypatch.setattr(ingest, "first_ingestion", first)
    path = feeds / "mch.parquet"
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: ingest_once(store, vault, "mch", path), range(2)))
    assert sorted(d.replayed for d in done) == [False, True]
    assert done[0].ingestion_id == done[1].ingestion_id
    assert done[0].report == done[1].report
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.ingestions)).scalar() == 1
