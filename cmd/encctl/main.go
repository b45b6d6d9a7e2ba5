// Command encctl is the operator's tool for a data directory encrypted by
// atrest: it shows what is encrypted with what, checks the dictionaries
// against the disk, recovers a plaintext copy of a file, rotates the master
// key, re-encrypts old files, moves files between directories under a
// transfer key, and manages keyring files. It reads the same TOML
// configuration as the library (the [security.encryption] section of a
// TiKV-style file).
//
// Usage:
//
//	encctl --config FILE --data-dir DIR COMMAND [flags]
//	encctl keyring (create|add|list) --keyring PATH [flags]
//	encctl help [COMMAND]
//
// --config is required by every command but keyring, --data-dir by every
// command that works on a data directory (all but keyring). Both may also
// be given after the command.
//
// Inspecting (these change nothing in the data directory, not even to
// finish what a crash interrupted, which they resolve in memory as the
// engine's next open will; they take no lock and may run beside the
// engine):
//
//	dump-file [--path P] [--json]
//	    every file entry (or only P's): path, data-key id, method, IV in
//	    hex. A path with no entry is plaintext; one with no file either is
//	    an error.
//	dump-key --i-consent [--ids ID,ID] [--json] [--show-secret]
//	    the data keys: id, method, creation time, exposure, whether it is
//	    current, how many files use it. Refused without --i-consent; the
//	    key bytes (hex) only with --show-secret.
//	decrypt-file --file F --out O
//	    a plaintext copy of F at O (mode 0600). O must not exist, nor lie
//	    inside the data directory; a failure leaves no O.
//	verify [--json]
//	    the dictionary against the disk: entries whose file is gone,
//	    entries whose data key is missing, files with no entry (marked when
//	    they look encrypted). Exit status 1 when anything is wrong.
//	    Beside a running engine it also reports what is in flight: an
//	    entry whose file is being created or was just removed, a file
//	    created after verify read the dictionary.
//	export --out FILE [--transfer-key-file K] NAME...
//	    an export document for the named files, sealed under a fresh
//	    transfer key, which is printed once or written to K (mode 0600).
//	    Neither FILE nor K may exist.
//
// Modifying (the engine must be stopped, see below):
//
//	cleanup [--yes]
//	    drops the entries whose file is gone, after asking on the terminal
//	    (a line read from standard input); --yes does not ask.
//	rotate-master-key --to FILE
//	    reseals the key dictionary under the master key of FILE's
//	    [security.encryption.master-key] section; then set master-key to
//	    the new key and previous-master-key to the old one in --config.
//	reencrypt [--older-than 30d] [--rate 50MiB/s]
//	    re-encrypts every file whose data key is older than the given age
//	    (default: any key but the current one) or whose method is not the
//	    configured one (with data-encryption-method plaintext, it decrypts
//	    them), at most at the given rate (B, KB, MB, GB, TB, KiB, MiB, GiB,
//	    TiB per second). Interrupted (Ctrl-C), it stops cleanly: nothing is
//	    lost and running it again resumes.
//	import --in FILE [--transfer-key-file K] [--under DIR] [--resume]
//	    records the files an export document describes, once they have been
//	    copied, as they were on disk, into the data directory (under DIR if
//	    given). The transfer key (hex) is read from K or, without it, from
//	    the environment variable ATREST_TRANSFER_KEY: never from the command
//	    line, which other users see in ps.
//
// Keyrings (password-protected files of named master keys; the password
// comes from an environment variable or a file, never from the command line):
//
//	keyring create --keyring PATH (--password-env VAR | --password-file F) [--kdf-time N] [--kdf-memory KIB] [--kdf-threads N]
//	keyring add    --keyring PATH --name NAME (--password-env VAR | --password-file F)
//	keyring list   --keyring PATH (--password-env VAR | --password-file F)
//
// Paths given to dump-file, decrypt-file, export and import --under are
// relative to the data directory (as dump-file prints them) or absolute
// inside it; anything outside is refused.
//
// The modifying commands (cleanup, rotate-master-key, reencrypt, import)
// must run while the storage engine is stopped: the engine's Manager and
// encctl's would both write the dictionaries, and each would overwrite
// what the other recorded. They refuse a directory that has no
// dictionaries while the configuration encrypts, because opening it would
// create them. A command that fails changes nothing, except that a
// reencrypt interrupted or failing on one file keeps the files it finished.
//
// Exit status: 0 on success, 1 when the command failed (or verify found
// problems), 2 for a bad command line. Every error is one line on
// standard error, starting with "encctl:".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
)

// Exit codes: a bad command line is told apart from a command that failed.
const (
	exitFailure = 1
	exitUsage   = 2
)

// transferKeyEnv is where import looks for the transfer key when no key
// file is named.
const transferKeyEnv = "ATREST_TRANSFER_KEY"

func main() {
	// encctl may hold data keys in memory (dump-key --show-secret, import):
	// keep them out of core files. Best effort: some platforms cannot.
	_ = keyenv.HardenProcess()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError marks a bad command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// env is what every command works with: the streams, the global flags and
// the context that Ctrl-C cancels.
type env struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	config         string
	dataDir        string
	// keyOpts go to keyenv wherever a master key is opened: they route its
	// warnings (a world-readable key file) to our standard error.
	keyOpts []keyenv.Option
}

// command is one subcommand.
type command struct {
	name string
	// args is the synopsis after the command's name.
	args string
	run  func(e *env, args []string) error
}

// commands lists every subcommand, in the order help shows them.
var commands = []command{
	{"dump-file", "[--path P] [--json]", dumpFile},
	{"dump-key", "--i-consent [--ids ID,ID] [--json] [--show-secret]", dumpKey},
	{"decrypt-file", "--file F --out O", decryptFile},
	{"verify", "[--json]", verify},
	{"cleanup", "[--yes]", cleanup},
	{"rotate-master-key", "--to FILE", rotateMasterKey},
	{"reencrypt", "[--older-than 30d] [--rate 50MiB/s]", reencrypt},
	{"export", "--out FILE [--transfer-key-file K] NAME...", exportFiles},
	{"import", "--in FILE [--transfer-key-file K] [--under DIR] [--resume]", importFiles},
	{"keyring", "(create|add|list) --keyring PATH [flags]", keyring},
}

func findCommand(name string) (command, bool) {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands[i], true
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// printUsage writes the overview help prints.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: encctl --config FILE --data-dir DIR COMMAND [flags]")
	fmt.Fprintln(w, "       encctl keyring (create|add|list) --keyring PATH [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s %s\n", c.name, c.args)
	}
	fmt.Fprintln(w, "\nrun 'encctl help COMMAND' for a command's flags; the modifying commands")
	fmt.Fprintln(w, "(cleanup, rotate-master-key, reencrypt, import) need the engine stopped")
}

// run is the whole command, with its streams passed in so that tests can
// drive it; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, err := dispatch(ctx, args, stdin, stdout, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	prefix := "encctl: "
	if name != "" {
		prefix += name + ": "
	}
	// One line, whatever a wrapped error carries: scripts and log
	// collectors read errors line by line.
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintln(stderr, prefix+msg)
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitFailure
}

// dispatch parses the global flags and runs the command; it returns the
// command's name (empty before one is known) for the error line.
func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (string, error) {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a one-shot command's warning needs no time
			}
			return a
		},
	}))
	e.keyOpts = []keyenv.Option{keyenv.WithLogger(logger)}

	gfs := flag.NewFlagSet("encctl", flag.ContinueOnError)
	gfs.SetOutput(io.Discard) // errors are reported as one line by run
	e.globalFlags(gfs)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return "", err
		}
		return "", usagef("%v (run 'encctl help')", err)
	}
	if gfs.NArg() == 0 {
		return "", usagef("no command given; commands: %s (run 'encctl help')", commandNames())
	}
	name, rest := gfs.Arg(0), gfs.Args()[1:]
	if name == "help" {
		return "", help(rest, stdout)
	}
	c, ok := findCommand(name)
	if !ok {
		return "", usagef("unknown command %q; commands: %s", name, commandNames())
	}
	return name, c.run(e, rest)
}

// globalFlags defines --config and --data-dir on fs; every command's flag
// set has them too, so that they may follow the command.
func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.config, "config", e.config, "the TOML configuration file ([security.encryption])")
	fs.StringVar(&e.dataDir, "data-dir", e.dataDir, "the data directory")
}

// help prints the overview, or one command's flags.
func help(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		printUsage(stdout)
		return nil
	}
	c, ok := findCommand(args[0])
	if !ok {
		return usagef("unknown command %q; commands: %s", args[0], commandNames())
	}
	e := &env{ctx: context.Background(), stdout: stdout, stderr: io.Discard}
	err := c.run(e, append(args[1:], "-h"))
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// flagSet returns a flag set for a command, quiet on errors (run reports
// them as one line) and with the global flags.
func (e *env) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("encctl "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.globalFlags(fs)
	return fs
}

// parse parses a command's flags: -h prints its usage on standard output,
// a bad flag is a usage error, and a command that takes no operands
// (maxArgs 0) refuses any.
func (e *env) parse(fs *flag.FlagSet, synopsis string, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(e.stdout, "usage: %s %s\n\nflags:\n", fs.Name(), synopsis)
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			return err
		}
		return usagef("%v (run 'encctl help %s')", err, strings.TrimPrefix(fs.Name(), "encctl "))
	}
	if maxArgs >= 0 && fs.NArg() > maxArgs {
		return usagef("unexpected argument %q", fs.Arg(maxArgs))
	}
	return nil
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

// parseData is parse then require: the preamble of a command that works
// on a data directory.
func (e *env) parseData(fs *flag.FlagSet, synopsis string, args []string, maxArgs int) error {
	if err := e.parse(fs, synopsis, args, maxArgs); err != nil {
		return err
	}
	return e.require()
}

// loadConfig reads --config.
func (e *env) loadConfig() (keyenv.Config, error) {
	cfg, err := keyenv.LoadConfig(e.config)
	if err != nil {
		return cfg, fmt.Errorf("--config %s: %w", e.config, err)
	}
	return cfg, nil
}

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
