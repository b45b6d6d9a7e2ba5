package crashfs

import (
	"math/rand/v2"
	"slices"
)

// CrashConfig says how much of what was not made durable survives a
// crash. The zero value keeps nothing unsynced.
type CrashConfig struct {
	// UnsyncedPercent is 0 to keep nothing that was not made durable,
	// 100 to keep everything, and in between to decide at random: each
	// unsynced block survives with this probability in percent, each
	// file's size is its current one (rather than its durable one) with
	// it, and each directory's surviving prefix of pending operations has
	// a length drawn uniformly from 0 to all of them.
	UnsyncedPercent int
	// Rand draws the random decisions; when nil, a generator seeded with
	// Seed does.
	Rand *rand.Rand
	// Seed seeds the generator when Rand is nil.
	Seed uint64
}

// KeepNothingUnsynced is the crash that keeps only what was made durable.
func KeepNothingUnsynced() CrashConfig { return CrashConfig{UnsyncedPercent: 0} }

// KeepAllUnsynced is the crash that keeps everything: the crashed FS is
// a copy of the current state (without open handles and locks).
func KeepAllUnsynced() CrashConfig { return CrashConfig{UnsyncedPercent: 100} }

// RandomCrash is the crash that keeps each unsynced thing with
// probability one half, its decisions drawn from a generator seeded with
// seed.
func RandomCrash(seed uint64) CrashConfig {
	return CrashConfig{UnsyncedPercent: 50, Seed: seed}
}

// crasher draws a crash's decisions.
type crasher struct {
	pct int
	rng *rand.Rand
}

// keep reports whether one unsynced thing survives.
func (c *crasher) keep() bool {
	switch {
	case c.pct <= 0:
		return false
	case c.pct >= 100:
		return true
	}
	return c.rng.IntN(100) < c.pct
}

// prefix returns how many of n pending operations survive.
func (c *crasher) prefix(n int) int {
	switch {
	case n == 0 || c.pct <= 0:
		return 0
	case c.pct >= 100:
		return n
	}
	return c.rng.IntN(n + 1)
}

// Crash returns a new FS holding what a power cut at this moment could
// leave of f, as the package documentation describes; f itself is not
// changed and goes on working. The new FS has everything durable (a
// second Crash of it without changes returns the same state), no open
// handles and no locks. It keeps the inode numbers and draws a new
// device number. Concurrent calls on f wait while the state is copied.
func (f *FS) Crash(cfg CrashConfig) *FS {
	c := &crasher{pct: cfg.UnsyncedPercent, rng: cfg.Rand}
	if c.rng == nil {
		c.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	f.mu.Lock()
	defer f.mu.Unlock()

	// Every directory that could be in the crashed tree: those named by
	// the durable entries or a pending operation of one that could.
	dirs := []*inode{f.root}
	seen := map[*inode]bool{f.root: true}
	for i := 0; i < len(dirs); i++ {
		d := dirs[i]
		add := func(n *inode) {
			if n != nil && n.isDir() && !seen[n] {
				seen[n] = true
				dirs = append(dirs, n)
			}
		}
		for _, name := range sortedNames(d.durableEntries) {
			add(d.durableEntries[name])
		}
		for _, op := range d.pending {
			for _, ch := range op.changes {
				add(ch.node)
			}
		}
	}

	// Each directory's surviving prefix, shrunk until every
	// cross-directory rename survives in both directories or neither.
	keep := make(map[*inode]int, len(dirs))
	for _, d := range dirs {
		keep[d] = c.prefix(len(d.pending))
	}
	for changed := true; changed; {
		changed = false
		for _, d := range dirs {
			for i, op := range d.pending[:keep[d]] {
				if op.peer == nil || !seen[op.peer] {
					continue
				}
				if j := indexOp(op.peer.pending, op.id); j >= 0 && j >= keep[op.peer] {
					keep[d] = i
					changed = true
					break
				}
			}
		}
	}

	// The crashed entries of each directory.
	state := make(map[*inode]map[string]*inode, len(dirs))
	for _, d := range dirs {
		m := make(map[string]*inode, len(d.durableEntries))
		for name, n := range d.durableEntries {
			m[name] = n
		}
		for _, op := range d.pending[:keep[d]] {
			applyChanges(m, op.changes)
		}
		state[d] = m
	}

	// The new tree, from the root down; files reached by several names
	// are one inode. A directory reached a second time (possible only
	// when directory renames across directories lose their order) is
	// left out there.
	g := &FS{
		dev:     devCounter.Add(1),
		nextIno: f.nextIno,
		nextOp:  f.nextOp,
		locks:   map[*inode]bool{},
		counts:  map[countKey]int{},
	}
	copies := map[*inode]*inode{}
	var build func(d *inode) *inode
	build = func(d *inode) *inode {
		nd := &inode{ino: d.ino, mode: d.mode, modTime: d.modTime,
			entries: map[string]*inode{}, durableEntries: map[string]*inode{}}
		copies[d] = nd
		m := state[d]
		for _, name := range sortedNames(m) {
			n := m[name]
			var nn *inode
			switch {
			case n.isDir() && copies[n] != nil:
				continue
			case n.isDir():
				nn = build(n)
			case copies[n] != nil:
				nn = copies[n]
			default:
				nn = &inode{ino: n.ino, mode: n.mode, modTime: n.modTime, dirty: map[int64]struct{}{}}
				nn.data = c.contents(n)
				nn.durable = slices.Clone(nn.data)
				copies[n] = nn
			}
			if !nn.isDir() {
				nn.nlink++
			}
			nd.entries[name] = nn
			nd.durableEntries[name] = nn
		}
		return nd
	}
	g.root = build(f.root)
	return g
}

// contents returns what a crash leaves of a regular file's contents.
func (c *crasher) contents(n *inode) []byte {
	size := int64(len(n.durable))
	if cur := int64(len(n.data)); cur != size && c.keep() {
		size = cur
	}
	img := make([]byte, size)
	copy(img, n.durable)
	blocks := make([]int64, 0, len(n.dirty))
	for b := range n.dirty {
		blocks = append(blocks, b)
	}
	slices.Sort(blocks)
	for _, b := range blocks {
		if !c.keep() {
			continue
		}
		lo := b * BlockSize
		if lo >= size {
			continue
		}
		hi := min(lo+BlockSize, size)
		clear(img[lo:hi])
		if lo < int64(len(n.data)) {
			copy(img[lo:hi], n.data[lo:min(hi, int64(len(n.data)))])
		}
	}
	return img
}
