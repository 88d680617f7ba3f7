package main

import (
	"fmt"
	"io"
	"strings"
)

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, fullHelp())
		return exitOK
	}
	if c := lookup(args[0]); c != nil {
		fmt.Fprint(stdout, commandUsage(c))
		return exitOK
	}
	fmt.Fprintf(stderr, "scdb: there is no command %q\n%s", args[0], shortUsage())
	return exitUsage
}

func shortUsage() string {
	var b strings.Builder
	b.WriteString("usage: scdb COMMAND [flags] ARGS\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-34s %s\n", c.name+" "+c.args, c.summary)
	}
	b.WriteString("\n\"scdb help\" explains keys, the JSON Lines format and exit statuses;\n" +
		"\"scdb help COMMAND\" or \"scdb COMMAND --help\" shows a command's flags.\n")
	return b.String()
}

func fullHelp() string {
	return "scdb works with scdb files: encrypted single-file stores of named lists of\n" +
		"records, each record an id and a value of any size.\n\n" +
		shortUsage() + helpBody
}

const helpBody = `
FLAGS
  Flags may come before, between or after the arguments; "--" ends them.
  --key-file PATH    (every command) open with the key in PATH: 32 raw bytes, or
                     64 hex digits with optional whitespace around them. For
                     create, a PATH that does not exist is written with a new
                     random key (64 hex digits, mode 0600).
  --json             (lists, ls, stats, check) JSON for scripts: lists and ls write
                     one object per line, streamed; stats and check one object.
  --page-size N      (create) bytes per page, a power of two from 1024 to 65536.
  --id FIELD, --raw, --batch N                  (import) see IMPORT below.
  --add-passphrase, --add-key-file PATH, --change SLOT [--new-key-file PATH],
  --remove SLOT                                 (passwd) see KEY SLOTS below.
  --keep, --new-passphrase, --new-key-file PATH (rotate) see ROTATE below.

KEYS
  A key is never taken on the command line. The first of these opens a file:
    --key-file PATH    a key file (see above)
    SCDB_KEY           a 32-byte key as 64 hex digits, in the environment
    SCDB_PASSPHRASE    a passphrase, in the environment
    a prompt           the passphrase, typed at the terminal without echo
  create asks for a typed passphrase twice. New passphrases for passwd and
  rotate come from SCDB_NEW_PASSPHRASE, else are typed twice. Prompts use the
  terminal (/dev/tty), never stdin, which may carry data. Passphrases are used
  exactly as given: no Unicode normalisation, no trimming.

OUTPUT
  get writes the value's bytes and nothing else. ls writes "SIZE  ID" lines and
  lists "N records B bytes  NAME" lines; a name or id that is not printable
  UTF-8 (or is empty, or starts with '"') is shown Go-quoted. With --json an id
  or name that is not valid UTF-8 is given as "id_b64"/"name_b64" (base64).
  Long work (import, export, check, compact, rotate, backup) draws a progress
  bar with rate and ETA on stderr when stderr is a terminal, and nothing
  otherwise.

EXPORT FORMAT (JSON Lines: UTF-8, one JSON object per line, each ending "\n")
  scdb export FILE LIST writes one line per record, in id byte order, from one
  snapshot, with the id first and then the value in one of three forms:
    {"id":"alice","value":{"age":31}}     the value is one JSON text, embedded
    {"id":"note","value_text":"hi\n"}     the value is UTF-8 text, as a JSON string
    {"id":"logo","value_b64":"iVBORw=="}  any other value, in standard padded
                                          base64 (RFC 4648 section 4)
  "value" is used only when the value's bytes are valid UTF-8, are one JSON text
  (RFC 8259), contain no line break, do not start or end with whitespace, and
  are at most 1 MiB; they then appear in the line byte for byte. Other UTF-8
  values (the empty value included) use "value_text", whose string decodes to
  exactly the value's bytes. An id that is not valid UTF-8 is written as
  "id_b64" (standard padded base64) instead of "id". So import(export(list))
  gives back every id and value byte for byte.

IMPORT
  scdb import FILE LIST reads JSON Lines from stdin into LIST, creating it if
  need be. A line ends at "\n" (a "\r" before it is dropped); the last line
  need not end with one; a line may be at most 64 MiB (use put for larger
  values: it streams). Empty and all-whitespace lines are skipped. Every
  other line must be valid UTF-8 and one valid JSON text, else the import
  fails naming the line. How a line is stored:
    export record  without --id or --raw, a line that is a JSON object with
                   exactly two members, "id" or "id_b64" and one of "value",
                   "value_text" or "value_b64" (in either order), is stored as
                   export wrote it: that value under that id, replacing any
                   record with that id (an upsert). A line with those members
                   but of the wrong types (e.g. a numeric "id") is an error;
                   use --raw to store such lines whole.
    value          any other line is a value: the line's exact bytes (without
                   its line end) are stored under a new id from Append: 16 hex
                   digits, increasing, after every id Append gave in LIST.
    --raw          every line is a value, even one shaped like an export record.
    --id FIELD     every line is a value, the whole line, stored under the id in
                   the line's top-level member FIELD (an upsert): a string's
                   decoded text, or a number's JSON text exactly as written
                   ("1.50" stays 1.50). A line that is not an object, lacks
                   FIELD, has it twice, or has it as another type fails.
  The import is one transaction however large it is: if any line fails, or the
  input cannot be read, nothing is imported and the file is as it was.
  --batch N commits every N records instead: a failure then keeps the batches
  committed before it, and the message says how many records that was.
  import holds one line in memory at a time; export streams each value.

KEY SLOTS (scdb passwd FILE)
  A file has 4 key slots, each a passphrase or a raw key that opens it.
    scdb passwd FILE                        list the key slots
    scdb passwd FILE --add-passphrase       add a passphrase
    scdb passwd FILE --add-key-file PATH    add the key in PATH (written there,
                                            new and random, if PATH does not exist)
    scdb passwd FILE --change SLOT          replace slot SLOT by a new passphrase,
        [--new-key-file PATH]               or by the key in PATH
    scdb passwd FILE --remove SLOT          empty slot SLOT (never the last one)
  Each change rewrites only the header: instant whatever the file's size, and
  crash-safe. The data key is not changed: a copy of the old file still opens
  with a removed or replaced credential. Use rotate when a credential leaked.

ROTATE (scdb rotate FILE)
  Re-encrypts every page under a new random data key: writes FILE.rotate.tmp
  beside FILE with scdb's Create, copies everything into it in one
  transaction, verifies that both hold the same lists, ids and values, flushes
  it to disk, renames it over FILE and flushes the directory. A crash at any
  point leaves either the old or the new file, complete, at FILE. The new file
  gets only the credentials given here: --keep (the one FILE was opened with),
  --new-passphrase, --new-key-file PATH, any combination; with none of them it
  asks at the terminal whether to keep the one used to open. Every other key
  slot of FILE is dropped. The new file's generation count goes on from FILE's.

COMPACT (scdb compact FILE, or scdb compact SRC DST)
  With one file, compacts it in place: writes a copy in as few pages as it
  needs to FILE.compact beside it, streams both in lockstep to verify every
  list, id, value and Append sequence, then renames the copy over FILE and
  syncs the directory. A crash at any point leaves FILE whole, old or new
  (at worst a stray FILE.compact, replaced by the next compact). FILE must
  not be open in another program.
  With two, writes the verified copy of SRC to DST (which must not exist)
  and leaves SRC alone. Either way the copy has the same key slots and data
  key, a new file id (pages of the two files cannot be mixed) and a
  generation that continues the original's. Keep using only one of the two.

SHRINK (scdb shrink FILE)
  Gives the free pages of FILE back to the file system where it is: moves
  the live pages nearest the end of the file into free pages further down
  (copy on write, in ordinary commits: a crash at any point leaves every
  record), then cuts the end off. Unlike compact, FILE stays the same file:
  programs reading it go on, and it needs no room for a copy. Nothing moves
  while another program holds a snapshot of FILE. Each pass moves at most
  32 MiB of tree pages and 64 MiB of values; shrink repeats it until the
  file stops getting smaller. A value it cannot move stays, and the file is
  cut after it (compact moves everything). Closing a file after a write
  does one pass, when at least 1/20 of it is free and 1 MiB can go.

BACKUP (scdb backup FILE DEST)
  Copies FILE as of one commit, the last when the backup starts, while
  programs that have FILE open go on committing: the copy is never torn, as a
  cp of a file being written can be. Pages are copied as they are, still
  encrypted; the copy opens with every key and passphrase FILE opens with,
  at that commit's generation. The copy is written to a temporary file
  beside DEST, flushed to disk, opened and checked like "scdb check", and
  only then renamed over DEST and the directory flushed: a crash, a full
  disk or a copy that fails its check leaves DEST as it was (an older
  backup there stays whole). An existing DEST is replaced, as cp would;
  DEST may not be FILE itself. The copy keeps FILE's file id, like cp:
  write to only one of the two, or give the copy its own with "scdb rotate".
  On Linux backup reads FILE beside a program that has it open for writing;
  on other systems that program holds FILE locked and backup fails with
  exit 6: back up from inside it with DB.Backup, the same copy as a library
  call.

EXIT STATUS
  0  success
  1  an error not listed below
  2  usage: unknown command or flag, wrong arguments, or no key given and no
     terminal to ask for a passphrase
  3  wrong key or passphrase
  4  the file is damaged or was tampered with: a page failed to decrypt, check
     found problems, or a copy did not verify
  5  not found: the file, key file, list, record or key slot does not exist
  6  the file is locked: a command that writes found another process with
     the file open for writing. Commands that only read work beside a
     writer on Linux; on other systems they are refused too, and a command
     that writes is refused while any process has the file open
`
