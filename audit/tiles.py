"""The Merkle tree stored as tiles (see models.Tile): appending leaves, and any subtree hash.

A node at height h = 8L + r covers 2**h leaves; it is the root of 2**r consecutive hashes stored
in one level-L tile, so it costs at most 127 hash operations and one (cached) row.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from audit import merkle
from audit.models import Tile

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
H = merkle.HASH_SIZE


class MissingTileError(Exception):
    """The tile store does not hold a node the tree of this size must have."""


class TileStore:
    """Reads and writes tiles, caching rows for the duration of one operation."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], bytes] = {}
        self.dirty: set[tuple[int, int]] = set()

    # -- reading ---------------------------------------------------------------------------
    def prefetch(self, keys: Iterable[tuple[int, int]]) -> None:
        missing = {k for k in keys if k not in self.cache}
        if not missing:
            return
        levels: dict[int, list[int]] = {}
        for level, index in missing:
            levels.setdefault(level, []).append(index)
        condition = Q()
        for level, indexes in levels.items():
            condition |= Q(level=level, index__in=indexes)
        # One round trip for every tile a proof needs.
        for level, index, data in Tile.objects.filter(condition).values_list("level", "index", "hashes"):
            self.cache[(level, index)] = bytes(data)

    def tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            self.prefetch([key])
        return self.cache.get(key, b"")

    @staticmethod
    def tile_key(start: int, end: int) -> tuple[int, int, int, int]:
        """(level, tile index, offset, count) of the stored hashes whose root is node [start, end)."""
        height = (end - start).bit_length() - 1
        level, rest = divmod(height, TILE_HEIGHT)
        first = start >> (TILE_HEIGHT * level)
        return level, first // TILE_WIDTH, first % TILE_WIDTH, 1 << rest

    def perfect(self, start: int, end: int) -> bytes:
        level, index, offset, count = self.tile_key(start, end)
        data = self.tile(level, index)
        chunk = data[offset * H : (offset + count) * H]
        if len(chunk) != count * H:
            raise MissingTileError(f"tile {level}/{index} lacks nodes {offset}..{offset + count - 1}")
        return merkle.root_of([chunk[i : i + H] for i in range(0, len(chunk), H)])

    def prefetch_for(self, compute: object) -> None:
        """Run `compute(perfect)` with a recording stub to learn which tiles it needs, then load them."""
        keys: set[tuple[int, int]] = set()

        def record(start: int, end: int) -> bytes:
            level, index, _, _ = self.tile_key(start, end)
            keys.add((level, index))
            return b"\x00" * H

        compute(record)  # type: ignore[operator]
        self.prefetch(keys)

    # -- proofs ----------------------------------------------------------------------------
    def root(self, size: int) -> bytes:
        self.prefetch_for(lambda p: merkle.mth(0, size, p))
        return merkle.mth(0, size, self.perfect)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        self.prefetch_for(lambda p: merkle.inclusion_path(index, size, lambda s, e: merkle.mth(s, e, p)))
        return merkle.inclusion_path(index, size, lambda s, e: merkle.mth(s, e, self.perfect))

    def consistency(self, first: int, second: int) -> list[bytes]:
        self.prefetch_for(lambda p: merkle.consistency_path(first, second, lambda s, e: merkle.mth(s, e, p)))
        return merkle.consistency_path(first, second, lambda s, e: merkle.mth(s, e, self.perfect))

    # -- appending -------------------------------------------------------------------------
    def append(self, size: int, leaves: list[bytes]) -> None:
        """Append leaf hashes to a tree of `size` leaves; completed tiles feed the level above."""
        level, items, count = 0, leaves, size
        while items:
            index = count // TILE_WIDTH
            buf = bytearray(self.tile(level, index))
            if len(buf) != (count % TILE_WIDTH) * H:
                raise MissingTileError(
                    f"tile {level}/{index} holds {len(buf) // H} hashes, expected {count % TILE_WIDTH}"
                )
            completed: list[bytes] = []
            for item in items:
                buf += item
                if len(buf) == TILE_WIDTH * H:
                    self._put(level, index, bytes(buf))
                    completed.append(merkle.root_of([bytes(buf[i : i + H]) for i in range(0, len(buf), H)]))
                    index += 1
                    buf = bytearray()
            if buf:
                self._put(level, index, bytes(buf))
            level, items, count = level + 1, completed, count // TILE_WIDTH

    def _put(self, level: int, index: int, data: bytes) -> None:
        self.cache[(level, index)] = data
        self.dirty.add((level, index))

    def flush(self) -> None:
        if not self.dirty:
            return
        Tile.objects.bulk_create(
            [Tile(level=lv, index=ix, hashes=self.cache[(lv, ix)]) for lv, ix in sorted(self.dirty)],
            update_conflicts=True,
            unique_fields=["level", "index"],
            update_fields=["hashes"],
            batch_size=500,
        )
        self.dirty.clear()
