package scdb_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryExportedIdentifierIsDocumented fails on an exported identifier
// without a doc comment, in any package of the module: types, functions,
// methods, constants, variables (a comment on their group counts) and the
// exported fields of exported structs (a line comment counts).
func TestEveryExportedIdentifierIsDocumented(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); path != "." && err == nil {
			return filepath.SkipDir // another module (bench/)
		}
		for _, missing := range undocumented(t, path) {
			t.Errorf("%s: %s has no doc comment", path, missing)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// undocumented lists the exported identifiers of the package in dir that
// lack a doc comment.
func undocumented(t *testing.T, dir string) []string {
	fset := token.NewFileSet()
	byPkg := map[string][]*ast.File{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if ast.IsGenerated(f) || hasIgnoreTag(f) {
			continue
		}
		byPkg[f.Name.Name] = append(byPkg[f.Name.Name], f)
	}
	var missing []string
	for _, files := range byPkg {
		p, err := doc.NewFromFiles(fset, files, dir)
		if err != nil {
			t.Fatal(err)
		}
		if p.Doc == "" {
			missing = append(missing, "package "+p.Name)
		}
		missing = append(missing, values(p.Consts)...)
		missing = append(missing, values(p.Vars)...)
		missing = append(missing, funcs(p.Funcs, "")...)
		for _, typ := range p.Types {
			if typ.Doc == "" {
				missing = append(missing, "type "+typ.Name)
			}
			missing = append(missing, values(typ.Consts)...)
			missing = append(missing, values(typ.Vars)...)
			missing = append(missing, funcs(typ.Funcs, "")...)
			missing = append(missing, funcs(typ.Methods, typ.Name+".")...)
			missing = append(missing, fields(typ)...)
		}
	}
	return missing
}

// hasIgnoreTag reports whether f is built only with `go build` by hand
// (//go:build ignore): it is no package's file.
func hasIgnoreTag(f *ast.File) bool {
	for _, c := range f.Comments {
		for _, l := range c.List {
			if strings.TrimSpace(l.Text) == "//go:build ignore" {
				return true
			}
		}
	}
	return false
}

func values(vs []*doc.Value) []string {
	var out []string
	for _, v := range vs {
		if v.Doc != "" {
			continue
		}
		for _, spec := range v.Decl.Specs {
			vs := spec.(*ast.ValueSpec)
			if vs.Doc != nil || vs.Comment != nil {
				continue
			}
			for _, n := range vs.Names {
				if n.IsExported() {
					out = append(out, n.Name)
				}
			}
		}
	}
	return out
}

func funcs(fs []*doc.Func, prefix string) []string {
	var out []string
	for _, f := range fs {
		if f.Doc == "" {
			out = append(out, "func "+prefix+f.Name)
		}
	}
	return out
}

func fields(typ *doc.Type) []string {
	var out []string
	for _, spec := range typ.Decl.Specs {
		st, ok := spec.(*ast.TypeSpec).Type.(*ast.StructType)
		if !ok {
			continue
		}
		for _, f := range st.Fields.List {
			if f.Doc != nil || f.Comment != nil {
				continue
			}
			for _, n := range f.Names {
				if n.IsExported() {
					out = append(out, "field "+typ.Name+"."+n.Name)
				}
			}
		}
	}
	return out
}
