package main

import (
	"bufio"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// display shows a list name or id on a line of text: as it is when it is
// printable UTF-8, else (and when it is empty or starts with a double quote,
// which would look quoted) as a Go-quoted string.
func display(s string) string {
	if s == "" || strings.HasPrefix(s, `"`) || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// writeJSONString writes b, which must be valid UTF-8, as a JSON string
// that decodes to exactly b. Only '"', '\\' and control characters are
// escaped, so it can run over a value in chunks: multi-byte sequences pass
// through untouched wherever a chunk ends.
func writeJSONString(w *bufio.Writer, b []byte) {
	w.WriteByte('"')
	writeJSONStringBody(w, b)
	w.WriteByte('"')
}

const hexDigits = "0123456789abcdef"

func writeJSONStringBody(w *bufio.Writer, b []byte) {
	start := 0
	for i, c := range b {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.Write(b[start:i])
		start = i + 1
		switch c {
		case '"', '\\':
			w.WriteByte('\\')
			w.WriteByte(c)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		default:
			w.WriteString(`\u00`)
			w.WriteByte(hexDigits[c>>4])
			w.WriteByte(hexDigits[c&0xf])
		}
	}
	w.Write(b[start:])
}

// writeNameMember writes `"key":"s"` if s is valid UTF-8, else
// `"key_b64":"<base64 of s>"`, so that every byte string survives.
func writeNameMember(w *bufio.Writer, key, s string) {
	if utf8.ValidString(s) {
		writeJSONString(w, []byte(key))
		w.WriteByte(':')
		writeJSONString(w, []byte(s))
		return
	}
	writeJSONString(w, []byte(key+"_b64"))
	w.WriteByte(':')
	writeJSONString(w, []byte(base64.StdEncoding.EncodeToString([]byte(s))))
}

// writeIntMember writes `,"key":n`.
func writeIntMember(w *bufio.Writer, key string, n int64) {
	w.WriteByte(',')
	writeJSONString(w, []byte(key))
	w.WriteByte(':')
	w.WriteString(strconv.FormatInt(n, 10))
}

// errWriter remembers the first error of the writer under it, so that a
// failed copy can say which side failed.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// errReader remembers the first error other than io.EOF of the reader
// under it.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
