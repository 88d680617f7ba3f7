// Package testhook holds the two knobs that tests and the conformance
// vector generator turn and applications cannot: the randomness source (so
// vectors are reproducible) and the Argon2id cost of new passphrase slots
// (so tests do not spend 64 MiB and seconds per file). Being internal, it is
// out of reach of code outside this module. Production code reads the nil
// values and uses crypto/rand and crypt.DefaultKDF.
package testhook

import (
	"io"

	"github.com/streamcrypt/scdb/crypt"
)

var (
	// Rand, when set, replaces crypto/rand for file ids, data keys, salts
	// and nonces of files created or opened afterwards.
	Rand io.Reader
	// KDF, when set, is the Argon2id cost of new passphrase slots.
	KDF *crypt.KDFParams
)
