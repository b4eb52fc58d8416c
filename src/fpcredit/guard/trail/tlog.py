"""Transparency-log primitives: RFC 9162 Merkle trees and proofs, C2SP checkpoints and notes.

Pure and storage-agnostic. A log keeps the hashes of its complete (perfect) subtrees, each named
by ``(level, index)`` — level 0 are the leaf hashes, node ``(L, i)`` covers leaves
``[i·2^L, (i+1)·2^L)`` — and hands them to the proof builders through a `Fetch` callable, so a
proof costs O(log n) stored hashes instead of rehashing the log.

Checkpoints are the C2SP tlog-checkpoint body (``origin``, tree size, base64 root) inside a C2SP
signed note (guard/trail/notes.py, whose names this module also offers: `NoteSigner`,
`open_note`, …).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from fpcredit.errors import TrailError
from fpcredit.guard.trail.notes import (
    NoteSigner,
    NoteVerifier,
    Signer,
    Verifier,
    b64decode,
    key_id,
    open_note,
    parse_key_string,
    sign_note,
    split_note,
)
from fpcredit.messages import text

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "Fetch",
    "Frontier",
    "MemoryTree",
    "NodeRef",
    "NoteSigner",
    "NoteVerifier",
    "Signer",
    "Verifier",
    "consistency_proof",
    "consistency_refs",
    "inclusion_proof",
    "inclusion_refs",
    "key_id",
    "leaf_hash",
    "node_hash",
    "open_note",
    "parse_key_string",
    "peak_refs",
    "root_from_nodes",
    "root_hash",
    "sign_note",
    "split_note",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
NodeRef = tuple[int, int]
"""A complete subtree: (level, index); level 0 is a leaf hash."""
Fetch = Callable[[Sequence[NodeRef]], Sequence[bytes]]
"""Returns the stored hashes of the given complete subtrees, in the order asked."""

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_SIZE_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}")


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes; the empty tree's root is SHA-256 of the empty string."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Pairing left to right and carrying an odd last node up unchanged builds exactly RFC 9162's
    # left-full tree, without recursion.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _range_refs(start: int, end: int) -> list[NodeRef]:
    """The complete subtrees tiling the RFC subtree [start, end), left to right, largest first."""
    refs: list[NodeRef] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        refs.append((level, start >> level))
        start += 1 << level
    return refs


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a right-edge subtree from its complete subtrees, left to right."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def peak_refs(size: int) -> list[NodeRef]:
    """The complete subtrees whose hashes make up the root of a tree of `size` leaves."""
    return _range_refs(0, size)


def inclusion_refs(index: int, size: int) -> list[list[NodeRef]]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]): each proof element as the subtrees it folds."""
    if not 0 <= index < size:
        raise TrailError(text("trail.index_out_of_range", index=index, size=size))
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return [_range_refs(a, b) for a, b in reversed(ranges)]


def consistency_refs(old_size: int, new_size: int) -> list[list[NodeRef]]:
    """RFC 9162 §2.1.4.1 PROOF(old, D[new]): each proof element as the subtrees it folds."""
    if not 0 <= old_size <= new_size:
        raise TrailError(text("trail.sizes_invalid", old=old_size, new=new_size))
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, whole = 0, new_size, True
    while True:
        m, n = old_size - start, end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            break
        k = _split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    return [_range_refs(a, b) for a, b in reversed(ranges)]


def _resolve(groups: list[list[NodeRef]], fetch: Fetch) -> list[bytes]:
    wanted = list(dict.fromkeys(ref for group in groups for ref in group))
    got = dict(zip(wanted, fetch(wanted), strict=True))
    return [_fold([got[ref] for ref in group]) for group in groups]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """The inclusion proof of leaf `index` in the tree of `size` leaves, from stored subtrees."""
    return _resolve(inclusion_refs(index, size), fetch)


def consistency_proof(old_size: int, new_size: int, fetch: Fetch) -> list[bytes]:
    """The consistency proof between two tree sizes, from stored subtrees."""
    return _resolve(consistency_refs(old_size, new_size), fetch)


def root_from_nodes(size: int, fetch: Fetch) -> bytes:
    """The root of the tree of `size` leaves, from its stored complete subtrees."""
    if size == 0:
        return EMPTY_ROOT
    return _fold(list(fetch(peak_refs(size))))


def _ok_hashes(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether `proof` shows leaf hash `leaf` at `index` under `root`."""
    if not 0 <= index < size or not _ok_hashes(leaf, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: whether `proof` shows the tree `old_root` is a prefix of `new_root`."""
    if not 0 <= old_size <= new_size or not _ok_hashes(*proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof or not _ok_hashes(old_root, new_root):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class Frontier:
    """The right edge of a growing tree (its peaks): append leaves, learn new nodes and the root."""

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if len(peaks) != size.bit_count():
            raise TrailError(text("trail.tree_damaged", level=0, index=size))
        self.size = size
        self._peaks = list(peaks)  # hashes of peak_refs(size), largest first

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the complete subtrees it completes, (level ≥ 1, index, hash)."""
        made: list[tuple[int, int, bytes]] = []
        carry, index, level = leaf, self.size, 0
        while index & 1:
            carry = node_hash(self._peaks.pop(), carry)
            index >>= 1
            level += 1
            made.append((level, index, carry))
        self._peaks.append(carry)
        self.size += 1
        return made

    def extend(self, leaves: Iterable[bytes], min_level: int = 1) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes; returns the complete subtrees they complete at `min_level` or above,
        as `append` does (one loop, for batches of many thousands)."""
        made: list[tuple[int, int, bytes]] = []
        peaks, size, sha256, prefix = self._peaks, self.size, hashlib.sha256, _NODE
        for leaf in leaves:
            carry, index, level = leaf, size, 0
            while index & 1:
                carry = sha256(prefix + peaks.pop() + carry).digest()
                index >>= 1
                level += 1
                if level >= min_level:
                    made.append((level, index, carry))
            peaks.append(carry)
            size += 1
        self.size = size
        return made

    def root(self) -> bytes:
        return _fold(self._peaks) if self._peaks else EMPTY_ROOT

    def copy(self) -> Frontier:
        return Frontier(self.size, self._peaks)


class MemoryTree:
    """All complete subtrees of a list of leaf hashes, in memory (tests, small logs, tooling)."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        level, index = 0, len(self.levels[0]) - 1
        while index & 1:
            row = self.levels[level]
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(node_hash(row[index - 1], row[index]))
            level, index = level + 1, index >> 1

    def fetch(self, refs: Sequence[NodeRef]) -> list[bytes]:
        return [self.levels[level][index] for level, index in refs]

    def root(self, size: int | None = None) -> bytes:
        return root_from_nodes(self.size if size is None else size, self.fetch)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.fetch)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self.size if new_size is None else new_size, self.fetch)


# --- C2SP tlog-checkpoint -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The body of a C2SP checkpoint: origin line, tree size, base64 root (no extension lines)."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Read a checkpoint body; extension lines after the root are allowed and ignored."""
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0] or not _SIZE_RE.fullmatch(lines[1]):
            raise TrailError(text("trail.checkpoint_malformed"))
        root = b64decode(lines[2])
        if root is None or len(root) != HASH_SIZE or "" in lines[3:-1]:
            raise TrailError(text("trail.checkpoint_malformed"))
        return cls(lines[0], int(lines[1]), root)
