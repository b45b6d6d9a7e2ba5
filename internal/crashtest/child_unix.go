//go:build unix

package crashtest

import (
	"bufio"
	"bytes"
	"io"
	"iter"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Failpoint returns a failpoint function for the child (dict.WithFailpoint
// takes it) that, when the environment variable env holds "name:n", says
// "failpoint NAME" and kills the process with SIGKILL at the n-th hit of
// that point; nil when env is empty. It is safe for concurrent use:
// failpoints are reached from background goroutines too.
func Failpoint(env string) func(point string) {
	at := os.Getenv(env)
	if at == "" {
		return nil
	}
	name, n, _ := strings.Cut(at, ":")
	hits, _ := strconv.Atoi(n)
	var left atomic.Int64
	left.Store(int64(hits))
	return func(point string) {
		if point == name && left.Add(-1) <= 0 {
			Say("failpoint %s", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}

// lastLines is how many of the child's lines Child.Last keeps.
const lastLines = 30

// Child is a crash test's child process: the test binary, running one test
// function. Its methods may be called from several goroutines (the lines
// read in one, a kill from another).
type Child struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr bytes.Buffer // written by exec until Wait returns

	mu       sync.Mutex // guards last and the timers
	last     []string
	kill     *time.Timer
	watchdog *time.Timer
	hung     atomic.Bool

	waitMu sync.Mutex // held while Wait waits
	waited bool
	killed bool
	err    error
}

// Start runs this test binary as a child running only the test function
// named test (no test function at all if test is empty, for a child that
// TestMain runs), with env added to its environment and args to its
// command line (such as "-test.timeout=10m"). It fails t if the child
// cannot start.
func Start(t testing.TB, test string, env []string, args ...string) *Child {
	t.Helper()
	run := "-test.run=^$"
	if test != "" {
		run = "-test.run=^" + test + "$"
	}
	c := &Child{cmd: exec.Command(os.Args[0], append([]string{run, "-test.count=1"}, args...)...)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdout, err = c.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Lines yields the lines of the child's standard output until it ends,
// keeping the last ones for Last. Read them before Wait.
func (c *Child) Lines() iter.Seq[string] {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(c.stdout)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			if len(c.last) == lastLines {
				c.last = c.last[1:]
			}
			c.last = append(c.last, line)
			c.mu.Unlock()
			if !yield(line) {
				return
			}
		}
	}
}

// Last returns the last lines read from the child, one a line, for
// failure messages.
func (c *Child) Last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.last, "\n")
}

// Kill sends the child SIGKILL (if it is still there).
func (c *Child) Kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
}

// KillAfter kills the child after d, in place of any kill set before.
func (c *Child) KillAfter(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kill != nil {
		c.kill.Stop()
	}
	c.kill = time.AfterFunc(d, c.Kill)
}

// Watchdog kills the child after d, as hung: a child that hangs (a
// deadlock in recovery, say) ends the round instead of the test's time.
func (c *Child) Watchdog(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchdog = time.AfterFunc(d, func() {
		c.hung.Store(true)
		c.Kill()
	})
}

// Hung reports whether the watchdog killed the child.
func (c *Child) Hung() bool {
	return c.hung.Load()
}

// Signal sends the child sig, such as SIGSTOP.
func (c *Child) Signal(sig os.Signal) error {
	return c.cmd.Process.Signal(sig)
}

// Pid is the child's process id.
func (c *Child) Pid() int {
	return c.cmd.Process.Pid
}

// Wait waits for the child to end, stops the kill timers, and reports
// whether SIGKILL ended it, with the error its end gave (nil for exit
// status 0). Later calls return the same.
func (c *Child) Wait() (killed bool, err error) {
	c.waitMu.Lock()
	defer c.waitMu.Unlock()
	if c.waited {
		return c.killed, c.err
	}
	c.err = c.cmd.Wait()
	c.waited = true
	c.mu.Lock()
	for _, t := range []*time.Timer{c.kill, c.watchdog} {
		if t != nil {
			t.Stop()
		}
	}
	c.mu.Unlock()
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	c.killed = ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	return c.killed, c.err
}

// Abort kills the child and waits for it: for a failure in the parent.
func (c *Child) Abort() {
	c.Kill()
	c.Wait()
}

// Stderr is what the child wrote to its standard error: all of it once
// Wait has returned.
func (c *Child) Stderr() string {
	return c.stderr.String()
}
