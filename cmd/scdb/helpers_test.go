package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcrypt/scdb"
	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/testhook"
)

// Passphrase slots made by these tests use a cheap Argon2id cost (the cost
// is stored per slot, so the files still open through the real code path),
// and no test may reach the real terminal: one that prompts installs a
// fakeTerminal.
func init() {
	testhook.KDF = &crypt.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	openTerminal = func(io.Reader, io.Writer) (terminal, error) {
		return nil, errors.New("there is no terminal in tests")
	}
}

const testKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func testKey() []byte {
	k, _ := hex.DecodeString(testKeyHex)
	return k
}

// env is a test environment: SCDB_KEY set to testKeyHex unless replaced.
type env map[string]string

func keyEnv() env { return env{"SCDB_KEY": testKeyHex} }

func (e env) with(k, v string) env {
	out := env{}
	for a, b := range e {
		out[a] = b
	}
	out[k] = v
	return out
}

func (e env) get(k string) string { return e[k] }

type result struct {
	code           int
	stdout, stderr string
}

// scdbRun runs the command in-process with stdin as its input.
func scdbRun(t *testing.T, e env, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	code := run(args, stdin, &out, &errOut, e.get)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustRun runs the command and fails the test unless it exits 0.
func mustRun(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	r := scdbRun(t, e, strings.NewReader(stdin), args...)
	if r.code != 0 {
		t.Fatalf("scdb %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wantExit runs the command and checks its exit status and that stderr
// contains each of msgs.
func wantExit(t *testing.T, e env, stdin string, code int, msgs []string, args ...string) result {
	t.Helper()
	r := scdbRun(t, e, strings.NewReader(stdin), args...)
	if r.code != code {
		t.Fatalf("scdb %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("scdb %s: stderr %q lacks %q", strings.Join(args, " "), r.stderr, m)
		}
	}
	return r
}

// newFile creates an empty file under the test key and returns its path.
func newFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.scdb")
	mustRun(t, keyEnv(), "", "create", path)
	return path
}

// openTest opens path with the test key through the library.
func openTest(t *testing.T, path string, readOnly bool) *scdb.DB {
	t.Helper()
	db, err := scdb.Open(path, scdb.Options{Key: testKey(), ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// fileBytes reads a whole file.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeTerminal answers prompts from a script and records them.
type fakeTerminal struct {
	answers []string
	prompts []string
}

func (f *fakeTerminal) next(prompt string) (string, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return "", io.EOF
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a, nil
}

func (f *fakeTerminal) ReadPassword(prompt string) ([]byte, error) {
	a, err := f.next(prompt)
	return []byte(a), err
}

func (f *fakeTerminal) ReadLine(prompt string) (string, error) { return f.next(prompt) }
func (f *fakeTerminal) Close() error                           { return nil }

// useTerminal makes prompts read the given answers for the rest of the test.
func useTerminal(t *testing.T, answers ...string) *fakeTerminal {
	ft := &fakeTerminal{answers: answers}
	old := openTerminal
	openTerminal = func(io.Reader, io.Writer) (terminal, error) { return ft, nil }
	t.Cleanup(func() { openTerminal = old })
	return ft
}
