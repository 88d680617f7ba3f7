"""The plaintext header (FORMAT.md §3) and its key slots (§4): decoding and
choosing a header copy, unlocking the data key, and building a new header.
"""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass, field

from . import aead
from .errors import ErrCorrupt, ErrKDFLimit, ErrNotSCDB, ErrVersion, ErrWrongKey
from .xxh64 import xxh64

MAGIC = bytes.fromhex("895343444 20d0a1a".replace(" ", ""))
FORMAT_MAJOR = 3
FORMAT_MINOR = 0
SUITE_XCHACHA = 1
MIN_SHIFT, MAX_SHIFT = 10, 16
COPY_SIZE = 512
HEADER_BYTES = 1024
SLOT_SIZE = 104
NUM_SLOTS = 4
SLOTS_OFFSET = 64
CHECKSUM_OFFSET = 504

SLOT_EMPTY, SLOT_PASSPHRASE, SLOT_RAW = 0, 1, 2
MAX_KDF_TIME = 64
MAX_KDF_MEMORY = 4 << 20

# Defaults for new passphrase slots (§4.3) and the reader's cost ceiling (§4.2).
DEFAULT_KDF = (3, 65536, 4)  # t, m KiB, p
DEFAULT_MAX_KDF_MEMORY_KIB = 2 * 65536
DEFAULT_MAX_KDF_WORK = 2 * 3 * 65536


def slot_problem(s: bytes) -> str | None:
    """Return why the 104-byte slot ``s`` is malformed (§4.2), or None."""
    kind = s[0]
    p, t, m = s[1], struct.unpack_from("<I", s, 4)[0], struct.unpack_from("<I", s, 8)[0]
    if kind == SLOT_EMPTY:
        return None if not any(s) else "empty slot is not all zero"
    if kind == SLOT_PASSPHRASE:
        if p == 0:
            return "argon2id threads must be at least 1"
        if t == 0 or t > MAX_KDF_TIME:
            return f"argon2id time {t} outside 1..{MAX_KDF_TIME}"
        if m < 8 * p or m > MAX_KDF_MEMORY:
            return f"argon2id memory {m} KiB outside {8 * p}..{MAX_KDF_MEMORY}"
    elif kind == SLOT_RAW:
        if p or t or m:
            return "raw-key slot has Argon2id parameters"
    else:
        return f"unknown slot kind {kind}"
    if s[2] or s[3] or any(s[12:16]):
        return "reserved slot bytes are not zero"
    return None


@dataclass
class Header:
    """One decoded header copy."""

    page_shift: int
    file_id: bytes
    epoch: int
    key_id: bytes
    slots: list = field(default_factory=list)  # 4 × 104 bytes

    @property
    def page_size(self) -> int:
        return 1 << self.page_shift

    def encode(self) -> bytes:
        b = bytearray(COPY_SIZE)
        b[0:8] = MAGIC
        struct.pack_into("<HHBBH", b, 8, FORMAT_MAJOR, FORMAT_MINOR, SUITE_XCHACHA, self.page_shift, 0)
        b[16:32] = self.file_id
        struct.pack_into("<Q", b, 32, self.epoch)
        b[40:56] = self.key_id
        for i, s in enumerate(self.slots):
            b[SLOTS_OFFSET + SLOT_SIZE * i:SLOTS_OFFSET + SLOT_SIZE * (i + 1)] = s
        struct.pack_into("<Q", b, CHECKSUM_OFFSET, xxh64(bytes(b[:CHECKSUM_OFFSET])))
        return bytes(b)


def decode_copy(b: bytes) -> Header:
    """Decode one 512-byte copy whose magic was checked. Order (as the Go
    reader): checksum, then major/minor/flags, suite (ErrVersion), then page
    shift, reserved bytes and slots (ErrCorrupt, page 0)."""
    if struct.unpack_from("<Q", b, CHECKSUM_OFFSET)[0] != xxh64(b[:CHECKSUM_OFFSET]):
        raise ErrCorrupt(0, "header checksum mismatch")
    major, minor, suite, shift, flags = struct.unpack_from("<HHBBH", b, 8)
    if major != FORMAT_MAJOR or minor != FORMAT_MINOR or flags != 0:
        raise ErrVersion(f"scdb: file is format {major}.{minor} flags {flags:#x}; this package reads 3.0")
    if suite != SUITE_XCHACHA:
        raise ErrVersion(f"scdb: unknown cipher suite {suite}")
    if not MIN_SHIFT <= shift <= MAX_SHIFT:
        raise ErrCorrupt(0, f"page size 2^{shift} outside 2^10..2^16")
    if any(b[56:64]) or any(b[480:504]):
        raise ErrCorrupt(0, "reserved header bytes are not zero")
    slots = []
    for i in range(NUM_SLOTS):
        s = bytes(b[SLOTS_OFFSET + SLOT_SIZE * i:SLOTS_OFFSET + SLOT_SIZE * (i + 1)])
        why = slot_problem(s)
        if why:
            raise ErrCorrupt(0, f"key slot {i}: {why}")
        slots.append(s)
    return Header(shift, bytes(b[16:32]), struct.unpack_from("<Q", b, 32)[0], bytes(b[40:56]), slots)


def pick_header(head: bytes) -> tuple[Header, int]:
    """Choose the header copy (§3.2) from the first min(1024, size) bytes."""
    best, best_idx, first_err, magic = None, -1, None, False
    for i in range(2):
        lo = i * COPY_SIZE
        if len(head) < lo + COPY_SIZE or head[lo:lo + 8] != MAGIC:
            continue
        magic = True
        try:
            h = decode_copy(head[lo:lo + COPY_SIZE])
        except (ErrCorrupt, ErrVersion) as e:
            if first_err is None or isinstance(e, ErrVersion):
                first_err = e
            continue
        if best is None or h.epoch > best.epoch:
            best, best_idx = h, i
    if best is not None:
        return best, best_idx
    if not magic:
        raise ErrNotSCDB("scdb: not an scdb file")
    raise first_err


def _slot_ad(key_id: bytes, s: bytes) -> bytes:
    return key_id + s[:32]


def unwrap_slot(s: bytes, key_id: bytes, key: bytes | None, passphrase: bytes | None,
                max_mem: int, max_work: int) -> bytes | None:
    """Try one slot; returns the data key, None if it does not open, raises ErrKDFLimit."""
    kind = s[0]
    salt = s[16:32]
    if kind == SLOT_RAW and key is not None:
        kek = aead.kek_from_raw_key(key, salt)
    elif kind == SLOT_PASSPHRASE and passphrase is not None:
        p, t, m = s[1], struct.unpack_from("<I", s, 4)[0], struct.unpack_from("<I", s, 8)[0]
        if m > max_mem or t * m > max_work:
            raise ErrKDFLimit(f"scdb: Argon2id t={t} m={m} KiB is above the limit of m <= {max_mem} KiB "
                              f"and t*m <= {max_work} (raise max_kdf_memory_kib / max_kdf_work)")
        kek = aead.kek_from_passphrase(passphrase, salt, t, m, p)
    else:
        return None
    return aead.open_(kek, s[32:56], s[56:104], _slot_ad(key_id, s))


def unlock(h: Header, key: bytes | None, passphrase: bytes | None,
           max_mem: int = DEFAULT_MAX_KDF_MEMORY_KIB, max_work: int = DEFAULT_MAX_KDF_WORK) -> bytes:
    """Return the data key from the first slot of the credential's kind that opens (§4.3)."""
    skipped = None
    for i, s in enumerate(h.slots):
        if s[0] == SLOT_EMPTY:
            continue
        try:
            dk = unwrap_slot(s, h.key_id, key, passphrase, max_mem, max_work)
        except ErrKDFLimit as e:
            skipped = skipped or ErrKDFLimit(f"key slot {i}: {e}")
            continue
        if dk is not None:
            return dk
    if skipped is not None:
        raise skipped
    what = "key" if key is not None else "passphrase"
    raise ErrWrongKey(f"scdb: the {what} opens none of the file's key slots")


def new_slot(data_key: bytes, key_id: bytes, key: bytes | None, passphrase: bytes | None,
             kdf: tuple[int, int, int] = DEFAULT_KDF, rand=os.urandom) -> bytes:
    """Wrap ``data_key`` in a new raw-key or passphrase slot (§4.2)."""
    b = bytearray(SLOT_SIZE)
    salt = rand(16)
    b[16:32] = salt
    if key is not None:
        b[0] = SLOT_RAW
        kek = aead.kek_from_raw_key(key, salt)
    else:
        t, m, p = kdf
        b[0] = SLOT_PASSPHRASE
        b[1] = p
        struct.pack_into("<II", b, 4, t, m)
        why = slot_problem(bytes(b))
        if why:
            from .errors import ErrInvalid
            raise ErrInvalid(f"scdb: Argon2id parameters: {why}")
        kek = aead.kek_from_passphrase(passphrase, salt, t, m, p)
    nonce = rand(24)
    b[32:56] = nonce
    b[56:104] = aead.seal(kek, nonce, data_key, _slot_ad(key_id, bytes(b)))
    return bytes(b)


def same(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of secrets."""
    return hmac.compare_digest(a, b)
