//go:build unix

package dicttest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/keyenv"
)

// FollowRotations reads the lines of a child that rotates the master key
// until it is killed: "begin N" before rotating to key N, "ack N" after;
// "error ..." fails t, and so does a child that exits on its own. It
// returns the key acknowledged last (cur when none was), the key of the
// rotation in flight (-1 when none was) and how many were acknowledged.
func FollowRotations(t testing.TB, c *crashtest.Child, cur int) (acked, inFlight, n int) {
	t.Helper()
	acked, inFlight = cur, -1
	for line := range c.Lines() {
		fields := strings.Fields(line)
		switch fields[0] {
		case "begin":
			inFlight, _ = strconv.Atoi(fields[1])
		case "ack":
			acked, _ = strconv.Atoi(fields[1])
			inFlight = -1
			n++
		case "error":
			c.Abort()
			t.Fatalf("child failed: %s\n%s", line, c.Stderr())
		}
	}
	if _, err := c.Wait(); err == nil {
		t.Fatalf("child exited on its own:\n%s", c.Stderr())
	}
	return acked, inFlight, n
}

// CheckRotationRecovery checks dir after kill number kill of a master-key
// rotation from key cur (to key inFlight, if one was in flight; -1 when
// none was). config is the Manager's configuration with master key k and
// previous master key prev (nil for none). Exactly one of the keys the
// key dictionary may be under opens it; the configuration an operator
// sets before rotating (the target as master key, the key in use as
// previous) opens it and finishes the rotation, and every one of files
// reads back. It returns the target, the key now in use.
func CheckRotationRecovery(t testing.TB, kill int, dir string, config func(k int, prev *int) keyenv.Config, opts []dict.Option,
	cur, inFlight int, files map[string][]byte) int {
	t.Helper()
	ctx := context.Background()
	candidates := []int{cur}
	if inFlight >= 0 {
		candidates = append(candidates, inFlight)
	}
	opened := -1
	for _, k := range candidates {
		m, err := dict.Open(ctx, dir, config(k, nil), opts...)
		if err == nil {
			m.Close()
			if opened >= 0 {
				t.Fatalf("kill %d: both key %d and key %d open the dictionary", kill, opened, k)
			}
			opened = k
		} else if !errors.Is(err, keyenv.ErrWrongMasterKey) {
			t.Fatalf("kill %d: open with key %d: %v", kill, k, err)
		}
	}
	if opened < 0 {
		t.Fatalf("kill %d: neither key %v opens the dictionary", kill, candidates)
	}
	target := candidates[len(candidates)-1]
	m, err := dict.Open(ctx, dir, config(target, &cur), opts...)
	if err != nil {
		t.Fatalf("kill %d: open with key %d, previous %d: %v", kill, target, cur, err)
	}
	defer m.Close()
	for name, want := range files {
		if got, err := ReadFile(m, name); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("kill %d: %s: %v", kill, name, err)
		}
	}
	return target
}

// RotateForever is the body of a master-key rotation crash test's child:
// from key from of n keys it rotates to the next key in turn with rotate,
// saying "begin N" before and "ack N" after (what FollowRotations reads),
// until it is killed; a failed rotation ends it (crashtest.Die).
func RotateForever(from, n int, rotate func(next int) error) {
	for cur := from; ; {
		next := (cur + 1) % n
		crashtest.Say("begin %d", next)
		if err := rotate(next); err != nil {
			crashtest.Die("rotate: %v", err)
		}
		crashtest.Say("ack %d", next)
		cur = next
	}
}
