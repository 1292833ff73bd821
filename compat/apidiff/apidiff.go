// Package apidiff compares the exported API of two Go packages: which
// identifiers of one are missing from the other and which are declared
// with a different signature. compat uses it to measure how close
// Pontoon's packages are to etcd/raft v3.6's.
package apidiff

import (
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Loader type-checks packages from the export data the go command writes
// to its build cache, which is much faster than type-checking from source.
type Loader struct {
	exports map[string]string
	imp     types.Importer
}

// NewLoader builds the packages at importPaths and their dependencies (go
// list -export), resolving them as the go command does from directory dir.
func NewLoader(dir string, importPaths ...string) (*Loader, error) {
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, importPaths...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apidiff: go list: %w", err)
	}
	l := &Loader{exports: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, ok := strings.Cut(line, "\t")
		if ok && file != "" {
			l.exports[path] = file
		}
	}
	l.imp = importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		file, ok := l.exports[path]
		if !ok {
			return nil, fmt.Errorf("apidiff: no export data for %s", path)
		}
		return os.Open(file)
	})
	return l, nil
}

// Load returns the type-checked package at importPath, which must be one
// of the paths given to NewLoader or a dependency of one.
func (l *Loader) Load(importPath string) (*types.Package, error) {
	pkg, err := l.imp.Import(importPath)
	if err != nil {
		return nil, fmt.Errorf("apidiff: loading %s: %w", importPath, err)
	}
	return pkg, nil
}

// Surface maps every exported identifier of pkg to its signature. Keys are
// "Name" for package-level objects, "Type.Method" for methods (value or
// pointer receiver) and "Type.Field" for exported struct fields, including
// promoted ones. Signatures name packages by their name only, so the same
// declaration in two modules reads the same.
func Surface(pkg *types.Package) map[string]string {
	qual := func(p *types.Package) string { return p.Name() }
	out := map[string]string{}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		out[name] = objectString(obj, qual)
		tn, ok := obj.(*types.TypeName)
		if !ok {
			continue
		}
		addMembers(out, name, tn.Type(), qual)
	}
	return out
}

// objectString renders obj's kind and type.
func objectString(obj types.Object, qual types.Qualifier) string {
	switch o := obj.(type) {
	case *types.TypeName:
		if o.IsAlias() {
			return "type = " + types.TypeString(o.Type(), qual)
		}
		if _, ok := o.Type().Underlying().(*types.Struct); ok {
			// Exported fields are listed on their own; unexported ones and
			// struct tags are not API.
			return "type struct"
		}
		return "type " + types.TypeString(o.Type().Underlying(), qual)
	case *types.Const:
		return "const " + types.TypeString(o.Type(), qual)
	case *types.Var:
		return "var " + types.TypeString(o.Type(), qual)
	case *types.Func:
		return "func " + types.TypeString(o.Type(), qual)
	}
	return types.ObjectString(obj, qual)
}

// addMembers records the exported methods and fields of the named type t.
func addMembers(out map[string]string, typeName string, t types.Type, qual types.Qualifier) {
	mset := types.NewMethodSet(types.NewPointer(t))
	for i := 0; i < mset.Len(); i++ {
		f := mset.At(i).Obj()
		if f.Exported() {
			out[typeName+"."+f.Name()] = "method " + types.TypeString(f.Type(), qual)
		}
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return
	}
	seen := map[string]bool{}
	var walk func(st *types.Struct)
	walk = func(st *types.Struct) {
		for i := 0; i < st.NumFields(); i++ {
			f := st.Field(i)
			if f.Exported() && !seen[f.Name()] {
				seen[f.Name()] = true
				out[typeName+"."+f.Name()] = "field " + types.TypeString(f.Type(), qual)
			}
			if f.Embedded() {
				if inner, ok := f.Type().Underlying().(*types.Struct); ok {
					walk(inner)
				}
			}
		}
	}
	walk(st)
}

// Diff lists, in sorted order, the identifiers of want missing from got
// ("missing NAME: SIGNATURE"), those whose signatures differ ("differs
// NAME: want SIG, got SIG") and those only got has ("extra NAME:
// SIGNATURE").
func Diff(want, got map[string]string) []string {
	var out []string
	for name, sig := range got {
		if _, ok := want[name]; !ok {
			out = append(out, fmt.Sprintf("extra %s: %s", name, sig))
		}
	}
	for name, sig := range want {
		g, ok := got[name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing %s: %s", name, sig))
		case g != sig:
			out = append(out, fmt.Sprintf("differs %s: want %s, got %s", name, sig, g))
		}
	}
	sort.Strings(out)
	return out
}
