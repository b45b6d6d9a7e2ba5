package kmiptest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// liveInGroup lists the processes of group pgid that are alive (zombies
// waiting for a reaper are not), from /proc.
func liveInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Skip("no /proc to list processes")
	}
	var live []string
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			live = append(live, path)
		}
	}
	return live
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
	if live := liveInGroup(t, s.PID()); len(live) < 2 {
		t.Fatalf("%d live processes in the server's group, want the server and its helpers", len(live))
	}
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	if live := liveInGroup(t, s.PID()); len(live) != 0 {
		t.Fatalf("still running after Close: %v", live)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the port still accepts connections after Close")
	}
}
