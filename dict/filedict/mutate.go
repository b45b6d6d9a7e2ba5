package filedict

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/atrest/atrest/ctr"
)

// The mutations: each is submitted as a record and is durable when the
// call returns (write.go commits concurrent ones in groups: appended to
// the log, or the file rewritten in version 1).

// checkName refuses paths the format cannot hold.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("filedict: %w: empty %s", fs.ErrInvalid, what)
	case len(name) > maxNameLen:
		return fmt.Errorf("filedict: %w: %s of %d bytes (at most %d)", fs.ErrInvalid, what, len(name), maxNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("filedict: %w: %s %q holds a NUL byte", fs.ErrInvalid, what, name)
	}
	return nil
}

func checkEntry(name string, e Entry) error {
	if !e.Method.Valid() {
		return fmt.Errorf("filedict: entry of %q: %w: %w %d", name, fs.ErrInvalid, ctr.ErrUnknownMethod, uint8(e.Method))
	}
	return nil
}

// Insert sets the entry of name, replacing any it had. It returns once the
// change is durable.
func (d *Dict) Insert(name string, e Entry) error {
	if err := checkName("path", name); err != nil {
		return err
	}
	if err := checkEntry(name, e); err != nil {
		return err
	}
	return d.submit(Record{Type: RecordInsert, Name: name, Entry: e, HasEntry: true})
}

// Remove deletes the entry of name and returns once that is durable. A
// name without an entry returns nil and writes nothing.
func (d *Dict) Remove(name string) error {
	if err := checkName("path", name); err != nil {
		return err
	}
	if _, ok := d.Get(name); !ok {
		return nil
	}
	return d.submit(Record{Type: RecordRemove, Name: name})
}

// RemoveMany deletes the entries of names in one group commit and returns
// once that is durable: one write and one fsync however many there are
// (unless their records take more than 16 MiB, the cap on a group, which
// takes one write and one fsync per 16 MiB; see docs/FORMAT.md), and
// BeforeRemove sees them all at once. Names without an entry are
// skipped; an invalid name fails the call before anything is written.
func (d *Dict) RemoveMany(names []string) error {
	recs := make([]Record, 0, len(names))
	for _, n := range names {
		if err := checkName("path", n); err != nil {
			return err
		}
		if _, ok := d.Get(n); ok {
			recs = append(recs, Record{Type: RecordRemove, Name: n})
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return d.submitOp(&op{recs: recs, wake: make(chan bool, 1)})
}

// RemovePrefix deletes the entries of dir and of every path under dir+"/"
// in one durable record. Paths are compared as strings, so pass dir in the
// form the paths were stored in (no trailing slash). Nothing is written
// when no entry matches.
func (d *Dict) RemovePrefix(dir string) error {
	if err := checkName("directory", dir); err != nil {
		return err
	}
	return d.submit(Record{Type: RecordRemovePrefix, Name: dir})
}

// BeginRename records the intent to rename r.Src to r.Dst; call it before
// the file-system rename. At most one rename per Dst may be pending (a
// second one is an error wrapping fs.ErrExist), and Src and Dst must
// differ. A non-nil r.Fresh is copied.
func (d *Dict) BeginRename(r Rename) error {
	if err := checkName("rename source", r.Src); err != nil {
		return err
	}
	if err := checkName("rename destination", r.Dst); err != nil {
		return err
	}
	if r.Src == r.Dst {
		return fmt.Errorf("filedict: %w: rename of %q to itself", fs.ErrInvalid, r.Src)
	}
	rec := Record{Type: RecordRenameBegin, Name: r.Src, Dst: r.Dst}
	if r.Fresh != nil {
		if err := checkEntry(r.Dst, *r.Fresh); err != nil {
			return err
		}
		rec.Entry, rec.HasEntry = *r.Fresh, true
	}
	return d.submit(rec)
}

// CommitRename applies the pending rename of src to dst, durably: dst gets
// the rename's Fresh entry, or else src's entry (or loses its own when src
// has none), src's entry is removed and the intent cleared. Without such a
// pending rename it fails with an error wrapping fs.ErrNotExist.
// On a read-only file system (Options.FS) CommitRename and AbortRename
// change the Dict in memory only, so a reader sees the directory as the
// next writable open will make it.
func (d *Dict) CommitRename(src, dst string) error {
	return d.resolve(RecordRenameCommit, src, dst)
}

// AbortRename clears the pending rename of src to dst, durably, changing no
// entry. Without such a pending rename it fails with an error wrapping
// fs.ErrNotExist.
func (d *Dict) AbortRename(src, dst string) error {
	return d.resolve(RecordRenameAbort, src, dst)
}

func (d *Dict) resolve(t RecordType, src, dst string) error {
	if err := checkName("rename source", src); err != nil {
		return err
	}
	if err := checkName("rename destination", dst); err != nil {
		return err
	}
	return d.submit(Record{Type: t, Name: src, Dst: dst})
}
