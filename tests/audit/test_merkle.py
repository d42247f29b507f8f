"""RFC 9162 Merkle tree against the RFC 6962 reference vectors (Certificate Transparency)."""

from __future__ import annotations

import pytest

from audit import merkle

# The CT reference leaves and roots for every prefix size (data from the RFC 6962 test suite).
DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
LEAVES = [merkle.leaf_hash(bytes.fromhex(d)) for d in DATA]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def root(n: int) -> bytes:
    return bytes.fromhex(ROOTS[n])


def test_roots_match_the_reference_for_every_size() -> None:
    for n in range(9):
        assert merkle.root_of(LEAVES[:n]).hex() == ROOTS[n]
        assert merkle.mth(0, n, merkle.list_subtree(LEAVES)).hex() == ROOTS[n]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_and_verify(index: int, size: int, expected: list[str]) -> None:
    path = merkle.inclusion_path(index, size, merkle.list_subtree(LEAVES))
    assert [p.hex() for p in path] == expected
    assert merkle.verify_inclusion(index, size, LEAVES[index], path, root(size))


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_match_and_verify(first: int, second: int, expected: list[str]) -> None:
    proof = merkle.consistency_path(first, second, merkle.list_subtree(LEAVES))
    assert [p.hex() for p in proof] == expected
    assert merkle.verify_consistency(first, second, root(first), root(second), proof)


def test_every_proof_in_trees_up_to_40_leaves_verifies_and_mangled_ones_do_not() -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(40)]
    subtree = merkle.list_subtree(leaves)
    roots = [merkle.root_of(leaves[:n]) for n in range(41)]
    for n in range(1, 41):
        for i in range(n):
            path = merkle.inclusion_path(i, n, subtree)
            assert merkle.verify_inclusion(i, n, leaves[i], path, roots[n])
            if path:
                flipped = [*path[:-1], bytes([path[-1][0] ^ 1]) + path[-1][1:]]
                assert not merkle.verify_inclusion(i, n, leaves[i], flipped, roots[n])
                assert not merkle.verify_inclusion(i, n, leaves[i], path[:-1], roots[n])
                assert not merkle.verify_inclusion(i, n, leaves[i], [*path, b"\xab" * 32], roots[n])
            assert not merkle.verify_inclusion(i, n, leaves[(i + 1) % 40], path, roots[n])
        for m in range(1, n + 1):
            proof = merkle.consistency_path(m, n, subtree)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            if proof:
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not merkle.verify_consistency(m, n, roots[m - 1], roots[n], proof)


def test_bad_arguments_are_refused() -> None:
    subtree = merkle.list_subtree(LEAVES)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_path(8, 8, subtree)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_path(5, 3, subtree)
    assert not merkle.verify_inclusion(8, 8, LEAVES[0], [], root(8))
    assert not merkle.verify_consistency(6, 8, root(6), root(8), [])
    assert not merkle.verify_consistency(8, 6, root(8), root(6), [])
