"""Meta pages (FORMAT.md §7): encoding, decoding with every check, and page refs (§6.2)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ErrCorrupt

TYPE_META, TYPE_FREELIST, TYPE_BRANCH, TYPE_LEAF, TYPE_CHAIN = 1, 2, 3, 4, 5
TYPE_FREELIST_LOG = 6  # FORMAT.md §6.1, §8.2
FIRST_DATA_PAGE = 3
META_FIXED = 56
FORMAT_MAJOR = 3

ZERO_REF = (0, 0)


def get_ref(b, off: int = 0) -> tuple[int, int]:
    return struct.unpack_from("<QQ", b, off)


def put_ref(b: bytearray, off: int, ref: tuple[int, int]) -> None:
    struct.pack_into("<QQ", b, off, ref[0], ref[1])


def meta_page(gen: int) -> int:
    """The page that holds generation ``gen``'s meta: 1 + gen mod 2."""
    return 1 + gen % 2


def max_page_count(shift: int) -> int:
    return 1 << (63 - shift)


@dataclass(frozen=True)
class Meta:
    gen: int
    page_count: int
    tree: tuple[int, int]
    freelist: tuple[int, int]

    def encode(self, payload_size: int, shift: int) -> bytes:
        b = bytearray(payload_size)
        b[0] = TYPE_META
        b[1] = shift
        struct.pack_into("<H", b, 2, FORMAT_MAJOR)
        struct.pack_into("<QQ", b, 8, self.gen, self.page_count)
        put_ref(b, 24, self.tree)
        put_ref(b, 40, self.freelist)
        return bytes(b)


def decode_meta(p: bytes, pgno: int, shift: int) -> Meta:
    """Decode and check a meta payload read from page ``pgno`` (checks in the Go order)."""
    if p[0] != TYPE_META:
        raise ErrCorrupt(pgno, f"meta page has type {p[0]}")
    if p[1] != shift or struct.unpack_from("<H", p, 2)[0] != FORMAT_MAJOR:
        raise ErrCorrupt(pgno, "meta page disagrees with the header (page size or format)")
    if any(p[4:8]) or any(p[META_FIXED:]):
        raise ErrCorrupt(pgno, "reserved meta bytes are not zero")
    gen, count = struct.unpack_from("<QQ", p, 8)
    tree, fl = get_ref(p, 24), get_ref(p, 40)
    if meta_page(gen) != pgno:
        raise ErrCorrupt(pgno, f"meta of generation {gen} found on page {pgno}")
    if count < FIRST_DATA_PAGE or count > max_page_count(shift):
        raise ErrCorrupt(pgno, f"page count {count} out of range")
    for r in (tree, fl):
        # A zero reference is 16 zero bytes; page 0 with a non-zero generation
        # makes the meta invalid (FORMAT.md §6.2, §7).
        if r[0] == 0 and r[1] != 0:
            raise ErrCorrupt(pgno, f"reference {r}: page 0 with a non-zero generation")
        if r[0] != 0 and (r[0] < FIRST_DATA_PAGE or r[0] >= count or r[1] > gen):
            raise ErrCorrupt(pgno, f"root {r} outside the file or from the future")
    return Meta(gen, count, tree, fl)
