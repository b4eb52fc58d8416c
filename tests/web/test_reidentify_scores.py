"""The attacker test of scores (R28): no score a reader is shown tells the day of a birth.

Scores are computed from birth dates (ages at the cut date, days from a birth to its
registration); read to the day, a threshold inside a birth month told on which side of its day a
birth fell, leaving 500 ID numbers (docs/keys.md, "Masking"). The score routes are asked as the
births are and again as if every birth had been on the first, then on the last day of its month
(the explanation loads its frame so; the credit route serves an evaluation of the province so):
any difference tells days apart (`Clues.told_apart`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest

from fpcredit.evaluate import explain as explainer
from fpcredit.evaluate.compile import facts as compile_facts
from fpcredit.evaluate.engine import evaluate_wide
from fpcredit.evaluate.frame import Frame
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.policy import load_policy
from fpcredit.evaluate.run import cut_dates, wide
from tests.evaluate.strategies import moved_births, on_day
from tests.web.conftest import Web
from tests.web.test_reidentify import _ask, _families, _parent, _truth, learn

SCORE_ROUTES = [
    ("GET", "/v1/persons/{person_id}/credit"),
    ("GET", "/v1/persons/{person_id}/explanation"),
]
Pick = Callable[[dt.date | None], dt.date | None]
# The explanations are computed in this process: the tests move births under the engine.
pytestmark = pytest.mark.usefixtures("explained_here")


def as_born(day: dt.date | None) -> dt.date | None:
    return day


# Where each birth is put: as it is, and on the first and the last day of its month. A
# threshold inside a month puts its first and last days on either side: comparing those two
# finds any (the slow sweep does only that).
DAYS: dict[str, Pick] = {
    "actual": as_born,
    "first": lambda day: on_day(day, lambda last: 1),
    "last": lambda day: on_day(day, lambda last: last),
}
ENDS = {k: DAYS[k] for k in ("first", "last")}


@dataclass(frozen=True)
class Province:
    """The frames the service's latest official evaluation read, loaded once per sweep."""

    run: dict[str, Any]
    dates: tuple[dt.date, dt.date]  # score date, grade date
    frames: dict[dt.date, Frame]

    @classmethod
    def of(cls, web: Web) -> Province:
        run = web.client.app.state.services.results.run()  # type: ignore[attr-defined]
        assert run is not None
        policy = load_policy()
        dates = cut_dates(policy, run["as_of"])
        attributes = policy.policy.attributes()
        frames = {cut: load_frame(web.store, cut, attributes) for cut in dict.fromkeys(dates)}
        return cls(dict(run), dates, frames)

    def evaluated(self, pick: Pick) -> list[tuple[Frame, pa.Table]]:
        """Each cut's frame with its births moved by `pick`, and the engine's wide table."""
        policy = load_policy().policy
        out = []
        for cut, frame in self.frames.items():
            moved = moved_births(frame, pick)
            out.append((moved, evaluate_wide(policy, moved, cut)))
        return out


class _Evaluated:
    """The service's results (`Services.results`) as the province evaluated with its births
    moved by `pick` gives them: the rows `evaluate` would store, by person."""

    def __init__(self, province: Province, pick: Pick) -> None:
        self._run = province.run
        scored = province.evaluated(pick)
        table = wide(load_policy(), scored[0], scored[-1], province.dates)
        self._rows = {int(r["person_id"]): r for r in table.to_pylist()}

    def due(self) -> bool:
        return False

    def run(self) -> dict[str, Any]:
        return dict(self._run)

    def person(self, person_id: int) -> dict[str, Any] | None:
        return self._rows.get(person_id)


@contextmanager
def births_moved(web: Web, province: Province, pick: Pick) -> Iterator[None]:
    """Every answer while inside as if each birth date had been `pick(it)`: the explanation
    loads its frame so, and the credit route serves an evaluation of the province so."""

    def load(*args: Any, **kw: Any) -> Frame:
        return moved_births(load_frame(*args, **kw), pick)

    services = web.client.app.state.services  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(explainer, "load_frame", load)
        patch.setattr(services, "results", _Evaluated(province, pick))
        yield


@dataclass(frozen=True)
class Told:
    reader: str
    person: int
    days: tuple[str, str]
    where: str

    def __str__(self) -> str:
        return (
            f"{self.reader} · person {self.person} · the scores in {self.where} differ with the"
            f" births on their {self.days[0]} and on their {self.days[1]} days"
        )


def scores_sweep(
    web: Web,
    readers: list[str],
    persons: list[int],
    routes: list[tuple[str, str]],
    days: dict[str, Pick] = DAYS,
    province: Province | None = None,
) -> list[Told]:
    """Every reader asks the score routes about every person with the births put on each of
    `days` in turn; where the scores differ from those with the births on the first of them."""
    kin, everyone, province = _families(web), set(_truth(web)), province or Province.of(web)
    found = []
    for reader in readers:
        (first, pick), *others = days.items()
        with births_moved(web, province, pick):
            shown = learn(_ask(web, reader, persons, routes), kin, everyone)
        for day, pick in others:
            with births_moved(web, province, pick):
                moved = learn(_ask(web, reader, persons, routes), kin, everyone)
            for pid in persons:
                told = shown[pid].told_apart(moved[pid])
                found += [Told(reader, pid, (first, day), w) for w in told]
    return found


def check_scores(told: list[Told]) -> None:
    lines = [str(t) for t in told]
    assert not told, f"{len(lines)} answers tell the day of a birth by their scores:\n" + (
        "\n".join(lines[:40])
    )


def test_the_scores_served_are_the_evaluations(web: Web) -> None:
    """The sweep's stand-in for the service's evaluation serves exactly what the service does."""
    family = sorted({web.inside.id, _parent(web)} & set(_truth(web)))
    served = learn(_ask(web, "province_in", family, SCORE_ROUTES), _families(web), set())
    with births_moved(web, Province.of(web), as_born):
        again = learn(_ask(web, "province_in", family, SCORE_ROUTES), _families(web), set())
    for pid in family:
        assert served[pid].scores and served[pid].scores == again[pid].scores


def test_no_score_tells_the_day_of_a_birth_in_the_family(web: Web) -> None:
    """The fast sweep of scores: the person every route reads, the parent of most children and
    their families, for a masked reader of both score routes."""
    kin = _families(web)
    family = {web.inside.id, _parent(web)}
    family |= {k for p in family for k in kin.get(p, set())}
    persons = sorted(family & set(_truth(web)))
    check_scores(scores_sweep(web, ["province_in"], persons, SCORE_ROUTES))


@pytest.mark.slow
def test_no_score_tells_the_day_of_any_birth(web: Web) -> None:
    """The whole province (the scores are the same for every reader; their dates are masked
    alike, so one reader stands for all)."""
    check_scores(scores_sweep(web, ["national"], sorted(_truth(web)), SCORE_ROUTES, ENDS))


def _day_level(province: Province) -> set[int]:
    """The persons whose evaluation (any value, points or score) changes with their births
    moved to the first or the last day of the month."""
    as_is = province.evaluated(as_born)
    told = set()
    for pick in ENDS.values():
        for (_, before), (_, after) in zip(as_is, province.evaluated(pick), strict=True):
            rows = {r["person_id"]: r for r in after.to_pylist()}
            told |= {r["person_id"] for r in before.to_pylist() if rows.get(r["person_id"]) != r}
    return told


def test_the_attacker_catches_scores_read_from_the_day(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluated from the day of birth (as before issue 21), some persons' scores in this
    province change with the day (here: schedules' due doses, num/den in the explanation);
    the sweep finds every one of them."""
    province = Province.of(web)
    monkeypatch.setattr(compile_facts, "_birth", lambda expr: expr)
    told = _day_level(province) & set(_truth(web))
    assert told
    found = scores_sweep(web, ["province_in"], sorted(told), SCORE_ROUTES, province=province)
    assert {t.person for t in found} == told
    with pytest.raises(AssertionError, match="tell the day of a birth by their scores"):
        check_scores(found)
    monkeypatch.undo()
    assert not _day_level(province)
