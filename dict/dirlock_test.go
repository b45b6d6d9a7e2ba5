package dict

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

// A second Manager on a directory an open one holds is refused with
// ErrLocked, before it reads, writes or cleans up anything; inspections
// and never-encrypted plaintext directories take no lock; Close lets the
// next Manager in.
func TestDataDirLock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  ctr.Method // the Manager holding the directory; Plaintext: none
		second ctr.Method
		opts   []Option
		locked bool
	}{
		{"second writer refused", ctr.AES128CTR, ctr.AES128CTR, nil, true},
		{"second writer with another method refused", ctr.AES128CTR, ctr.SM4CTR, nil, true},
		{"plaintext writer on encrypted directory refused", ctr.AES128CTR, ctr.Plaintext, nil, true},
		{"inspection beside the writer", ctr.AES128CTR, ctr.AES128CTR, []Option{WithInspection()}, false},
		{"inspection with WithLock refused", ctr.AES128CTR, ctr.AES128CTR, []Option{WithInspection(), WithLock()}, true},
		{"plaintext on a directory never encrypted", ctr.Plaintext, ctr.Plaintext, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			first := env.open(tc.first)
			defer first.Close()
			if tc.first != ctr.Plaintext {
				writeFile(t, first, "a.sst", content("a.sst", 5000))
			}
			// Leave a temporary file as a writer mid-save would: a refused
			// Manager must not take it for a crash's leftover.
			tmp := filepath.Join(env.dir, "."+KeyDictName+".tmp-123")
			if tc.first != ctr.Plaintext {
				if err := os.WriteFile(tmp, []byte("half-written"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := dirContents(t, env.dir)
			second, err := Open(context.Background(), env.dir, env.config(tc.second), append([]Option{WithClock(env.Now)}, tc.opts...)...)
			if tc.locked {
				if !errors.Is(err, ErrLocked) {
					t.Fatalf("second Open: %v, want ErrLocked", err)
				}
				if after := dirContents(t, env.dir); !maps.Equal(before, after) {
					t.Fatalf("a refused Open changed the directory:\nbefore %v\nafter  %v", before, after)
				}
				first.Close()
				second, err = Open(context.Background(), env.dir, env.config(tc.second), WithClock(env.Now))
				if err != nil {
					t.Fatalf("Open after the holder closed: %v", err)
				}
				second.Close()
				return
			}
			if err != nil {
				t.Fatalf("second Open: %v", err)
			}
			defer second.Close()
			if _, err := os.Stat(filepath.Join(env.dir, LockName)); tc.first == ctr.Plaintext && err == nil {
				t.Errorf("a plaintext Manager on a directory never encrypted made %s", LockName)
			}
		})
	}
}

// The lock dies with its process: a child that opened the directory holds
// it, and once the child is killed (SIGKILL) the directory opens.
func TestDataDirLockReleasedOnKill(t *testing.T) {
	env := newEnv(t)
	env.open(ctr.AES128CTR).Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDataDirLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ATREST_LOCK_CHILD_DIR="+env.dir, "ATREST_LOCK_CHILD_KEY="+env.keyPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "open" {
		t.Fatalf("child: %q %v", line, err)
	}
	if _, err := Open(context.Background(), env.dir, env.config(ctr.AES128CTR)); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while the child holds the directory: %v, want ErrLocked", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	m, err := Open(context.Background(), env.dir, env.config(ctr.AES128CTR))
	if err != nil {
		t.Fatalf("Open after the child was killed: %v", err)
	}
	m.Close()
}

// TestDataDirLockChild opens a directory, says so and waits to be killed.
func TestDataDirLockChild(t *testing.T) {
	dir := os.Getenv("ATREST_LOCK_CHILD_DIR")
	if dir == "" {
		t.Skip("TestDataDirLockReleasedOnKill's child process")
	}
	env := &testEnv{dir: dir, keyPath: os.Getenv("ATREST_LOCK_CHILD_KEY")}
	if _, err := Open(context.Background(), dir, env.config(ctr.AES128CTR)); err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(3)
	}
	os.Stdout.WriteString("open\n")
	time.Sleep(time.Hour) // until killed
}
