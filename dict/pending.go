package dict

import "sync"

// pendingRemoves tracks entry removals still on their way to the file
// dictionary. Remove returns once the file is unlinked: its entry's
// removal only has to become durable after the unlink does (the
// dictionary's BeforeRemove hook sees to that), and it rides on the next
// group commit instead of making the caller wait for one. An operation
// that is about to record or read the entry of a name first waits for the
// name's pending removal (settle), so a removal never lands after a newer
// entry for the same name.
type pendingRemoves struct {
	mu   sync.Mutex
	byID map[string]chan struct{}
	wg   sync.WaitGroup
}

// start registers a removal of name and returns the function that marks
// it done.
func (p *pendingRemoves) start(name string) (done func()) {
	ch := make(chan struct{})
	p.mu.Lock()
	if p.byID == nil {
		p.byID = make(map[string]chan struct{})
	}
	p.byID[name] = ch
	p.wg.Add(1)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.byID[name] == ch {
			delete(p.byID, name)
		}
		p.mu.Unlock()
		close(ch)
		p.wg.Done()
	}
}

// settle waits for the pending removals of the given names.
func (p *pendingRemoves) settle(names ...string) {
	for _, n := range names {
		p.mu.Lock()
		ch := p.byID[n]
		p.mu.Unlock()
		if ch != nil {
			<-ch
		}
	}
}

// settleAll waits for every pending removal.
func (p *pendingRemoves) settleAll() { p.wg.Wait() }
