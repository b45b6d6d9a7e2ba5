package dict

import (
	"hash/maphash"
)

// Name locks: an operation on one or two names holds their stripes, so
// that the file and its entry change together.

// heldNames is the name stripes an operation holds (second is -1 when
// one stripe covers both names).
type heldNames struct {
	m             *Manager
	first, second int
}

// lockNames locks the stripes of one or two names (pass a twice for one)
// in index order, so two renames in opposite directions cannot deadlock,
// under treeMu for reading. It allocates nothing: every open goes through
// it.
func (m *Manager) lockNames(a, b string) heldNames {
	m.treeMu.RLock()
	i := int(maphash.String(m.seed, a) % uint64(len(m.names)))
	j := int(maphash.String(m.seed, b) % uint64(len(m.names)))
	if i > j {
		i, j = j, i
	}
	h := heldNames{m: m, first: i, second: j}
	if i == j {
		h.second = -1
	}
	m.names[h.first].Lock()
	if h.second >= 0 {
		m.names[h.second].Lock()
	}
	return h
}

// lockSettled is lockNames, then the settling of the names' pending
// removals (pendingRemoves): the way in for an operation that reads or
// records their entries.
func (m *Manager) lockSettled(a, b string) heldNames {
	h := m.lockNames(a, b)
	if a == b {
		m.removing.settle(a)
	} else {
		m.removing.settle(a, b)
	}
	return h
}

func (h heldNames) unlock() {
	if h.second >= 0 {
		h.m.names[h.second].Unlock()
	}
	h.m.names[h.first].Unlock()
	h.m.treeMu.RUnlock()
}
