package dict

import (
	"iter"
	"slices"
	"strings"
)

// Entries iterates over the file dictionary's entries in name order: every
// file the directory records, with its key id, method and IV. Names are
// relative to the data directory, with forward slashes. The entries are a
// snapshot taken when iteration starts, so the loop may call the Manager.
// A directory that was never encrypted has none.
func (m *Manager) Entries() iter.Seq2[string, Entry] {
	return func(yield func(string, Entry) bool) {
		if m.files == nil || m.usable() != nil {
			return
		}
		type named struct {
			name string
			e    Entry
		}
		var all []named
		m.files.Range(func(name string, e Entry) bool {
			all = append(all, named{name, e})
			return true
		})
		slices.SortFunc(all, func(a, b named) int { return strings.Compare(a.name, b.name) })
		for _, n := range all {
			if !yield(n.name, n.e) {
				return
			}
		}
	}
}

// DataKeySecret returns a copy of data key id's bytes, for an operator who
// asked to see them (encctl dump-key --show-secret); false if there is no
// such key. Stats describes the keys without their bytes. The caller should
// zero the copy when done.
func (m *Manager) DataKeySecret(id uint64) ([]byte, bool) {
	m.keyMu.RLock()
	defer m.keyMu.RUnlock()
	if m.keys == nil || m.usable() != nil {
		return nil, false
	}
	k, ok := m.keys.Get(id)
	if !ok {
		return nil, false
	}
	return slices.Clone(k.Bytes()), true
}
