"""Subsidy rolls (R25): who is paid for an incentive in a period, how much, and why in that order.

A roll is drawn from the official evaluation of the period (`evaluate.run.latest`): everyone in
it who qualifies for the incentive under the catalogue's rule (`incentives.eligibility`) is a
candidate. Candidates are ranked — grade (best first, the policy's order), total score
(highest first), points (most first), then a keyed hash of the period, the incentive and the
person id (HMAC under the vault's index key: no one can predict or buy a place by their id,
and it differs between rolls) — and taken in that order while the budget lasts. Every paid
line gets the same amount (the catalogue's cost per beneficiary, or the operator's override),
so the budget is never exceeded: the first ⌊budget / amount⌋ candidates are funded.

A candidate with an open objection (a current fact of theirs flagged disputed) is listed as
`held_objection` with amount 0: their place in the order is kept and the amount they would get
is set aside (`reserved`) from the budget, so paying them when the objection closes never takes
the roll past its budget. A candidate the budget does not reach is listed as `unfunded`.

The file (CSV, or Parquet by the extension) is byte-identical for the same inputs: fixed column
order, fixed number formats, no time in it; money is yuan with two places, summed in fen. Its
last CSV line (or the Parquet schema's metadata) carries the totals. Payees are named by their
person id (一人一档编号: finance pays through the person's registered account, found by that id)
and their masked name; no ID number or name in clear. The roll's row in `subsidy_rolls` (the
evaluation, the policy SHA-256, the money, the file's SHA-256) is covered by the trail.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_incentives import Incentive
from fpcredit.evaluate.run import Run, file_sha256
from fpcredit.files import private_output
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.masking import mask_name
from fpcredit.guard.trail.log import record_rows
from fpcredit.incentives.eligibility import judge, profiles
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "COLUMNS",
    "Candidate",
    "Line",
    "Roll",
    "SubsidyError",
    "allocate",
    "build_roll",
    "parse_yuan",
    "roll_bytes",
    "write_roll",
]

Status = Literal["paid", "held_objection", "unfunded"]
COLUMNS: Final = (
    "rank", "person_id", "name_masked", "grade", "total", "points", "status", "amount",
    "reserved", "incentive_id", "period", "evaluation_id", "policy_sha256",
)  # fmt: skip
PRIORITY_FIELD: Final = "subsidy_priority"  # the keyed hash's field (domain separation)
ACTION: Final = "subsidy_roll"
_FEN: Final = Decimal("0.01")


class SubsidyError(FpcreditError):
    """A roll that cannot be drawn: an unknown or expired incentive, a bad amount or budget."""


def parse_yuan(raw: str, what: str, *, positive: bool = False) -> Decimal:
    """Yuan from the command line, exactly, with at most two places (fen)."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise SubsidyError(text("subsidy.not_money", what=what, value=raw)) from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or (isinstance(exponent, int) and exponent < -2):
        raise SubsidyError(text("subsidy.not_money", what=what, value=raw))
    if value < 0 or (positive and value == 0):
        raise SubsidyError(text("subsidy.not_positive", what=what, value=raw))
    return value.quantize(_FEN)


def to_fen(yuan: Decimal) -> int:
    return int((yuan * 100).to_integral_exact())


def yuan(fen: int) -> str:
    """Fen as yuan text with two places: 12345 → "123.45"."""
    return str((Decimal(fen) / 100).quantize(_FEN))


@dataclass(frozen=True)
class Candidate:
    """A person who qualifies, with what ranks them."""

    person_id: int
    grade_rank: int  # 0 = the best grade
    grade: str
    total: Decimal | None
    points: int | None
    tiebreak: bytes  # the keyed hash
    held: bool  # an objection is open
    name_masked: str | None = None

    def key(self) -> tuple[Any, ...]:
        total = self.total if self.total is not None else Decimal("-Infinity")
        return (self.grade_rank, -total, -(self.points or 0), self.tiebreak)


@dataclass(frozen=True)
class Line:
    rank: int
    candidate: Candidate
    status: Status
    amount_fen: int
    reserved_fen: int


def allocate(candidates: Iterable[Candidate], amount_fen: int, budget_fen: int) -> list[Line]:
    """Rank the candidates and fund them in that order while the budget lasts; a held one
    reserves its amount. Never more than the budget is paid and reserved together."""
    if amount_fen <= 0 or budget_fen < 0:
        raise SubsidyError(text("subsidy.not_positive", what="amount", value=yuan(amount_fen)))
    left = budget_fen
    lines: list[Line] = []
    for rank, c in enumerate(sorted(candidates, key=Candidate.key), start=1):
        if amount_fen <= left:
            left -= amount_fen
            if c.held:
                lines.append(Line(rank, c, "held_objection", 0, amount_fen))
            else:
                lines.append(Line(rank, c, "paid", amount_fen, 0))
        else:
            lines.append(Line(rank, c, "unfunded", 0, 0))
    return lines


@dataclass(frozen=True)
class Roll:
    """A roll drawn, not yet written."""

    period: dt.date
    incentive: str
    evaluation_id: int
    policy_sha256: str
    budget_fen: int
    amount_fen: int
    lines: tuple[Line, ...]

    def count(self, status: Status) -> int:
        return sum(1 for x in self.lines if x.status == status)

    @property
    def total_fen(self) -> int:
        return sum(x.amount_fen for x in self.lines)

    @property
    def held_fen(self) -> int:
        return sum(x.reserved_fen for x in self.lines)

    def summary(self) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "incentive": self.incentive,
            "evaluation_id": self.evaluation_id,
            "policy_sha256": self.policy_sha256,
            "budget": yuan(self.budget_fen),
            "amount_per_person": yuan(self.amount_fen),
            "total": yuan(self.total_fen),
            "held": yuan(self.held_fen),
            "paid_persons": self.count("paid"),
            "held_persons": self.count("held_objection"),
            "unfunded_persons": self.count("unfunded"),
            "lines": len(self.lines),
        }


def _names(store: Store, vault: Vault, ids: Sequence[int]) -> dict[int, str | None]:
    p = s.persons
    out: dict[int, str | None] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 2000):
            chunk = list(ids[start : start + 2000])
            rows = conn.execute(sa.select(p.c.id, p.c.name_enc).where(p.c.id.in_(chunk))).all()
            for pid, blob in rows:
                name = vault.decrypt(blob, "name")
                out[int(pid)] = mask_name(name) if name else None
    return out


def _official_rows(run: Run) -> dict[int, dict[str, Any]]:
    table = pq.read_table(run.path, columns=["person_id", "grade", "total", "points"])
    ids = table.column("person_id").to_pylist()
    rows = table.to_pylist()
    return {int(pid): row for pid, row in zip(ids, rows, strict=True)}


def build_roll(
    store: Store,
    vault: Vault,
    policy: LoadedPolicy,
    run: Run,
    incentive: Incentive,
    budget: Decimal,
    amount: Decimal | None = None,
) -> Roll:
    """Draw the roll of `incentive` from the official evaluation `run` (its as-of date is the
    period) with `budget` yuan; `amount` overrides the catalogue's cost per beneficiary."""
    period = run.as_of
    if not incentive.valid_on(period):
        raise SubsidyError(
            text("subsidy.not_valid", incentive=incentive.id, period=period.isoformat(),
                 start=incentive.valid_from.isoformat(), end=incentive.valid_to.isoformat())
        )  # fmt: skip
    each = amount if amount is not None else incentive.cost_per_beneficiary
    if each <= 0:
        raise SubsidyError(text("subsidy.not_positive", what=incentive.id, value=str(each)))
    rows = _official_rows(run)
    order = {g: i for i, g in enumerate(policy.policy.grade_order)}
    found = profiles(store, policy, rows, period, conditions=bool(incentive.conditions))
    candidates: list[Candidate] = []
    for profile in found:
        official = rows[profile.person_id]
        verdicts = [judge(incentive, profile, period)]
        if profile.live:  # an open objection: qualifying by either grade keeps a place
            verdicts.append(judge(incentive, replace(profile, grade=official["grade"]), period))
        if not any(v.eligible for v in verdicts):
            continue
        grade = str(official["grade"] or profile.grade)
        total = official["total"]
        key = vault.blind_index(f"{period}:{incentive.id}:{profile.person_id}", PRIORITY_FIELD)
        assert key is not None
        candidates.append(
            Candidate(profile.person_id, order.get(grade, len(order)), grade,
                      None if total is None else Decimal(str(total)), official["points"], key,
                      profile.live)
        )  # fmt: skip
    names = _names(store, vault, [c.person_id for c in candidates])
    candidates = [replace(c, name_masked=names.get(c.person_id)) for c in candidates]
    lines = allocate(candidates, to_fen(each), to_fen(budget))
    return Roll(period, incentive.id, run.id, run.policy_sha256, to_fen(budget), to_fen(each),
                tuple(lines))  # fmt: skip


def _cells(roll: Roll, x: Line) -> list[Any]:
    c = x.candidate
    total = None if c.total is None else str(c.total.quantize(_FEN))
    return [x.rank, c.person_id, c.name_masked, c.grade, total, c.points, x.status,
            yuan(x.amount_fen), yuan(x.reserved_fen), roll.incentive, roll.period.isoformat(),
            roll.evaluation_id, roll.policy_sha256]  # fmt: skip


def _footer(roll: Roll) -> dict[str, str]:
    return {k: str(v) for k, v in roll.summary().items()}


def _csv(roll: Roll) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for x in roll.lines:
        writer.writerow(["" if v is None else v for v in _cells(roll, x)])
    foot = _footer(roll)
    writer.writerow(["", "", "", "", "", "", "total", foot["total"], foot["held"],
                     roll.incentive, roll.period.isoformat(), roll.evaluation_id,
                     roll.policy_sha256])  # fmt: skip
    return buffer.getvalue().encode("utf-8")


_SCHEMA: Final = pa.schema(
    [
        ("rank", pa.int64()), ("person_id", pa.int64()), ("name_masked", pa.string()),
        ("grade", pa.string()), ("total", pa.decimal128(9, 2)), ("points", pa.int64()),
        ("status", pa.string()), ("amount", pa.decimal128(14, 2)),
        ("reserved", pa.decimal128(14, 2)), ("incentive_id", pa.string()),
        ("period", pa.date32()), ("evaluation_id", pa.int64()), ("policy_sha256", pa.string()),
    ]
)  # fmt: skip


def _parquet(roll: Roll) -> bytes:
    rows = [_cells(roll, x) for x in roll.lines]
    columns: list[list[Any]] = (
        [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in COLUMNS]
    )
    money = {"total", "amount", "reserved"}
    data = {
        name: [Decimal(v) if (name in money and v is not None) else v for v in col]
        for name, col in zip(COLUMNS, columns, strict=True)
    }
    data["period"] = [dt.date.fromisoformat(str(v)) for v in data["period"]]
    footer = {f"fpcredit.{k}": v for k, v in _footer(roll).items()}
    table = pa.table(data, schema=_SCHEMA.with_metadata(footer))
    sink = io.BytesIO()
    # Fixed settings, so the same roll gives the same bytes: one row group, no dictionary
    # guesswork left to defaults that may change, zstd at a fixed level.
    pq.write_table(table, sink, compression="zstd", compression_level=3, use_dictionary=False,
                   row_group_size=max(1, len(rows)), write_statistics=True)  # fmt: skip
    return sink.getvalue()


def roll_bytes(roll: Roll, path: Path) -> bytes:
    """The roll's file: Parquet when `path` ends in .parquet, else CSV."""
    return _parquet(roll) if path.suffix.lower() == ".parquet" else _csv(roll)


def write_roll(store: Store, roll: Roll, path: Path, *, actor: str, keys_dir: Path) -> str:
    """Write the roll's file (0600, whole or not at all) and its `subsidy_rolls` row with a
    change entry of the trail in one transaction; returns the file's SHA-256."""
    data = roll_bytes(roll, path)
    with private_output(path) as tmp:
        tmp.write_bytes(data)
        digest = file_sha256(tmp)
        values = {
            "period": roll.period,
            "incentive_id": roll.incentive,
            "evaluation_id": roll.evaluation_id,
            "policy_sha256": roll.policy_sha256,
            "budget_fen": roll.budget_fen,
            "amount_fen": roll.amount_fen,
            "total_fen": roll.total_fen,
            "held_fen": roll.held_fen,
            "paid": roll.count("paid"),
            "held": roll.count("held_objection"),
            "unfunded": roll.count("unfunded"),
            "file_name": path.name,
            "file_sha256": digest,
            "created_by": actor,
            "created_at": utc_now(),
        }
        t = s.subsidy_rolls
        with store.engine.begin() as conn:
            new_id = int(conn.execute(t.insert().returning(t.c.id).values(**values)).scalar_one())
            record_rows(conn, "subsidy_rolls", new_id, new_id, actor, ACTION, keys_dir=keys_dir)
    return digest
