package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/atrest/atrest/keyenv"
	"github.com/spf13/cobra"
)

// keyringCommand is 'keyring (create|add|list) --keyring PATH [flags]':
// keyring files hold the master keys a configuration of type "keyring"
// names. No data directory or configuration is involved.
func (e *env) keyringCommand() *cobra.Command {
	const synopsis = "(create|add|list) --keyring PATH (--password-env VAR | --password-file F) [flags]"
	c := &cobra.Command{
		Use: "keyring (create|add|list) --keyring PATH [flags]",
		// keyring itself does nothing: it needs one of its commands.
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("name a keyring command: create, add or list")
			}
			return usagef("unknown keyring command %q: create, add or list", args[0])
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args refuses every call
	}
	// The flags every keyring command has.
	k := &keyringFlags{}
	fl := c.PersistentFlags()
	fl.StringVar(&k.path, "keyring", "", "the keyring file")
	fl.StringVar(&k.passwordEnv, "password-env", "", "the environment variable holding the keyring's password")
	fl.StringVar(&k.passwordFile, "password-file", "", "the file holding the keyring's password (one trailing newline is dropped)")
	subs := []*cobra.Command{e.keyringCreateCommand(k), e.keyringAddCommand(k), e.keyringListCommand(k)}
	c.AddCommand(subs...)
	// Its help lists its commands' synopses.
	var help strings.Builder
	fmt.Fprintf(&help, "usage: encctl keyring %s\n\n", synopsis)
	for _, sub := range subs {
		fmt.Fprintf(&help, "  %-6s %s\n", sub.Name(), strings.TrimPrefix(sub.Use, sub.Name()+" "))
	}
	c.Long = help.String()
	return c
}

// keyringFlags are the flags every keyring command has.
type keyringFlags struct {
	path, passwordEnv, passwordFile string
}

// password checks the flags and reads the password. It comes from an
// environment variable or a file, never from an argument, which ps shows
// to every user. The caller releases it.
func (k *keyringFlags) password() (*keyenv.Secret, error) {
	switch {
	case k.path == "":
		return nil, usagef("--keyring is required")
	case k.passwordEnv == "" && k.passwordFile == "":
		return nil, usagef("the keyring password is needed: give --password-env VAR or --password-file F")
	case k.passwordEnv != "" && k.passwordFile != "":
		return nil, usagef("give either --password-env or --password-file, not both")
	}
	return keyenv.ReadPassword(k.passwordEnv, k.passwordFile)
}

// open opens the keyring with its password.
func (k *keyringFlags) open() (*keyenv.Keyring, error) {
	pw, err := k.password()
	if err != nil {
		return nil, err
	}
	defer pw.Release()
	return keyenv.OpenKeyring(k.path, pw.Bytes())
}

// keyringCreateCommand is 'keyring create'.
func (e *env) keyringCreateCommand(k *keyringFlags) *cobra.Command {
	var kdfTime, kdfMemory, kdfThreads uint
	c := command("create --keyring PATH (--password-env VAR | --password-file F) [--kdf-time N] [--kdf-memory KIB] [--kdf-threads N]", 0, func([]string) error {
		return e.keyringCreate(k, kdfTime, kdfMemory, kdfThreads)
	})
	d := keyenv.DefaultKDFParams
	c.Flags().UintVar(&kdfTime, "kdf-time", uint(d.Time), "argon2id passes over memory")
	c.Flags().UintVar(&kdfMemory, "kdf-memory", uint(d.MemoryKiB), "argon2id memory in KiB")
	c.Flags().UintVar(&kdfThreads, "kdf-threads", uint(d.Threads), "argon2id lanes")
	return c
}

// keyringCreate creates the keyring, with the argon2id parameters given.
func (e *env) keyringCreate(k *keyringFlags, kdfTime, kdfMemory, kdfThreads uint) error {
	switch {
	case kdfTime < 1 || kdfTime > 1<<32-1:
		return usagef("--kdf-time %d: must be at least 1", kdfTime)
	case kdfMemory < 8 || kdfMemory > 1<<32-1:
		return usagef("--kdf-memory %d: must be at least 8 (KiB)", kdfMemory)
	case kdfThreads < 1 || kdfThreads > 255:
		return usagef("--kdf-threads %d: must lie between 1 and 255", kdfThreads)
	}
	pw, err := k.password()
	if err != nil {
		return err
	}
	defer pw.Release()
	params := keyenv.KDFParams{Time: uint32(kdfTime), MemoryKiB: uint32(kdfMemory), Threads: uint8(kdfThreads)}
	kr, err := keyenv.CreateKeyring(k.path, pw.Bytes(), params)
	if err != nil {
		return err
	}
	kr.Close()
	_, err = fmt.Fprintf(e.stdout, "created keyring %s (no keys yet: encctl keyring add)\n", k.path)
	return err
}

// keyringAddCommand is 'keyring add'.
func (e *env) keyringAddCommand(k *keyringFlags) *cobra.Command {
	var name string
	c := command("add --keyring PATH --name NAME (--password-env VAR | --password-file F)", 0, func([]string) error {
		return e.keyringAdd(k, name)
	})
	c.Flags().StringVar(&name, "name", "", "the new key's name (letters, digits, '-', '_', '.')")
	return c
}

// keyringAdd adds a fresh key called name to the keyring.
func (e *env) keyringAdd(k *keyringFlags, name string) error {
	if name == "" {
		return usagef("--name is required")
	}
	kr, err := k.open()
	if err != nil {
		return err
	}
	defer kr.Close()
	entry, err := kr.AddKey(name)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "added key %s version %d to %s\n", entry.Name, entry.Version, k.path)
	return err
}

// keyringListCommand is 'keyring list'.
func (e *env) keyringListCommand(k *keyringFlags) *cobra.Command {
	return command("list --keyring PATH (--password-env VAR | --password-file F)", 0, func([]string) error {
		return e.keyringList(k)
	})
}

// keyringList lists the keyring's keys.
func (e *env) keyringList(k *keyringFlags) error {
	kr, err := k.open()
	if err != nil {
		return err
	}
	defer kr.Close()
	keys := kr.Keys()
	if len(keys) == 0 {
		_, err := fmt.Fprintln(e.stdout, "no keys")
		return err
	}
	t := &table{header: []string{"NAME", "VERSION", "CREATED"}}
	for _, key := range keys {
		t.add(key.Name, strconv.FormatUint(uint64(key.Version), 10), key.Created.UTC().Format(time.RFC3339))
	}
	return t.write(e.stdout, nil)
}
