package kmiptest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// liveInGroup lists the /proc/PID/stat paths of the processes of group
// pgid that are alive; zombies waiting for a reaper are not counted,
// since they hold no port, file or CPU. ok is false where /proc cannot
// be listed.
func liveInGroup(pgid int) (live []string, ok bool) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return nil, false
	}
	want := strconv.Itoa(pgid)
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited while we listed
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 2 && f[2] == want && f[0] != "Z" {
			live = append(live, path)
		}
	}
	return live, true
}

// killGroup sends SIGKILL to group pgid until none of its processes is
// alive or timeout passes. A SIGKILL takes effect asynchronously: a
// helper busy in the kernel, or one forked while the signal was being
// sent, can outlive the first one for a moment, which is why a single
// kill is not enough to promise that nothing is left.
func killGroup(pgid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		syscall.Kill(-pgid, syscall.SIGKILL)
		live, ok := liveInGroup(pgid)
		if !ok || len(live) == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
