package operator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
)

// What ReencryptAll re-encrypts: the files whose entry differs from what
// a file created now gets (another method, or a data key old enough), and
// the leftovers of interrupted re-encryptions it removes first.

// reencryptCandidate is a file ReencryptAll selected and its size then.
type reencryptCandidate struct {
	rel  string
	size int64
}

// reencryptSelect removes leftover temporary files (and entries of
// temporary files that were never created) and lists, sorted by name, the
// files that need re-encrypting. It walks the directory rather than the
// file dictionary: plaintext files have no entry. It walks the Manager's
// file system (fsys.Walk skips what is removed while it runs: beside a
// live engine, files and directories go at any moment).
func reencryptSelect(ctx context.Context, m *dict.Manager, opt ReencryptOptions) ([]reencryptCandidate, error) {
	mt := m.Maintenance()
	dir := m.Dir()
	var sel []reencryptCandidate
	var temps []string
	walkErr := fsys.Walk(mt.FS(), dir, func(p string, info fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		switch {
		case dict.IsDictionaryFile(r):
			return nil
		case dict.IsReencryptTemp(r):
			temps = append(temps, r)
			return nil
		case opt.Filter != nil && !opt.Filter(r):
			return nil
		}
		e, ok, err := m.Lookup(r)
		if err != nil {
			return err
		}
		if !mt.Outdated(e, ok, opt.OlderThan) {
			return nil
		}
		sel = append(sel, reencryptCandidate{rel: r, size: info.Size()})
		return nil
	})
	if walkErr != nil {
		return nil, fmt.Errorf("dict: reencrypt: listing %s: %w", dir, walkErr)
	}
	// A crash between a temporary file's entry and its creation leaves
	// the entry alone, holding its data key.
	for name := range mt.Entries() {
		if dict.IsReencryptTemp(name) && !slices.Contains(temps, name) {
			temps = append(temps, name)
		}
	}
	var errs []error
	for _, t := range temps {
		if err := mt.RemoveRewriteTemp(t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("dict: reencrypt: removing the leftover %s: %w", t, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(sel, func(a, b reencryptCandidate) int { return strings.Compare(a.rel, b.rel) })
	return sel, nil
}
