package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
	"github.com/spf13/cobra"
)

// cleanupCommand is 'cleanup [--yes]'.
func (e *env) cleanupCommand() *cobra.Command {
	var yes bool
	c := e.dataCommand("cleanup [--yes]", 0, modify, nil, func(s *session) error {
		return cleanup(s, yes)
	})
	c.Flags().BoolVar(&yes, "yes", false, "drop the entries without asking")
	return c
}

// cleanup drops the entries whose file is gone, after asking unless yes.
func cleanup(s *session, yes bool) error {
	e, m := s.env, s.m
	r, err := operator.Verify(e.ctx, m)
	if err != nil {
		return err
	}
	missing := r.MissingFiles
	if len(missing) == 0 {
		_, err := fmt.Fprintln(e.stdout, "nothing to clean up: every entry has its file")
		return err
	}
	fmt.Fprintf(e.stdout, "%s whose file is gone:\n", plural(len(missing), "entry", "entries"))
	for _, n := range missing {
		fmt.Fprintf(e.stdout, "  %s\n", displayName(n))
	}
	if !yes {
		fmt.Fprintf(e.stderr, "drop %s? [y/N] ", plural(len(missing), "entry", "entries"))
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(e.stderr) // end the prompt's line
			if errors.Is(err, io.EOF) {
				return errors.New("no answer on standard input, nothing dropped (--yes drops without asking)")
			}
			return fmt.Errorf("reading the answer: %w", err)
		}
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			_, err := fmt.Fprintln(e.stdout, "nothing dropped")
			return err
		}
	}
	dropped, err := operator.ForgetMissing(m, missing)
	if len(dropped) > 0 {
		fmt.Fprintf(e.stdout, "dropped %s:\n", plural(len(dropped), "entry", "entries"))
		for _, n := range dropped {
			fmt.Fprintf(e.stdout, "  %s\n", displayName(n))
		}
	}
	if err != nil {
		return err
	}
	for _, n := range missing {
		if !slices.Contains(dropped, n) {
			fmt.Fprintf(e.stdout, "kept %s: its file is back, or its entry went meanwhile\n", displayName(n))
		}
	}
	return m.Close()
}

// rotateMasterKeyCommand is 'rotate-master-key --to FILE'.
func (e *env) rotateMasterKeyCommand() *cobra.Command {
	var to string
	var newKey keyenv.MasterKeyConfig
	check := func(*session) error {
		if to == "" {
			return usagef("--to is required: a configuration file whose [security.encryption.master-key] is the new master key")
		}
		toCfg, err := keyenv.LoadConfig(to)
		if err != nil {
			return fmt.Errorf("--to %s: %w", to, err)
		}
		newKey = toCfg.MasterKey
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		// Open the new key before the directory, so that a key that
		// cannot be used stops the command with the directory untouched.
		b, err := keyenv.OpenBackend(e.ctx, newKey, e.keyOpts...)
		if err != nil {
			return fmt.Errorf("--to %s: the new master key: %w", to, err)
		}
		err = keyenv.CheckSecure(cfg.DataEncryptionMethod, b)
		b.Close()
		if err != nil {
			return fmt.Errorf("--to %s: the new master key: %w", to, err)
		}
		return nil
	}
	c := e.dataCommand("rotate-master-key --to FILE", 0, modify, check, func(s *session) error {
		return rotateMasterKey(s, to, newKey)
	})
	c.Flags().StringVar(&to, "to", "", "a TOML configuration whose [security.encryption.master-key] section is the new master key")
	return c
}

// rotateMasterKey reseals the key dictionary under newKey, read from the
// configuration file to.
func rotateMasterKey(s *session, to string, newKey keyenv.MasterKeyConfig) error {
	e, m := s.env, s.m
	if !m.Encrypted() {
		return errors.New("the data directory was never encrypted: there is no key dictionary to reseal")
	}
	before, err := m.Stats()
	if err != nil {
		return err
	}
	if err := operator.RotateMasterKey(e.ctx, m, newKey, e.keyOpts...); err != nil {
		return err
	}
	after, err := m.Stats()
	if err != nil {
		return err
	}
	if err := m.Close(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "master key rotated: the key dictionary is sealed under the new key")
	fmt.Fprintf(e.stdout, "  old: %s\n", before.MasterKey.ID)
	fmt.Fprintf(e.stdout, "  new: %s\n", after.MasterKey.ID)
	// The configuration still names the old key, which no longer opens
	// the dictionary: the next start would fail until it is changed.
	fmt.Fprintf(e.stdout, "now edit %s: [security.encryption.master-key] must name the new key (as in %s) and [security.encryption.previous-master-key] the old one; the engine will not start until master-key is the new key\n", e.config, to)
	return nil
}

// reencryptCommand is 'reencrypt [--older-than 30d] [--rate 50MiB/s]'.
func (e *env) reencryptCommand() *cobra.Command {
	var olderThan, rate string
	var opt operator.ReencryptOptions
	check := func(*session) error {
		if olderThan != "" {
			d, err := keyenv.ParseDuration(olderThan)
			if err != nil {
				return usagef("--older-than: %v", err)
			}
			opt.OlderThan = d
		}
		if rate != "" {
			r, err := parseRate(rate)
			if err != nil {
				return usageError{err}
			}
			opt.Rate = r
		}
		return nil
	}
	// A plain open (maintain): a method changed in the configuration (or
	// a data key past its period) gets its new current key here, as at
	// any start of the engine, and the files then move to it.
	c := e.dataCommand("reencrypt [--older-than 30d] [--rate 50MiB/s]", 0, maintain, check, func(s *session) error {
		return reencrypt(s, opt)
	})
	c.Flags().StringVar(&olderThan, "older-than", "", "re-encrypt files whose data key is at least this old, e.g. 30d or 12h (default: any key but the current one)")
	c.Flags().StringVar(&rate, "rate", "", "copy at most this many bytes per second, e.g. 50MiB/s or 500KB/s; KB = 1000 bytes, KiB = 1024 (default: no limit)")
	return c
}

// reencrypt re-encrypts the files opt selects, reporting progress on
// standard error.
func reencrypt(s *session, opt operator.ReencryptOptions) error {
	e, m, cfg := s.env, s.m, s.cfg
	opt.Progress = func(p dict.ReencryptProgress) {
		if !p.Running {
			return // the summary follows
		}
		eta := "unknown"
		if p.FilesDone == p.FilesTotal {
			eta = "0s"
		} else if p.Remaining > 0 {
			eta = formatDuration(p.Remaining)
		}
		cur := ""
		if p.Current != "" {
			cur = ": " + displayName(p.Current)
		}
		fmt.Fprintf(e.stderr, "reencrypt: %d/%d files, %s of %s, ETA %s%s\n",
			p.FilesDone, p.FilesTotal, formatBytes(p.BytesDone), formatBytes(p.BytesTotal), eta, cur)
	}
	p, err := operator.ReencryptAll(e.ctx, m, opt)
	if err != nil {
		if e.ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d of %d files; the file being copied was left as it was and nothing is lost: run the command again to resume", p.FilesDone, p.FilesTotal)
		}
		return fmt.Errorf("%d of %d files could not be re-encrypted (the first: %w); the others were", p.Failed, p.FilesTotal, err)
	}
	st, err := m.Stats()
	if err != nil {
		return err
	}
	if p.FilesTotal == 0 {
		_, err = fmt.Fprintf(e.stdout, "nothing to re-encrypt: every file selected is under data key %d with %s\n", st.CurrentKeyID, cfg.DataEncryptionMethod)
	} else {
		_, err = fmt.Fprintf(e.stdout, "re-encrypted %s (%s) in %s with %s under data key %d\n",
			plural(p.FilesDone, "file", "files"), formatBytes(p.BytesDone), formatDuration(time.Since(p.Started)), cfg.DataEncryptionMethod, st.CurrentKeyID)
	}
	if err != nil {
		return err
	}
	return m.Close()
}

// exportCommand is 'export --out FILE [--transfer-key-file K] NAME...'.
func (e *env) exportCommand() *cobra.Command {
	var out, keyFile string
	var names []string
	check := func(s *session) error {
		if len(s.args) == 0 {
			return usagef("name the files to export (relative to the data directory)")
		}
		for _, n := range s.args {
			rel, err := dataPath(e.dataDir, "file", n)
			if err != nil {
				return err
			}
			if !slices.Contains(names, rel) {
				names = append(names, rel)
			}
		}
		if err := outsideDataDir(e.dataDir, "--out", out); err != nil {
			return err
		}
		if err := mustNotExist("--out", out); err != nil {
			return err
		}
		if keyFile != "" {
			if err := outsideDataDir(e.dataDir, "--transfer-key-file", keyFile); err != nil {
				return err
			}
			if err := mustNotExist("--transfer-key-file", keyFile); err != nil {
				return err
			}
		}
		return nil
	}
	c := e.dataCommand("export --out FILE [--transfer-key-file K] NAME...", -1, inspect, check, func(s *session) error {
		return exportFiles(s, names, out, keyFile)
	})
	c.Flags().StringVar(&out, "out", "", "the export document to write (must not exist; outside the data directory)")
	c.Flags().StringVar(&keyFile, "transfer-key-file", "", "write the transfer key (hex) to this file, mode 0600, instead of printing it (must not exist)")
	return c
}

// exportFiles writes the export document of names to out, and its
// transfer key to keyFile or, without one, to standard output.
func exportFiles(s *session, names []string, out, keyFile string) error {
	e, m := s.env, s.m
	doc, err := newOutput("--out", out)
	if err != nil {
		return err
	}
	var keyOut *output
	if keyFile != "" {
		if keyOut, err = newOutput("--transfer-key-file", keyFile); err != nil {
			doc.abort()
			return err
		}
	}
	fail := func(err error) error {
		doc.abort()
		if keyOut != nil {
			keyOut.abort()
		}
		return err
	}
	tk, err := operator.Export(e.ctx, m, names, doc)
	if err != nil {
		return fail(err)
	}
	h := make([]byte, hex.EncodedLen(len(tk)))
	hex.Encode(h, tk)
	clear(tk)
	defer clear(h)
	if keyOut != nil {
		_, err := keyOut.Write(h)
		if err == nil {
			_, err = keyOut.Write([]byte{'\n'})
		}
		if err == nil {
			err = keyOut.commit()
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := doc.commit(); err != nil {
		return fail(err)
	}
	fmt.Fprintf(e.stdout, "exported %s to %s\n", plural(len(names), "file", "files"), out)
	if keyOut != nil {
		fmt.Fprintf(e.stdout, "transfer key written to %s\n", keyFile)
	} else {
		io.WriteString(e.stdout, "transfer key (shown only this once; whoever holds it can read the exported files): ")
		e.stdout.Write(h)
		io.WriteString(e.stdout, "\n")
	}
	fmt.Fprintln(e.stdout, "copy the files as they are on disk into the other data directory, then run encctl import there")
	return nil
}

// importCommand is 'import --in FILE [--transfer-key-file K] [--under DIR] [--resume]'.
func (e *env) importCommand() *cobra.Command {
	var in, keyFile, under string
	var resume bool
	var opts []operator.ImportOption
	var key []byte
	var doc *os.File
	check := func(s *session) error {
		if in == "" {
			return usagef("--in is required: the export document")
		}
		if under != "" {
			u, err := dataPath(e.dataDir, "--under", under)
			if err != nil {
				return err
			}
			opts = append(opts, operator.ImportUnder(u))
		}
		if resume {
			opts = append(opts, operator.ImportResume())
		}
		var err error
		if key, err = readTransferKey(keyFile); err != nil {
			return err
		}
		s.hold(func() { clear(key) })
		if doc, err = os.Open(in); err != nil {
			return fmt.Errorf("--in: %w", err)
		}
		s.hold(func() { doc.Close() })
		return nil
	}
	c := e.dataCommand("import --in FILE [--transfer-key-file K] [--under DIR] [--resume]", 0, modify, check, func(s *session) error {
		return importFiles(s, doc, key, opts)
	})
	c.Flags().StringVar(&in, "in", "", "the export document")
	c.Flags().StringVar(&keyFile, "transfer-key-file", "", "the file holding the transfer key in hex (default: the environment variable "+transferKeyEnv+")")
	c.Flags().StringVar(&under, "under", "", "the directory, inside the data directory, the files were copied under (default: their exported names)")
	c.Flags().BoolVar(&resume, "resume", false, "finish an interrupted import: files already imported with the same entry are not conflicts")
	return c
}

// importFiles records the files the export document doc describes,
// opened with the transfer key, and prints their names.
func importFiles(s *session, doc io.Reader, key []byte, opts []operator.ImportOption) error {
	e, m := s.env, s.m
	names, err := operator.Import(e.ctx, m, doc, key, opts...)
	if err != nil {
		return err
	}
	if err := m.Close(); err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, displayName(n))
	}
	return nil
}

// readTransferKey reads the transfer key from the file named, or from
// the environment: never from an argument, which ps shows to every user.
// The file may end with a newline. What is read is zeroed; the key
// returned is the caller's to zero.
func readTransferKey(path string) ([]byte, error) {
	var raw []byte
	var src string
	switch v := os.Getenv(transferKeyEnv); {
	case path != "":
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("--transfer-key-file: %w", err)
		}
		src = "--transfer-key-file " + path
	case v != "":
		raw, src = []byte(v), transferKeyEnv
	default:
		return nil, usagef("the transfer key is needed: give --transfer-key-file K or set %s (never on the command line, where ps shows it)", transferKeyEnv)
	}
	defer clear(raw)
	t := bytes.TrimSpace(raw)
	if want := hex.EncodedLen(operator.TransferKeySize); len(t) != want {
		return nil, fmt.Errorf("%s: a transfer key is %d hex characters, this has %d", src, want, len(t))
	}
	key := make([]byte, operator.TransferKeySize)
	if _, err := hex.Decode(key, t); err != nil {
		clear(key)
		// Not err itself: it quotes the offending character of the key.
		return nil, fmt.Errorf("%s: the transfer key is not hex", src)
	}
	return key, nil
}
