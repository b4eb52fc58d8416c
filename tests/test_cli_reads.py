"""The command line's reads of personal data, as real `fpcredit` processes: a purpose is
required, every person read is on the trail as the OS user, output is masked unless revealed."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import fpcredit
from fpcredit.config import Settings
from fpcredit.guard.auth.operator import operator_actor
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.guard.trail.log import Trail
from fpcredit.notify.sms import list_outbox
from fpcredit.service import load_province
from fpcredit.store import schema as s
from fpcredit.store.db import open_store
from fpcredit.synth import generate
from fpcredit.web.app import create_app
from tests.leaks import leaks

pytestmark = pytest.mark.slow  # a province and some forty `fpcredit` processes

AS_OF = dt.date(2026, 6, 30)
SRC = str(Path(fpcredit.__file__).resolve().parents[1])  # this checkout's code, in children too
# Every reading command, with the arguments it needs besides --purpose, and a purpose it allows.
READS: dict[str, tuple[list[str], str]] = {
    "explain": (["explain", "{person}", "--as-of", AS_OF.isoformat()], "credit_evaluation"),
    "review list": (["review", "list"], "record_linkage"),
    "review show": (["review", "show", "1"], "record_linkage"),
    "match": (["match", "{list}", "--map", "{map}"], "incentive_verification"),
    "export scores": (
        ["export", "scores", "--as-of", AS_OF.isoformat(), "--out", "{home}/s.csv"],
        "supervision",
    ),
    "export links": (["export", "links", "--out", "{home}/l.csv"], "record_linkage"),
    "outbox list": (["outbox", "list"], "service_delivery"),
    "quality list": (["quality", "list"], "data_quality"),
    "evaluate changes": (
        ["evaluate", "--as-of", AS_OF.isoformat(), "--changes-since-last"],
        "supervision",
    ),
    "subsidy roll": (
        [
            "subsidy",
            "roll",
            "--period",
            AS_OF.isoformat(),
            "--incentive",
            "free_reproductive_check",
            "--budget",
            "1000",
            "--out",
            "{home}/roll.csv",
        ],
        "service_delivery",
    ),
}


@dataclass
class Province:
    settings: Settings
    feeds: Path
    person: int  # evaluated, with an ID number and a phone: logs in as a citizen
    id_number: str
    names: set[str]

    def run(self, *args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
        env = {"FPCREDIT_HOME": str(self.settings.home), "PATH": "/usr/bin:/bin",
               "FPCREDIT_LANGUAGE": lang, "PYTHONPATH": SRC}  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "fpcredit", *args],
            capture_output=True, text=True, env=env, check=False, timeout=300,
        )  # fmt: skip

    def args(self, template: list[str]) -> list[str]:
        values = {
            "person": str(self.person),
            "home": str(self.settings.home),
            "list": str(self.feeds / "list.csv"),
            "map": str(self.feeds / "list.yaml"),
        }
        return [a.format(**values) for a in template]

    def entries(self, action: str) -> list[tuple[str, str, str | None, str | None]]:
        store = open_store(self.settings)
        e = s.ledger_entries
        try:
            with store.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(e.c.actor, e.c.outcome, e.c.purpose, e.c.subject_hash)
                    .where(e.c.action == action)
                    .order_by(e.c.idx)
                ).all()
        finally:
            store.engine.dispose()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _citizen(settings: Settings) -> tuple[int, str]:
    """An evaluated person with an ID number and a phone on file."""
    store, vault = open_store(settings), load_vault(settings.keys_dir)
    run = sorted((settings.home / "evaluations").glob("*.parquet"))[-1]
    evaluated = set(pq.read_table(run, columns=["person_id"]).column("person_id").to_pylist())
    p, m, lk = s.persons, s.mentions, s.links
    query = (
        sa.select(p.c.id, p.c.id_number_enc)
        .where(p.c.merged_into.is_(None), p.c.id_number_enc.is_not(None))
        .where(
            sa.exists().where(
                lk.c.person_id == p.c.id, lk.c.mention_id == m.c.id, m.c.phone_enc.is_not(None)
            )
        )
        .order_by(p.c.id)
    )
    try:
        with store.engine.connect() as conn:
            row = next(r for r in conn.execute(query) if r.id in evaluated)
    finally:
        store.engine.dispose()
    return int(row.id), vault.decrypt(row.id_number_enc, "id_number") or ""


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Province:
    tmp = tmp_path_factory.mktemp("cli-reads")
    feeds = tmp / "feeds"
    generate(people=300, seed=23, out=feeds, until=AS_OF)
    settings = Settings(home=tmp / "home", rate_limit_per_s=0, rate_limit_code_per_min=0,
                        rate_limit_login_per_min=0, rate_limit_subject_per_s=0)  # fmt: skip
    load_province(settings, feeds, AS_OF)
    with (feeds / "truth" / "persons.csv").open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    with (feeds / "list.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["name", "sex", "birth_date", "id_number"])
        writer.writeheader()
        for row in truth[:5]:
            writer.writerow({k: row[k] for k in ("name", "sex", "birth_date", "id_number")})
    (feeds / "list.yaml").write_text(
        "columns: {name: name, sex: sex, birth_date: birth_date, id_number: id_number}\n"
    )
    person, number = _citizen(settings)
    names = {r["name"] for r in truth if len(r["name"]) >= 2}
    return Province(settings, feeds, person, number, names)


@pytest.fixture
def citizen(province: Province) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The service on the same store, and the citizen logged in (which is on the trail)."""
    app = create_app(province.settings)
    with TestClient(app) as client:
        client.post("/v1/auth/citizen-code", json={"id_number": province.id_number})
        app.state.services.identity.codes.drain()
        vault = load_vault(province.settings.keys_dir)
        text = list_outbox(app.state.services.store, vault)[-1]["text"]
        code = re.search(r"\d{6}", text)
        assert code is not None
        body = {"grant_type": "citizen_code", "id_number": province.id_number,
                "code": code.group()}  # fmt: skip
        token = client.post("/v1/auth/token", json=body).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("command", list(READS))
def test_a_read_without_a_purpose_is_refused_in_one_line(province: Province, command: str) -> None:
    template, _purpose = READS[command]
    before = len(province.entries(command.replace(" ", "_")))
    done = province.run(*province.args(template), lang="zh")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "--purpose" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    refused = province.entries(command.replace(" ", "_"))[before:]
    assert refused == [(operator_actor(), "refused_purpose", None, None)]


def test_commercial_and_other_commands_purposes_are_refused(province: Province) -> None:
    explain = province.args(READS["explain"][0])
    for purpose, says in (("insurance", "not in the purpose vocabulary"),
                          ("self_service", "may not read personal data"),
                          ("record_linkage", "may not read personal data")):  # fmt: skip
        done = province.run(*explain, "--purpose", purpose)
        assert done.returncode == 1 and says in done.stderr, done.stderr
        assert done.stderr.strip().count("\n") == 0


def test_a_citizen_finds_the_cli_read_and_their_login_in_their_access_log(
    province: Province, citizen: tuple[TestClient, dict[str, str]]
) -> None:
    client, headers = citizen
    template, purpose = READS["explain"]
    done = province.run(*province.args(template), "--purpose", purpose, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["person_id"] == province.person and report["date_precision"] == "month"
    log = client.get("/v1/me/access-log", params={"limit": 500}, headers=headers).json()
    seen = {(e["actor"], e["action"], e["outcome"], e["purpose"]) for e in log["entries"]}
    assert (operator_actor(), "explain", "allowed", purpose) in seen
    assert (f"citizen:{province.person}", "login", "ok", None) in seen
    # The outbox held the citizen's code: reading it is on their log too, the code hidden.
    listed = province.run("outbox", "list", "--purpose", "service_delivery", "--json")
    assert listed.returncode == 0, listed.stderr
    messages = json.loads(listed.stdout)
    assert messages and all(not re.search(r"\d{6}", m["text"]) for m in messages)
    log = client.get("/v1/me/access-log", headers=headers).json()
    assert "outbox_list" in {e["action"] for e in log["entries"]}


def _with_dates(province: Province) -> int:
    """An evaluated person whose explanation holds dates about them."""
    from fpcredit.evaluate.explain import explain
    from fpcredit.evaluate.policy import load_policy

    store = open_store(province.settings)
    run = sorted((province.settings.home / "evaluations").glob("*.parquet"))[-1]
    try:
        for pid in pq.read_table(run, columns=["person_id"]).column("person_id").to_pylist():
            if "_date" in json.dumps(explain(store, load_policy(), pid, AS_OF)["indicators"]):
                return int(pid)
    finally:
        store.engine.dispose()
    raise AssertionError("no explanation with dates in the province")


def test_explain_reveals_dates_only_when_asked_and_logged(province: Province) -> None:
    person, purpose = str(_with_dates(province)), READS["explain"][1]
    command = ["explain", person, "--as-of", AS_OF.isoformat(), "--purpose", purpose, "--json"]
    masked, shown = province.run(*command), province.run(*command, "--reveal")
    assert masked.returncode == shown.returncode == 0, shown.stderr
    hidden = json.dumps(json.loads(masked.stdout)["indicators"])
    clear = json.dumps(json.loads(shown.stdout)["indicators"])
    assert not re.search(r'_date": "\d{4}-\d\d-\d\d"', hidden) and "_month" in hidden
    assert re.search(r'_date": "\d{4}-\d\d-\d\d"', clear)
    outcomes = [o for _a, o, _p, _s in province.entries("explain")]
    assert outcomes[-4:] == ["allowed", "allowed", "unmasked", "unmasked"]  # command, person


def test_review_show_masks_names_unless_revealed(province: Province) -> None:
    masked = province.run("review", "show", "1", "--purpose", "record_linkage", "--json")
    assert masked.returncode == 0, masked.stderr
    fields = {f["field"]: f for f in json.loads(masked.stdout)["fields"]}
    assert "*" in (fields["name"]["person"] or "*")
    assert not leaks(masked.stdout, names=province.names)
    birth = fields["birth_date"]["person"]
    assert birth is None or re.fullmatch(r"\d{4}", birth)
    shown = province.run("review", "show", "1", "--purpose", "record_linkage", "--reveal")
    assert shown.returncode == 0 and leaks(shown.stdout, names=province.names), shown.stdout
    assert [o for _a, o, _p, _s in province.entries("review_show")][-1] == "unmasked"


def test_bulk_exports_put_every_person_on_the_trail(province: Province) -> None:
    template, purpose = READS["export scores"]
    done = province.run(*province.args(template), "--purpose", purpose)
    assert done.returncode == 0, done.stderr
    run = sorted((province.settings.home / "evaluations").glob("*.parquet"))[-1]
    persons = pq.read_metadata(run).num_rows
    entries = province.entries("export_scores")
    assert len([e for e in entries if e[3] is not None]) >= persons
    assert {(a, p) for a, _o, p, _s in entries[-persons:]} == {(operator_actor(), purpose)}
    trail = Trail(open_store(province.settings), province.settings)
    assert trail.for_subject(str(province.person)).entries[-1].entry.action == "export_scores"
    trail.store.engine.dispose()


@pytest.mark.parametrize(
    "command",
    ["review list", "match", "export links", "quality list", "evaluate changes", "subsidy roll"],
)
def test_each_read_keeps_its_output_and_names_its_purpose(province: Province, command: str) -> None:
    template, purpose = READS[command]
    json_flag = [] if command.startswith("export") else ["--json"]
    done = province.run(*province.args(template), "--purpose", purpose, *json_flag)
    assert done.returncode == 0, done.stderr
    assert not leaks(done.stdout, names=province.names), done.stdout[:500]
    if command == "match":
        body = json.loads(done.stdout)
        assert set(body) == {"rows", "matched", "results"} and body["rows"] == 5
        matched = body["matched"]
    elif command == "review list":
        assert set(json.loads(done.stdout)) == {"reviews"}
    elif command == "evaluate changes":
        assert {"previous", "evaluation", "changes"} <= set(json.loads(done.stdout))
    action = command.replace(" ", "_")
    entries = province.entries(action)
    assert entries[-1][:3] != (operator_actor(), "refused_purpose", None)
    assert all(p == purpose for _a, o, p, _s in entries if o == "allowed")
    if command == "match":
        assert len([e for e in entries if e[3] is not None]) == matched


def test_the_os_user_is_a_trail_code() -> None:
    from fpcredit.guard.auth.operator import sanitise

    assert sanitise("li ming") == "li_ming" and sanitise("") == "-"
    assert sanitise("13812345678") == "1381234567_8"
    assert sanitise("域\\admin") == "__admin"
    assert operator_actor().startswith("os:") and os.getuid() >= 0
