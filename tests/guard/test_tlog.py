"""RFC 9162 trees and proofs, C2SP checkpoints and signed notes (guard/trail/tlog.py)."""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosigned_message,
    timestamp_of,
)

# Test vectors of transparency-dev/merkle (testonly/constants.go and proof/verify_test.go), the
# same as Certificate Transparency's (certificate-transparency-go merkle tests): eight leaf
# inputs, the roots of the trees of their first 0..8 leaves, and reference proofs.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (leaf, tree size, proof) with the leaf counted from 1, as the source gives it.
INCLUSION_VECTORS = [
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (3, 3, ["fac54203"]),
    (2, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]
# The full hashes of the prefixes above (transparency-dev/merkle testonly NodeHashes()).
FULL = {
    h[:8]: bytes.fromhex(h)
    for h in (
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    )
}
VECTOR_LEAVES = [tlog.leaf_hash(x) for x in LEAF_INPUTS]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# --- an independent RFC 9162 implementation: the definitions, recursively ---------------------


def _sha(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


BIG = [_sha(b"\x00", i.to_bytes(4, "big")) for i in range(2048)]


@functools.cache
def ref_mth(start: int, end: int) -> bytes:
    """MTH(BIG[start:end]) by the RFC's recursive definition."""
    n = end - start
    if n == 0:
        return _sha()
    if n == 1:
        return BIG[start]
    k = _k(n)
    return _sha(b"\x01", ref_mth(start, start + k), ref_mth(start + k, end))


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) of RFC 9162 §2.1.3.1."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, start, start + k), ref_mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1."""
    n = end - start
    if m == n:
        return [] if whole else [ref_mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, start, start + k, whole), ref_mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), ref_mth(start, start + k)]


def ref_root_from_path(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """The root a PATH proof leads to, undoing the recursion from the outermost sibling."""
    if size == 1:
        return leaf if not proof else None
    if not proof:
        return None
    k, sibling, rest = _k(size), proof[-1], proof[:-1]
    if index < k:
        inner = ref_root_from_path(index, k, leaf, rest)
        return None if inner is None else _sha(b"\x01", inner, sibling)
    inner = ref_root_from_path(index - k, size - k, leaf, rest)
    return None if inner is None else _sha(b"\x01", sibling, inner)


def ref_consistency_roots(
    m: int, n: int, proof: list[bytes], old_root: bytes, whole: bool = True
) -> tuple[bytes, bytes] | None:
    """(old root, new root) a SUBPROOF leads to, or None when its shape is wrong."""
    if m == n:
        if whole:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k, sibling, rest = _k(n), proof[-1], proof[:-1]
    if m <= k:
        inner = ref_consistency_roots(m, k, rest, old_root, whole)
        if inner is None:
            return None
        return inner[0], _sha(b"\x01", inner[1], sibling)
    inner = ref_consistency_roots(m - k, n - k, rest, old_root, False)
    if inner is None:
        return None
    return _sha(b"\x01", sibling, inner[0]), _sha(b"\x01", sibling, inner[1])


def ref_verify_inclusion(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> bool:
    return 0 <= index < size and ref_root_from_path(index, size, leaf, proof) == root


def ref_verify_consistency(m: int, n: int, proof: list[bytes], r1: bytes, r2: bytes) -> bool:
    if not 0 < m < n:
        return m == n and not proof and r1 == r2
    return ref_consistency_roots(m, n, proof, r1) == (r1, r2)


BIG_TREE = tlog.MemoryTree(BIG)


# --- vectors ------------------------------------------------------------------------------------


def test_roots_of_the_vector_trees() -> None:
    tree = tlog.MemoryTree(VECTOR_LEAVES)
    for size, root in enumerate(ROOTS):
        assert tlog.root_hash(VECTOR_LEAVES[:size]) == root
        assert tree.root(size) == root
        frontier = tlog.Frontier()
        for leaf in VECTOR_LEAVES[:size]:
            frontier.append(leaf)
        assert frontier.root() == root
    assert ROOTS[0] == tlog.EMPTY_ROOT
    # Every stored complete subtree is the MTH of the leaves it covers.
    assert tree.levels[3][0] == ROOTS[8]
    assert tree.levels[1][2] == FULL["0ebc5d34"]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(leaf: int, size: int, proof: list[str]) -> None:
    tree = tlog.MemoryTree(VECTOR_LEAVES)
    expected = [FULL[p] for p in proof]
    assert tree.inclusion_proof(leaf - 1, size) == expected
    assert tlog.verify_inclusion(leaf - 1, size, VECTOR_LEAVES[leaf - 1], expected, ROOTS[size])
    _assert_inclusion_probes_fail(leaf - 1, size, VECTOR_LEAVES[leaf - 1], expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    tree = tlog.MemoryTree(VECTOR_LEAVES)
    expected = [FULL[p] for p in proof]
    assert tree.consistency_proof(old, new) == expected
    assert tlog.verify_consistency(old, new, expected, ROOTS[old], ROOTS[new])
    if expected:
        _assert_consistency_probes_fail(old, new, expected, ROOTS[old], ROOTS[new])


# --- every proof up to 130 leaves against the independent implementation -----------------------


def test_every_inclusion_proof_up_to_130() -> None:
    for size in range(1, 131):
        root = ref_mth(0, size)
        assert BIG_TREE.root(size) == root
        for index in range(size):
            proof = BIG_TREE.inclusion_proof(index, size)
            assert proof == ref_path(index, 0, size)
            assert ref_verify_inclusion(index, size, BIG[index], proof, root)
            assert tlog.verify_inclusion(index, size, BIG[index], proof, root)


def test_every_consistency_proof_up_to_130() -> None:
    for new in range(2, 131):
        new_root = ref_mth(0, new)
        for old in range(1, new):
            old_root = ref_mth(0, old)
            proof = BIG_TREE.consistency_proof(old, new)
            assert proof == ref_subproof(old, 0, new, True)
            assert ref_verify_consistency(old, new, proof, old_root, new_root)
            assert tlog.verify_consistency(old, new, proof, old_root, new_root)


def test_corrupted_proofs_are_rejected_up_to_40() -> None:
    for size in range(1, 41):
        root = ref_mth(0, size)
        for index in range(size):
            proof = BIG_TREE.inclusion_proof(index, size)
            _assert_inclusion_probes_fail(index, size, BIG[index], proof, root)
        for old in range(1, size):
            proof = BIG_TREE.consistency_proof(old, size)
            _assert_consistency_probes_fail(old, size, proof, ref_mth(0, old), root)


def _flips(proof: Sequence[bytes]) -> list[list[bytes]]:
    out = []
    for i in range(len(proof)):
        for bit in (0, 3, 7 * 8 + 4, 255):
            damaged = bytearray(proof[i])
            damaged[bit // 8] ^= 1 << (bit % 8)
            out.append([*proof[:i], bytes(damaged), *proof[i + 1 :]])
    return out


def _assert_inclusion_probes_fail(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> None:
    probes = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, b"WrongLeaf", proof, root),
        (index, size, SOME_HASH, proof, root),
        (index, size, leaf, proof, tlog.EMPTY_ROOT),
        (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root),
        (index, size, leaf, [root, *proof], root),
        (size, size, leaf, proof, root),
        (size + 1, size, leaf, proof, root),
    ]
    if proof:
        probes.append((index, size, leaf, proof[:-1], root))
        probes.append((index, size, leaf, [], root))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    probes += [(index, size, leaf, damaged, root) for damaged in _flips(proof)]
    for i, n, lf, pr, rt in probes:
        if (i, n, lf, pr, rt) == (index, size, leaf, proof, root):
            continue
        assert not tlog.verify_inclusion(i, n, lf, pr, rt), (index, size, i, n, len(pr))


def _assert_consistency_probes_fail(
    old: int, new: int, proof: list[bytes], r1: bytes, r2: bytes
) -> None:
    probes = [
        (old - 1, new, proof, r1, r2),
        (old + 1, new, proof, r1, r2),
        (old ^ 2, new, proof, r1, r2),
        (old, new * 2, proof, r1, r2),
        (old, new // 2, proof, r1, r2),
        (old, new, proof, b"WrongRoot", r2),
        (old, new, proof, r1, b"WrongRoot"),
        (old, new, proof, r2, r1),
        (old, new, [], r1, r2),
        (old, new, [*proof, b""], r1, r2),
        (old, new, [*proof, r1], r1, r2),
        (old, new, [*proof, r2], r1, r2),
        (old, new, [b"", *proof], r1, r2),
        (old, new, [r1, *proof], r1, r2),
        (old, new, [r2, *proof], r1, r2),
        (old, new, [proof[0], *proof], r1, r2),
        (old, new, proof[:-1], r1, r2),
    ]
    probes += [(old, new, damaged, r1, r2) for damaged in _flips(proof)]
    for m, n, pr, a, b in probes:
        if (m, n) == (old, new) and (pr, a, b) == (proof, r1, r2):
            continue
        assert not tlog.verify_consistency(m, n, pr, a, b), (old, new, m, n, len(pr))


def test_refusals_and_edges() -> None:
    tree = tlog.MemoryTree(BIG[:10])
    for index, size in ((10, 10), (11, 10), (-1, 10), (0, 0)):
        with pytest.raises(TrailError):
            tlog.inclusion_refs(index, size)
        assert not tlog.verify_inclusion(index, size, BIG[0], [], tree.root())
    with pytest.raises(TrailError):
        tlog.consistency_refs(5, 4)
    assert tlog.consistency_proof(0, 10, tree.fetch) == []
    assert tlog.consistency_proof(10, 10, tree.fetch) == []
    # Equal sizes need equal roots and no proof; the empty tree is a prefix of any tree.
    assert tlog.verify_consistency(7, 7, [], tree.root(7), tree.root(7))
    assert not tlog.verify_consistency(7, 7, [], tree.root(6), tree.root(7))
    assert not tlog.verify_consistency(7, 7, [SOME_HASH], tree.root(7), tree.root(7))
    assert tlog.verify_consistency(0, 7, [], tlog.EMPTY_ROOT, tree.root(7))
    assert not tlog.verify_consistency(0, 7, [SOME_HASH], tlog.EMPTY_ROOT, tree.root(7))
    assert not tlog.verify_consistency(3, 2, [], tree.root(3), tree.root(2))
    # One leaf: the proof is empty and the root is the leaf.
    assert tlog.verify_inclusion(0, 1, BIG[0], [], BIG[0])
    assert not tlog.verify_inclusion(0, 1, BIG[0], [], b"")
    with pytest.raises(TrailError):
        tlog.Frontier(3, [BIG[0]])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2048), st.data())
def test_random_sizes(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    root, old_root = BIG_TREE.root(size), BIG_TREE.root(old)
    assert root == ref_mth(0, size) == tlog.root_hash(BIG[:size])
    proof = BIG_TREE.inclusion_proof(index, size)
    assert ref_verify_inclusion(index, size, BIG[index], proof, root)
    assert tlog.verify_inclusion(index, size, BIG[index], proof, root)
    assert not tlog.verify_inclusion(index, size, BIG[index], proof, old_root) or old == size
    consistency = BIG_TREE.consistency_proof(old, size)
    assert ref_verify_consistency(old, size, consistency, old_root, root)
    assert tlog.verify_consistency(old, size, consistency, old_root, root)
    if consistency:
        assert not tlog.verify_consistency(old, size, consistency[:-1], old_root, root)


@given(st.lists(st.binary(max_size=40), max_size=300))
def test_frontier_nodes_are_the_complete_subtrees(data: list[bytes]) -> None:
    leaves = [tlog.leaf_hash(d) for d in data]
    tree, frontier = tlog.MemoryTree(leaves), tlog.Frontier()
    for leaf in leaves:
        for level, index, h in frontier.append(leaf):
            assert tree.levels[level][index] == h
    assert frontier.root() == tlog.root_hash(leaves) == tree.root()
    copy = frontier.copy()
    copy.append(SOME_HASH)
    assert frontier.size == len(leaves) and copy.size == len(leaves) + 1


# --- checkpoints and signed notes ---------------------------------------------------------------

# golang.org/x/mod/sumdb/note note_test.go: the PeterNeumann key and its signed note.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdn"
    "gotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_reference_note() -> None:
    signer = tlog.NoteSigner.from_key_string(GO_SKEY)
    assert signer.verifier.key_string() == GO_VKEY
    assert signer.key_string() == GO_SKEY
    note = tlog.sign_note(GO_TEXT, signer)
    assert note == GO_TEXT + "\n" + GO_SIG  # Ed25519 is deterministic
    verifier = tlog.NoteVerifier.from_key_string(GO_VKEY)
    assert tlog.open_note(note, [verifier]) == GO_TEXT
    assert GO_SKEY.split("+")[-1] not in repr(signer)


def test_checkpoint_round_trip_and_witnesses() -> None:
    log, witness = tlog.NoteSigner.generate("example.org/log"), tlog.NoteSigner.generate("w1")
    body = tlog.Checkpoint("example.org/log", 8, ROOTS[8]).body()
    assert body == f"example.org/log\n8\n{base64.b64encode(ROOTS[8]).decode()}\n"
    note = tlog.sign_note(body, log, witness)
    assert tlog.Checkpoint.parse(tlog.open_note(note, [log.verifier])).root == ROOTS[8]
    # Signatures of keys a verifier does not know are ignored; one known is enough.
    assert tlog.open_note(note, [witness.verifier]) == body
    vkey = log.verifier.key_string()
    assert tlog.NoteVerifier.from_key_string(vkey) == log.verifier
    assert tlog.Checkpoint.parse(body + "an extension line\n").size == 8


def test_notes_that_must_be_rejected() -> None:
    log, stranger = tlog.NoteSigner.generate("example.org/log"), tlog.NoteSigner.generate("x")
    body = tlog.Checkpoint("example.org/log", 5, ROOTS[5]).body()
    note = tlog.sign_note(body, log)
    with pytest.raises(TrailError):  # signed by an unknown key only
        tlog.open_note(tlog.sign_note(body, stranger), [log.verifier])
    with pytest.raises(TrailError):  # tampered body: the known signature fails
        tlog.open_note(note.replace("\n5\n", "\n6\n"), [log.verifier])
    # A known key's failing signature rejects the note, even beside a good one.
    other = tlog.Checkpoint("example.org/log", 6, ROOTS[6]).body()
    both = body + "\n" + log.signature_line(other) + log.signature_line(body)
    with pytest.raises(TrailError):
        tlog.open_note(both, [log.verifier])
    # A signature whose key id is not the key's is from an unknown key: nothing verifies.
    sig = base64.b64decode(note.split(" ")[-1])
    wrong = note.rsplit(" ", 1)[0] + " " + base64.b64encode(b"\0\0\0\0" + sig[4:]).decode() + "\n"
    with pytest.raises(TrailError):
        tlog.open_note(wrong, [log.verifier])
    # A verifier key string whose key id does not match its key is refused.
    name, key_id, key = log.verifier.key_string().split("+", 2)
    other_id = f"{int(key_id, 16) ^ 1:08x}"
    with pytest.raises(TrailError):
        tlog.NoteVerifier.from_key_string(f"{name}+{other_id}+{key}")
    for malformed in ("", body, body + "\n", note.replace("\u2014", "-"), note[:-1]):
        with pytest.raises(TrailError):
            tlog.open_note(malformed, [log.verifier])
    for text in ("a\n5\n", "a\n05\n" + base64.b64encode(ROOTS[5]).decode() + "\n", "\n5\nxx\n"):
        with pytest.raises(TrailError):
            tlog.Checkpoint.parse(text)
    with pytest.raises(TrailError):
        tlog.NoteSigner.generate("has space")


# --- C2SP tlog-cosignature/v1 (guard/trail/cosignature.py) ----------------------------------

# The example of c2sp.org/tlog-cosignature: a checkpoint, a witness's cosignature line on it, and
# the message such a cosignature signs (for the timestamp the line carries).
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_COSIGNATURE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_MESSAGE = (
    "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_the_spec_cosignature_decodes_and_its_message_is_ours() -> None:
    note = SPEC_BODY + "\n" + SPEC_COSIGNATURE
    body, [(name, blob, line)] = tlog.split_note(note)
    assert (body, name, line) == (SPEC_BODY, "witness.example.com/w1", SPEC_COSIGNATURE)
    # key id ‖ u64 big-endian timestamp ‖ Ed25519 signature
    assert len(blob) == 4 + 8 + 64 and blob[:4].hex() == "8d66cf3f"
    assert timestamp_of(blob[4:]) == 1679315147
    assert cosigned_message(SPEC_BODY, 1679315147) == SPEC_MESSAGE.encode()
    with pytest.raises(TrailError):
        cosigned_message(SPEC_BODY, 2**63)  # "MUST NOT exceed 2^63 - 1"


def test_a_cosignature_as_the_spec_describes_it() -> None:
    """Key id, signed message and line built by hand from the spec's text, against ours."""
    seed = bytes(range(32))
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = "witness.example.com/w1"
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public).digest()[:4]
    signer = CosignatureSigner(name, private)
    assert signer.verifier.key_id == key_id
    typed = base64.b64encode(b"\x04" + public).decode()
    vkey = f"{name}+{key_id.hex()}+{typed}"
    assert signer.verifier.key_string() == vkey
    assert CosignatureVerifier.from_key_string(vkey) == signer.verifier
    line = signer.cosignature_line(SPEC_BODY, 1679315147)
    expected_sig = private.sign(SPEC_MESSAGE.encode())  # Ed25519 is deterministic
    blob = key_id + (1679315147).to_bytes(8, "big") + expected_sig
    assert line == f"\u2014 {name} {base64.b64encode(blob).decode()}\n"
    # It opens as a signed note with the witness key, and only with it.
    note = SPEC_BODY + "\n" + line
    assert tlog.open_note(note, [signer.verifier]) == SPEC_BODY
    with pytest.raises(TrailError):  # an Ed25519 note key of the same name has another id
        tlog.open_note(note, [tlog.NoteSigner(name, private).verifier])
    # A different time, body or key fails; the private key round-trips and never shows.
    forged = blob[:4] + (1679315148).to_bytes(8, "big") + blob[12:]
    assert not signer.verifier.verify(SPEC_BODY.encode(), forged[4:])
    assert not signer.verifier.verify(SPEC_BODY.replace("63", "64").encode(), blob[4:])
    assert CosignatureSigner.from_key_string(signer.key_string()).verifier == signer.verifier
    assert base64.b64encode(b"\x04" + seed).decode() not in repr(signer)
    with pytest.raises(TrailError):  # a 0x01 (note) key string is not a cosignature key
        CosignatureVerifier.from_key_string(tlog.NoteSigner(name, private).verifier.key_string())


def test_a_log_note_with_a_cosignature_opens_for_either_key() -> None:
    log, witness = tlog.NoteSigner.generate("example.org/log"), CosignatureSigner.generate("w1")
    body = tlog.Checkpoint("example.org/log", 8, ROOTS[8]).body()
    note = tlog.sign_note(body, log) + witness.cosignature_line(body, 1_700_000_000)
    assert tlog.open_note(note, [log.verifier]) == body
    assert tlog.open_note(note, [witness.verifier]) == body
    assert tlog.open_note(note, [log.verifier, witness.verifier]) == body
    tampered = note.replace(witness.cosignature_line(body, 1_700_000_000)[-20:], "A" * 18 + "=\n")
    with pytest.raises(TrailError):
        tlog.open_note(tampered, [witness.verifier])
