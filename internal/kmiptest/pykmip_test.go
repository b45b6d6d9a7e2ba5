package kmiptest

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// live lists the live processes of group pgid, skipping the test where
// /proc cannot be read.
func live(t *testing.T, pgid int) []string {
	t.Helper()
	l, ok := liveInGroup(pgid)
	if !ok {
		t.Skip("no /proc to list processes")
	}
	return l
}

// The server listens with TLS and client certificates, and Close leaves
// nothing of it running.
func TestStartClose(t *testing.T) {
	s, err := Start(t.TempDir(), 60*time.Second)
	if errors.Is(err, ErrNoServer) && os.Getenv("ATREST_REQUIRE_PYKMIP") == "" {
		t.Skipf("SKIPPED: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if live := live(t, s.PID()); len(live) < 2 {
		t.Fatalf("%d live processes in the server's group, want the server and its helpers", len(live))
	}
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	if live := live(t, s.PID()); len(live) != 0 {
		t.Fatalf("still running after Close: %v", live)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts connections after Close")
	}
}
