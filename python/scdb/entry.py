"""List entries (FORMAT.md §10.2): the 40-byte value the directory tree keeps per list."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ErrCorrupt

ENTRY_SIZE = 40


@dataclass
class Entry:
    count: int = 0
    total: int = 0  # byte total
    seq: int = 0  # next Append number
    root: tuple = (0, 0)

    def encode(self) -> bytes:
        return struct.pack("<QQQQQ", self.count, self.total, self.seq, self.root[0], self.root[1])

    def is_list(self) -> bool:
        """A list (has records), not a kept Append sequence."""
        return self.count > 0

    def kept(self) -> bool:
        """Whether the directory keeps the entry: records, or an Append sequence in use."""
        return self.count > 0 or self.seq > 0


def decode_entry(b: bytes, name: bytes = b"") -> Entry:
    if len(b) != ENTRY_SIZE:
        raise ErrCorrupt(None, f"list entry of {len(b)} bytes for list {name!r}")
    count, total, seq, rp, rg = struct.unpack("<QQQQQ", b)
    e = Entry(count, total, seq, (rp, rg))
    if (count > 0 and rp != 0) or (count == 0 and rp == 0 and rg == 0 and total == 0 and seq > 0):
        return e
    raise ErrCorrupt(None, f"list entry of {name!r} with {count} records, {total} bytes, "
                           f"Append number {seq} and root {(rp, rg)}")
