"""Transparency-log primitives: RFC 9162 Merkle trees and proofs, C2SP checkpoints and notes.

Pure and storage-agnostic. A log keeps the hashes of its complete (perfect) subtrees, each named
by ``(level, index)`` — level 0 are the leaf hashes, node ``(L, i)`` covers leaves
``[i·2^L, (i+1)·2^L)`` — and hands them to the proof builders through a `Fetch` callable, so a
proof costs O(log n) stored hashes instead of rehashing the log.

Checkpoints are the C2SP tlog-checkpoint body (``origin``, tree size, base64 root) inside a C2SP
signed note signed with Ed25519. Verifiers ignore signatures from keys they do not know, which is
how witnesses cosign and keys rotate; a note needs at least one valid known signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fpcredit.errors import LedgerError
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
    "consistency_proof",
    "consistency_refs",
    "inclusion_proof",
    "inclusion_refs",
    "leaf_hash",
    "node_hash",
    "open_note",
    "peak_refs",
    "root_from_nodes",
    "root_hash",
    "sign_note",
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
_ED25519: Final = 1  # C2SP signed-note signature type of Ed25519
_DASH: Final = "\u2014 "  # a signature line starts with an em dash and a space
_MAX_SIGNATURES: Final = 100  # as the Go reference: a note with more is rejected
_SIZE_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}")
_B64_RE: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")


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
        raise LedgerError(text("ledger.index_out_of_range", index=index, size=size))
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
        raise LedgerError(text("ledger.sizes_invalid", old=old_size, new=new_size))
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
            raise LedgerError(text("ledger.tree_damaged", level=0, index=size))
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
            raise LedgerError(text("ledger.checkpoint_malformed"))
        root = _b64(lines[2])
        if root is None or len(root) != HASH_SIZE or "" in lines[3:-1]:
            raise LedgerError(text("ledger.checkpoint_malformed"))
        return cls(lines[0], int(lines[1]), root)


# --- C2SP signed-note -----------------------------------------------------------------------------


def _b64(value: str) -> bytes | None:
    if not _B64_RE.fullmatch(value):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes((_ED25519,)) + public).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, repr=False)
class NoteVerifier:
    """A known Ed25519 note key: its name, key id and public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return f"NoteVerifier({self.key_string()!r})"

    @classmethod
    def from_key_string(cls, vkey: str) -> NoteVerifier:
        """Parse ``name+hex(key id)+base64(0x01 ‖ public key)``; the key id must match."""
        parts = vkey.split("+", 2)  # base64 may contain "+": the key is all after
        if (
            len(parts) != 3
            or not _valid_name(parts[0])
            or not re.fullmatch(r"[0-9a-f]{8}", parts[1])
        ):
            raise LedgerError(text("ledger.verifier_key_malformed"))
        name, key_id, blob = parts[0], bytes.fromhex(parts[1]), _b64(parts[2])
        if blob is None or len(blob) != 33 or blob[0] != _ED25519:
            raise LedgerError(text("ledger.verifier_key_malformed"))
        if _key_id(name, blob[1:]) != key_id:
            raise LedgerError(text("ledger.verifier_key_malformed"))
        return cls(name, key_id, blob[1:])

    def key_string(self) -> str:
        blob = base64.b64encode(bytes((_ED25519,)) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class NoteSigner:
    """An Ed25519 note key. Its private half never appears in repr() or logs."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not _valid_name(name):
            raise LedgerError(text("ledger.key_name_invalid", name=name))
        self.name = name
        self._key = private_key
        public = _raw_public(private_key.public_key())
        self.verifier = NoteVerifier(name, _key_id(name, public), public)

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier.key_string()!r})"

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, skey: str) -> NoteSigner:
        """Parse the Go note signer format ``PRIVATE+KEY+name+hex(id)+base64(0x01 ‖ seed)``."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise LedgerError(text("ledger.signer_key_malformed"))
        blob = _b64(parts[4])
        if blob is None or len(blob) != 33 or blob[0] != _ED25519:
            raise LedgerError(text("ledger.signer_key_malformed"))
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(blob[1:]))
        if signer.verifier.key_id.hex() != parts[3]:
            raise LedgerError(text("ledger.signer_key_malformed"))
        return signer

    def key_string(self) -> str:
        """The private key in the Go note signer format (write it only to a 0600 file)."""
        seed = self._key.private_bytes_raw()
        blob = base64.b64encode(bytes((_ED25519,)) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    def signature_line(self, note_text: str) -> str:
        sig = self._key.sign(note_text.encode())
        return f"{_DASH}{self.name} {base64.b64encode(self.verifier.key_id + sig).decode()}\n"


def _check_text(note_text: str) -> None:
    if not note_text.endswith("\n") or "\n\n" in note_text or note_text.startswith("\n"):
        raise LedgerError(text("ledger.note_malformed"))
    if any(ord(c) < 0x20 and c != "\n" for c in note_text):
        raise LedgerError(text("ledger.note_malformed"))


def sign_note(note_text: str, *signers: NoteSigner) -> str:
    """A signed note: the text, a blank line, one signature line per signer."""
    _check_text(note_text)
    return note_text + "\n" + "".join(s.signature_line(note_text) for s in signers)


def open_note(note: str, verifiers: Iterable[NoteVerifier]) -> str:
    """The text of a signed note, checked: signatures from unknown keys are ignored, a failing
    signature from a known key rejects the note, and at least one known signature must verify."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise LedgerError(text("ledger.note_malformed"))
    body, sig_lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    _check_text(body)
    if len(sig_lines) > _MAX_SIGNATURES:
        raise LedgerError(text("ledger.note_malformed"))
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for line in sig_lines:
        name, _, b64 = line.removeprefix(_DASH).partition(" ")
        blob = _b64(b64)
        if not line.startswith(_DASH) or not _valid_name(name) or blob is None or len(blob) < 5:
            raise LedgerError(text("ledger.note_malformed"))
        verifier = known.get((name, blob[:4]))
        if verifier is None:
            continue
        if not verifier.verify(body.encode(), blob[4:]):
            raise LedgerError(text("ledger.note_bad_signature", name=name))
        verified = True
    if not verified:
        raise LedgerError(text("ledger.note_unverified"))
    return body
