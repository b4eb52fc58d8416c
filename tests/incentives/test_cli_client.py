"""`fpcredit users client` registers a consuming department with the incentives it verifies."""

from __future__ import annotations

import json
from pathlib import Path

from fpcredit.config import Settings
from fpcredit.guard.auth import clients
from fpcredit.service import initialise
from fpcredit.store.db import open_store
from tests.test_cli_admin import _run


def test_a_consuming_department_is_registered_at_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    initialise(Settings(home=home))
    made = _run(
        home, "users", "client", "education", "--purpose", "incentive_verification",
        "--incentive", "school_enrolment_priority", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert answer["incentives"] == ["school_enrolment_priority"]
    store = open_store(Settings(home=home))
    try:
        assert clients.client_incentives(store, answer["client_id"]) == {
            "school_enrolment_priority"
        }
    finally:
        store.engine.dispose()
    wrong = _run(
        home, "users", "client", "housing", "--purpose", "incentive_verification",
        "--incentive", "school_enrolment_priority",
    )  # fmt: skip
    assert wrong.returncode != 0
    assert "school_enrolment_priority" in wrong.stderr + wrong.stdout
    nobody = _run(home, "users", "client", "bakery", "--purpose", "incentive_verification")
    assert nobody.returncode != 0
