package enginetest

import "testing"

// TestCheck: a key must hold its last acknowledged durable value or a
// later one; without a durable write, its base or any value written.
func TestCheck(t *testing.T) {
	type op struct {
		ws              []Write
		synced, barrier bool
		acked           bool
	}
	cases := []struct {
		name string
		base map[int]uint64
		ops  []op
		read map[int]uint64
		lost int
		bad  bool
	}{
		{"synced write there", nil, []op{{ws: []Write{{0, 5}}, synced: true, acked: true}}, map[int]uint64{0: 5}, 0, false},
		{"synced write lost", nil, []op{{ws: []Write{{0, 5}}, synced: true, acked: true}}, nil, 1, true},
		{"unsynced write lost", map[int]uint64{0: 3}, []op{{ws: []Write{{0, 5}}, acked: true}}, map[int]uint64{0: 3}, 0, false},
		{"later unsynced write landed", nil, []op{{ws: []Write{{0, 5}}, synced: true, acked: true}, {ws: []Write{{0, 7}}}}, map[int]uint64{0: 7}, 0, false},
		{"older value after a synced one", map[int]uint64{0: 3}, []op{{ws: []Write{{0, 5}}, synced: true, acked: true}}, map[int]uint64{0: 3}, 1, true},
		{"synced delete", map[int]uint64{0: 3}, []op{{ws: []Write{{0, 0}}, synced: true, acked: true}}, map[int]uint64{0: 3}, 1, true},
		{"unacknowledged synced write", nil, []op{{ws: []Write{{0, 5}}, synced: true}}, nil, 0, false},
		{"never given", nil, []op{{ws: []Write{{0, 5}}}}, map[int]uint64{0: 9}, 0, true},
		{"flush makes earlier writes durable", nil, []op{{ws: []Write{{0, 5}}, acked: true}, {barrier: true, acked: true}}, nil, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := NewHistory(c.base)
			for _, o := range c.ops {
				i := h.Begin(o.ws, o.synced, o.barrier)
				if o.acked {
					h.Ack(i)
				}
			}
			res := h.Cut().Check(c.read, 2)
			if res.Lost != c.lost || (len(res.Problems) > 0) != c.bad {
				t.Errorf("lost %d, problems %v; want lost %d, problems %v", res.Lost, res.Problems, c.lost, c.bad)
			}
		})
	}
}

// TestValues: a value names its key and generation, and is intact only
// as made.
func TestValues(t *testing.T) {
	v := Value(12, 99)
	if k, gen, ok := Parse(v); k != 12 || gen != 99 || !ok {
		t.Fatalf("Parse = %d, %d, %v", k, gen, ok)
	}
	v[len(v)-1] ^= 1
	if _, _, ok := Parse(v); ok {
		t.Error("a changed value parses as intact")
	}
	if _, err := Read(map[int][]byte{13: Value(12, 99)}); err == nil {
		t.Error("another key's value read back without an error")
	}
	if k, ok := ParseKey(Key(4711)); !ok || k != 4711 {
		t.Errorf("ParseKey = %d, %v", k, ok)
	}
	ws := []Write{{1, 5}, {2, 0}}
	got, err := ParseWrites([]string{"1=5", "2=-"})
	if err != nil || len(got) != 2 || got[0] != ws[0] || got[1] != ws[1] || FormatWrites(ws) != " 1=5 2=-" {
		t.Errorf("ParseWrites = %v, %v; FormatWrites = %q", got, err, FormatWrites(ws))
	}
}

// TestCheckAtomic: an operation in flight at a crash lands whole or not
// at all.
func TestCheckAtomic(t *testing.T) {
	for _, c := range []struct {
		name string
		read map[int]uint64
		torn bool
	}{
		{"all landed", map[int]uint64{0: 5, 1: 6, 2: 0}, false},
		{"none landed", map[int]uint64{0: 2, 1: 3, 2: 4}, false},
		{"torn", map[int]uint64{0: 5, 1: 3, 2: 4}, true},
		{"torn by a delete", map[int]uint64{0: 2, 1: 3}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := NewHistory(map[int]uint64{0: 1, 2: 4})
			h.Ack(h.Begin([]Write{{0, 2}, {1, 3}}, true, false))
			h.Begin([]Write{{0, 5}, {1, 6}, {2, 0}}, true, false) // in flight
			if err := h.Cut().CheckAtomic(c.read); (err != nil) != c.torn {
				t.Errorf("CheckAtomic = %v, want torn %v", err, c.torn)
			}
		})
	}
}
