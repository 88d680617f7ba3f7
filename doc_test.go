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
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, pkg := range pkgs {
		p := doc.New(pkg, dir, 0)
		if p.Doc == "" && len(pkg.Files) > 0 {
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
