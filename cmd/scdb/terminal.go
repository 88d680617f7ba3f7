package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminal is where passphrases are typed and questions answered: the
// controlling terminal, never stdin, which may carry data (put, import).
type terminal interface {
	ReadPassword(prompt string) ([]byte, error) // without echo
	ReadLine(prompt string) (string, error)
	Close() error
}

// openTerminal opens the terminal to ask on. Tests replace it.
var openTerminal = openTTY

// openTTY opens /dev/tty or, where there is none, uses stdin when it is a
// terminal, prompting on stderr.
func openTTY(stdin io.Reader, stderr io.Writer) (terminal, error) {
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		return &tty{in: f, out: f, close: f.Close}, nil
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &tty{in: f, out: stderr, close: func() error { return nil }}, nil
	}
	return nil, errors.New("there is no terminal to ask on")
}

type tty struct {
	in    *os.File
	out   io.Writer
	close func() error
}

func (t *tty) ReadPassword(prompt string) ([]byte, error) {
	fmt.Fprint(t.out, prompt)
	b, err := term.ReadPassword(int(t.in.Fd()))
	fmt.Fprintln(t.out)
	return b, err
}

// ReadLine reads one line, a byte at a time so that nothing past it is
// consumed.
func (t *tty) ReadLine(prompt string) (string, error) {
	fmt.Fprint(t.out, prompt)
	var b strings.Builder
	one := make([]byte, 1)
	for {
		n, err := t.in.Read(one)
		if n == 1 && one[0] != '\n' {
			b.WriteByte(one[0])
			continue
		}
		if n == 1 || (err == io.EOF && b.Len() > 0) {
			return strings.TrimSpace(b.String()), nil
		}
		if err == nil {
			continue
		}
		return "", err
	}
}

func (t *tty) Close() error { return t.close() }

// isTerminal reports whether w is a terminal: progress bars are drawn only
// there. Tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
