//go:build unix

package crashtest_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/crashtest"
)

const (
	envChild = "ATREST_CRASHTEST_CHILD" // what the child does
	envAt    = "ATREST_CRASHTEST_AT"    // its failpoint, "name:n"
)

// TestChild is the child of the tests below; it does nothing unless
// re-executed by them.
func TestChild(t *testing.T) {
	fp := crashtest.Failpoint(envAt)
	switch os.Getenv(envChild) {
	case "":
		t.Skip("the child of the crashtest tests")
	case "failpoint":
		for i := range 10 {
			crashtest.Say("begin %d", i)
			fp("step")
			crashtest.Say("ack %d", i)
		}
		crashtest.Die("the failpoint did not kill me")
	case "die":
		fmt.Fprintln(os.Stderr, "dying")
		crashtest.Die("as asked")
	case "wait":
		crashtest.Say("ready")
		time.Sleep(time.Minute)
	}
}

func TestFailpoint(t *testing.T) {
	c := crashtest.Start(t, "TestChild", []string{envChild + "=failpoint", envAt + "=step:3"})
	var lines []string
	for line := range c.Lines() {
		lines = append(lines, line)
	}
	killed, err := c.Wait()
	want := "begin 0\nack 0\nbegin 1\nack 1\nbegin 2\nfailpoint step"
	if !killed || err == nil || strings.Join(lines, "\n") != want || c.Last() != want {
		t.Errorf("killed %v (%v), lines %q, last %q; want SIGKILL after %q", killed, err, lines, c.Last(), want)
	}
	if again, err2 := c.Wait(); again != killed || err2 != err {
		t.Errorf("second Wait: %v, %v", again, err2)
	}
	if crashtest.Failpoint("ATREST_CRASHTEST_UNSET") != nil {
		t.Error("Failpoint of an unset variable is not nil")
	}
}

func TestDie(t *testing.T) {
	c := crashtest.Start(t, "TestChild", []string{envChild + "=die"})
	var lines []string
	for line := range c.Lines() {
		lines = append(lines, line)
	}
	killed, err := c.Wait()
	if killed || err == nil || len(lines) != 1 || lines[0] != "error as asked" || !strings.Contains(c.Stderr(), "dying") {
		t.Errorf("killed %v (%v), lines %q, stderr %q; want exit 3 after one error line", killed, err, lines, c.Stderr())
	}
}

func TestKillAfter(t *testing.T) {
	c := crashtest.Start(t, "TestChild", []string{envChild + "=wait"})
	c.Watchdog(time.Minute)
	for line := range c.Lines() {
		if line == "ready" {
			c.KillAfter(time.Hour)
			c.KillAfter(10 * time.Millisecond) // in place of the first
		}
	}
	if killed, err := c.Wait(); !killed || c.Hung() {
		t.Errorf("killed %v (%v), hung %v; want SIGKILL from KillAfter", killed, err, c.Hung())
	}

	c = crashtest.Start(t, "TestChild", []string{envChild + "=wait"})
	c.Watchdog(10 * time.Millisecond)
	for range c.Lines() {
	}
	if killed, _ := c.Wait(); !killed || !c.Hung() {
		t.Errorf("killed %v, hung %v; want the watchdog's SIGKILL", killed, c.Hung())
	}
}

func TestCount(t *testing.T) {
	const env = "ATREST_CRASHTEST_COUNT"
	want := 7
	if testing.Short() {
		want = 2
	}
	if n := crashtest.Count(t, env, 7, 2); n != want {
		t.Errorf("Count = %d, want %d", n, want)
	}
	t.Setenv(env, "12")
	if n := crashtest.Count(t, env, 7, 2); n != 12 {
		t.Errorf("Count with %s=12: %d", env, n)
	}
}

func TestPebbleLogger(t *testing.T) {
	var got []string
	l := crashtest.PebbleLogger{Report: func(s string) { got = append(got, s) }}
	l.Infof("nothing %d", 1)
	l.Errorf("bad %d", 2)
	func() {
		defer func() {
			if r := recover(); r != "pebble fatal: worse 3" {
				t.Errorf("Fatalf panicked with %v", r)
			}
		}()
		l.Fatalf("worse %d", 3)
	}()
	if strings.Join(got, "|") != "pebble error: bad 2|pebble fatal: worse 3" {
		t.Errorf("reported %q", got)
	}
}
