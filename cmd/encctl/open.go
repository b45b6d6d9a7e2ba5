package main

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
	"github.com/spf13/cobra"
)

// How a command opens the data directory.
type openMode int

const (
	// inspect: dict.WithInspection, so that nothing is created, no data
	// key rotated and no unused key dropped.
	inspect openMode = iota
	// modify: opened as inspect, for the modifying commands that should
	// change only what they are asked to (cleanup, which may be declined;
	// rotate-master-key; import, which may fail on a wrong transfer key);
	// the directory must already be encrypted (see openManager).
	modify
	// maintain: a plain open, with the rotation of a due data key that
	// any start of the engine would do (reencrypt needs it: a changed
	// method must get its current key before files move to it); the
	// directory must already be encrypted, as for modify.
	maintain
)

// session is one run of a command on the data directory: the
// environment, the command's operands and, for its body, the Manager and
// the configuration.
type session struct {
	*env
	args []string
	// m and cfg are set once the data directory is open: nil and empty
	// in a command's check.
	m   *dict.Manager
	cfg keyenv.Config
	// held is what the command releases when it ends (see hold).
	held []func()
}

// hold registers release, to be called when the command ends however it
// ends (last registered, first called): a file to close or a key to
// zero, got before the data directory is opened.
func (s *session) hold(release func()) { s.held = append(s.held, release) }

// dataCommand returns a command that works on the data directory: use is
// its name and synopsis, maxArgs the number of operands it takes at most
// (-1: any); the caller defines its flags on it. When it runs,
//
//   - --config and --data-dir must be set;
//   - check, if not nil, refuses a bad command line and readies what the
//     command needs, before anything in the data directory is read;
//   - the directory is opened in mode (see openManager) and run is called
//     with s.m and s.cfg set;
//   - the Manager is closed (a command that must see Close's error, or
//     must close before it reports, closes it itself first), then what was
//     held is released.
func (e *env) dataCommand(use string, maxArgs int, mode openMode, check, run func(s *session) error) *cobra.Command {
	return command(use, maxArgs, func(args []string) (err error) {
		s := &session{env: e, args: args}
		defer func() {
			for _, release := range slices.Backward(s.held) {
				release()
			}
		}()
		if err := e.require(); err != nil {
			return err
		}
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		if s.m, s.cfg, err = e.openManager(mode); err != nil {
			return err
		}
		defer s.m.Close()
		return run(s)
	})
}

// require checks the global flags every command but keyring needs.
func (e *env) require() error {
	if e.config == "" {
		return usagef("--config is required (the TOML file with the [security.encryption] section)")
	}
	if e.dataDir == "" {
		return usagef("--data-dir is required")
	}
	return nil
}

// loadConfig reads --config.
func (e *env) loadConfig() (keyenv.Config, error) {
	cfg, err := keyenv.LoadConfig(e.config)
	if err != nil {
		return cfg, fmt.Errorf("--config %s: %w", e.config, err)
	}
	return cfg, nil
}

// openManager loads the configuration and opens the data directory,
// which must not have a single dictionary (see refuseUninitialized).
// Opened to modify or maintain, it must already be encrypted when the
// configuration encrypts, since dict.Open would otherwise create the
// dictionaries (and a wrong --data-dir would turn into an encrypted
// directory).
func (e *env) openManager(mode openMode) (*dict.Manager, keyenv.Config, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, cfg, err
	}
	st, err := os.Stat(e.dataDir)
	if err != nil {
		return nil, cfg, fmt.Errorf("--data-dir: %w", err)
	}
	if !st.IsDir() {
		return nil, cfg, fmt.Errorf("--data-dir %s is not a directory", e.dataDir)
	}
	opts := []dict.Option{dict.WithKeyenvOptions(e.keyOpts...)}
	switch mode {
	case inspect:
		opts = append(opts, dict.WithInspection())
	case modify:
		// A change under a running engine would be overwritten by it, or
		// overwrite it: hold the directory's lock as the engine does.
		opts = append(opts, dict.WithInspection(), dict.WithLock())
	}
	// Opened first only if both dictionaries exist: dict refuses any
	// other directory before opening the master key, so that the refusal
	// comes ahead of a master-key error, as the operator needs it.
	m, err := dict.Open(e.ctx, e.dataDir, cfg, append(opts, dict.WithExistingDictionaries())...)
	if errors.Is(err, dict.ErrNotInitialized) {
		if refusal := refuseUninitialized(e.dataDir, err, cfg, mode != inspect); refusal != nil {
			return nil, cfg, refusal
		}
		// Never encrypted, and to stay so: opened without the option,
		// neither an inspection nor a plaintext method creates
		// dictionaries.
		m, err = dict.Open(e.ctx, e.dataDir, cfg, opts...)
	}
	if errors.Is(err, keyenv.ErrWrongMasterKey) || errors.Is(err, keyenv.ErrBothMasterKeysFailed) {
		// The usual cause: a rotate-master-key whose new key the
		// configuration does not name yet.
		return nil, cfg, fmt.Errorf("%w (the master key --config %s names does not open the key dictionary; after rotate-master-key, master-key must name the new key)", err, e.config)
	}
	if errors.Is(err, dict.ErrLocked) {
		return nil, cfg, fmt.Errorf("%w: stop the engine (or the other encctl) first; read-only commands may run beside it", err)
	}
	if err != nil {
		return nil, cfg, err
	}
	return m, cfg, nil
}

// refuseUninitialized words dict.Open's refusal (dict.ErrNotInitialized,
// under dict.WithExistingDictionaries) of dir, which lacks a dictionary or
// both. It refuses a single dictionary whatever the command (damaged, or a
// first start that crashed, whose empty file dictionary a plain dict.Open
// would remove) and, when mustBeEncrypted (a modifying command), none while
// the configuration encrypts (a plain dict.Open would create them). nil
// means dir was never encrypted and may be opened as such.
func refuseUninitialized(dir string, err error, cfg keyenv.Config, mustBeEncrypted bool) error {
	switch {
	case errors.Is(err, dict.ErrMissingFileDictionary):
		return fmt.Errorf("%s has %s but no %s: the dictionaries are incomplete, refusing to open them", dir, dict.KeyDictName, dict.FileDictName)
	case errors.Is(err, dict.ErrMissingKeyDictionary):
		return fmt.Errorf("%s has %s but no %s: the dictionaries are incomplete, refusing to open them", dir, dict.FileDictName, dict.KeyDictName)
	case mustBeEncrypted && cfg.DataEncryptionMethod != ctr.Plaintext:
		return fmt.Errorf("%s has no %s and %s: not an encrypted data directory (check --data-dir; encctl does not create dictionaries)", dir, dict.KeyDictName, dict.FileDictName)
	}
	return nil
}
