package main

// The parent runs every selected workload on every engine, each in a child
// process, run after run, checks what the children read against the
// generator, and prints the report.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

func parentMain() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	root := o.dir
	if root == "" {
		if root, err = os.MkdirTemp("", "scdb-bench-"); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if !o.keep {
		defer os.RemoveAll(root)
	}
	if o.cfg.CPUProfile != "" {
		if err := os.MkdirAll(o.cfg.CPUProfile, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	start := time.Now()
	results, failures := o.runAll(root)
	fmt.Print(report(o, results, time.Since(start)))
	if len(failures) > 0 {
		fmt.Fprintln(os.Stderr, "\nbench: FAILED:")
		for _, f := range failures {
			fmt.Fprintln(os.Stderr, "  "+f)
		}
		return 1
	}
	return 0
}

// results[run][workload][engine]
type resultSet []map[string]map[string]*Result

func (o *options) runAll(root string) (resultSet, []string) {
	cfgJSON, err := json.Marshal(o.cfg)
	if err != nil {
		return nil, []string{err.Error()}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, []string{err.Error()}
	}
	expected := map[string]string{}
	var failures []string
	results := make(resultSet, o.runs)
	for run := range o.runs {
		results[run] = map[string]map[string]*Result{}
		runDir := filepath.Join(root, fmt.Sprintf("run%d", run+1))
		for _, w := range o.workloads {
			results[run][w.Name] = map[string]*Result{}
			if w.Expect != nil && expected[w.Name] == "" {
				expected[w.Name] = w.Expect(o.cfg)
			}
			for _, d := range o.engines {
				res, err := o.runOne(self, cfgJSON, runDir, w, d)
				if err != nil {
					failures = append(failures, fmt.Sprintf("run %d, %s on %s: %v", run+1, w.Name, d.Name, err))
					continue
				}
				if o.verbose {
					fmt.Fprintf(os.Stderr, "run %d/%d  %-12s %-10s %8.3f s  %s\n", run+1, o.runs, w.Name, d.Name, res.Seconds, res.Skipped)
				}
				if w.Expect != nil && res.Skipped == "" && res.Digest != expected[w.Name] {
					failures = append(failures, fmt.Sprintf("run %d, %s on %s: read digest %s, the generator's is %s: the records differ",
						run+1, w.Name, d.Name, res.Digest, expected[w.Name]))
				}
				results[run][w.Name][d.Name] = res
			}
		}
		if !o.keep {
			if err := os.RemoveAll(runDir); err != nil {
				failures = append(failures, err.Error())
			}
		}
	}
	return results, failures
}

// runOne runs workload w on engine d in a child process and returns its
// result.
func (o *options) runOne(self string, cfgJSON []byte, runDir string, w Workload, d Driver) (*Result, error) {
	engineDir := filepath.Join(runDir, safeName(d.Name))
	dir := filepath.Join(engineDir, w.Fixture)
	if w.CopyFrom != "" {
		if err := copyTree(filepath.Join(engineDir, w.CopyFrom), dir); err != nil {
			return nil, fmt.Errorf("copying the fixture: %w", err)
		}
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	var stdout bytes.Buffer
	cmd := exec.Command(self, childCmd, w.Name, d.Name, dir, string(cfgJSON))
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("reading the child's result: %w", err)
	}
	return &res, nil
}

// copyTree copies the regular files under src to dst, which must not exist.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(target, 0o755)
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
