package secmem

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func init() {
	dumpableProbe = func() (int, error) {
		return unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	}
}

// vmFlags returns the VmFlags of the mapping holding addr in
// /proc/self/smaps.
func vmFlags(addr uintptr) ([]string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inside := false
	for sc.Scan() {
		line := sc.Text()
		// A mapping starts with "start-end perms offset dev inode [path]";
		// its attribute lines start with "Name:".
		if first, _, _ := strings.Cut(line, " "); strings.Contains(first, "-") && !strings.HasSuffix(first, ":") {
			lo, hi, _ := strings.Cut(first, "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			inside = err1 == nil && err2 == nil && uint64(addr) >= start && uint64(addr) < end
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && inside {
			return strings.Fields(rest), nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no mapping holds %#x", addr)
}

// canLock reports whether this process has CAP_IPC_LOCK, with which mlock
// ignores RLIMIT_MEMLOCK.
func canLock(t *testing.T) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Logf("reading capabilities: %v", err)
		return false
	}
	for line := range strings.Lines(string(data)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<unix.CAP_IPC_LOCK) != 0
		}
	}
	return false
}

func TestSmapsFlags(t *testing.T) {
	lockable := canLock(t)
	a := new(allocator)
	for _, n := range []int{32, 2048, 2049, 100000} {
		b := mustNew(t, a, n)
		p := Status()
		flags, err := vmFlags(addrOf(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d bytes: Status %+v, VmFlags %v", n, p, flags)
		if !p.NoDump || !slices.Contains(flags, "dd") {
			t.Errorf("%d bytes: NoDump %v, VmFlags %v; want true and dd", n, p.NoDump, flags)
		}
		if p.Locked != slices.Contains(flags, "lo") {
			t.Errorf("%d bytes: Locked %v, but VmFlags %v", n, p.Locked, flags)
		}
		if lockable && !p.Locked {
			t.Errorf("%d bytes: not locked despite CAP_IPC_LOCK: %s", n, p.Detail)
		}
		b.Release()
	}
}
