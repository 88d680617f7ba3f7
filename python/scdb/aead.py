"""XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) on top of ``cryptography``'s
ChaCha20-Poly1305, plus the two key derivations of FORMAT.md §4.3
(HKDF-SHA256 for raw keys, Argon2id for passphrases).

HChaCha20 is implemented here in pure Python (32-bit arithmetic).
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_SIZE = 32
NONCE_SIZE = 24
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE  # a sealed page: nonce || ciphertext || tag

_M32 = 0xFFFFFFFF
_SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"


def _qr(s: list, a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & _M32; s[d] ^= s[a]; s[d] = ((s[d] << 16) | (s[d] >> 16)) & _M32
    s[c] = (s[c] + s[d]) & _M32; s[b] ^= s[c]; s[b] = ((s[b] << 12) | (s[b] >> 20)) & _M32
    s[a] = (s[a] + s[b]) & _M32; s[d] ^= s[a]; s[d] = ((s[d] << 8) | (s[d] >> 24)) & _M32
    s[c] = (s[c] + s[d]) & _M32; s[b] ^= s[c]; s[b] = ((s[b] << 7) | (s[b] >> 25)) & _M32


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    """HChaCha20(key, 16-byte nonce) -> 32-byte subkey (draft-irtf-cfrg-xchacha §2.2)."""
    if len(key) != 32 or len(nonce16) != 16:
        raise ValueError("hchacha20: key must be 32 bytes and nonce 16")
    s = list(_SIGMA) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        _qr(s, 0, 4, 8, 12); _qr(s, 1, 5, 9, 13); _qr(s, 2, 6, 10, 14); _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15); _qr(s, 1, 6, 11, 12); _qr(s, 2, 7, 8, 13); _qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def _inner(key: bytes, nonce: bytes):
    if len(nonce) != NONCE_SIZE:
        raise ValueError("xchacha20poly1305: nonce must be 24 bytes")
    return ChaCha20Poly1305(hchacha20(key, nonce[:16])), b"\0\0\0\0" + nonce[16:]


def seal(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """XChaCha20-Poly1305 encryption: returns ciphertext || tag."""
    aead, n12 = _inner(key, nonce)
    return aead.encrypt(n12, bytes(plaintext), bytes(ad))


def open_(key: bytes, nonce: bytes, sealed: bytes, ad: bytes) -> bytes | None:
    """XChaCha20-Poly1305 decryption; returns the plaintext, or None if the tag fails."""
    aead, n12 = _inner(key, nonce)
    try:
        return aead.decrypt(n12, bytes(sealed), bytes(ad))
    except InvalidTag:
        return None


RAW_KEY_INFO = b"scdb v1 raw-key slot"


def kek_from_raw_key(raw_key: bytes, salt: bytes) -> bytes:
    """KEK of a raw-key slot: HKDF-SHA256(IKM=raw key, salt, info, L=32)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=RAW_KEY_INFO).derive(raw_key)


def kek_from_passphrase(passphrase: bytes, salt: bytes, t: int, m_kib: int, p: int) -> bytes:
    """KEK of a passphrase slot: Argon2id v0x13, 32-byte tag, no secret, no AD."""
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    except ImportError as e:  # pragma: no cover - cryptography < 44
        raise RuntimeError("scdb: passphrase slots need cryptography >= 44 (Argon2id)") from e
    return Argon2id(salt=salt, length=32, iterations=t, lanes=p, memory_cost=m_kib).derive(passphrase)
