"""First requests: health, a staff read, a citizen's own credit."""

from __future__ import annotations

from tests.web.conftest import Web


def test_health_and_metrics(web: Web) -> None:
    assert web.client.get("/healthz").json()["status"] == "ok"
    assert "fpcredit_http_requests" in web.client.get("/metrics").text


def test_county_clerk_reads_a_masked_file(web: Web) -> None:
    r = web.client.get(
        f"/v1/persons/{web.inside.id}",
        params={"purpose": "service_delivery"},
        headers=web.auth("county_in"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["masked"] is True
    assert body["id_number"] != web.inside.id_number
    assert body["id_number"][:6] == web.inside.id_number[:6]


def test_citizen_sees_own_credit_and_access_log(web: Web) -> None:
    # A clerk's read of this person, here rather than in another test: under xdist that test may
    # run later, or in another process with a store of its own.
    read = web.client.get(
        f"/v1/persons/{web.inside.id}",
        params={"purpose": "service_delivery"},
        headers=web.auth("county_in"),
    )
    assert read.status_code == 200, read.text
    r = web.client.get("/v1/me/credit", headers=web.auth("citizen"))
    assert r.status_code == 200, r.text
    assert r.json()["person_id"] == web.inside.id
    log = web.client.get("/v1/me/access-log", headers=web.auth("citizen"))
    assert log.status_code == 200, log.text
    assert any(e["action"] == "person_read" for e in log.json()["entries"])


def test_the_access_log_proofs_verify_against_the_signed_checkpoint(web: Web) -> None:
    from fpcredit.guard.trail import tlog
    from fpcredit.guard.trail.log import Trail

    web.client.get(
        f"/v1/persons/{web.inside.id}/credit",
        params={"purpose": "credit_evaluation"},
        headers=web.auth("county_in"),
    )
    log = web.client.get("/v1/me/access-log", headers=web.auth("citizen")).json()
    key = Trail(web.store, web.settings).verifier_key()
    body = tlog.open_note(log["checkpoint"], [tlog.NoteVerifier.from_key_string(key)])
    head = tlog.Checkpoint.parse(body)
    assert head.size == log["tree_size"] and head.root.hex() == log["root_hash"]
    reads = [e for e in log["entries"] if e["action"] == "credit_read"]
    assert reads and reads[0]["actor"] == "county:county_in"
    for e in log["entries"]:
        proof = [bytes.fromhex(h) for h in e["inclusion_proof"]]
        assert tlog.verify_inclusion(
            e["index"], head.size, bytes.fromhex(e["leaf_hash"]), proof, head.root
        )
