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
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/atrest/atrest/cmd/internal/cli"
	"github.com/atrest/atrest/keyenv"
	"github.com/spf13/cobra"
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

func newEnv(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) *env {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a one-shot command's warning needs no time
			}
			return a
		},
	}))
	return &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, keyOpts: []keyenv.Option{keyenv.WithLogger(logger)}}
}

// run is the whole command, with its streams passed in so that tests can
// drive it; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := newEnv(ctx, stdin, stdout, stderr)
	c, err := cli.Execute(e.rootCommand(), args)
	if err == nil {
		return 0
	}
	prefix := "encctl: "
	if name := errorName(c); name != "" {
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

// errorName names the command c in its error line: "verify", or
// "keyring: add" for a keyring command; nothing for encctl itself and
// help, whose errors are about the command line as a whole.
func errorName(c *cobra.Command) string {
	var names []string
	for ; c != nil && c.HasParent(); c = c.Parent() {
		names = append([]string{c.Name()}, names...)
	}
	if len(names) == 0 || names[0] == "help" {
		return ""
	}
	return strings.Join(names, ": ")
}
