package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/streamcrypt/scdb"
)

// The JSON Lines format of export and import (documented in "scdb help"):
//
//	{"id":"alice","value":{"age":31}}     the value is one JSON text: embedded
//	{"id":"note","value_text":"hi\n"}     the value is UTF-8: a JSON string
//	{"id":"img","value_b64":"iVBORw=="}   anything else: standard base64
//
// with "id_b64" in place of "id" for an id that is not valid UTF-8. Each
// form carries the exact bytes, so import(export(list)) == list.

// maxEmbedded is the largest value export embeds as JSON. Larger values are
// streamed as value_text or value_b64, which need no parse to choose.
const maxEmbedded = 1 << 20

// writeExportLine writes one record as an export line.
func writeExportLine(out *bufio.Writer, rec *scdb.Record, prog *progress) error {
	out.WriteByte('{')
	writeNameMember(out, "id", rec.ID())
	out.WriteByte(',')
	var err error
	if rec.Size() <= maxEmbedded {
		err = writeSmallValue(out, rec, prog)
	} else {
		err = writeLargeValue(out, rec, prog)
	}
	out.WriteString("}\n")
	return err
}

func writeSmallValue(out *bufio.Writer, rec *scdb.Record, prog *progress) error {
	v, err := rec.Value()
	if err != nil {
		return err
	}
	prog.Add(int64(len(v)))
	switch {
	case !utf8.Valid(v):
		out.WriteString(`"value_b64":"`)
		out.WriteString(base64.StdEncoding.EncodeToString(v))
		out.WriteByte('"')
	case embeddable(v):
		out.WriteString(`"value":`)
		out.Write(v)
	default:
		out.WriteString(`"value_text":`)
		writeJSONString(out, v)
	}
	return nil
}

// embeddable reports whether the UTF-8 value v can stand in a line as JSON
// and be read back byte for byte: one JSON text, with no line break (which
// would end the line) and no whitespace around it (which a parser drops).
func embeddable(v []byte) bool {
	return len(v) > 0 && !isJSONSpace(v[0]) && !isJSONSpace(v[len(v)-1]) &&
		!bytes.ContainsAny(v, "\r\n") && json.Valid(v)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// writeLargeValue streams a value over maxEmbedded in two passes: one to
// learn whether it is UTF-8, one to write it.
func writeLargeValue(out *bufio.Writer, rec *scdb.Record, prog *progress) error {
	text, err := utf8Stream(rec.Reader())
	if err != nil {
		return err
	}
	src := countingReader{r: rec.Reader(), p: prog}
	if !text {
		out.WriteString(`"value_b64":"`)
		enc := base64.NewEncoder(base64.StdEncoding, out)
		if _, err := io.Copy(enc, src); err != nil {
			return err
		}
		enc.Close()
		out.WriteByte('"')
		return nil
	}
	out.WriteString(`"value_text":"`)
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		writeJSONStringBody(out, buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	out.WriteByte('"')
	return nil
}

// utf8Stream reports whether everything r yields is valid UTF-8, reading
// it in chunks and carrying a rune split between two chunks over.
func utf8Stream(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10+utf8.UTFMax)
	carry := 0
	for {
		n, err := r.Read(buf[carry : len(buf)-utf8.UTFMax+carry])
		data := buf[:carry+n]
		cut := len(data)
		for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax+1; i-- {
			if utf8.RuneStart(data[i]) {
				if !utf8.FullRune(data[i:]) {
					cut = i
				}
				break
			}
		}
		if !utf8.Valid(data[:cut]) {
			return false, nil
		}
		carry = copy(buf, data[cut:])
		if err == io.EOF {
			return carry == 0, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// A parsedLine is what an import line stores: value under id, or, without
// an id, value under a new id from List.Append.
type parsedLine struct {
	id    string
	hasID bool
	value []byte
}

// lineRules say how import reads a line: with idField set, the whole line is
// the value and the id is that field; with raw, the whole line is the value
// and the id comes from Append; otherwise export records are recognised.
type lineRules struct {
	idField string
	raw     bool
}

func (lr lineRules) parse(line []byte) (parsedLine, error) {
	if !utf8.Valid(line) {
		return parsedLine{}, errors.New("is not valid UTF-8 (JSON Lines are UTF-8; export writes binary values as value_b64)")
	}
	if !json.Valid(line) {
		var v any
		err := json.Unmarshal(line, &v)
		return parsedLine{}, fmt.Errorf("is not valid JSON (%v)", err)
	}
	members, isObject := objectMembers(line)
	switch {
	case lr.idField != "":
		id, err := fieldID(members, isObject, lr.idField)
		return parsedLine{id: id, hasID: true, value: line}, err
	case !lr.raw && isExportShape(members):
		return decodeExport(members)
	}
	return parsedLine{value: line}, nil
}

// member is one top-level member of a JSON object: its name and the exact
// bytes of its value.
type member struct {
	name string
	raw  json.RawMessage
}

// objectMembers returns the members of the valid JSON text line, in order,
// if it is an object.
func objectMembers(line []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var m member
		m.name, _ = tok.(string)
		if err := dec.Decode(&m.raw); err != nil {
			return nil, false
		}
		ms = append(ms, m)
	}
	return ms, true
}

// fieldID is the id --id FIELD takes from a line: a string field's value,
// or a number field's JSON text as written.
func fieldID(ms []member, isObject bool, field string) (string, error) {
	if !isObject {
		return "", fmt.Errorf("is not a JSON object, so it has no field %q for --id", field)
	}
	var found *member
	for i := range ms {
		if ms[i].name != field {
			continue
		}
		if found != nil {
			return "", fmt.Errorf("has the field %q twice", field)
		}
		found = &ms[i]
	}
	if found == nil {
		return "", fmt.Errorf("has no field %q for --id", field)
	}
	switch c := found.raw[0]; {
	case c == '"':
		var s string
		err := json.Unmarshal(found.raw, &s)
		return s, err
	case c == '-' || (c >= '0' && c <= '9'):
		return string(found.raw), nil
	}
	return "", fmt.Errorf("has a field %q that is neither a string nor a number: %.40s", field, found.raw)
}

var (
	idNames    = map[string]bool{"id": true, "id_b64": true}
	valueNames = map[string]bool{"value": true, "value_text": true, "value_b64": true}
)

// isExportShape reports whether an object's members are those of an export
// record: exactly an id member and a value member, in either order.
func isExportShape(ms []member) bool {
	if len(ms) != 2 {
		return false
	}
	a, b := ms[0].name, ms[1].name
	return (idNames[a] && valueNames[b]) || (valueNames[a] && idNames[b])
}

func decodeExport(ms []member) (parsedLine, error) {
	p := parsedLine{hasID: true}
	for _, m := range ms {
		var err error
		switch m.name {
		case "id":
			p.id, err = jsonString(m)
		case "id_b64":
			var b []byte
			b, err = base64Member(m)
			p.id = string(b)
		case "value":
			p.value = m.raw
		case "value_text":
			var s string
			s, err = jsonString(m)
			p.value = []byte(s)
		case "value_b64":
			p.value, err = base64Member(m)
		}
		if err != nil {
			return parsedLine{}, err
		}
	}
	return p, nil
}

func jsonString(m member) (string, error) {
	var s string
	if m.raw[0] != '"' || json.Unmarshal(m.raw, &s) != nil {
		return "", fmt.Errorf("has the members of an export record, but its %q is not a string (use --raw to store such lines whole)", m.name)
	}
	return s, nil
}

func base64Member(m member) ([]byte, error) {
	s, err := jsonString(m)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("has a %q that is not standard padded base64 (%v)", m.name, err)
	}
	return b, nil
}
