package dict

import (
	"sync"

	"github.com/atrest/atrest/fsys"
)

// dirSyncer shares directory fsyncs between concurrent callers, as the
// file dictionary shares its own: a caller whose change to a directory
// (an unlink, a rename) is done joins the next round; one caller runs
// each round's fsync, which covers every change made before the round
// began, and hands the result to all who joined it.
type dirSyncer struct {
	fs     fsys.FS
	mu     sync.Mutex
	groups map[string]*dirSyncGroup
}

type dirSyncGroup struct {
	running bool
	waiters []chan error
}

func (s *dirSyncer) sync(dir string) error {
	done := make(chan error, 1)
	s.mu.Lock()
	if s.groups == nil {
		s.groups = make(map[string]*dirSyncGroup)
	}
	g := s.groups[dir]
	if g == nil {
		g = &dirSyncGroup{}
		s.groups[dir] = g
	}
	g.waiters = append(g.waiters, done)
	if g.running {
		s.mu.Unlock()
		return <-done
	}
	g.running = true
	for len(g.waiters) > 0 {
		round := g.waiters
		g.waiters = nil
		s.mu.Unlock()
		err := s.fs.SyncDir(dir)
		for _, w := range round {
			w <- err
		}
		s.mu.Lock()
	}
	g.running = false
	delete(s.groups, dir)
	s.mu.Unlock()
	return <-done
}
