// Command scdb creates, reads, writes, checks and maintains scdb files from
// the shell:
//
//	go install github.com/streamcrypt/scdb/cmd/scdb@latest
//	scdb help
//
// It is a thin layer over the public API of package scdb: every command opens
// the file, does its work in transactions, and maps the library's sentinel
// errors to sentences and exit codes. It never takes a key on the command
// line: keys come from a key file, the environment or a terminal prompt.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// app is one invocation of the command: its streams, its environment and
// the flags it was given.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    func(string) string
	cmd    *command
	opts   options
	set    map[string]bool // the flags given on the command line
}

// run runs the command line args (without the program name) and returns the
// exit status. It is main without the process: tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, shortUsage())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdout, stderr)
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "scdb: there is no command %q; run \"scdb help\" for the list\n", args[0])
		return exitUsage
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: env, cmd: cmd}
	pos, err := a.parse(args[1:])
	if err == nil {
		err = cmd.run(a, pos)
	}
	return a.report(err)
}
