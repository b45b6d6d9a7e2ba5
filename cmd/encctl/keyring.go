package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/atrest/atrest/keyenv"
)

// keyring is 'keyring (create|add|list) --keyring PATH [flags]': keyring
// files hold the master keys a configuration of type "keyring" names. No
// data directory or configuration is involved.
func keyring(e *env, args []string) error {
	const synopsis = "(create|add|list) --keyring PATH (--password-env VAR | --password-file F) [flags]"
	if len(args) == 0 {
		return usagef("name a keyring command: create, add or list")
	}
	var run func(*env, []string) error
	switch args[0] {
	case "create":
		run = keyringCreate
	case "add":
		run = keyringAdd
	case "list":
		run = keyringList
	case "-h", "-help", "--help":
		fmt.Fprintf(e.stdout, "usage: encctl keyring %s\n\n", synopsis)
		fmt.Fprintln(e.stdout, "  create --keyring PATH (--password-env VAR | --password-file F) [--kdf-time N] [--kdf-memory KIB] [--kdf-threads N]")
		fmt.Fprintln(e.stdout, "  add    --keyring PATH --name NAME (--password-env VAR | --password-file F)")
		fmt.Fprintln(e.stdout, "  list   --keyring PATH (--password-env VAR | --password-file F)")
		return flag.ErrHelp
	}
	if run == nil {
		return usagef("unknown keyring command %q: create, add or list", args[0])
	}
	if err := run(e, args[1:]); err != nil {
		return fmt.Errorf("%s: %w", args[0], err) // "encctl: keyring add: ..."
	}
	return nil
}

// keyringFlags are the flags every keyring command has.
type keyringFlags struct {
	path, passwordEnv, passwordFile string
}

func (e *env) keyringFlagSet(name string) (*flag.FlagSet, *keyringFlags) {
	fl := e.flagSet("keyring " + name)
	k := &keyringFlags{}
	fl.StringVar(&k.path, "keyring", "", "the keyring file")
	fl.StringVar(&k.passwordEnv, "password-env", "", "the environment variable holding the keyring's password")
	fl.StringVar(&k.passwordFile, "password-file", "", "the file holding the keyring's password (one trailing newline is dropped)")
	return fl, k
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

func keyringCreate(e *env, args []string) error {
	const synopsis = "--keyring PATH (--password-env VAR | --password-file F) [--kdf-time N] [--kdf-memory KIB] [--kdf-threads N]"
	fl, k := e.keyringFlagSet("create")
	d := keyenv.DefaultKDFParams
	kdfTime := fl.Uint("kdf-time", uint(d.Time), "argon2id passes over memory")
	kdfMemory := fl.Uint("kdf-memory", uint(d.MemoryKiB), "argon2id memory in KiB")
	kdfThreads := fl.Uint("kdf-threads", uint(d.Threads), "argon2id lanes")
	if err := e.parse(fl, synopsis, args, 0); err != nil {
		return err
	}
	switch {
	case *kdfTime < 1 || *kdfTime > 1<<32-1:
		return usagef("--kdf-time %d: must be at least 1", *kdfTime)
	case *kdfMemory < 8 || *kdfMemory > 1<<32-1:
		return usagef("--kdf-memory %d: must be at least 8 (KiB)", *kdfMemory)
	case *kdfThreads < 1 || *kdfThreads > 255:
		return usagef("--kdf-threads %d: must lie between 1 and 255", *kdfThreads)
	}
	pw, err := k.password()
	if err != nil {
		return err
	}
	defer pw.Release()
	params := keyenv.KDFParams{Time: uint32(*kdfTime), MemoryKiB: uint32(*kdfMemory), Threads: uint8(*kdfThreads)}
	kr, err := keyenv.CreateKeyring(k.path, pw.Bytes(), params)
	if err != nil {
		return err
	}
	kr.Close()
	_, err = fmt.Fprintf(e.stdout, "created keyring %s (no keys yet: encctl keyring add)\n", k.path)
	return err
}

func keyringAdd(e *env, args []string) error {
	const synopsis = "--keyring PATH --name NAME (--password-env VAR | --password-file F)"
	fl, k := e.keyringFlagSet("add")
	name := fl.String("name", "", "the new key's name (letters, digits, '-', '_', '.')")
	if err := e.parse(fl, synopsis, args, 0); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	kr, err := k.open()
	if err != nil {
		return err
	}
	defer kr.Close()
	entry, err := kr.AddKey(*name)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "added key %s version %d to %s\n", entry.Name, entry.Version, k.path)
	return err
}

func keyringList(e *env, args []string) error {
	const synopsis = "--keyring PATH (--password-env VAR | --password-file F)"
	fl, k := e.keyringFlagSet("list")
	if err := e.parse(fl, synopsis, args, 0); err != nil {
		return err
	}
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
