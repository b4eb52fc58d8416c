"""Monitoring (R36, the seed's §3.4): the indicators against their targets, the risk alerts, and
the service's cache of the three dashboards.

It joins several rooms — collection (data quality), evaluation (grades), incentives (reach),
citizens' feedback, cases, the trail and notifications — so it is a module of its own.

Indicators, each with `value`, `target` and `meets` (null when there is nothing to count):

- `accuracy`, `completeness`: collect/monitor.py, over all departments.
- `satisfaction`: the share of feedback rated 4 or 5 (of 1–5), target 85 %.
- `reach` (政策触达率): of the persons of the latest official evaluation whose grade admits at
  least one incentive in force on its as-of date (conditions beyond the grade not judged),
  the share a department verified eligible or who redeemed points; target 80 %.

Alerts, each with its value, its threshold (`THRESHOLDS`) and whether it is raised:
open cases past their due date; refused accesses on the trail in the last 24 hours; the
departments whose last ingestion quarantined more than a share of its rows; the age of the
last signed checkpoint while entries wait unsigned; notifications given up (dead).

`Dashboards` keeps each dashboard per input version (the evaluation, the ingestions, the
feedback, verifications and redemptions) so a repeat call is a dictionary lookup; the alerts,
which move with the clock, are kept `ALERTS_TTL_S` seconds.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.collect.monitor import figure, quality_figures, quality_version
from fpcredit.evaluate.dashboard import grade_figures
from fpcredit.evaluate.policy_model import Policy
from fpcredit.messages import Language
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "ALERTS_TTL_S",
    "REACH_TARGET",
    "SATISFACTION_TARGET",
    "SATISFIED",
    "THRESHOLDS",
    "Dashboards",
    "admitted_grades",
    "alerts",
    "indicators",
    "monitoring_version",
]

SATISFACTION_TARGET: Final = 0.85  # 群众满意度 ≥ 85 %
REACH_TARGET: Final = 0.80  # 政策触达率 ≥ 80 %
SATISFIED: Final = 4  # a rating of 4 or 5 (of 1–5) is satisfied
# When a risk alert is raised: above these values.
THRESHOLDS: Final[dict[str, float]] = {
    "overdue_cases": 0,  # any open case past its due date
    "refused_accesses_24h": 20,  # refusals by role, purpose or region in the last 24 hours
    "quarantine_share": 0.05,  # of a department's last ingestion's rows
    "checkpoint_age_s": 600,  # seconds since the last signed checkpoint, entries waiting
    "dead_notifications": 0,  # notifications given up after their retries
}
ALERTS_TTL_S: Final = 10.0
_DAY: Final = dt.timedelta(hours=24)


def monitoring_version(store: Store) -> tuple[int, ...]:
    """The newest feedback, verification and redemption: the indicators beyond data quality
    and the evaluation change only with them."""
    f, v, r = s.feedback, s.verifications, s.points_redemptions
    query = sa.select(*(sa.select(sa.func.max(t.c.id)).scalar_subquery() for t in (f, v, r)))
    with store.engine.connect() as conn:
        row = conn.execute(query).one()
    return tuple(int(x or 0) for x in row)


def _satisfaction(conn: sa.Connection) -> tuple[int, int]:
    f = s.feedback
    query = sa.select(
        sa.func.count(), sa.func.sum(sa.case((f.c.satisfaction >= SATISFIED, 1), else_=0))
    )
    total, satisfied = conn.execute(query).one()
    return int(total or 0), int(satisfied or 0)


def _reached(conn: sa.Connection) -> np.ndarray[Any, np.dtype[np.int64]]:
    v, r = s.verifications, s.points_redemptions
    query = sa.union(
        sa.select(v.c.person_id).where(v.c.eligible.is_(True)), sa.select(r.c.person_id)
    )
    return np.fromiter((int(p) for p in conn.scalars(query)), dtype=np.int64)


def admitted_grades(policy: Policy | None, run: dict[str, Any] | None) -> tuple[str, ...]:
    """The grades that admit at least one incentive in force on the evaluation's as-of date."""
    if run is None or policy is None:
        return ()
    on = run["as_of"]
    return tuple(sorted({g for i in policy.incentives if i.valid_on(on) for g in i.grades}))


def _reach(
    conn: sa.Connection, run: dict[str, Any] | None, home: Path, admitted: tuple[str, ...]
) -> tuple[int, int]:
    """(persons whose grade admits an incentive in force, of them verified or redeeming)."""
    if run is None or not admitted:
        return 0, 0
    table = pq.read_table(home / run["path"], columns=["person_id", "grade"])
    mask = pc.is_in(table.column("grade"), value_set=pa.array(admitted, pa.string()))
    eligible = table.column("person_id").filter(mask).to_numpy().astype(np.int64)
    return len(eligible), int(np.isin(eligible, _reached(conn)).sum())


def indicators(
    store: Store,
    quality: dict[str, Any],
    run: dict[str, Any] | None,
    home: Path,
    admitted: tuple[str, ...],
) -> list[dict[str, Any]]:
    """The four indicators of §3.4, each a `figure` with its counts; `admitted`: the grades
    that admit an incentive (`admitted_grades`)."""
    with store.engine.connect() as conn:
        rated, satisfied = _satisfaction(conn)
        eligible, reached = _reach(conn, run, home, admitted)
    return [
        {"indicator": "accuracy", **quality["accuracy"]},
        {"indicator": "completeness", **quality["completeness"]},
        {
            "indicator": "satisfaction",
            **figure(satisfied / rated if rated else None, SATISFACTION_TARGET),
            "count": satisfied,
            "of": rated,
        },
        {
            "indicator": "reach",
            **figure(reached / eligible if eligible else None, REACH_TARGET),
            "count": reached,
            "of": eligible,
        },
    ]


def _first_since(conn: sa.Connection, since: dt.datetime, size: int) -> int:
    """The first trail entry at or after `since`: entries are appended in time order, so a
    binary search over the dense index (each step a primary-key read) finds it."""
    e = s.ledger_entries
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        at = conn.scalar(sa.select(e.c.at).where(e.c.idx == mid))
        if at is None or at < since:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _alert(name: str, value: float, **more: Any) -> dict[str, Any]:
    threshold = THRESHOLDS[name]
    return {"alert": name, "value": value, "threshold": threshold, "raised": value > threshold,
            **more}  # fmt: skip


def alerts(store: Store, today: dt.date, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The risk alerts now (naive UTC `now`), `today` the service's working day for cases."""
    now = now or utc_now()
    c, e, k, n, i = (s.cases, s.ledger_entries, s.ledger_checkpoints, s.notifications,
                     s.ingestions)  # fmt: skip
    with store.engine.connect() as conn:
        overdue = conn.scalar(
            sa.select(sa.func.count()).where(c.c.state == "open", c.c.due_on < today)
        )
        size = int(conn.scalar(sa.select(sa.func.max(e.c.idx))) or -1) + 1
        start = _first_since(conn, now - _DAY, size)
        refused = conn.scalar(
            sa.select(sa.func.count()).where(e.c.idx >= start, e.c.outcome.like("refused%"))
        )
        signed = conn.execute(
            sa.select(k.c.size, k.c.at).order_by(k.c.size.desc()).limit(1)
        ).first()
        dead = conn.scalar(sa.select(sa.func.count()).where(n.c.state == "dead"))
        last = (
            sa.select(i.c.source, sa.func.max(i.c.id).label("id")).group_by(i.c.source).subquery()
        )
        ingested = conn.execute(
            sa.select(i.c.source, i.c.rows, i.c.quarantined)
            .join(last, last.c.id == i.c.id)
            .order_by(i.c.source)
        ).all()
    shares = {src: (q / rows if rows else 0.0) for src, rows, q in ingested}
    worst = max(shares.values(), default=0.0)
    over = sorted(src for src, share in shares.items() if share > THRESHOLDS["quarantine_share"])
    waiting = size - (int(signed.size) if signed else 0)
    age = (now - signed.at).total_seconds() if signed else None
    aged = age if age is not None else (float("inf") if waiting else 0.0)
    return [
        _alert("overdue_cases", int(overdue or 0)),
        _alert("refused_accesses_24h", int(refused or 0)),
        _alert("quarantine_share", round(worst, 6), sources=over,
               by_source={k: round(v, 6) for k, v in shares.items()}),
        {**_alert("checkpoint_age_s", 0 if age is None else round(age, 1)),
         "raised": waiting > 0 and aged > THRESHOLDS["checkpoint_age_s"],
         "unsigned_entries": waiting},
        _alert("dead_notifications", int(dead or 0)),
    ]  # fmt: skip


class Dashboards:
    """The three dashboards, each kept per input version and language."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[Hashable, Any] = {}
        self._alerts: tuple[float, list[dict[str, Any]]] | None = None

    def _cached(self, key: Hashable, make: Callable[[], Any]) -> Any:
        found = self._kept.get(key)
        if found is not None:
            return found
        value = make()
        with self._lock:
            stale = [k for k in self._kept if isinstance(k, tuple) and k[0] == key[0]]  # type: ignore[index]
            if len(stale) > 4:  # older versions: dropped, not kept for ever
                for old in stale[:-2]:
                    del self._kept[old]
            self._kept[key] = value
        return value

    def grades(self, run: dict[str, Any], lang: Language) -> dict[str, Any]:
        return self._cached(("grades", int(run["id"]), lang), lambda: grade_figures(run, lang))  # type: ignore[no-any-return]

    def quality(
        self,
        store: Store,
        lang: Language,
        mappings_dir: Path | None = None,
        version: tuple[int, ...] | None = None,
    ) -> dict[str, Any]:
        key = ("quality", version or quality_version(store), lang)
        return self._cached(key, lambda: quality_figures(store, lang, mappings_dir))  # type: ignore[no-any-return]

    def monitoring(
        self,
        store: Store,
        run: dict[str, Any] | None,
        home: Path,
        policy: Callable[[], Policy | None],
        today: dt.date,
        lang: Language,
        mappings_dir: Path | None = None,
    ) -> dict[str, Any]:
        version = quality_version(store)
        quality = self.quality(store, lang, mappings_dir, version)
        evaluation = None if run is None else int(run["id"])
        key = ("monitoring", version, monitoring_version(store), evaluation)
        # The policy is read (and parsed) once per evaluation, not once per feedback.
        admitted = self._cached(("admitted", evaluation), lambda: admitted_grades(policy(), run))
        found = self._cached(key, lambda: indicators(store, quality, run, home, admitted))
        now = self._clock()
        kept = self._alerts
        if kept is None or now - kept[0] >= ALERTS_TTL_S:
            kept = self._alerts = (now, alerts(store, today))
        return {"evaluation": evaluation, "indicators": found, "alerts": kept[1],
                "thresholds": dict(THRESHOLDS)}  # fmt: skip
