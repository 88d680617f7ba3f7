package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/streamcrypt/scdb"
)

// checkJSON is the --json form of a check.
type checkJSON struct {
	File         string        `json:"file"`
	OK           bool          `json:"ok"`
	Error        string        `json:"error,omitempty"` // why the file could not be checked
	Generation   uint64        `json:"generation,omitempty"`
	PageSize     int           `json:"page_size,omitempty"`
	PageCount    uint64        `json:"page_count,omitempty"`
	PagesReached uint64        `json:"pages_reached,omitempty"`
	FreePages    uint64        `json:"free_pages"`
	LeakedPages  uint64        `json:"leaked_pages"`
	Lists        int           `json:"lists"`
	Records      int64         `json:"records"`
	Bytes        int64         `json:"bytes"`
	Problems     []problemJSON `json:"problems"`
	Warnings     []string      `json:"warnings"`
}

// problemJSON is one problem; page is left out when the problem is not on
// a particular page.
type problemJSON struct {
	Page    uint64 `json:"page,omitempty"`
	Message string `json:"message"`
}

// check runs the library's full check and prints its report. Any problem,
// or a file that does not open for damage, exits with exitCorrupt.
func (a *app) check(args []string) (err error) {
	path := args[0]
	prog := a.newProgress()
	defer prog.Stop()
	db, cred, err := a.openDB(path, true, prog)
	if err != nil {
		return a.checkFailed(path, err)
	}
	defer cred.wipe()
	defer closeDB(db, path, &err)
	if prog != nil {
		if st, err := db.Stats(); err == nil {
			prog.Start("check", usedBytes(st))
		}
	}
	rep, cerr := db.Check()
	prog.Stop()
	if rep == nil {
		return a.checkFailed(path, fileErr(path, cred, cerr))
	}
	if a.opts.json {
		err = writeJSON(a.stdout, checkReportJSON(path, rep))
	} else {
		writeCheckText(a.stdout, path, rep)
	}
	if err != nil {
		return fail(exitError, "cannot write to stdout: %v", err)
	}
	if n := len(rep.Problems); n > 0 {
		return fail(exitCorrupt, "%s failed its check with %d %s; restore it from a backup, or export what still reads",
			path, n, plural(n, "problem", "problems"))
	}
	return nil
}

// checkFailed reports a file that could not be checked; with --json it
// also writes the failure as JSON.
func (a *app) checkFailed(path string, err error) error {
	if a.opts.json {
		writeJSON(a.stdout, checkJSON{File: path, Error: err.Error(), Problems: []problemJSON{}, Warnings: []string{}})
	}
	return err
}

func checkReportJSON(path string, rep *scdb.CheckReport) checkJSON {
	warnings := rep.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	problems := []problemJSON{}
	for _, p := range rep.Problems {
		problems = append(problems, problemJSON{Page: p.Page, Message: strings.ReplaceAll(p.Message, "scdb: ", "")})
	}
	return checkJSON{File: path, OK: len(rep.Problems) == 0, Generation: rep.Generation,
		PageSize: rep.PageSize, PageCount: rep.PageCount, PagesReached: rep.Pages,
		FreePages: rep.FreePages, LeakedPages: rep.LeakedPages, Lists: rep.Lists,
		Records: rep.Records, Bytes: rep.Bytes, Problems: problems, Warnings: warnings}
}

func writeCheckText(w io.Writer, path string, rep *scdb.CheckReport) {
	if n := len(rep.Problems); n == 0 {
		fmt.Fprintf(w, "%s: ok\n", path)
	} else {
		fmt.Fprintf(w, "%s: %d %s\n", path, n, plural(n, "problem", "problems"))
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  problem: %s\n", strings.ReplaceAll(p.String(), "scdb: ", ""))
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	fixed := rep.PageCount - min(rep.PageCount, rep.Pages+rep.FreePages+rep.LeakedPages)
	fmt.Fprintf(w, "  generation %d, %d pages of %d bytes: %d header and meta, %d in use, %d free, %d leaked\n",
		rep.Generation, rep.PageCount, rep.PageSize, fixed, rep.Pages, rep.FreePages, rep.LeakedPages)
	fmt.Fprintf(w, "  %d %s, %d %s, %d value bytes\n", rep.Lists, plural(rep.Lists, "list", "lists"),
		rep.Records, plural(int(min(rep.Records, 2)), "record", "records"), rep.Bytes)
}

// statsJSON is the --json form of stats.
type statsJSON struct {
	File               string     `json:"file"`
	PageSize           int        `json:"page_size"`
	Pages              uint64     `json:"pages"`
	PagesUsed          uint64     `json:"pages_used"`
	PagesFree          uint64     `json:"pages_free"`
	FileBytes          int64      `json:"file_bytes"`
	Lists              int        `json:"lists"`
	Records            int64      `json:"records"`
	ValueBytes         int64      `json:"value_bytes"`
	SpaceAmplification *float64   `json:"space_amplification"` // null when there are no value bytes
	Generation         uint64     `json:"generation"`
	KeySlots           []slotJSON `json:"key_slots"`
}

type slotJSON struct {
	Index     int    `json:"index"`
	Kind      string `json:"kind"` // "passphrase" or "key"
	KDFTime   uint32 `json:"kdf_time,omitempty"`
	KDFMemory uint32 `json:"kdf_memory_kib,omitempty"`
	KDFThread uint8  `json:"kdf_threads,omitempty"`
}

func (a *app) stats(args []string) error {
	path := args[0]
	return a.withDB(path, true, nil, func(db *scdb.DB, cred *credential) (err error) {
		st, err := db.Stats()
		if err != nil {
			return fileErr(path, cred, err)
		}
		if a.opts.json {
			err = writeJSON(a.stdout, statsReportJSON(path, st))
		} else {
			_, err = io.WriteString(a.stdout, statsText(path, st))
		}
		if err != nil {
			return fail(exitError, "cannot write to stdout: %v", err)
		}
		return nil
	})
}

// amplification is file bytes per value byte, or nil without values.
func amplification(st *scdb.Stats) *float64 {
	if st.Bytes == 0 {
		return nil
	}
	f := float64(st.FileBytes()) / float64(st.Bytes)
	return &f
}

func statsReportJSON(path string, st *scdb.Stats) statsJSON {
	out := statsJSON{File: path, PageSize: st.PageSize, Pages: st.Pages, PagesUsed: st.Pages - st.FreePages,
		PagesFree: st.FreePages, FileBytes: st.FileBytes(), Lists: st.Lists, Records: st.Records,
		ValueBytes: st.Bytes, SpaceAmplification: amplification(st), Generation: st.Generation,
		KeySlots: []slotJSON{}}
	for _, s := range st.KeySlots {
		j := slotJSON{Index: s.Index, Kind: "key"}
		if s.Passphrase {
			j = slotJSON{Index: s.Index, Kind: "passphrase", KDFTime: s.KDFTime, KDFMemory: s.KDFMemory, KDFThread: s.KDFThreads}
		}
		out.KeySlots = append(out.KeySlots, j)
	}
	return out
}

func statsText(path string, st *scdb.Stats) string {
	var b strings.Builder
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-21s%s\n", name, fmt.Sprintf(format, args...))
	}
	row("file", "%s", path)
	row("page size", "%d bytes", st.PageSize)
	row("pages", "%d (%d used, %d free)", st.Pages, st.Pages-st.FreePages, st.FreePages)
	row("file size", "%d bytes (%s)", st.FileBytes(), humanBytes(st.FileBytes()))
	row("lists", "%d", st.Lists)
	row("records", "%d", st.Records)
	row("value bytes", "%d (%s)", st.Bytes, humanBytes(st.Bytes))
	if amp := amplification(st); amp != nil {
		row("space amplification", "%.2f (file bytes / value bytes)", *amp)
	} else {
		row("space amplification", "- (no value bytes)")
	}
	row("generation", "%d", st.Generation)
	row("key slots", "%d", len(st.KeySlots))
	for _, s := range st.KeySlots {
		row(fmt.Sprintf("  slot %d", s.Index), "%s", slotText(s))
	}
	return b.String()
}

// slotText describes a key slot: "passphrase (Argon2id t=3, 64 MiB, p=4)".
func slotText(s scdb.KeySlot) string {
	if !s.Passphrase {
		return "raw key"
	}
	return fmt.Sprintf("passphrase (Argon2id t=%d, %s, p=%d)", s.KDFTime,
		humanBytes(int64(s.KDFMemory)<<10), s.KDFThreads)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
