package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand: how it is called, what it says about itself,
// which flags it takes and the function that does the work.
type command struct {
	name    string
	args    string // the positional arguments, for usage lines
	minArgs int
	maxArgs int
	summary string
	flags   []string // flag names it accepts beyond --key-file and --help
	run     func(a *app, args []string) error
}

// commands lists every subcommand, in the order help shows them.
var commands []*command

func init() {
	commands = []*command{
		{name: "create", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).create,
			flags:   []string{"page-size"},
			summary: "make a new empty file (asks for a passphrase twice)"},
		{name: "lists", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).lists,
			flags:   []string{"json"},
			summary: "the lists, with their record counts and value bytes"},
		{name: "ls", args: "FILE LIST", minArgs: 2, maxArgs: 2, run: (*app).ls,
			flags:   []string{"json"},
			summary: "the ids and value sizes of a list, in id order"},
		{name: "get", args: "FILE LIST ID", minArgs: 3, maxArgs: 3, run: (*app).get,
			summary: "write a record's value to stdout"},
		{name: "put", args: "FILE LIST ID [VALUE|-]", minArgs: 3, maxArgs: 4, run: (*app).put,
			summary: "store VALUE, or stdin if it is - or absent, under ID (replacing it)"},
		{name: "rm", args: "FILE LIST ID", minArgs: 3, maxArgs: 3, run: (*app).rm,
			summary: "delete a record"},
		{name: "drop", args: "FILE LIST", minArgs: 2, maxArgs: 2, run: (*app).drop,
			summary: "delete a list and every record in it"},
		{name: "import", args: "FILE LIST", minArgs: 2, maxArgs: 2, run: (*app).importCmd,
			flags:   []string{"id", "raw", "batch"},
			summary: "read JSON Lines from stdin into a list (one transaction)"},
		{name: "export", args: "FILE LIST", minArgs: 2, maxArgs: 2, run: (*app).export,
			summary: "write a list to stdout as JSON Lines"},
		{name: "check", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).check,
			flags:   []string{"json"},
			summary: "verify every page and invariant; exit 4 on any problem"},
		{name: "stats", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).stats,
			flags:   []string{"json"},
			summary: "page size, pages used and free, lists, records, bytes, key slots"},
		{name: "compact", args: "FILE | SRC DST", minArgs: 1, maxArgs: 2, run: (*app).compact,
			summary: "rewrite FILE in as few pages as it needs, or write that copy of SRC to DST; verified"},
		{name: "shrink", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).shrink,
			summary: "give FILE's free pages back to the file system, in place (the same file, readers go on)"},
		{name: "backup", args: "FILE DEST", minArgs: 2, maxArgs: 2, run: (*app).backup,
			summary: "copy one commit of FILE to DEST while others write it; checked, then renamed into place"},
		{name: "passwd", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).passwd,
			flags:   []string{"add-passphrase", "add-key-file", "change", "remove", "new-key-file"},
			summary: "list, add, change or remove passphrases and key files"},
		{name: "rotate", args: "FILE", minArgs: 1, maxArgs: 1, run: (*app).rotate,
			flags:   []string{"keep", "new-passphrase", "new-key-file"},
			summary: "re-encrypt everything under a new data key, crash-safely"},
	}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// options holds every flag of every command; each command registers the
// ones it takes.
type options struct {
	keyFile       string
	json          bool
	pageSize      int
	idField       string
	raw           bool
	batch         int
	addPassphrase bool
	addKeyFile    string
	change        int
	remove        int
	newKeyFile    string
	newPassphrase bool
	keep          bool
}

// flagDoc describes every flag, for registration and for help.
var flagDoc = map[string]string{
	"key-file":       "PATH: open with the key in PATH (32 raw bytes or 64 hex digits)",
	"json":           "write JSON for scripts instead of text",
	"page-size":      "N: bytes per page, a power of two from 1024 to 65536 (default 4096)",
	"id":             "FIELD: take each record's id from the top-level field FIELD of its line",
	"raw":            "store every line as a value, even one shaped like an export record",
	"batch":          "N: commit every N records instead of once at the end",
	"add-passphrase": "add a passphrase (asked twice, or SCDB_NEW_PASSPHRASE)",
	"add-key-file":   "PATH: add the key in PATH; a new random key is written there if PATH does not exist",
	"change":         "SLOT: replace key slot SLOT by a new passphrase (or --new-key-file)",
	"remove":         "SLOT: empty key slot SLOT (never the last one)",
	"new-key-file":   "PATH: the new credential is the key in PATH (written there if PATH does not exist)",
	"new-passphrase": "give the new file a new passphrase (asked twice, or SCDB_NEW_PASSPHRASE)",
	"keep":           "give the new file the passphrase or key it was opened with",
}

func (a *app) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("scdb "+a.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &a.opts
	o.change, o.remove = -1, -1
	fs.StringVar(&o.keyFile, "key-file", "", flagDoc["key-file"])
	for _, name := range a.cmd.flags {
		usage := flagDoc[name]
		switch name {
		case "json":
			fs.BoolVar(&o.json, name, false, usage)
		case "page-size":
			fs.IntVar(&o.pageSize, name, 0, usage)
		case "id":
			fs.StringVar(&o.idField, name, "", usage)
		case "raw":
			fs.BoolVar(&o.raw, name, false, usage)
		case "batch":
			fs.IntVar(&o.batch, name, 0, usage)
		case "add-passphrase":
			fs.BoolVar(&o.addPassphrase, name, false, usage)
		case "add-key-file":
			fs.StringVar(&o.addKeyFile, name, "", usage)
		case "change":
			fs.IntVar(&o.change, name, -1, usage)
		case "remove":
			fs.IntVar(&o.remove, name, -1, usage)
		case "new-key-file":
			fs.StringVar(&o.newKeyFile, name, "", usage)
		case "new-passphrase":
			fs.BoolVar(&o.newPassphrase, name, false, usage)
		case "keep":
			fs.BoolVar(&o.keep, name, false, usage)
		}
	}
	return fs
}

// errHelp asks report to print the command's usage and exit 0.
var errHelp = errors.New("help requested")

// parse reads the command's flags, which may come before, between or after
// its arguments ("--" ends them), and returns the arguments.
func (a *app) parse(args []string) ([]string, error) {
	fs := a.flagSet()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usageErr(a.cmd, "%v", err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	a.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { a.set[f.Name] = true })
	if len(pos) < a.cmd.minArgs || len(pos) > a.cmd.maxArgs {
		return nil, usageErr(a.cmd, "%s takes %s, not %d arguments", a.cmd.name, a.cmd.args, len(pos))
	}
	return pos, nil
}

// commandUsage is the usage text of one command: its synopsis and flags.
func commandUsage(c *command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: scdb %s %s\n  %s\n", c.name, c.args, c.summary)
	for _, name := range append([]string{"key-file"}, c.flags...) {
		doc := flagDoc[name]
		if c.name == "create" && name == "key-file" {
			doc = "PATH: protect the file with the key in PATH, written there new and random if PATH does not exist"
		}
		arg, text, ok := strings.Cut(doc, ": ")
		if !ok || strings.ContainsAny(arg, " ") {
			arg, text = "", doc
		}
		fmt.Fprintf(&b, "  --%-28s %s\n", strings.TrimSpace(name+" "+arg), text)
	}
	return b.String()
}
