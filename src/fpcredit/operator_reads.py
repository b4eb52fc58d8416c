"""The command line's reads of personal data: whom each reads, on the trail, and what it shows.

Each function takes an `OperatorRead` (guard/auth/operator.py: OS user, purpose, `--reveal`),
puts the persons it reads on the trail before anything is printed or written, and returns the
output masked as the API masks it — names to their first character, the birth date to its year,
dates about a person by month, login codes hidden — unless the read is a reveal (`unmasked`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.evaluate.explain import ExplainError
from fpcredit.evaluate.explain import explain as explain_person
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.guard.auth.citizens import _CODE_FIELD
from fpcredit.guard.auth.operator import OperatorRead
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.masking import Dates, mask_birth_date, mask_date, mask_name, today
from fpcredit.link.file import locate
from fpcredit.link.review import list_reviews, show_review
from fpcredit.messages import text
from fpcredit.notify.sms import list_outbox
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = [
    "changes_read",
    "explain_read",
    "export_links_read",
    "export_scores_read",
    "match_read",
    "outbox_read",
    "quality_read",
    "review_list_read",
    "review_show_read",
]

# A login code (or any run of 4+ digits) in an outbox message, hidden in a masked listing.
_DIGITS: Final = re.compile(r"[0-9]{4,}")
_CODE: Final = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
# A code message is written within moments of its code: look no further back than this.
_SEND_WINDOW: Final = dt.timedelta(minutes=10)


def explain_read(
    store: Store, read: OperatorRead, person_id: int, day: dt.date, policy: LoadedPolicy
) -> dict[str, Any]:
    """`fpcredit explain`: dates by month unless revealed (as `GET …/explanation`)."""
    found = locate(store, person_id)
    if found is None:
        raise ExplainError(text("evaluation.explain_no_person", person=person_id))
    read.record([found.person_id])
    return explain_person(store, policy, person_id, day, Dates(exact=read.unmasked))


def _linked(store: Store, mention_ids: Iterable[int]) -> list[int]:
    lk = s.links
    wanted = sorted(set(mention_ids))
    if not wanted:
        return []
    query = sa.select(lk.c.person_id).where(lk.c.mention_id.in_(wanted))
    with store.engine.connect() as conn:
        return [int(p) for p in conn.scalars(query) if p is not None]


def review_list_read(
    store: Store, vault: Vault, read: OperatorRead, status: str, limit: int
) -> list[dict[str, Any]]:
    """`fpcredit review list`: the queue, names masked (always: `review show` reveals)."""
    items = list_reviews(store, vault, status, limit)
    persons = [i.candidate_person_id for i in items]
    read.record([*persons, *_linked(store, (i.mention_id for i in items))])
    return [i.as_json() for i in items]


def _masked_field(field: str, value: Any, on: dt.date) -> Any:
    if value is None:
        return None
    if field == "name":
        return mask_name(str(value))
    if field == "birth_date":
        year = mask_birth_date(dt.date.fromisoformat(str(value)), on)
        return None if year is None else str(year)
    return value


def review_show_read(
    store: Store, vault: Vault, read: OperatorRead, review_id: int
) -> dict[str, Any]:
    """`fpcredit review show`: both sides of a pair; names masked and birth dates as years
    unless revealed."""
    detail = show_review(store, vault, review_id)
    sides = (detail["mention_person_id"], detail["candidate_person_id"])
    read.record(p for p in sides if p is not None)
    if read.unmasked:
        return detail
    on = today()
    detail["fields"] = [
        {
            **f,
            "record": _masked_field(f["field"], f["record"], on),
            "person": _masked_field(f["field"], f["person"], on),
        }
        for f in detail["fields"]
    ]
    return detail


def match_read(
    store: Store, vault: Vault, read: OperatorRead, path: Path, map_path: Path
) -> dict[str, Any]:
    """`fpcredit match`: each matched person on the trail (the list is the department's)."""
    from fpcredit.link.match import match_list

    result = match_list(store, vault, path, map_path).as_json()
    read.record(r["person_id"] for r in result["results"] if r["person_id"] is not None)
    return result


def export_scores_read(read: OperatorRead, run: Any, output: Path) -> int:
    """`fpcredit export scores`: every person of the evaluation on the trail (one batch), then
    the file (ids, totals, grades: no identifier to mask)."""
    from fpcredit.evaluate.report import export_scores

    ids = pq.read_table(run.path, columns=["person_id"]).column("person_id").to_pylist()
    read.record(int(p) for p in ids)
    return export_scores(run, output)


def export_links_read(store: Store, read: OperatorRead, output: Path) -> int:
    """`fpcredit export links`: every linked person on the trail (one batch), then the file."""
    from fpcredit.link.export import export_links

    query = sa.select(s.links.c.person_id).distinct().where(s.links.c.person_id.is_not(None))
    with store.engine.connect() as conn:
        ids = [int(p) for p in conn.scalars(query.order_by(s.links.c.person_id))]
    read.record(ids)
    return export_links(store, output)


def _code_owner(
    vault: Vault, codes: list[Any], message: dict[str, Any], sent: dt.datetime
) -> int | None:
    """The person a code message was sent to: whose code row, made just before, the code in
    the message opens (the row keeps the code only as a keyed hash)."""
    for code in _CODE.findall(message.get("text") or ""):
        for row in codes:
            if sent - _SEND_WINDOW <= row.created_at <= sent:
                digest = vault.blind_index(f"{bytes(row.salt).hex()}:{code}", _CODE_FIELD)
                if digest == bytes(row.code_hash):
                    return int(row.person_id)
    return None


def _outbox_persons(store: Store, vault: Vault, messages: list[dict[str, Any]]) -> list[int]:
    if not messages:
        return []
    times = [dt.datetime.fromisoformat(m["created_at"]) for m in messages]
    t = s.citizen_codes
    query = sa.select(t.c.person_id, t.c.salt, t.c.code_hash, t.c.created_at).where(
        t.c.created_at.between(min(times) - _SEND_WINDOW, max(times))
    )
    with store.engine.connect() as conn:
        codes = list(conn.execute(query.order_by(t.c.id.desc())))
    owners = (_code_owner(vault, codes, m, sent) for m, sent in zip(messages, times, strict=True))
    return [p for p in owners if p is not None]


def outbox_read(store: Store, vault: Vault, read: OperatorRead) -> list[dict[str, Any]]:
    """`fpcredit outbox list`: each message's citizen on the trail; codes hidden unless
    revealed (the recipient is always masked)."""
    messages = list_outbox(store, vault)
    read.record(_outbox_persons(store, vault, messages))
    if read.unmasked:
        return messages
    return [
        {**m, "text": _DIGITS.sub(lambda d: "*" * len(d.group()), m["text"] or "")}
        for m in messages
    ]


def quality_read(
    store: Store, read: OperatorRead, source: str | None, limit: int | None, lang: Any
) -> list[dict[str, Any]]:
    """`fpcredit quality list`: the persons of flagged (accepted) rows on the trail; a
    quarantined row belongs to nobody yet. Values are not listed, so nothing is masked."""
    from fpcredit.collect.quality import list_issues

    issues = list_issues(store, source, limit, lang)
    q, m, lk = s.quality_issues, s.mentions, s.links
    shown = sa.select(q.c.id, q.c.record_id).order_by(q.c.id)
    if source:
        shown = shown.where(q.c.source == source)
    shown_q = (shown.limit(limit) if limit else shown).subquery()
    query = (
        sa.select(lk.c.person_id)
        .distinct()
        .join(m, m.c.id == lk.c.mention_id)
        .join(shown_q, shown_q.c.record_id == m.c.record_id)
    )
    with store.engine.connect() as conn:
        persons = [int(p) for p in conn.scalars(query) if p is not None]
    read.record(persons)
    return issues


def changes_read(read: OperatorRead, report: dict[str, Any]) -> dict[str, Any]:
    """`fpcredit evaluate --changes-since-last`: each person whose result changed on the trail;
    the late facts' dates by month unless revealed (the keys stay)."""
    read.record(c["person_id"] for c in report["changes"])
    if read.unmasked:
        return report

    def month(value: str) -> str:
        return mask_date(dt.date.fromisoformat(value[:10]))

    for change in report["changes"]:
        change["late_facts"] = [
            {**f, "event_date": month(f["event_date"]), "recorded_at": month(f["recorded_at"])}
            for f in change["late_facts"]
        ]
    return report
