"""The trail for witnesses and auditors: signed checkpoint, proofs, entries and verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from fpcredit.errors import TrailError
from fpcredit.guard.trail.tlog import Checkpoint
from fpcredit.guard.trail.verify import verify
from fpcredit.web.api.views import UtcTime
from fpcredit.web.deps import PROBLEMS, CurrentCaller, PurposeQuery, Services, ServicesDep, invalid

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=PROBLEMS)

Index = Annotated[int, Query(ge=0, le=2**62)]
Size = Annotated[int, Query(ge=1, le=2**62)]


class InclusionProof(BaseModel):
    """RFC 9162 §2.1.3: the audit path of leaf `index` in the tree of `tree_size` leaves."""

    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    """RFC 9162 §2.1.4: that the tree of `first` leaves is a prefix of the tree of `second`."""

    first: int
    second: int
    proof: list[str]


class Entry(BaseModel):
    index: int
    at: UtcTime
    actor: str
    action: str
    outcome: str
    subject_hash: str | None
    purpose: str | None
    address: str | None
    format: int
    leaf_hash: str


class Entries(BaseModel):
    tree_size: int
    entries: list[Entry]


class Verification(BaseModel):
    ok: bool
    entries: int
    covered_tables: list[str]
    first_bad: int | None
    reason: str | None
    checkpoints: dict[str, int | None]


def signed_head(services: Services) -> tuple[str, Checkpoint]:
    """A checkpoint of the current tree, signed now (the log refuses if it is inconsistent)."""
    note = services.trail.checkpoint()
    return note, Checkpoint.parse(note.split("\n\n", 1)[0] + "\n")


@router.get("/checkpoint", response_class=Response)
def checkpoint(services: ServicesDep) -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note), as text.

    Signed on request at most every few seconds, so anonymous callers cannot grow the table of
    checkpoints faster than that.
    """
    note = services.trail.latest_checkpoint()
    if note is None or services.checkpoint_due():
        note, _ = signed_head(services)
    return Response(note, media_type="text/plain; charset=utf-8")


@router.get("/proof/inclusion", response_model=InclusionProof)
def inclusion(index: Index, tree_size: Size, services: ServicesDep) -> InclusionProof:
    """The inclusion proof of entry `index` in the tree of `tree_size` entries."""
    try:
        proof = services.trail.inclusion_proof(index, tree_size)
        leaf = services.trail.entry(index).leaf_hash
    except TrailError as e:
        raise invalid(["query"], str(e)) from None
    return InclusionProof(
        index=index, tree_size=tree_size, leaf_hash=leaf.hex(), proof=[h.hex() for h in proof]
    )


@router.get("/proof/consistency", response_model=ConsistencyProof)
def consistency(first: Size, second: Size, services: ServicesDep) -> ConsistencyProof:
    """The consistency proof between two tree sizes (first ≤ second)."""
    try:
        proof = services.trail.consistency_proof(first, second)
    except TrailError as e:
        raise invalid(["query"], str(e)) from None
    return ConsistencyProof(first=first, second=second, proof=[h.hex() for h in proof])


@router.get("/entries", response_model=Entries)
def entries(
    purpose: PurposeQuery,
    caller: CurrentCaller,
    services: ServicesDep,
    start: Index = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Entries:
    """Entries from `start`, for auditors (subjects are hashes; no personal data is shown)."""
    size = services.trail.head().size
    rows = [services.trail.entry(i) for i in range(start, min(size, start + limit))]
    return Entries(
        tree_size=size,
        entries=[
            Entry(
                index=e.idx,
                at=e.at,
                actor=e.actor,
                action=e.action,
                outcome=e.outcome,
                subject_hash=e.subject_hash,
                purpose=e.purpose,
                address=e.address,
                format=e.v,
                leaf_hash=e.leaf_hash.hex(),
            )
            for e in rows
        ],
    )


@router.get("/verify", response_model=Verification)
def verify_trail(caller: CurrentCaller, services: ServicesDep) -> Verification:
    """Recompute the whole trail against the covered tables and the checkpoint file
    (`fpcredit audit verify`)."""
    report = verify(services.store, services.settings)
    report.pop("witness")
    return Verification(**report)
