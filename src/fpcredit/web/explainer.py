"""Explanations in worker processes, off the service's interpreter lock.

An explanation runs the policy on DuckDB up to three times, about twenty statements each; in
the server's own process that holds the interpreter lock for much of half a second, and the
event loop that answers the credit lookups waits behind it (benchmarks/soak.py). Here each
explanation runs in a worker process (`FPCREDIT_EXPLAIN_WORKERS`, default 1: on two cores
the other one stays the server's) that opened the store itself and only reads it. Workers are
forked from a fork server that imported the engine once, so a replacement starts quickly; a
worker that dies (killed, out of memory) is replaced and the explanation asked again once.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import FpcreditError, StoreError
from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.cuts import FutureDateError
from fpcredit.evaluate.explain import ExplainError, MonthNotOverError, explain
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.province import Province
from fpcredit.guard.masking import Dates, today
from fpcredit.messages import Language, language, text, using_language
from fpcredit.store.db import Store, open_store
from fpcredit.store.schema import persons as persons_table

__all__ = ["Explainer", "ExplainerDownError"]
log = logging.getLogger(__name__)

_ATTEMPTS: Final = 2  # the first worker died: once more on a fresh one, then refuse


class ExplainerDownError(FpcreditError):
    """No worker could explain: each one asked died, or none can read the store."""


class _WorkerError(RuntimeError):
    """An unexpected error in a worker, by its type's name only (its text may name data)."""


# The worker's settings, and its own store once opened (at its first explanation).
_settings: Settings | None = None
_store: Store | None = None

# The provinces this worker evaluated once per cut and policy (evaluate/province.py), and the
# ones a background thread is evaluating now. An explanation of a cut not evaluated yet starts
# that and runs the engine on its family meanwhile; a province whose families were found
# changed more than `_STALE` times is evaluated again (the old one serves until then).
_provinces: dict[tuple[dt.date, str], Province] = {}
_building: set[tuple[dt.date, str]] = set()
_guard = threading.Lock()
_KEPT: Final = 4  # the cuts of two evaluation dates (score and grade)
_STALE: Final = 200


def _start_worker(settings: Settings) -> None:
    global _settings
    # Ctrl-C reaches the whole process group; the server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _settings = settings


def _explain(person_id: int, as_of: dt.date, dates: Dates, lang: Language) -> tuple[str, Any]:
    """In a worker: ("ok", report), or the refusal's kind and message. Exceptions are answered
    as values: one the parent could not unpickle would break the whole pool."""
    global _store
    assert _settings is not None
    with using_language(lang):
        try:
            _store = _store or open_store(_settings)
            policy = active_policy(_store)
            return "ok", explain(_store, policy, person_id, as_of, dates, _province)
        except (MonthNotOverError, FutureDateError) as e:
            return "bad_date", str(e)  # the caller answers 422 on `as_of`
        except ExplainError as e:
            return "unknown", str(e)
        except StoreError as e:  # the store cannot be opened or read: said once per request
            return "down", str(e)
        except Exception as e:
            log.exception("explanation failed in worker")
            return "fault", type(e).__name__


def _province(cut: dt.date, policy: LoadedPolicy) -> Province | None:
    """The province evaluated at `cut` under `policy`, if this worker has it; else None, and
    a thread starts evaluating it (once)."""
    key = (cut, policy.sha256)
    with _guard:
        found = _provinces.get(key)
        if (found is not None and found.misses <= _STALE) or key in _building:
            return found
        _building.add(key)
    threading.Thread(target=_evaluate, args=(key, policy), name="province", daemon=True).start()
    return found


def _evaluate(key: tuple[dt.date, str], policy: LoadedPolicy) -> None:
    """Evaluate the province at the cut of `key` (in a thread of the worker). A province larger
    than `explain_province_max` is not: its key stays marked as building, so it is not asked
    again, and every family is evaluated alone."""
    assert _store is not None and _settings is not None
    p = persons_table
    live = sa.select(sa.func.count()).where(p.c.merged_into.is_(None), p.c.mentions > 0)
    province: Province | None = None
    try:
        with _store.engine.connect() as conn:
            size = int(conn.scalar(live) or 0)
        if size > _settings.explain_province_max:
            log.info("province of %d persons: explanations evaluate each family alone", size)
            return
        province = Province.evaluate(_store, policy, key[0])
    except Exception:  # the explanations go on without it, each on its own family
        log.exception("evaluating the province for explanations failed")
    with _guard:
        _building.discard(key)
        if province is not None:
            _provinces.pop(key, None)
            _provinces[key] = province
            while len(_provinces) > _KEPT:
                del _provinces[next(iter(_provinces))]


def _context() -> multiprocessing.context.BaseContext:
    """The fork server's context, preloading this module (the engine, the policy compiler)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])  # read when the fork server starts; idempotent
    return ctx


class Explainer:
    """The service's explanation workers, started at the first explanation and again after
    `close` (the app's lifespan may end and start again around one app)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._settings.explain_workers,
                    mp_context=_context(),
                    initializer=_start_worker,
                    initargs=(self._settings,),
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def explain(self, person_id: int, as_of: dt.date, dates: Dates) -> dict[str, Any]:
        """`explain` of `person_id` as of `as_of`, in a worker; blocks the calling thread (a
        route's, in the thread pool), not the event loop. Raises what `explain` raises,
        ExplainerDownError when workers die, and RuntimeError (the error's type name only) for a
        worker's unexpected error."""
        # The day a masked report may show is decided here, with the server's clock.
        dates = Dates(exact=dates.exact, on=dates.on or today())
        for attempt in range(1, _ATTEMPTS + 1):
            pool = self._executor()
            try:
                kind, value = pool.submit(_explain, person_id, as_of, dates, language()).result()
                break
            except BrokenProcessPool as e:
                self._discard(pool)
                log.warning(
                    "an explanation worker died (attempt %d of %d): %s", attempt, _ATTEMPTS, e
                )
        else:
            raise ExplainerDownError(text("web.explainer_down"))
        if kind == "ok":
            return dict(value)
        if kind == "bad_date":
            raise MonthNotOverError(value)
        if kind == "unknown":
            raise ExplainError(value)
        if kind == "down":
            log.error("the explanation worker cannot read the store: %s", value)
            raise ExplainerDownError(text("web.explainer_down"))
        raise _WorkerError(value)

    def workers(self) -> list[int]:
        """The process ids of the running workers (for operators and tests)."""
        with self._lock:
            pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return sorted(p.pid for p in processes.values() if p.pid is not None and p.is_alive())

    def close(self) -> None:
        """Stop the workers (an explanation asked afterwards starts them again)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
