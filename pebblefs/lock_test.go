package pebblefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// passthrough wraps a vfs.FS as fault injectors and health checkers do.
type passthrough struct{ vfs.FS }

func (p passthrough) Unwrap() vfs.FS { return p.FS }

// TestLockExcludes: the FS's Manager holds the directory's lock through
// its base. On the operating system's files (vfs.Default, also wrapped) it
// is the same flock a Manager opened on the directory directly takes, so
// a second Manager, an encctl say, is refused; on a MemFS it is the
// MemFS's lock, so a second FS on the same MemFS is refused.
func TestLockExcludes(t *testing.T) {
	for _, tc := range []struct {
		name string
		base func() vfs.FS
		// second opens the directory again, as another Manager would.
		second func(e *testEnv, base vfs.FS) error
	}{
		{"vfs.Default, then dict.Open", func() vfs.FS { return vfs.Default }, func(e *testEnv, _ vfs.FS) error {
			m, err := dict.Open(context.Background(), e.dir, e.config(ctr.AES128CTR))
			if err == nil {
				m.Close()
			}
			return err
		}},
		{"a wrapped vfs.Default, then dict.Open", func() vfs.FS { return passthrough{vfs.Default} }, func(e *testEnv, _ vfs.FS) error {
			m, err := dict.Open(context.Background(), e.dir, e.config(ctr.AES128CTR))
			if err == nil {
				m.Close()
			}
			return err
		}},
		{"a MemFS, then the same MemFS", func() vfs.FS { return vfs.NewMem() }, func(e *testEnv, base vfs.FS) error {
			efs, err := Open(context.Background(), e.dir, e.config(ctr.AES128CTR), base)
			if err == nil {
				efs.Close()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			base := tc.base()
			efs := e.openFS(t, ctr.AES128CTR, base)
			if err := tc.second(e, base); !errors.Is(err, dict.ErrLocked) {
				t.Fatalf("second open beside the FS: %v, want dict.ErrLocked", err)
			}
			if err := efs.Close(); err != nil {
				t.Fatal(err)
			}
			if err := tc.second(e, base); err != nil {
				t.Fatalf("second open after the FS closed: %v", err)
			}
		})
	}
}

// TestDictionaryFileModes: through a wrapped vfs.Default (an adapter the
// Manager reaches only through vfs.FS, which has no file modes) the
// dictionaries are still made readable by their owner alone, as on the
// operating system's file system.
func TestDictionaryFileModes(t *testing.T) {
	e := newEnv(t)
	efs := e.openFS(t, ctr.SM4CTR, passthrough{vfs.Default})
	defer efs.Close()
	for _, name := range []string{dict.KeyDictName, dict.FileDictName} {
		st, err := os.Stat(filepath.Join(e.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", name, perm)
		}
	}
}
