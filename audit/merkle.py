"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.

Pure Python with no Django import: the standalone verifier uses this module too. Proof generation
is written against a `subtree(start, end)` callable so the same code serves an in-memory list
(tests, verifier) and the tile store in the database (`audit.tiles`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, computed bottom-up (RFC 9162 section 2.1.1)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Pairing left to right and carrying an odd last node up unchanged gives exactly the RFC's
    # split at the largest power of two.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def mth(start: int, end: int, perfect: SubtreeHash) -> bytes:
    """Hash of D[start:end] given `perfect(start, end)` for aligned power-of-two ranges."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if is_power_of_two(n) and start % n == 0:
        return perfect(start, end)
    k = split_point(n)
    return node_hash(mth(start, start + k, perfect), mth(start + k, end, perfect))


def inclusion_path(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, for leaf `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    # Iterative form of the recursion; collected leaf-to-root, which is the wire order.
    stack: list[bytes] = []
    while end - start > 1:
        k = split_point(end - start)
        if m < k:
            stack.append(mth(start + k, end, subtree))
            end = start + k
        else:
            stack.append(mth(start, start + k, subtree))
            start, m = start + k, m - k
    path.extend(reversed(stack))
    return path


def consistency_path(first: int, second: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to {second}")
    if first == 0 or first == second:
        return []
    stack: list[bytes] = []
    start, end, m, whole = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                stack.append(mth(start, end, subtree))
            break
        k = split_point(n)
        if m <= k:
            stack.append(mth(start + k, end, subtree))
            end = start + k
        else:
            stack.append(mth(start, start + k, subtree))
            start, m, whole = start + k, m - k, False
    return list(reversed(stack))


def list_subtree(leaves: Sequence[bytes]) -> SubtreeHash:
    """A `subtree` callable over an in-memory list of leaf hashes."""

    def subtree(start: int, end: int) -> bytes:
        return root_of(leaves[start:end])

    return subtree


def _valid(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root a proof leads to (RFC 9162 section 2.1.3.2), or None if the proof is malformed."""
    if not (0 <= index < size) or not _valid(leaf) or not all(_valid(p) for p in path):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2; an empty first tree is consistent with anything."""
    if not (0 <= first <= second) or not _valid(first_root) or not _valid(second_root):
        return False
    if not all(_valid(p) for p in proof):
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    items = list(proof)
    if is_power_of_two(first):
        items.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
