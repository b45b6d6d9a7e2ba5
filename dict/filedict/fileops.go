package filedict

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atrest/atrest/fsys"
)

// openLog opens the dictionary's file for writing its log.
func openLog(fs fsys.FS, path string) (fsys.File, error) {
	return fs.OpenFile(path, os.O_WRONLY, 0)
}

// tempPattern is the CreateTemp pattern of the temporary files a rewrite
// creates next to the dictionary: "<base>.tmp-<digits>".
func tempPattern(base string) string { return base + ".tmp-*" }

// removeStaleTemps deletes temporary files that a rewrite interrupted by a
// crash left next to path. Failures are ignored: a stale file only costs
// space, and the next Open tries again.
func removeStaleTemps(fs fsys.FS, path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	names, err := fs.List(dir)
	if err != nil {
		return
	}
	prefix := base + ".tmp-"
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		tmp := filepath.Join(dir, n)
		if st, err := fs.Lstat(tmp); err == nil && st.Mode().IsRegular() {
			fs.Remove(tmp)
		}
	}
}

// cutTail makes the bytes of the file path holds, data, from end on
// unreadable as records, durably, and returns the file's size after: a
// truncation where the file system has one, else zeros written over what
// is not zero already (a reader takes zeros for the end of the log).
func cutTail(fs fsys.FS, path string, data []byte, end int64) (size int64, err error) {
	f, err := fs.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	size = int64(len(data))
	if t, ok := f.(fsys.Truncater); ok {
		size, err = end, t.Truncate(end)
	} else {
		last := int64(len(data))
		for last > end && data[last-1] == 0 {
			last--
		}
		err = writeZeros(f, end, last)
	}
	if err != nil {
		return 0, err
	}
	return size, f.Sync()
}

// zeros is what the log's file is extended with, and what overwrites a
// torn tail where the file cannot be truncated.
var zeros [64 << 10]byte

// writeZeros writes zeros over [from, to) of f.
func writeZeros(f fsys.File, from, to int64) error {
	for off := from; off < to; {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), to-off)], off)
		if err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// errReadOnly is what a mutation of a Dict opened on a read-only file
// system returns.
func (d *Dict) errReadOnly() error {
	return fmt.Errorf("filedict: %s: %w", d.path, fsys.ErrReadOnly)
}
