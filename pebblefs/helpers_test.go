package pebblefs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// allMethods is every data method, plaintext first.
var allMethods = ctr.Methods

// testEnv is a data directory and a master key file beside it.
type testEnv struct {
	dir     string
	keyPath string
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	root := t.TempDir()
	return &testEnv{dir: filepath.Join(root, "db"), keyPath: testenv.KeyFile(t, root, "master.key", 0xa7)}
}

func (e *testEnv) config(method ctr.Method) keyenv.Config {
	return testenv.Config(method, e.keyPath)
}

// openFS opens the encrypted FS over base (vfs.Default when nil).
func (e *testEnv) openFS(t testing.TB, method ctr.Method, base vfs.FS, opts ...dict.Option) *FS {
	t.Helper()
	efs, err := Open(context.Background(), e.dir, e.config(method), base, opts...)
	if err != nil {
		t.Fatalf("open FS with %s: %v", method, err)
	}
	return efs
}

// openDB opens Pebble on efs with small memtables, so flushes and
// compactions happen in short tests.
func (e *testEnv) openDB(t testing.TB, efs vfs.FS) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(e.dir, testOptions(efs))
	if err != nil {
		t.Fatalf("open pebble: %v", err)
	}
	return db
}

func testOptions(efs vfs.FS) *pebble.Options {
	return &pebble.Options{
		FS:           efs,
		MemTableSize: 256 << 10,
		Logger:       enginetest.QuietLogger{},
	}
}

// crashOptions are Pebble's options for the crash tests (the child and
// parent of TestCrashRecovery, the live DB and every reopen of the power
// cuts): tiny memtables, tables, levels and MANIFEST, so flushes,
// compactions, WAL recycling and MANIFEST rotations happen every few
// hundred writes; the newest format, with value separation, so blob files
// are written too. Every error Pebble reports, in the background or not,
// goes to report.
func crashOptions(efs vfs.FS, mustExist bool, report func(string)) *pebble.Options {
	o := testOptions(efs)
	o.MemTableSize = 64 << 10
	o.L0CompactionThreshold = 2
	o.LBaseMaxBytes = 256 << 10
	o.TargetFileSizes[0] = 32 << 10
	o.MaxManifestFileSize = 64 << 10
	o.FormatMajorVersion = pebble.FormatNewest
	o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: 1024, MaxBlobReferenceDepth: 4, TargetGarbageRatio: 0.2}
	}
	// Once the DB exists, an open that finds no DB (a lost marker, say)
	// must fail rather than start an empty one.
	o.ErrorIfNotExists = mustExist
	o.Logger = crashtest.PebbleLogger{Report: report}
	reportErr := func(what string, err error) {
		// Close cancels running compactions; that is no failure.
		if err != nil && !errors.Is(err, pebble.ErrCancelledCompaction) {
			report(fmt.Sprintf("%s: %v", what, err))
		}
	}
	o.EventListener = &pebble.EventListener{
		BackgroundError: func(err error) { reportErr("background error", err) },
		DataCorruption:  func(info pebble.DataCorruptionInfo) { report(fmt.Sprintf("data corruption: %s", info)) },
		CompactionEnd:   func(info pebble.CompactionInfo) { reportErr("compaction", info.Err) },
		FlushEnd: func(info pebble.FlushInfo) {
			// A flush that writes no table (of a memtable with nothing
			// left, after recovery) reports this unexported error; Pebble's
			// own metamorphic test lets it pass the same way.
			if info.Err == nil || !strings.Contains(info.Err.Error(), "pebble: empty table") {
				reportErr("flush", info.Err)
			}
		},
		ManifestCreated: func(info pebble.ManifestCreateInfo) { reportErr("manifest created", info.Err) },
		ManifestDeleted: func(info pebble.ManifestDeleteInfo) { reportErr("manifest deleted", info.Err) },
		TableDeleted:    func(info pebble.TableDeleteInfo) { reportErr("table deleted", info.Err) },
		TableIngested:   func(info pebble.TableIngestInfo) { reportErr("table ingested", info.Err) },
		WALCreated:      func(info pebble.WALCreateInfo) { reportErr("WAL created", info.Err) },
		WALDeleted:      func(info pebble.WALDeleteInfo) { reportErr("WAL deleted", info.Err) },
		BlobFileDeleted: func(info pebble.BlobFileDeleteInfo) { reportErr("blob file deleted", info.Err) },
	}
	return o
}

// marker is a byte string that must never reach the disk in plaintext
// under an encrypting method.
const marker = "ATREST-PLAINTEXT-MARKER-7c1f"

func key(i int) []byte { return fmt.Appendf(nil, "key-%08d", i) }

func value(i, round int) []byte {
	return fmt.Appendf(nil, "%s value %d of round %d %s", marker, i, round, strings.Repeat("v", i%97))
}

// get reads key k, failing the test on an error other than not-found.
func get(t testing.TB, db *pebble.DB, k []byte) ([]byte, bool) {
	t.Helper()
	v, closer, err := db.Get(k)
	if err == pebble.ErrNotFound {
		return nil, false
	}
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true
}
