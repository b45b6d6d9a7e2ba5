package dict

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

// batchLog records the batches a pendingRemoves writes.
type batchLog struct {
	mu      sync.Mutex
	batches [][]string
}

func (l *batchLog) write(batch []pendingRemove) {
	names := make([]string, len(batch))
	for i, r := range batch {
		names[i] = r.name
	}
	l.mu.Lock()
	l.batches = append(l.batches, names)
	l.mu.Unlock()
}

func (l *batchLog) get() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.batches)
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// Removals are written in batches: a settle writes the whole queue at
// once, a full queue is written without waiting, the timer writes a
// queue nobody settles, and settleAll leaves nothing pending.
func TestPendingRemovesBatches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		max   int
		add   int
		then  func(p *pendingRemoves, log *batchLog)
		want  [][]string
	}{
		{name: "settle one writes the queue", delay: time.Hour, add: 5,
			then: func(p *pendingRemoves, _ *batchLog) { p.settle("n3") }, want: [][]string{names("n", 5)}},
		{name: "settle of a name not pending writes nothing", delay: time.Hour, add: 3,
			then: func(p *pendingRemoves, _ *batchLog) { p.settle("other") }, want: nil},
		{name: "settleAll", delay: time.Hour, add: 4,
			then: func(p *pendingRemoves, _ *batchLog) { p.settleAll() }, want: [][]string{names("n", 4)}},
		{name: "full queue", delay: time.Hour, max: 3, add: 3,
			then: func(p *pendingRemoves, log *batchLog) { waitBatches(t, log, 1) }, want: [][]string{names("n", 3)}},
		{name: "queue not yet full", delay: time.Hour, max: 3, add: 2,
			then: func(p *pendingRemoves, _ *batchLog) { time.Sleep(20 * time.Millisecond) }, want: nil},
		{name: "timer", delay: time.Millisecond, add: 2,
			then: func(p *pendingRemoves, _ *batchLog) { p.wg.Wait() }, want: [][]string{names("n", 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log batchLog
			p := &pendingRemoves{write: log.write, delay: tc.delay, max: tc.max}
			for _, n := range names("n", tc.add) {
				p.add(n, Entry{})
			}
			tc.then(p, &log)
			got := log.get()
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("batches %v, want %v", got, tc.want)
			}
		})
	}
}

// waitBatches waits until log holds n batches.
func waitBatches(t *testing.T, log *batchLog, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(log.get()) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d batches written, want %d", len(log.get()), n)
		}
	}
}

// A settle waits for its name's batch to be written, even when another
// goroutine is writing it.
func TestPendingRemovesSettleWaits(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var written sync.WaitGroup
	written.Add(1)
	p := &pendingRemoves{delay: time.Hour, write: func([]pendingRemove) {
		close(started)
		<-release
		written.Done()
	}}
	p.add("a", Entry{})
	go p.flush()
	<-started
	settled := make(chan struct{})
	go func() {
		p.settle("a")
		close(settled)
	}()
	select {
	case <-settled:
		t.Fatal("settle returned while the batch was being written")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-settled
	written.Wait()
}

func (r *recordingFS) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == call {
			n++
		}
	}
	return n
}

// A burst of removals through the Manager is written as one batch with
// one directory sync, and an operation on a removed name waits for its
// batch, so the removal never lands after the name's new entry.
func TestManagerBatchesRemovals(t *testing.T) {
	env := newEnv(t)
	rec := &recordingFS{}
	m := env.open(ctr.AES128CTR, WithFS(rec))
	defer m.Close()
	m.removing.delay = time.Hour // only a settle writes the queue
	files := names("f", 64)
	for _, n := range files {
		writeFile(t, m, n, content(n, 100))
	}
	syncs := rec.count("syncdir data")
	for _, n := range files {
		if err := m.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.count("syncdir data"); got != syncs {
		t.Fatalf("%d directory syncs before the batch was asked for", got-syncs)
	}
	if _, ok := m.files.Get("f0"); !ok {
		t.Fatal("an entry went before its batch was written")
	}
	// Re-creating a removed name settles its batch first.
	writeFile(t, m, "f7", content("new f7", 200))
	if got := rec.count("syncdir data") - syncs; got != 1 {
		t.Fatalf("%d directory syncs for 64 removals, want 1", got)
	}
	for _, n := range files {
		_, ok := m.files.Get(n)
		if ok != (n == "f7") {
			t.Fatalf("entry of %s: %v after the batch", n, ok)
		}
	}
	wantReadBack(t, m, "f7", content("new f7", 200), "once re-created")
	m.Close()
	m = env.open(ctr.AES128CTR)
	defer m.Close()
	wantReadBack(t, m, "f7", content("new f7", 200), "after a reopen")
	if st := m.files.Stats(); st.Entries != 1 {
		t.Fatalf("%d entries after a reopen, want 1", st.Entries)
	}
}
