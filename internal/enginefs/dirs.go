package enginefs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
)

// Dirs is what MkdirAllSynced needs of a file system: ManagerFS has it,
// and OSDirs is the operating system's.
type Dirs interface {
	Stat(name string) (iofs.FileInfo, error)
	MkdirAll(dir string, perm iofs.FileMode) error
	SyncDir(dir string) error
}

// OSDirs returns the operating system's directories as Dirs.
func OSDirs() Dirs { return osDirs{fsys.OS()} }

type osDirs struct{ fsys.FS }

func (osDirs) MkdirAll(dir string, perm iofs.FileMode) error { return os.MkdirAll(dir, perm) }

// MkdirAllSynced makes dir and its missing parents, then syncs the parent
// of each new directory, from dir's up to the closest one that existed: a
// directory's entry is durable only once its parent is synced. An engine
// that finds dir there after this (Pebble does) syncs only dir's parent;
// the entries of the parents made here would stay unsynced, and a power
// cut could take the whole data directory with them.
func MkdirAllSynced(d Dirs, dir string) error {
	var parents []string // the directories to sync, innermost first
	for p := dir; ; {
		_, err := d.Stat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, iofs.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(p)
		parents = append(parents, parent)
		if parent == p {
			break
		}
		p = parent
	}
	if len(parents) == 0 {
		return nil // dir exists
	}
	if err := d.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range parents {
		if err := d.SyncDir(p); err != nil {
			return fmt.Errorf("sync directory %s: %w", p, err)
		}
	}
	return nil
}

// Visible returns names, a listing of dir, without the dictionaries' own
// files (when dir is the Manager's data directory) and without a
// re-encryption's temporary files (anywhere): an engine must not see, and
// delete as unknown, the dictionaries, nor a temporary the Manager renames
// over the file it replaces. names is filtered in place.
func Visible(m *dict.Manager, dir string, names []string) []string {
	abs, err := filepath.Abs(dir)
	root := err == nil && filepath.Clean(abs) == m.Dir()
	return slices.DeleteFunc(names, func(n string) bool {
		return (root && dict.IsDictionaryFile(n)) || dict.IsReencryptTemp(n)
	})
}
