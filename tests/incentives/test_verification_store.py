"""Department verification against the store, on SQLite and PostgreSQL: tokens, rows, trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.evaluate.policy import load_policy
from fpcredit.guard.access import Purpose
from fpcredit.guard.auth import clients
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.covered import vouched
from fpcredit.incentives.catalogue import departments
from fpcredit.incentives.pseudonyms import Pseudonyms
from fpcredit.incentives.verification import (
    VALID_FOR,
    BatchRow,
    Department,
    VerificationError,
    Verifier,
)
from fpcredit.standard import idcard
from fpcredit.store import schema as s
from fpcredit.store.db import Store

NOW = dt.datetime(2026, 9, 1, 10, 0)
PURPOSE = Purpose.INCENTIVE_VERIFICATION.value


def _number(serial: int) -> str:
    body = f"110105198{serial % 10}0101{serial:03d}"
    return body + idcard.check_digit(body)


NUMBERS = {1: _number(1), 2: _number(2), 3: _number(3)}
GRADES: dict[int, dict[str, Any]] = {1: {"grade": "A"}, 2: {"grade": "C"}}  # 3: not evaluated


@pytest.fixture
def verifier(store: Store, vault: Vault, settings: Settings) -> Verifier:
    with store.engine.begin() as conn:
        for pid, number in NUMBERS.items():
            conn.execute(
                s.persons.insert().values(
                    id=pid,
                    created_at=NOW,
                    mentions=1,
                    id_number_bidx=vault.blind_index(number, "id_number"),
                )
            )
    policy = load_policy()
    return Verifier(
        store, vault, Pseudonyms(settings.keys_dir), GRADES.get, lambda: policy, lambda: NOW
    )


def _dept(name: str, *incentives: str) -> Department:
    return Department(
        f"{name}-0001", name, frozenset(incentives), frozenset({Purpose.INCENTIVE_VERIFICATION})
    )


HEALTH = _dept("health", "maternity_green_channel", "family_doctor_priority")
EDUCATION = _dept("education", "school_enrolment_priority")


def test_an_answer_is_eligible_or_not_and_expires(verifier: Verifier, store: Store) -> None:
    yes = verifier.verify(HEALTH, "maternity_green_channel", PURPOSE, id_number=NUMBERS[1])
    no = verifier.verify(HEALTH, "maternity_green_channel", PURPOSE, id_number=NUMBERS[2])
    ungraded = verifier.verify(HEALTH, "family_doctor_priority", PURPOSE, id_number=NUMBERS[3])
    assert (yes.eligible, no.eligible, ungraded.eligible) == (True, False, False)
    assert yes.expires_at == NOW + VALID_FOR
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.verifications).order_by(s.verifications.c.id)).all()
    assert [(r.person_id, r.eligible, r.client_id) for r in rows] == [
        (1, True, "health-0001"),
        (2, False, "health-0001"),
        (3, False, "health-0001"),
    ]
    assert rows[0].verification_id == yes.verification_id


def test_tokens_are_stable_in_a_department_and_unlinkable_across(verifier: Verifier) -> None:
    first = verifier.verify(HEALTH, "maternity_green_channel", PURPOSE, id_number=NUMBERS[1])
    again = verifier.verify(HEALTH, "family_doctor_priority", PURPOSE, id_number=NUMBERS[1])
    school = verifier.verify(EDUCATION, "school_enrolment_priority", PURPOSE, id_number=NUMBERS[1])
    assert first.person_token == again.person_token
    assert school.person_token != first.person_token
    back = verifier.verify(
        HEALTH, "maternity_green_channel", PURPOSE, person_token=first.person_token
    )
    assert back.person_id == 1 and back.eligible
    with pytest.raises(VerificationError) as refused:
        verifier.verify(
            EDUCATION, "school_enrolment_priority", PURPOSE, person_token=first.person_token
        )
    assert refused.value.status == 404


@pytest.mark.parametrize(
    ("dept", "incentive", "purpose", "number", "status"),
    [
        (HEALTH, "no_such_incentive", PURPOSE, NUMBERS[1], 422),
        (HEALTH, "school_enrolment_priority", PURPOSE, NUMBERS[1], 403),  # not registered
        (HEALTH, "maternity_green_channel", "service_delivery", NUMBERS[1], 403),
        (HEALTH, "maternity_green_channel", PURPOSE, "110105198001011234", 422),  # bad check
        (HEALTH, "maternity_green_channel", PURPOSE, _number(9), 404),  # nobody
    ],
)
def test_bad_requests_are_refused(
    verifier: Verifier, dept: Department, incentive: str, purpose: str, number: str, status: int
) -> None:
    with pytest.raises(VerificationError) as refused:
        verifier.verify(dept, incentive, purpose, id_number=number)
    assert refused.value.status == status
    assert str(refused.value)


def test_a_batch_answers_every_row_in_order(verifier: Verifier) -> None:
    token = verifier.verify(HEALTH, "maternity_green_channel", PURPOSE, id_number=NUMBERS[2])
    rows = [
        BatchRow(id_number=NUMBERS[1]),
        BatchRow(id_number="not a number"),
        BatchRow(person_token=token.person_token),
        BatchRow(),
        BatchRow(id_number=_number(9)),
        BatchRow(person_token="pt_" + "0" * 32),
        BatchRow(id_number=NUMBERS[1]),
    ]
    answers = verifier.verify_batch(HEALTH, "maternity_green_channel", PURPOSE, rows)
    assert [a.row for a in answers] == list(range(len(rows)))
    ok = {a.row: a.answer.eligible for a in answers if a.answer is not None}
    assert ok == {0: True, 2: False, 6: True}
    assert all(a.error for a in answers if a.answer is None)
    assert answers[0].answer is not None and answers[6].answer is not None
    assert answers[0].answer.person_token == answers[6].answer.person_token


def test_an_edited_answer_is_caught_by_the_trail(verifier: Verifier, store: Store) -> None:
    verifier.verify_batch(
        HEALTH,
        "maternity_green_channel",
        PURPOSE,
        [BatchRow(id_number=n) for n in NUMBERS.values()],
    )
    with store.engine.begin() as conn:
        assert all(vouched(conn, "verifications", i) for i in (1, 2, 3))
        conn.execute(
            s.verifications.update().where(s.verifications.c.id == 2).values(eligible=True)
        )
    with store.engine.connect() as conn:
        assert not vouched(conn, "verifications", 2)


def test_a_consuming_department_is_registered_with_its_incentives(
    store: Store, settings: Settings, vault: Vault
) -> None:
    catalogue = departments(load_policy())
    with pytest.raises(AuthError):  # not a source, and no catalogue naming it
        clients.add_client(store, "education", [PURPOSE], settings=settings)
    with pytest.raises(AuthError):  # an incentive education does not provide
        clients.add_client(
            store,
            "education",
            [PURPOSE],
            incentives=["maternity_green_channel"],
            catalogue=catalogue,
            settings=settings,
        )
    client_id, _ = clients.add_client(
        store,
        "education",
        [PURPOSE],
        incentives=["school_enrolment_priority"],
        catalogue=catalogue,
        settings=settings,
    )
    assert clients.client_incentives(store, client_id) == {"school_enrolment_priority"}
    with store.engine.connect() as conn:
        assert vouched(conn, "client_incentives", 1)
