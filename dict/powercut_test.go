package dict_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashfs"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
)

// The power-cut test runs random sequences of the Manager's operations on
// a crash-model file system (internal/crashfs: only what was synced is
// sure to survive; unsynced 4 KiB blocks survive at random and
// independently, of a directory's unsynced changes a prefix survives),
// takes power cuts at random file-system calls in the middle of
// operations (and, in some runs, makes calls fail), and after each cut
// opens the directory as the engine's next start would and checks it
// against a model of what was acknowledged:
//
//   - the open succeeds: no cut may leave the directory unopenable;
//   - every file whose last operation was acknowledged reads back byte
//     for byte, and a file acknowledged as removed is absent, or (its
//     removal not yet durable) reads back as it was;
//   - the names the operation in flight touched hold their state before
//     it or after it, jointly (a rename is atomic: never both names,
//     never neither); a write in flight leaves its file's content open;
//   - every entry's data key is there, no entry is stale after the
//     engine's open, and no file that looks encrypted lacks an entry.
//
// A cut's state then becomes the next run's starting point, so recovery
// is cut too. ATREST_POWERCUTS sets how many cuts (make crash runs many
// more than make test).

// pcState is a name's state in the model: absent, or present with
// content; any marks a name whose content is not known (a write in
// flight or failed), which must only read without error.
type pcState struct {
	present bool
	any     bool
	content string
}

// pcOp is the operation in flight: the names it touches and their states
// before and after it. An operation that writes a file's content
// (create, append, reuse) may leave anything in flight under the names it
// touches (see check); they must only read without error.
type pcOp struct {
	desc          string
	names         []string
	before, after []pcState
	writes        bool
}

// pcModel is what the test knows of the directory.
type pcModel struct {
	files  map[string]pcState
	shared map[string]bool // names whose inode another name shares (links)
}

func (m *pcModel) clone() *pcModel {
	c := &pcModel{files: make(map[string]pcState, len(m.files)), shared: make(map[string]bool, len(m.shared))}
	for k, v := range m.files {
		c.files[k] = v
	}
	for k, v := range m.shared {
		c.shared[k] = v
	}
	return c
}

// pcCut is one power cut: the file system it left, what was acknowledged
// then, and the operation in flight.
type pcCut struct {
	fs     *crashfs.FS
	model  *pcModel
	flight *pcOp
	where  string
}

// pcRun drives one sequence of operations and collects its cuts.
type pcRun struct {
	t      *testing.T
	rng    *rand.Rand
	fs     *crashfs.FS
	cfg    keyenv.Config
	keyA   keyenv.MasterKeyConfig
	keyB   keyenv.MasterKeyConfig
	m      *dict.Manager
	faults bool // inject failures into writes and syncs
	pct    int  // UnsyncedPercent of the cuts

	mu      sync.Mutex
	trace   *[]string // the operations run since the seed's start, for a failure's report
	model   *pcModel
	flight  *pcOp
	cuts    []pcCut
	maxCuts int
	cutProb float64
	cutRng  *rand.Rand
}

var errPowerCutInjected = errors.New("injected failure")

// fault is the crash FS's hook: at random file-system calls it takes a
// power cut, and in fault runs it fails some writes and syncs.
func (r *pcRun) fault(op crashfs.Op, p string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cuts) < r.maxCuts && r.cutRng.Float64() < r.cutProb {
		r.takeCutLocked(fmt.Sprintf("%s %s", op, path.Base(p)))
	}
	if r.faults && r.cutRng.IntN(200) == 0 {
		switch op {
		case crashfs.OpWrite, crashfs.OpSync, crashfs.OpDatasync, crashfs.OpSyncDir, crashfs.OpRename, crashfs.OpAllocate:
			return errPowerCutInjected
		}
	}
	return nil
}

func (r *pcRun) takeCutLocked(where string) {
	cfg := crashfs.CrashConfig{UnsyncedPercent: r.pct, Seed: r.cutRng.Uint64()}
	var flight *pcOp
	if r.flight != nil {
		f := *r.flight
		flight = &f
	}
	r.cuts = append(r.cuts, pcCut{fs: r.fs.Crash(cfg), model: r.model.clone(), flight: flight, where: where})
}

const pcDir = "/data"

func (r *pcRun) open(method ctr.Method) error {
	r.cfg.DataEncryptionMethod = method
	m, err := dict.Open(context.Background(), pcDir, r.cfg, dict.WithFS(r.fs))
	if err != nil {
		return err
	}
	r.m = m
	return nil
}

// begin records the operation about to run; end records its outcome in
// the model: the after states when it succeeded, unknown content for the
// names it touched when it failed.
func (r *pcRun) begin(desc string, names []string, after []pcState) {
	r.beginOp(desc, names, after, false)
}

// beginWrite is begin for an operation that writes a file's content.
func (r *pcRun) beginWrite(desc string, names []string, after []pcState) {
	r.beginOp(desc, names, after, true)
}

func (r *pcRun) beginOp(desc string, names []string, after []pcState, writes bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := &pcOp{desc: desc, names: names, after: after, writes: writes}
	for _, n := range names {
		op.before = append(op.before, r.model.files[n])
	}
	r.flight = op
}

func (r *pcRun) end(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.flight
	r.flight = nil
	*r.trace = append(*r.trace, fmt.Sprintf("%s: %v", op.desc, err))
	for i, n := range op.names {
		st := op.after[i]
		if err != nil {
			st = pcState{present: true, any: true}
			if !op.before[i].present && !op.after[i].present {
				st = pcState{}
			}
		}
		if st.present {
			r.model.files[n] = st
		} else {
			delete(r.model.files, n)
			delete(r.model.shared, n)
		}
	}
}

// syncDir makes the directory's entries durable, as an engine does after
// creating, renaming or removing files in it.
func (r *pcRun) syncDir(name string) error {
	return r.fs.SyncDir(path.Join(pcDir, path.Dir(name)))
}

var pcNames = []string{"a", "b", "c", "d", "e", "sub/f", "sub/g", "sub/h"}

// pcContent is a file's content: text (so that a plaintext file never
// looks encrypted to Verify), of up to 9000 bytes, empty a quarter of the
// time.
func pcContent(rng *rand.Rand, tag string) string {
	n := rng.IntN(9000)
	if rng.IntN(4) == 0 {
		return tag
	}
	var b []byte
	for len(b) < n {
		b = strconv.AppendUint(append(b, ' '), rng.Uint64()%1000, 10)
	}
	return tag + string(b[:n])
}

// step runs one random operation; a false return means the Manager is no
// longer usable (an injected failure broke it) and the run should stop.
func (r *pcRun) step(i int) bool {
	name := pcNames[r.rng.IntN(len(pcNames))]
	other := pcNames[r.rng.IntN(len(pcNames))]
	cur, exists := r.model.files[name]
	var err error
	switch k := r.rng.IntN(100); {
	case k < 30: // create or truncate, write, sync, sync the directory
		if r.model.shared[name] && !r.m.Encrypted() {
			// Without dictionaries the Manager opens files as they are:
			// O_TRUNC truncates the file every name of it shares, which
			// the model does not follow (encrypted, the name gets a new
			// file of its own).
			return true
		}
		data := pcContent(r.rng, fmt.Sprintf("%s@%d|", name, i))
		r.beginWrite("create "+name, []string{name}, []pcState{{present: true, content: data}})
		err = r.write(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0, data)
		if err == nil {
			err = r.syncDir(name)
		}
		if err == nil {
			// The name has a file of its own now (one with other names
			// is replaced, not truncated); until then it may share.
			r.setShared(false, name)
		}
	case k < 40: // append to a file no other name shares
		if !exists || cur.any || r.model.shared[name] {
			return true
		}
		more := pcContent(r.rng, "+")
		r.beginWrite("append "+name, []string{name}, []pcState{{present: true, content: cur.content + more}})
		err = r.write(name, os.O_RDWR, int64(len(cur.content)), more)
	case k < 55: // rename, over an existing file or not
		if !exists || name == other || cur.any || (r.model.shared[name] && r.model.shared[other]) {
			// Two links of one file: rename(2) leaves both, which the
			// model, not knowing which names share a file, cannot follow.
			return true
		}
		r.begin("rename "+name+" "+other, []string{name, other}, []pcState{{}, cur})
		moved := r.model.shared[name]
		// In flight other holds its own file or name's: either may be
		// shared.
		r.setShared(moved || r.model.shared[other], other)
		err = r.m.Rename(name, other)
		if err == nil {
			err = errors.Join(r.syncDir(name), r.syncDir(other))
		}
		if err == nil {
			r.setShared(moved, other)
		}
	case k < 62: // link onto a free name
		if _, taken := r.model.files[other]; !exists || taken || cur.any || !r.m.Encrypted() {
			// Without dictionaries the Manager is the file system itself:
			// a truncate or reuse keeps a linked file's inode, which the
			// model, not knowing which names share one, cannot follow; so
			// that mode makes no links.
			return true
		}
		r.begin("link "+name+" "+other, []string{other}, []pcState{cur})
		r.setShared(true, name, other)
		err = r.m.Link(name, other)
		if err == nil {
			err = r.syncDir(other)
		}
	case k < 75: // remove
		if !exists {
			return true
		}
		r.begin("remove "+name, []string{name}, []pcState{{}})
		err = r.m.Remove(name)
		if err == nil {
			err = r.syncDir(name)
		}
	case k < 80: // reuse for write: rename and rewrite under a fresh IV
		if !exists || name == other || cur.any {
			return true
		}
		data := pcContent(r.rng, fmt.Sprintf("%s@%d|", other, i))
		r.beginWrite("reuse "+name+" "+other, []string{name, other}, []pcState{{}, {present: true, content: data}})
		moved := r.model.shared[name]
		r.setShared(moved || r.model.shared[other], other)
		err = r.reuse(name, other, data)
		if err == nil {
			// Encrypted, a file with other names is not reused (the new
			// name gets a new file); without dictionaries it is renamed
			// as it is, links and all.
			r.setShared(moved && !r.m.Encrypted(), other)
		}
	case k < 86: // re-encrypt under the current key
		if !exists || cur.any || r.cfg.DataEncryptionMethod == ctr.Plaintext {
			return true
		}
		r.begin("reencrypt "+name, []string{name}, []pcState{cur})
		err = operator.Reencrypt(context.Background(), r.m, name)
	case k < 93: // data-key rotation
		if r.cfg.DataEncryptionMethod == ctr.Plaintext {
			return true
		}
		r.begin("rotate data key", nil, nil)
		err = r.m.RotateDataKey(context.Background())
	default: // master-key rotation: the configuration names the new key first
		to, from := r.keyB, r.keyA
		if r.cfg.MasterKey.Path == r.keyB.Path {
			to, from = r.keyA, r.keyB
		}
		r.cfg.MasterKey, r.cfg.PreviousMasterKey = to, &from
		r.begin("rotate master key", nil, nil)
		err = operator.RotateMasterKey(context.Background(), r.m, to)
	}
	desc := r.flight.desc
	r.end(err)
	switch {
	case err == nil:
		return true
	case !r.faults:
		r.t.Fatalf("step %d (%s): %v", i, desc, err)
	}
	// After an injected failure the run ends: what the failed operation
	// left is open (the model says so), and the next cut checks the rest.
	return false
}

// setShared marks whether the names share their file with another name
// (a cut copies the model meanwhile).
func (r *pcRun) setShared(shared bool, names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		r.model.shared[n] = shared
	}
}

// write opens name with flag, writes data at off, syncs and closes.
func (r *pcRun) write(name string, flag int, off int64, data string) error {
	f, err := r.m.OpenFile(name, flag, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(data), off)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func (r *pcRun) reuse(oldname, newname, data string) error {
	f, err := r.m.ReuseForWrite(oldname, newname)
	if err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(data), 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = errors.Join(r.syncDir(oldname), r.syncDir(newname))
	}
	return err
}

// pcTally counts what the checks saw.
type pcTally struct {
	cuts, acked, inFlight, lost int
}

// check opens the directory a cut left as the engine's next start does
// and compares it with the model; it returns the model of what the
// directory now holds, for the next run to start from.
func (r *pcRun) check(c pcCut, method ctr.Method, tally *pcTally) *pcModel {
	t := r.t
	t.Helper()
	tally.cuts++
	cfg := r.cfg
	cfg.DataEncryptionMethod = method
	m, err := dict.Open(context.Background(), pcDir, cfg, dict.WithFS(c.fs))
	if err != nil {
		t.Fatalf("cut at %q during %v: the directory does not open: %v", c.where, c.flight, err)
	}
	defer m.Close()
	touched := map[string]int{}
	if c.flight != nil {
		for i, n := range c.flight.names {
			touched[n] = i
		}
	}
	next := &pcModel{files: map[string]pcState{}, shared: map[string]bool{}}
	actual := map[string]pcState{}
	for _, n := range pcNames {
		st, err := r.readState(m, c.fs, n)
		if err != nil {
			t.Fatalf("cut at %q during %v: %s: %v", c.where, c.flight, n, err)
		}
		actual[n] = st
		if st.present {
			next.files[n] = st
			next.shared[n] = c.model.shared[n]
		}
	}
	var flightMatched bool
	if c.flight != nil && len(c.flight.names) > 0 {
		after := c.flight.after
		if c.flight.writes {
			after = slices.Clone(after)
			for i := range after {
				after[i].any = after[i].present
			}
		}
		flightMatched = matches(actual, c.flight.names, c.flight.before) || matches(actual, c.flight.names, after)
		if c.flight.writes {
			// Truncating a file that has other names gives this name a
			// new file and a reused file with other names is removed and
			// its new name created: in flight the names such an
			// operation touches may hold no file, or one truncated
			// through another name; the content goes on under the other
			// names, which are checked.
			flightMatched = true
		}
		if !flightMatched {
			t.Errorf("cut at %q during %s (shared %v): %v hold %v, neither the state before %v nor after %v",
				c.where, c.flight.desc, c.model.shared, c.flight.names, states(actual, c.flight.names), c.flight.before, c.flight.after)
			tally.lost++
		}
		tally.inFlight++
	}
	for _, n := range pcNames {
		if _, ok := touched[n]; ok {
			continue
		}
		want, ok := c.model.files[n]
		if !ok {
			want = pcState{}
		}
		got := actual[n]
		switch {
		case want.any:
			continue
		case !want.present && got.present:
			// A removal is durable once its directory is synced, and the
			// test syncs it before it counts the removal as done: a name
			// the model has no file for was never created or its removal
			// was acknowledged.
			t.Errorf("cut at %q during %v: %s is back (%d bytes) after its removal was acknowledged", c.where, c.flight, n, len(got.content))
			tally.lost++
		case want.present && (!got.present || got.content != want.content):
			t.Errorf("cut at %q during %v: %s lost: present %v, %d bytes %.40q…%q, want %d bytes …%q", c.where, c.flight, n, got.present, len(got.content), got.content, got.content[max(0, len(got.content)-12):], len(want.content), want.content[max(0, len(want.content)-12):])
			tally.lost++
		case want.present:
			tally.acked++
		}
	}
	rep, err := operator.Verify(context.Background(), m)
	if err != nil {
		t.Fatalf("cut at %q: verify: %v", c.where, err)
	}
	if len(rep.MissingFiles) > 0 || len(rep.MissingKeys) > 0 {
		t.Errorf("cut at %q during %v: after the engine's open, entries without files %v, without keys %v", c.where, c.flight, rep.MissingFiles, rep.MissingKeys)
	}
	for _, u := range rep.Unrecorded {
		if u.LooksEncrypted {
			t.Errorf("cut at %q during %v: %s looks encrypted and has no entry", c.where, c.flight, u.Name)
		}
	}
	return next
}

// readState reads name through m; a file that does not exist is absent.
func (r *pcRun) readState(m *dict.Manager, fs *crashfs.FS, name string) (pcState, error) {
	if _, err := fs.Lstat(path.Join(pcDir, name)); errors.Is(err, os.ErrNotExist) {
		return pcState{}, nil
	}
	f, err := m.Open(name)
	if err != nil {
		return pcState{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return pcState{}, err
	}
	return pcState{present: true, content: string(b)}, nil
}

// matches reports whether the names hold exactly the wanted states; a
// wanted state of unknown content matches any present file.
func matches(actual map[string]pcState, names []string, want []pcState) bool {
	for i, n := range names {
		got, w := actual[n], want[i]
		switch {
		case w.present != got.present:
			return false
		case w.present && !w.any && got.content != w.content:
			return false
		}
	}
	return true
}

func states(actual map[string]pcState, names []string) []pcState {
	var out []pcState
	for _, n := range names {
		out = append(out, actual[n])
	}
	return out
}

func (s pcState) String() string {
	switch {
	case !s.present:
		return "absent"
	case s.any:
		return "any"
	}
	return strconv.Itoa(len(s.content)) + "B"
}

func (o *pcOp) String() string {
	if o == nil {
		return "no operation"
	}
	return o.desc
}

// powerCuts is how many cuts TestPowerCuts checks.
func powerCuts(t *testing.T) int {
	if s := os.Getenv("ATREST_POWERCUTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("ATREST_POWERCUTS=%q: %v", s, err)
		}
		return n
	}
	if testing.Short() {
		return 300
	}
	return 2000
}

// TestPowerCuts: see the comment at the top of this file.
func TestPowerCuts(t *testing.T) {
	root := t.TempDir()
	keyA := testenv.FileMasterKey(t, root, "a.key", 0x1a)
	keyB := testenv.FileMasterKey(t, root, "b.key", 0x2b)
	want := powerCuts(t)
	methods := append([]ctr.Method{ctr.AES128CTR, ctr.SM4CTR}, ctr.Methods...)
	var tally pcTally
	for seed := uint64(1); tally.cuts < want; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		fs := crashfs.New()
		if err := fs.MkdirAll(path.Join(pcDir, "sub")); err != nil {
			t.Fatal(err)
		}
		cfg := keyenv.DefaultConfig()
		cfg.MasterKey, cfg.PreviousMasterKey = keyA, &keyB
		cfg.EnableFileDictionaryLog = rng.IntN(5) != 0
		model := &pcModel{files: map[string]pcState{}, shared: map[string]bool{}}
		var trace []string
		// Each run starts from the cut the run before it left.
		for run := 0; run < 4 && tally.cuts < want; run++ {
			r := &pcRun{
				t: t, rng: rng, fs: fs, cfg: cfg, keyA: keyA, keyB: keyB, trace: &trace,
				faults:  rng.IntN(3) == 0,
				pct:     []int{0, 0, 30, 70, 100}[rng.IntN(5)],
				model:   model,
				maxCuts: 12,
				cutProb: 0.02,
				cutRng:  rand.New(rand.NewPCG(rng.Uint64(), 1)),
			}
			method := methods[rng.IntN(len(methods))]
			trace = append(trace, fmt.Sprintf("-- run %d: %s, unsynced %d%%, faults %v", run, method, r.pct, r.faults))
			if err := r.open(method); err != nil {
				t.Fatalf("seed %d run %d: open with %s: %v", seed, run, method, err)
			}
			fs.InjectError(r.fault)
			for i := 0; i < 60; i++ {
				if !r.step(i) {
					break
				}
			}
			fs.InjectError(nil)
			cfg = r.cfg
			r.m.Close()
			r.mu.Lock()
			r.takeCutLocked("after the run")
			cuts := r.cuts
			r.mu.Unlock()
			trace = append(trace, fmt.Sprintf("-- run %d ends with %d cuts", run, len(cuts)))
			from := rng.IntN(len(cuts))
			for j, c := range cuts {
				next := r.check(c, method, &tally)
				if t.Failed() {
					t.Logf("operations since the seed's start:\n%s", strings.Join(trace, "\n"))
					t.Fatalf("seed %d run %d (unsynced %d%%, faults %v, method %s)", seed, run, r.pct, r.faults, method)
				}
				if j == from {
					model, fs = next, c.fs
				}
			}
		}
	}
	t.Logf("%d power cuts, %d acknowledged files checked, %d operations in flight checked, %d lost", tally.cuts, tally.acked, tally.inFlight, tally.lost)
	if tally.lost != 0 {
		t.Fatalf("%d acknowledged states lost", tally.lost)
	}
	if tally.acked == 0 || tally.inFlight == 0 {
		t.Fatal("the test checked no acknowledged file or no operation in flight")
	}
}
