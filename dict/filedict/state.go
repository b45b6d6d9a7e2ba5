package filedict

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// state is what applying a record reads and changes: the replayed maps at
// Open, or a writer's overlay on the committed maps.
type state interface {
	get(name string) (Entry, bool)
	put(name string, e Entry)
	del(name string)
	under(dir string) []string // names present that are dir or inside it
	pendingFor(dst string) (Rename, bool)
	setPending(r Rename)
	clearPending(dst string)
}

// inDir reports whether name is dir or a path under dir+"/".
func inDir(name, dir string) bool {
	return strings.HasPrefix(name, dir) && (len(name) == len(dir) || name[len(dir)] == '/')
}

// applyRecord applies r to st. changed is false when r changes nothing (a
// Remove or RemovePrefix of absent names): the writer then skips the
// record. dead is how many log records r makes dead (r itself included)
// for the compaction count. A rename record that does not match the
// pending renames is an error and st is left unchanged.
func applyRecord(st state, r Record) (changed bool, dead int, err error) {
	switch r.Type {
	case RecordInsert:
		if _, had := st.get(r.Name); had {
			dead = 1 // the record that set the old entry
		}
		st.put(r.Name, r.Entry)
		return true, dead, nil
	case RecordRemove:
		if _, had := st.get(r.Name); !had {
			return false, 1, nil
		}
		st.del(r.Name)
		return true, 2, nil
	case RecordRemovePrefix:
		names := st.under(r.Name)
		for _, n := range names {
			st.del(n)
		}
		return len(names) > 0, 1 + len(names), nil
	case RecordRenameBegin:
		if p, ok := st.pendingFor(r.Dst); ok {
			return false, 0, fmt.Errorf("rename of %q to %q: %w: a rename from %q to it is pending", r.Name, r.Dst, fs.ErrExist, p.Src)
		}
		rn := Rename{Src: r.Name, Dst: r.Dst}
		if r.HasEntry {
			e := r.Entry
			rn.Fresh = &e
		}
		st.setPending(rn)
		return true, 0, nil
	case RecordRenameCommit, RecordRenameAbort:
		p, ok := st.pendingFor(r.Dst)
		if !ok || p.Src != r.Name {
			return false, 0, fmt.Errorf("%s of %q to %q: %w: no such pending rename", r.Type, r.Name, r.Dst, fs.ErrNotExist)
		}
		st.clearPending(r.Dst)
		dead = 2 // the begin record and this one
		if r.Type == RecordRenameAbort {
			return true, dead, nil
		}
		e, has := st.get(r.Name)
		if p.Fresh != nil {
			e, has = *p.Fresh, true
		}
		if _, had := st.get(r.Dst); had {
			dead++
		}
		if has {
			st.put(r.Dst, e)
		} else {
			st.del(r.Dst)
		}
		if _, had := st.get(r.Name); had {
			dead++
			st.del(r.Name)
		}
		return true, dead, nil
	}
	return false, 0, fmt.Errorf("%w: unknown record type %d", ErrCorrupt, uint8(r.Type))
}

// mapState applies records straight to maps (replay at Open).
type mapState struct {
	entries map[string]Entry
	pending map[string]Rename // by Dst
}

func (s *mapState) get(n string) (Entry, bool) { e, ok := s.entries[n]; return e, ok }
func (s *mapState) put(n string, e Entry)      { s.entries[n] = e }
func (s *mapState) del(n string)               { delete(s.entries, n) }
func (s *mapState) under(dir string) []string {
	var out []string
	for n := range s.entries {
		if inDir(n, dir) {
			out = append(out, n)
		}
	}
	return out
}
func (s *mapState) pendingFor(dst string) (Rename, bool) { r, ok := s.pending[dst]; return r, ok }
func (s *mapState) setPending(r Rename)                  { s.pending[r.Dst] = r }
func (s *mapState) clearPending(dst string)              { delete(s.pending, dst) }

// overlay is a writer's view of a batch before it is durable: changes on
// top of the committed maps, which it only reads. A nil value means
// removed.
type overlay struct {
	base     map[string]Entry
	basePend map[string]Rename
	ent      map[string]*Entry
	pend     map[string]*Rename
	dead     int
}

func (o *overlay) get(n string) (Entry, bool) {
	if p, ok := o.ent[n]; ok {
		if p == nil {
			return Entry{}, false
		}
		return *p, true
	}
	e, ok := o.base[n]
	return e, ok
}

func (o *overlay) put(n string, e Entry) {
	if o.ent == nil {
		o.ent = make(map[string]*Entry)
	}
	o.ent[n] = &e
}

func (o *overlay) del(n string) {
	if o.ent == nil {
		o.ent = make(map[string]*Entry)
	}
	o.ent[n] = nil
}

func (o *overlay) under(dir string) []string {
	var out []string
	for n := range o.base {
		if _, changed := o.ent[n]; !changed && inDir(n, dir) {
			out = append(out, n)
		}
	}
	for n, p := range o.ent {
		if p != nil && inDir(n, dir) {
			out = append(out, n)
		}
	}
	return out
}

func (o *overlay) pendingFor(dst string) (Rename, bool) {
	if p, ok := o.pend[dst]; ok {
		if p == nil {
			return Rename{}, false
		}
		return *p, true
	}
	r, ok := o.basePend[dst]
	return r, ok
}

func (o *overlay) setPending(r Rename) {
	if o.pend == nil {
		o.pend = make(map[string]*Rename)
	}
	o.pend[r.Dst] = &r
}

func (o *overlay) clearPending(dst string) {
	if o.pend == nil {
		o.pend = make(map[string]*Rename)
	}
	o.pend[dst] = nil
}

// names returns every path present, sorted.
func (o *overlay) names() []string {
	names := make([]string, 0, len(o.base)+len(o.ent))
	for n := range o.base {
		if _, changed := o.ent[n]; !changed {
			names = append(names, n)
		}
	}
	for n, p := range o.ent {
		if p != nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// pendingList returns every pending rename, sorted by Dst.
func (o *overlay) pendingList() []Rename {
	list := make([]Rename, 0, len(o.basePend)+len(o.pend))
	for dst, r := range o.basePend {
		if _, changed := o.pend[dst]; !changed {
			list = append(list, r)
		}
	}
	for _, p := range o.pend {
		if p != nil {
			list = append(list, *p)
		}
	}
	slices.SortFunc(list, comparePending)
	return list
}
