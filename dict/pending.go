package dict

import (
	"cmp"
	"sync"
	"time"
)

// Queued removals are written as a batch once removeBatchMax are queued,
// or once the first has waited removeBatchDelay for others to join it
// (sooner when an operation needs one settled).
const (
	removeBatchMax   = 256
	removeBatchDelay = 5 * time.Millisecond
)

// pendingRemoves holds entry removals on their way to the file dictionary.
// Remove returns once the file is unlinked: its entry's removal only has to
// become durable after the unlink does (the dictionary's BeforeRemove hook
// sees to that). Removals are written in batches, each one group commit
// with one fsync per directory their files were in. Were each removal to
// ride on the next group commit instead, nearly every group of creates
// would carry one and pay a directory fsync for it, and on ext4 a
// directory's fsync holds the directory's lock, stalling every create and
// unlink in it meanwhile.
//
// An operation that is about to record or read the entry of a name first
// settles the name's pending removal (writing its batch at once), so a
// removal never lands after a newer entry for the same name.
type pendingRemoves struct {
	// write removes a batch's entries; set before the first add.
	write func(batch []pendingRemove)
	// delay and max replace removeBatchDelay and removeBatchMax when set
	// (tests).
	delay time.Duration
	max   int

	mu     sync.Mutex
	byName map[string]chan struct{} // queued or being written; closed when done
	queued []pendingRemove
	timer  *time.Timer // writes the queue when its first has waited long enough
	wg     sync.WaitGroup
}

// pendingRemove is an entry removal: the name, the entry it had, and the
// channel closed once it is written (or has failed).
type pendingRemove struct {
	name string
	old  Entry
	done chan struct{}
}

// add queues the removal of name's entry, old.
func (p *pendingRemoves) add(name string, old Entry) {
	p.mu.Lock()
	if p.byName == nil {
		p.byName = make(map[string]chan struct{})
	}
	done := make(chan struct{})
	p.byName[name] = done
	p.wg.Add(1)
	p.queued = append(p.queued, pendingRemove{name, old, done})
	n := len(p.queued)
	if n == 1 {
		p.timer = time.AfterFunc(cmp.Or(p.delay, removeBatchDelay), p.flush)
	}
	p.mu.Unlock()
	if n >= cmp.Or(p.max, removeBatchMax) {
		go p.flush() // the caller's Remove is done: it does not wait for the batch
	}
}

// flush writes the queued removals as one batch.
func (p *pendingRemoves) flush() {
	p.mu.Lock()
	batch := p.queued
	p.queued = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	p.write(batch)
	p.mu.Lock()
	for _, r := range batch {
		if p.byName[r.name] == r.done {
			delete(p.byName, r.name)
		}
		close(r.done)
	}
	p.mu.Unlock()
	p.wg.Add(-len(batch))
}

// settle waits for the pending removals of the given names, writing the
// queue first if one of them is in it.
func (p *pendingRemoves) settle(names ...string) {
	for _, n := range names {
		p.mu.Lock()
		ch := p.byName[n]
		p.mu.Unlock()
		if ch == nil {
			continue
		}
		p.flush()
		<-ch
	}
}

// settleAll writes the queue and waits for every pending removal.
func (p *pendingRemoves) settleAll() {
	p.flush()
	p.wg.Wait()
}
