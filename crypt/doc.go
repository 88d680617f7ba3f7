// Package crypt owns every cryptographic operation in scdb: sealing and
// opening pages with XChaCha20-Poly1305, deriving key-encryption keys from a
// passphrase (Argon2id) or a raw key (HKDF-SHA256), and wrapping the file's
// data key in key slots.
//
// No other package touches a cipher, a nonce or a key derivation. crypt knows
// nothing of files, page numbers' meaning or commits: callers hand it bytes
// and the values to bind as associated data. Nonces are 24 random bytes per
// seal, drawn from the io.Reader given at construction (crypto/rand.Reader
// in production; a deterministic stream only for test vectors).
package crypt
