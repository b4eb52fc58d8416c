"""Explanations are computed in worker processes: the same report, in the caller's language, and
a killed worker is replaced without the caller seeing it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from fpcredit.config import Settings
from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.explain import explain
from fpcredit.guard.masking import Dates
from fpcredit.messages import using_language
from fpcredit.web.api.views import ExplanationView
from fpcredit.web.explainer import Explainer, ExplainerDownError
from tests.web.conftest import AS_OF, Web

_PARAMS = {"purpose": "credit_evaluation", "as_of": AS_OF.isoformat()}


def _explainer(web: Web) -> Explainer:
    services = web.client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(services.explainer, Explainer)
    return services.explainer


def _ask(web: Web, language: str = "zh") -> dict[str, object]:
    answer = web.client.get(
        f"/v1/persons/{web.inside.id}/explanation",
        params=_PARAMS,
        headers={**web.auth("national"), "Accept-Language": language},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _here(web: Web, language: str) -> dict[str, object]:
    """The same explanation computed in the test's own process."""
    with using_language(language):  # type: ignore[arg-type]
        report = explain(
            web.store, active_policy(web.store), web.inside.id, AS_OF, Dates(exact=False)
        )
    return ExplanationView.model_validate(report).model_dump(mode="json")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_worker_explains_as_the_engine_does_in_the_callers_language(
    web: Web, language: str
) -> None:
    served = _ask(web, language)
    assert served == _here(web, language)
    workers = _explainer(web).workers()
    assert workers and os.getpid() not in workers  # not computed in the server's process


def test_the_two_languages_differ_so_the_check_above_can_fail(web: Web) -> None:
    assert _here(web, "zh") != _here(web, "en")


def test_a_killed_worker_is_replaced_and_the_caller_is_answered(web: Web) -> None:
    before = _ask(web)
    [worker] = _explainer(web).workers()
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)
    assert _ask(web) == before  # the dead worker's pool is discarded and the question asked again
    [replacement] = _explainer(web).workers()
    assert replacement != worker


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_close_stops_the_workers_and_the_next_explanation_starts_them_again(web: Web) -> None:
    """The app's lifespan may end and begin again around one app (Schemathesis does so)."""
    explainer = Explainer(web.settings)
    try:
        first = explainer.explain(web.inside.id, AS_OF, Dates(exact=False))
        assert first["person_id"] == web.inside.id
        [worker] = explainer.workers()
        explainer.close()
        assert not _alive(worker) and explainer.workers() == []
        assert explainer.explain(web.inside.id, AS_OF, Dates(exact=False)) == first
        assert explainer.workers() not in ([], [worker])
    finally:
        explainer.close()


def test_workers_that_cannot_open_the_store_refuse_with_a_sentence(
    web: Web, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Settings(home=tmp_path / "home", database_url="nonsense+nodriver://host/db")
    explainer = Explainer(broken)
    try:
        for _ in range(2):  # the worker stays up and says so again
            with pytest.raises(ExplainerDownError, match="稍后再试"):
                explainer.explain(web.inside.id, AS_OF, Dates(exact=False))
        assert len(explainer.workers()) == 1
    finally:
        explainer.close()
    assert "FPCREDIT_DATABASE_URL" in caplog.text  # the operator's log names the cause
