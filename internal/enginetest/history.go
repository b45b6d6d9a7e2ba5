package enginetest

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
)

// Write is one key an operation writes: Gen 0 deletes it.
type Write struct {
	K   int
	Gen uint64
}

// FormatWrites is writes as " k=gen" fields (" k=-" for a delete), for a
// crash test's child to report.
func FormatWrites(ws []Write) string {
	var b strings.Builder
	for _, w := range ws {
		if w.Gen == 0 {
			fmt.Fprintf(&b, " %d=-", w.K)
		} else {
			fmt.Fprintf(&b, " %d=%d", w.K, w.Gen)
		}
	}
	return b.String()
}

// ParseWrites reads the fields FormatWrites made.
func ParseWrites(fields []string) ([]Write, error) {
	ws := make([]Write, 0, len(fields))
	for _, f := range fields {
		ks, gs, ok := strings.Cut(f, "=")
		k, err := strconv.Atoi(ks)
		if !ok || err != nil || k < 0 {
			return nil, fmt.Errorf("bad write %q", f)
		}
		var gen uint64
		if gs != "-" {
			if gen, err = strconv.ParseUint(gs, 10, 64); err != nil || gen == 0 {
				return nil, fmt.Errorf("bad write %q", f)
			}
		}
		ws = append(ws, Write{k, gen})
	}
	return ws, nil
}

type op struct {
	writes  []Write
	synced  bool // its acknowledgement means it is durable
	barrier bool // its acknowledgement means every earlier operation is durable (a flush)
	acked   bool
}

// History is one writer's operations since a known state (the base). It
// is safe for concurrent use: a cut may be taken from another goroutine
// while an operation runs.
type History struct {
	mu   sync.Mutex
	base map[int]uint64
	ops  []op
}

// NewHistory starts a history from base (key → generation; absent keys
// are not in it), which it keeps.
func NewHistory(base map[int]uint64) *History {
	if base == nil {
		base = map[int]uint64{}
	}
	return &History{base: base}
}

// Begin records an operation about to start: its writes, whether its
// acknowledgement makes it durable (synced), and whether it makes every
// earlier operation durable too (barrier: a flush). It returns the
// operation's number for Ack.
func (h *History) Begin(ws []Write, synced, barrier bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op{writes: ws, synced: synced || barrier, barrier: barrier})
	return len(h.ops) - 1
}

// Ack records that operation i returned without an error.
func (h *History) Ack(i int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops[i].acked = true
}

// Reset starts over from base: what a recovery read.
func (h *History) Reset(base map[int]uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.base, h.ops = base, nil
}

// Cut is a history as it stood at a crash.
type Cut struct {
	base map[int]uint64
	ops  []op
}

// Cut takes the history as it stands: operations acknowledged durable
// from here on do not count as durable in the cut.
func (h *History) Cut() Cut {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Cut{base: maps.Clone(h.base), ops: append([]op(nil), h.ops...)}
}

// Result is what Check found.
type Result struct {
	// Durable counts the keys whose last acknowledged durable write was
	// checked.
	Durable int
	// Lost counts the keys that do not hold that write or a later one.
	Lost int
	// Problems describes each key that holds a value it may not hold.
	Problems []string
}

// Check compares what a recovery read (key → generation, absent keys
// left out) with the cut, for keys [0, keys): every key holds the value
// of its last write acknowledged durable, or of a write begun after it;
// a key with no such write holds its base value or one written since.
func (c Cut) Check(read map[int]uint64, keys int) Result {
	durableUpTo := -1 // operations before a barrier acknowledged are durable
	for i, o := range c.ops {
		if o.acked && o.barrier {
			durableUpTo = i
		}
	}
	var res Result
	for k := range keys {
		allowed := map[uint64]bool{c.base[k]: true}
		durable := false
		for i, o := range c.ops {
			for _, w := range o.writes {
				if w.K != k {
					continue
				}
				if o.acked && o.synced || i < durableUpTo {
					allowed = map[uint64]bool{w.Gen: true}
					durable = true
				} else {
					allowed[w.Gen] = true
				}
			}
		}
		got := read[k]
		if durable {
			res.Durable++
		}
		if !allowed[got] {
			if durable {
				res.Lost++
			}
			res.Problems = append(res.Problems, fmt.Sprintf("key %d holds %s; allowed: %v (durable write: %v)", k, describe(got), keysOf(allowed), durable))
		}
	}
	return res
}

func describe(gen uint64) string {
	if gen == 0 {
		return "nothing"
	}
	return fmt.Sprintf("generation %d", gen)
}

func keysOf(m map[uint64]bool) []string {
	var out []string
	for g := range m {
		out = append(out, describe(g))
	}
	return out
}

// CheckAtomic checks that each operation not acknowledged went all one
// way: of the writes that change their key, all landed or none did (a
// batch is atomic). It is for histories whose acknowledged operations are
// all durable (a crash test that syncs every write), where what a key
// held before an operation is known.
func (c Cut) CheckAtomic(read map[int]uint64) error {
	before := maps.Clone(c.base)
	for i, o := range c.ops {
		if !o.acked {
			landed, missed := -1, -1
			for _, w := range o.writes {
				switch {
				case before[w.K] == w.Gen:
					// no change to tell apart
				case read[w.K] == w.Gen:
					landed = w.K
				case read[w.K] == before[w.K]:
					missed = w.K
				}
			}
			if landed >= 0 && missed >= 0 {
				return fmt.Errorf("operation %d was torn: its write to key %d landed, its write to key %d did not (writes:%s)", i, landed, missed, FormatWrites(o.writes))
			}
		}
		for _, w := range o.writes {
			if w.Gen == 0 {
				delete(before, w.K)
			} else {
				before[w.K] = w.Gen
			}
		}
	}
	return nil
}
