// Package migration loads a store's versioned SQL files and picks the ones
// still to apply. Applying them (locking, transactions, the
// schema_migrations table's DDL) is the dialect's own business.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// File is one versioned SQL file, named NNNN_description.sql.
type File struct {
	Version int
	SQL     string
}

// Load reads every dir/*.sql in fsys, ordered by version. A file not named
// NNNN_name.sql (NNNN > 0) or two files with one version are errors, so a
// bad file stops startup rather than being skipped.
func Load(fsys fs.FS, dir string) ([]File, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("store: list migrations: %w", err)
	}
	var out []File
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q is not named NNNN_name.sql", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("store: read migration %q: %w", base, err)
		}
		out = append(out, File{Version: v, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("store: two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

// Pending returns the files whose versions are not in applied, in order.
func Pending(files []File, applied []int) []File {
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	var out []File
	for _, f := range files {
		if !done[f.Version] {
			out = append(out, f)
		}
	}
	return out
}
