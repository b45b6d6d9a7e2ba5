package dict

import (
	"time"

	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

// Option adjusts Open.
type Option func(*options)

type options struct {
	masterKeys  *keyenv.MasterKeys
	keyOpts     []keyenv.Option
	now         func() time.Time
	failpoint   func(string)
	fs          fsys.FS
	inspect     bool
	existing    bool
	lock        bool
	lostEntries bool
}

// WithMasterKeys uses mk instead of opening the master keys the
// configuration names. The caller keeps ownership of mk.
func WithMasterKeys(mk *keyenv.MasterKeys) Option {
	return func(o *options) { o.masterKeys = mk }
}

// WithKeyenvOptions passes options to keyenv when opening the master keys.
func WithKeyenvOptions(opts ...keyenv.Option) Option {
	return func(o *options) { o.keyOpts = append(o.keyOpts, opts...) }
}

// WithClock replaces time.Now for data-key ages (tests).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithInspection opens a data directory for an operator's tool (encctl),
// which may run beside the engine: the Manager runs on a read-only view of
// the file system (fsys.ReadOnly), takes no lock and writes nothing, not
// the lock file, not a temporary file, not the dictionaries' tails. What a
// crash interrupted (renames, a master-key rotation the configuration
// names, a torn last write of the file dictionary) it resolves in memory
// only, so it shows the directory as the engine's next open will make it;
// stale entries are shown, not dropped. Every change asked of it fails
// with fsys.ErrReadOnly.
//
// With WithLock it takes the directory's lock, works on the writable file
// system, repairs what a crash left (a torn tail, temporary files) and
// makes the changes it is asked for (operator.ForgetMissing,
// RotateMasterKey, Import); the rest of the open-time maintenance is skipped all the same:
// it creates no dictionaries where there are none (nor removes the empty
// file dictionary a crashed first start leaves), rotates no data key that
// is due, and drops no unused key or stale entry.
func WithInspection() Option {
	return func(o *options) { o.inspect = true }
}

// WithExistingDictionaries makes Open refuse, with ErrNotInitialized, a
// data directory that does not already have both dictionaries, rather
// than create them (a first start with encryption on) or start over from
// the empty file dictionary a crashed first start leaves: for tools that
// must never turn a directory into an encrypted one, as an operator's
// mistyped path would be. A single dictionary is refused whatever it
// holds, and the error also names it as Open without the option would
// (ErrMissingKeyDictionary or ErrMissingFileDictionary). The check comes
// before the master keys are opened, and a refused directory is left as it
// was.
func WithExistingDictionaries() Option {
	return func(o *options) { o.existing = true }
}

// WithLock makes a Manager opened WithInspection take the data directory's
// lock (LockName) as any other Manager does, refusing with ErrLocked a
// directory another open Manager holds: for tools that inspect first and
// then change what they are asked to (a master-key rotation, an import),
// which must not do it under a running engine. Without WithInspection it
// changes nothing.
func WithLock() Option {
	return func(o *options) { o.lock = true }
}

// WithFailpoint calls fn at named points of every multi-step operation
// (crash tests kill the process there). The names are the arguments of
// m.fail calls and the fields of renameFailpoints values:
// "create.after-entry", "rename.after-intent", "rotate-master.after-save",
// "import.after-key-dict", ... (grep for them).
func WithFailpoint(fn func(name string)) Option {
	return func(o *options) { o.failpoint = fn }
}
