package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/streamcrypt/scdb"
)

// A credential is a raw key or a passphrase, and where it came from, so that
// messages can name it ("the key in SCDB_KEY does not open data.scdb").
type credential struct {
	key        []byte
	passphrase []byte
	source     string // "k.key" (a key file), "SCDB_KEY", "SCDB_PASSPHRASE", "prompt"
	written    bool   // the key file source was written by this command
	label      string // overrides describe, e.g. "the new passphrase"
}

func (c *credential) options() scdb.Options {
	return scdb.Options{Key: c.key, Passphrase: c.passphrase}
}

func (c *credential) scdb() scdb.Credential {
	return scdb.Credential{Key: c.key, Passphrase: c.passphrase}
}

// describe names the credential for a sentence: "the passphrase",
// "the key in k.key".
func (c *credential) describe() string {
	switch {
	case c.label != "":
		return c.label
	case c.key != nil && c.source == "SCDB_KEY":
		return "the key in SCDB_KEY"
	case c.key != nil:
		return "the key in " + c.source
	case c.source == "SCDB_PASSPHRASE":
		return "the passphrase in SCDB_PASSPHRASE"
	default:
		return "the passphrase"
	}
}

// wrong is the message for a credential that opens none of path's slots.
func (c *credential) wrong(path string) string {
	switch {
	case c == nil:
		return fmt.Sprintf("wrong key or passphrase for %s", path)
	case c.key != nil:
		return fmt.Sprintf("%s does not open %s; use the key file or passphrase it was created with", c.describe(), path)
	case c.source == "SCDB_PASSPHRASE":
		return fmt.Sprintf("wrong passphrase for %s (it came from SCDB_PASSPHRASE)", path)
	default:
		return fmt.Sprintf("wrong passphrase for %s", path)
	}
}

// wipe overwrites the secret bytes once the library holds its own copy.
func (c *credential) wipe() {
	clear(c.key)
	clear(c.passphrase)
}

// openCredential finds the credential that opens path: --key-file, else
// SCDB_KEY, else SCDB_PASSPHRASE, else a passphrase typed at the terminal.
func (a *app) openCredential(path string) (*credential, error) {
	if a.opts.keyFile != "" {
		return readKeyFile(a.opts.keyFile)
	}
	if c, err := a.envCredential(); c != nil || err != nil {
		return c, err
	}
	pass, err := a.askPassphrase(path, fmt.Sprintf("Passphrase for %s: ", path), false, "")
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 {
		return nil, fail(exitWrongKey, "an empty passphrase opens nothing; type the passphrase of %s", path)
	}
	return &credential{passphrase: pass, source: "prompt"}, nil
}

// createCredential finds the credential a new file is made with: as
// openCredential, except that a --key-file that does not exist is written
// with a new random key, and a typed passphrase is asked for twice.
func (a *app) createCredential(path string) (*credential, error) {
	if a.opts.keyFile != "" {
		return a.keyFileOrNew(a.opts.keyFile, path)
	}
	if c, err := a.envCredential(); c != nil || err != nil {
		return c, err
	}
	return a.newPassphrase(path)
}

// envCredential returns the credential in SCDB_KEY or SCDB_PASSPHRASE, or
// nil if neither is set.
func (a *app) envCredential() (*credential, error) {
	if h := a.env("SCDB_KEY"); h != "" {
		key, err := parseHexKey([]byte(h))
		if err != nil {
			return nil, fail(exitUsage, "SCDB_KEY must hold 64 hex digits (a 32-byte key): %v", err)
		}
		return &credential{key: key, source: "SCDB_KEY"}, nil
	}
	if p := a.env("SCDB_PASSPHRASE"); p != "" {
		return &credential{passphrase: []byte(p), source: "SCDB_PASSPHRASE"}, nil
	}
	return nil, nil
}

// newPassphrase returns a new passphrase for path: SCDB_NEW_PASSPHRASE when
// changing an existing file's credentials, SCDB_PASSPHRASE when creating
// one, else typed twice at the terminal.
func (a *app) newPassphrase(path string) (*credential, error) {
	envName, hint := "SCDB_NEW_PASSPHRASE", "SCDB_NEW_PASSPHRASE"
	if a.cmd.name == "create" {
		envName, hint = "SCDB_PASSPHRASE", "" // the general "no key" message
	}
	if p := a.env(envName); p != "" {
		return &credential{passphrase: []byte(p), source: envName}, nil
	}
	pass, err := a.askPassphrase(path, fmt.Sprintf("New passphrase for %s: ", path), true, hint)
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 {
		return nil, fail(exitError, "a passphrase cannot be empty; nothing was changed")
	}
	return &credential{passphrase: pass, source: "prompt"}, nil
}

// askPassphrase reads a passphrase from the terminal without echo, twice
// when confirm is set. newEnv names the variable that could have given a
// new passphrase instead.
func (a *app) askPassphrase(path, prompt string, confirm bool, newEnv string) ([]byte, error) {
	t, err := openTerminal(a.stdin, a.stderr)
	if err != nil && newEnv != "" {
		return nil, fail(exitUsage, "no new passphrase for %s: set %s, or run in a terminal to type it (%v)", path, newEnv, err)
	}
	if err != nil {
		return nil, fail(exitUsage, "no key for %s: give --key-file PATH, or set SCDB_KEY or SCDB_PASSPHRASE (%v)", path, err)
	}
	defer t.Close()
	pass, err := t.ReadPassword(prompt)
	if err != nil {
		return nil, fail(exitError, "cannot read the passphrase: %v", err)
	}
	if !confirm {
		return pass, nil
	}
	again, err := t.ReadPassword("Repeat it: ")
	if err != nil {
		return nil, fail(exitError, "cannot read the passphrase: %v", err)
	}
	defer clear(again)
	if !bytes.Equal(pass, again) {
		clear(pass)
		return nil, fail(exitError, "the two passphrases differ; nothing was changed")
	}
	return pass, nil
}

// readKeyFile reads a key file: 32 raw bytes, or 64 hex digits with
// optional surrounding whitespace.
func readKeyFile(path string) (*credential, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fail(exitNotFound, "key file %s does not exist", path)
	}
	if err != nil {
		return nil, fail(exitError, "cannot read key file %s: %v", path, err)
	}
	defer clear(b)
	if len(b) == 32 {
		return &credential{key: bytes.Clone(b), source: path}, nil
	}
	key, err := parseHexKey(b)
	if err != nil {
		return nil, fail(exitUsage, "key file %s holds %d bytes: a key file must hold 32 raw bytes or 64 hex digits", path, len(b))
	}
	return &credential{key: key, source: path}, nil
}

func parseHexKey(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) != 64 {
		return nil, fmt.Errorf("%d characters", len(b))
	}
	key := make([]byte, 32)
	if _, err := hex.Decode(key, b); err != nil {
		return nil, errors.New("not hex")
	}
	return key, nil
}

// keyFileOrNew reads the key in path or, if path does not exist, writes a
// new random key there (64 hex digits, mode 0600) and says so.
func (a *app) keyFileOrNew(path, dbPath string) (*credential, error) {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return readKeyFile(path)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := writeKeyFile(path, key); err != nil {
		return nil, fail(exitError, "cannot write key file %s: %v", path, err)
	}
	fmt.Fprintf(a.stderr, "scdb: wrote a new random key to %s; keep it safe: without it %s cannot be opened with that key\n", path, dbPath)
	return &credential{key: key, source: path, written: true}, nil
}

// discard removes a key file this command wrote for c, when the command
// failed and the key opens nothing.
func (c *credential) discard() {
	if c != nil && c.written {
		os.Remove(c.source)
	}
}

func writeKeyFile(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	text := []byte(hex.EncodeToString(key) + "\n")
	defer clear(text)
	_, err = f.Write(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
