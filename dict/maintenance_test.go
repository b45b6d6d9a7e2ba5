package dict

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/fsys"
)

// The primitives of Maintenance, each as its doc comment promises; the
// operator's features built on them are tested in package operator.

// copyAll is a Rewrite fill that copies the whole file.
func copyAll(r *Rewriting) (int64, error) {
	buf := make([]byte, max(r.Size, 1))
	n, err := r.Src.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	w, err := r.Dst.WriteAt(buf[:n], 0)
	return int64(w), err
}

// TestRewrite: a fill that copies everything swaps the copy in under the
// current key; one that copies less, or fails, leaves the file and its
// entry as they were and no temporary file; a file already current is
// not copied at all.
func TestRewrite(t *testing.T) {
	errFill := errors.New("fill failed")
	for _, tc := range []struct {
		name     string
		rotate   bool // a new current key first, so the file is outdated
		fill     func(r *Rewriting) (int64, error)
		want     error // nil: rewritten (or left, when not rotated)
		rewrites bool
	}{
		{"copies", true, copyAll, nil, true},
		{"short copy", true, func(r *Rewriting) (int64, error) { n, err := r.Dst.WriteAt([]byte("x"), 0); return int64(n), err }, ErrReencryptChanged, false},
		{"fill fails", true, func(*Rewriting) (int64, error) { return 0, errFill }, errFill, false},
		{"current", false, func(*Rewriting) (int64, error) { t.Error("fill called for a current file"); return 0, nil }, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			m := env.open(ctr.AES128CTR)
			defer m.Close()
			data := content("f", 5000)
			writeFile(t, m, "f", data)
			before, _, _ := m.Lookup("f")
			if tc.rotate {
				if err := m.RotateDataKey(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			var seen *Rewriting
			err := m.Maintenance().Rewrite(context.Background(), filepath.Join(env.dir, "f"), func(r *Rewriting) (int64, error) {
				seen = r
				return tc.fill(r)
			})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Rewrite: %v, want %v", err, tc.want)
			}
			if seen != nil && (seen.Name != "f" || seen.Temp != "f"+ReencryptTempSuffix || seen.Size != int64(len(data))) {
				t.Errorf("fill got %q, %q, size %d", seen.Name, seen.Temp, seen.Size)
			}
			wantReadBack(t, m, "f", data, "after Rewrite")
			after, _, _ := m.Lookup("f")
			_, cur := m.DataKeys()
			if rewritten := after != before; rewritten != tc.rewrites || (tc.rewrites && after.KeyID != cur) {
				t.Errorf("entry %+v, was %+v (current key %d)", after, before, cur)
			}
			if _, err := os.Lstat(filepath.Join(env.dir, "f"+ReencryptTempSuffix)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("temporary file left: %v", err)
			}
		})
	}
}

// TestRewriteBusy: while a Rewrite of a file runs, another of the same
// file is ErrReencryptBusy and RemoveRewriteTemp leaves its temporary
// file alone; a name that is not a temporary file is refused.
func TestRewriteBusy(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	writeFile(t, m, "f", content("f", 100))
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	mt := m.Maintenance()
	err := mt.Rewrite(context.Background(), "f", func(r *Rewriting) (int64, error) {
		if err := mt.Rewrite(context.Background(), "f", copyAll); !errors.Is(err, ErrReencryptBusy) {
			t.Errorf("a second Rewrite: %v, want ErrReencryptBusy", err)
		}
		if err := mt.RemoveRewriteTemp(r.Temp); err != nil {
			t.Errorf("RemoveRewriteTemp during the rewrite: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(env.dir, r.Temp)); err != nil {
			t.Errorf("the running rewrite's temporary file went: %v", err)
		}
		return copyAll(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mt.RemoveRewriteTemp("f"); err == nil {
		t.Error("RemoveRewriteTemp removed a data file")
	}
	wantReadBack(t, m, "f", content("f", 100), "after the rewrite")
	if err := mt.RemoveRewriteTemp("f" + ReencryptTempSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveRewriteTemp of no file: %v, want fs.ErrNotExist", err)
	}
}

// TestHoldAndForget: Hold gives the name's dictionary form and entry,
// refusing what the engine's operations refuse; Forget drops only the
// entry of a file that is gone.
func TestHoldAndForget(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.SM4CTR)
	defer m.Close()
	os.Mkdir(filepath.Join(env.dir, "sub"), 0o755)
	for _, n := range []string{"sub/kept", "sub/gone"} {
		writeFile(t, m, n, content(n, 10))
	}
	os.WriteFile(filepath.Join(env.dir, "plain"), []byte("p"), 0o644)
	os.Remove(filepath.Join(env.dir, "sub", "gone"))
	mt := m.Maintenance()
	for _, tc := range []struct {
		name, rel string
		entry     bool
		want      error
	}{
		{filepath.Join(env.dir, "sub", "kept"), "sub/kept", true, nil},
		{"plain", "plain", false, nil},
		{".", "", false, ErrDataDir},
		{"../x", "", false, ErrOutsideDir},
		{KeyDictName, "", false, ErrReserved},
	} {
		called := false
		err := mt.Hold(tc.name, func(rel string, e Entry, ok bool) error {
			called = true
			want, wantOK, _ := m.Lookup(tc.rel)
			if rel != tc.rel || ok != tc.entry || e != want || ok != wantOK {
				t.Errorf("Hold(%s): %q, %+v, %v", tc.name, rel, e, ok)
			}
			return nil
		})
		if !errors.Is(err, tc.want) || called != (tc.want == nil) {
			t.Errorf("Hold(%s): %v (called %v), want %v", tc.name, err, called, tc.want)
		}
	}
	// While held, a removal of the name waits.
	removed := make(chan error, 1)
	mt.Hold("sub/kept", func(string, Entry, bool) error {
		go func() { removed <- m.Remove("sub/kept") }()
		select {
		case err := <-removed:
			t.Errorf("a removal ran while the name was held: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		return nil
	})
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "sub/kept", content("sub/kept", 10))
	for _, tc := range []struct {
		name    string
		dropped bool
	}{{"sub/kept", false}, {"plain", false}, {"sub/gone", true}, {"sub/gone", false}} {
		rel, dropped, err := mt.Forget(tc.name)
		if err != nil || rel != tc.name || dropped != tc.dropped {
			t.Errorf("Forget(%s): %q, %v, %v; want dropped %v", tc.name, rel, dropped, err, tc.dropped)
		}
	}
	if _, ok, _ := m.Lookup("sub/kept"); !ok {
		t.Error("the entry of a present file went")
	}
}

// TestOutdated: an entry is outdated when its method is not the
// configured one, or its key is not the current one and old enough.
func TestOutdated(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	writeFile(t, m, "old", []byte("o"))
	env.Advance(48 * time.Hour)
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "new", []byte("n"))
	oldE, _, _ := m.Lookup("old")
	newE, _, _ := m.Lookup("new")
	sm4 := newE
	sm4.Method = ctr.SM4CTR
	plainE := Entry{Method: ctr.Plaintext}
	mt := m.Maintenance()
	for _, tc := range []struct {
		name      string
		e         Entry
		ok        bool
		olderThan time.Duration
		want      bool
	}{
		{"current key", newE, true, 0, false},
		{"another key", oldE, true, 0, true},
		{"another key, old enough", oldE, true, 24 * time.Hour, true},
		{"another key, too young", oldE, true, 72 * time.Hour, false},
		{"another method", sm4, true, 0, true},
		{"no entry", Entry{}, false, 0, true},
		{"plaintext entry", plainE, true, 0, true},
		{"a key not held", Entry{KeyID: 12345, Method: ctr.AES128CTR}, true, time.Hour, true},
	} {
		if got := mt.Outdated(tc.e, tc.ok, tc.olderThan); got != tc.want {
			t.Errorf("%s: Outdated = %v, want %v", tc.name, got, tc.want)
		}
	}
	m.Close()

	// With method plaintext, only encrypted entries are outdated.
	m = env.open(ctr.Plaintext)
	defer m.Close()
	mt = m.Maintenance()
	if !mt.Outdated(newE, true, 0) || mt.Outdated(plainE, true, 0) || mt.Outdated(Entry{}, false, 0) {
		t.Error("with method plaintext: an encrypted entry is not outdated, or a plaintext one is")
	}
}

// TestLocked: while held, the Manager's file operations wait; AddKeys
// and Record put keys and entries in.
func TestLocked(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	ctx := context.Background()
	mt := m.Maintenance()
	l, err := mt.Lock()
	if err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() {
		f, err := m.Create("waits")
		if err == nil {
			err = f.Close()
		}
		created <- err
	}()
	select {
	case err := <-created:
		t.Fatalf("a create ran while the Manager was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	key := exportdoc.Key{ID: 7, Method: ctr.AES128CTR, Created: env.Now(), Bytes: content("k", 16)}
	ids, err := l.AddKeys(ctx, []exportdoc.Key{key})
	if err != nil || ids[7] != 7 || !l.SameKey(7, ctr.AES128CTR, key.Bytes) || l.SameKey(7, ctr.AES128CTR, content("x", 16)) {
		t.Fatalf("AddKeys: %v, %v", ids, err)
	}
	if again, err := l.AddKeys(ctx, []exportdoc.Key{{ID: 9, Method: key.Method, Bytes: key.Bytes}}); err != nil || again[9] != 7 {
		t.Errorf("the same key again: %v, %v; want it found as 7", again, err)
	}
	good := NamedEntry{Name: "x", Entry: Entry{KeyID: 7, Method: ctr.AES128CTR, IV: [16]byte{1}}}
	if err := l.Record(ctx, []NamedEntry{good}); err != nil {
		t.Fatal(err)
	}
	if e, ok := l.Lookup("x"); !ok || e != good.Entry {
		t.Errorf("recorded entry %+v, %v", e, ok)
	}
	l.Unlock()
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if ids, _ := m.DataKeys(); !slices.Contains(ids, 7) {
		t.Errorf("keys %v: the recorded entry's key went", ids)
	}
	m.Close()
	if _, err := mt.Lock(); !errors.Is(err, ErrClosed) {
		t.Errorf("Lock after Close: %v", err)
	}
}

// TestRecordTakesBackKeys: a Record that fails takes back the entries it
// recorded and drops the keys no file uses any more.
func TestRecordTakesBackKeys(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	ctx := context.Background()
	l, err := m.Maintenance().Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, err := l.AddKeys(ctx, []exportdoc.Key{{ID: 7, Method: ctr.AES128CTR, Created: env.Now(), Bytes: content("k", 16)}}); err != nil {
		t.Fatal(err)
	}
	good := NamedEntry{Name: "x", Entry: Entry{KeyID: 7, Method: ctr.AES128CTR}}
	bad := NamedEntry{Name: "y", Entry: Entry{KeyID: 7, Method: ctr.Method(99)}}
	if err := l.Record(ctx, []NamedEntry{good, bad}); !errors.Is(err, ctr.ErrUnknownMethod) {
		t.Fatalf("Record with a bad entry: %v", err)
	}
	if _, ok := l.Lookup("x"); ok {
		t.Error("a failed Record kept an entry")
	}
	if l.SameKey(7, ctr.AES128CTR, content("k", 16)) {
		t.Error("the key only the taken-back entry used stayed")
	}
}

// TestMaintenanceState: names, the re-encryption progress Stats reports,
// the failpoint hook and Err.
func TestMaintenanceState(t *testing.T) {
	env := newEnv(t)
	var hit []string
	m := env.open(ctr.AES128CTR, WithFailpoint(func(name string) { hit = append(hit, name) }))
	mt := m.Maintenance()
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"a/../b", "b", nil},
		{filepath.Join(env.dir, "sub", "c"), "sub/c", nil},
		{env.dir, ".", nil},
		{"../x", "", ErrOutsideDir},
		{"f" + ReencryptTempSuffix, "", ErrReserved},
	} {
		if got, err := mt.Rel(tc.in); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Rel(%s) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if mt.FS() == nil {
		t.Error("no FS")
	}
	mt.Failpoint("test.point")
	if !slices.Contains(hit, "test.point") {
		t.Errorf("failpoints hit %v", hit)
	}
	start := time.Now()
	if !mt.StartReencrypt(start) || mt.StartReencrypt(start) {
		t.Error("StartReencrypt: not exactly one run at a time")
	}
	p := mt.UpdateReencrypt(func(p *ReencryptProgress) { p.FilesTotal = 3 })
	st, _ := m.Stats()
	if !p.Running || p.FilesTotal != 3 || st.Reencrypt != p || mt.UpdateReencrypt(nil) != p {
		t.Errorf("progress %+v, Stats %+v", p, st.Reencrypt)
	}
	mt.UpdateReencrypt(func(p *ReencryptProgress) { p.Running = false })
	if !mt.StartReencrypt(start) {
		t.Error("StartReencrypt after the run ended: false")
	}
	if err := mt.Err(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := mt.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("Err after Close: %v", err)
	}
	// An inspection's file system is read-only.
	insp := env.open(ctr.AES128CTR, WithInspection())
	defer insp.Close()
	if err := insp.Maintenance().FS().Remove(filepath.Join(env.dir, KeyDictName)); !errors.Is(err, fsys.ErrReadOnly) {
		t.Errorf("a removal through an inspection's FS: %v, want fsys.ErrReadOnly", err)
	}
}
