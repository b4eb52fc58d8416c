"""What the command line's reads show masked, and whom they put on the trail (in process)."""

from __future__ import annotations

import copy
from typing import Any

from fpcredit.config import Settings
from fpcredit.guard.access import Purpose
from fpcredit.guard.auth.operator import OperatorRead, operator_actor
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import Trail
from fpcredit.operator_reads import changes_read
from fpcredit.store.db import Store

REPORT: dict[str, Any] = {
    "as_of": "2026-06-30",
    "changes": [
        {
            "person_id": 41,
            "before": {"total": "80.00", "grade": "B"},
            "after": {"total": "90.00", "grade": "A"},
            "late_facts": [
                {
                    "source": "cdc",
                    "record_key": "V1",
                    "kind": "vaccination",
                    "event_date": "2026-05-17",
                    "recorded_at": "2026-07-02 09:15:00",
                },
            ],
        }
    ],
}


def test_changes_are_masked_by_month_unless_revealed_and_each_person_is_on_the_trail(
    store: Store, settings: Settings, vault: Vault
) -> None:
    trail = Trail(store, settings)
    masked = changes_read(
        OperatorRead(trail, "evaluate_changes", Purpose.SUPERVISION, False),
        copy.deepcopy(REPORT),
    )
    fact = masked["changes"][0]["late_facts"][0]
    assert (fact["event_date"], fact["recorded_at"]) == ("2026-05", "2026-07")
    shown = changes_read(
        OperatorRead(trail, "evaluate_changes", Purpose.SUPERVISION, True), copy.deepcopy(REPORT)
    )
    assert shown == REPORT
    entries = trail.for_subject("41").entries
    assert [(p.entry.actor, p.entry.outcome, p.entry.purpose) for p in entries] == [
        (operator_actor(), "allowed", "supervision"),
        (operator_actor(), "unmasked", "supervision"),
    ]
    assert trail.size() == 4  # and one entry for each command
