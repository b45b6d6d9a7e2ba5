package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/operator"
	"github.com/spf13/cobra"
)

// fileRow is one file of dump-file's output. Key ids are 64-bit random
// numbers: JSON carries them as decimal strings, so that no JSON reader
// that keeps numbers as doubles (jq, JavaScript) rounds them.
type fileRow struct {
	Path string `json:"path"`
	// Recorded is false for a file with no entry: plaintext.
	Recorded bool   `json:"recorded"`
	KeyID    uint64 `json:"key_id,string"`
	Method   string `json:"method"`
	IV       string `json:"iv"`
}

func entryRow(name string, e dict.Entry) fileRow {
	return fileRow{Path: name, Recorded: true, KeyID: e.KeyID, Method: e.Method.String(), IV: hex.EncodeToString(e.IV[:])}
}

// dumpFileCommand is 'dump-file [--path P] [--json]'.
func (e *env) dumpFileCommand() *cobra.Command {
	var path, rel string
	var asJSON bool
	check := func(*session) (err error) {
		if path != "" {
			rel, err = dataPath(e.dataDir, "--path", path)
		}
		return err
	}
	c := e.dataCommand("dump-file [--path P] [--json]", 0, inspect, check, func(s *session) error {
		return dumpFile(s, rel, asJSON)
	})
	c.Flags().StringVar(&path, "path", "", "show only this file (relative to the data directory, or absolute inside it)")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {path, recorded, key_id, method, iv}")
	return c
}

// dumpFile prints every file entry, or only rel's.
func dumpFile(s *session, rel string, asJSON bool) error {
	e, m := s.env, s.m
	rows := []fileRow{} // JSON: [] rather than null for no entries
	if rel == "" {
		for name, en := range m.Maintenance().Entries() {
			rows = append(rows, entryRow(name, en))
		}
	} else {
		en, ok, err := m.Lookup(rel)
		if err != nil {
			return err
		}
		if ok {
			rows = append(rows, entryRow(rel, en))
		} else {
			st, err := os.Stat(filepath.Join(e.dataDir, filepath.FromSlash(rel)))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("%s: no such file, and no entry", rel)
			case err != nil:
				return err
			case st.IsDir():
				return fmt.Errorf("%s is a directory", rel)
			}
			rows = append(rows, fileRow{Path: rel, Method: "plaintext"})
		}
	}

	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if rel != "" && !rows[0].Recorded {
		_, err := fmt.Fprintf(e.stdout, "%s: no entry: plaintext (stored as it is)\n", displayName(rel))
		return err
	}
	if rel != "" {
		// An entry whose file is gone is worth a word: cleanup's case.
		if _, err := os.Lstat(filepath.Join(e.dataDir, filepath.FromSlash(rel))); errors.Is(err, fs.ErrNotExist) {
			defer fmt.Fprintf(e.stdout, "%s: the file is gone (encctl cleanup drops its entry)\n", displayName(rel))
		}
	}
	if len(rows) == 0 {
		msg := "no entries"
		if !m.Encrypted() {
			msg = "no dictionaries: the data directory was never encrypted, every file is plaintext"
		}
		_, err := fmt.Fprintln(e.stdout, msg)
		return err
	}
	t := &table{header: []string{"PATH", "KEY-ID", "METHOD", "IV"}}
	for _, r := range rows {
		t.add(displayName(r.Path), strconv.FormatUint(r.KeyID, 10), r.Method, r.IV)
	}
	return t.write(e.stdout, nil)
}

// keyRow is one data key of dump-key's output (ids as strings: see
// fileRow).
type keyRow struct {
	ID      uint64 `json:"id,string"`
	Method  string `json:"method"`
	Created string `json:"created"`
	Exposed bool   `json:"exposed"`
	Current bool   `json:"current"`
	Files   int    `json:"files"`
}

// dumpKeyCommand is 'dump-key --i-consent [--ids ID,ID] [--json] [--show-secret]'.
func (e *env) dumpKeyCommand() *cobra.Command {
	var ids string
	var asJSON, consent, showSecret bool
	var want []uint64
	check := func(*session) error {
		if ids == "" {
			return nil
		}
		for s := range strings.SplitSeq(ids, ",") {
			s = strings.TrimSpace(s)
			id, err := strconv.ParseUint(s, 10, 64)
			if err != nil || id == 0 {
				return usagef("--ids: %q is not a data-key id (a decimal number, as dump-key prints)", s)
			}
			if !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		return nil
	}
	c := e.dataCommand("dump-key --i-consent [--ids ID,ID] [--json] [--show-secret]", 0, inspect, check, func(s *session) error {
		return dumpKey(s, want, asJSON, showSecret)
	})
	// Before --config and --data-dir are checked.
	c.PreRunE = func(*cobra.Command, []string) error {
		if !consent {
			// The keys are the directory's secrets: even their list is
			// asked for on purpose, so that a script cannot print them by
			// accident.
			return usagef("refusing to read the data keys without --i-consent (and their bytes are shown only with --show-secret too)")
		}
		return nil
	}
	c.Flags().StringVar(&ids, "ids", "", "comma-separated data-key ids to show (default: all)")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {id, method, created, exposed, current, files[, secret]}")
	c.Flags().BoolVar(&consent, "i-consent", false, "confirm that you mean to read the data keys")
	c.Flags().BoolVar(&showSecret, "show-secret", false, "print the key bytes too, in hex")
	return c
}

// dumpKey prints the data keys, or only those of the ids wanted; their
// bytes only if showSecret.
func dumpKey(s *session, want []uint64, asJSON, showSecret bool) error {
	e, m := s.env, s.m
	st, err := m.Stats()
	if err != nil {
		return err
	}
	keys := st.Keys
	if want != nil {
		keys = nil
		for _, id := range want {
			i := slices.IndexFunc(st.Keys, func(k dict.DataKeyInfo) bool { return k.ID == id })
			if i < 0 {
				return fmt.Errorf("no data key with id %d in the key dictionary", id)
			}
			keys = append(keys, st.Keys[i])
		}
	}
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{
			ID: k.ID, Method: k.Method.String(), Created: k.Created.UTC().Format(time.RFC3339),
			Exposed: k.Exposed, Current: k.ID == st.CurrentKeyID, Files: st.FilesByKey[k.ID],
		}
	}

	// secret returns a key's bytes in hex, in a buffer the caller zeroes,
	// releasing the copy DataKeySecret made.
	secret := func(id uint64) ([]byte, error) {
		_, s, err := m.Maintenance().DataKeySecret(id)
		switch {
		case errors.Is(err, dict.ErrDataKeyMissing):
			return nil, fmt.Errorf("data key %d vanished while being shown", id)
		case err != nil:
			return nil, err
		}
		defer s.Release()
		h := make([]byte, hex.EncodedLen(s.Len()))
		hex.Encode(h, s.Bytes())
		return h, nil
	}

	if asJSON {
		return writeKeysJSON(e.stdout, rows, showSecret, secret)
	}
	if len(rows) == 0 {
		msg := "no data keys"
		if !st.Initialized {
			msg = "no dictionaries: the data directory was never encrypted"
		}
		_, err := fmt.Fprintln(e.stdout, msg)
		return err
	}
	t := &table{header: []string{"ID", "METHOD", "CREATED", "EXPOSED", "CURRENT", "FILES"}}
	if showSecret {
		t.header = append(t.header, "SECRET")
	}
	for _, r := range rows {
		t.add(strconv.FormatUint(r.ID, 10), r.Method, r.Created, yesNo(r.Exposed), yesNo(r.Current), strconv.Itoa(r.Files))
	}
	var raw func(int) []byte
	var shown [][]byte
	var secretErr error
	if showSecret {
		raw = func(i int) []byte {
			h, err := secret(rows[i].ID)
			if err != nil {
				secretErr = err
				return nil
			}
			shown = append(shown, h)
			return h
		}
	}
	err = t.write(e.stdout, raw)
	for _, h := range shown {
		clear(h)
	}
	if err != nil {
		return err
	}
	if secretErr != nil {
		return secretErr
	}
	if st.FilesWithoutKey > 0 && want == nil {
		fmt.Fprintf(e.stdout, "%d encrypted files name data keys the key dictionary lacks: they cannot be read (see encctl verify)\n", st.FilesWithoutKey)
	}
	return nil
}

// writeKeysJSON prints dump-key's JSON. The secret, when asked for, is
// spliced into each object by hand rather than marshalled, so that the key
// bytes go from a buffer encctl zeroes straight to the output, not through
// encoding/json's pooled buffers.
func writeKeysJSON(w io.Writer, rows []keyRow, showSecret bool, secret func(uint64) ([]byte, error)) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	for i, r := range rows {
		obj, err := json.Marshal(r)
		if err != nil {
			return err
		}
		sep := ",\n  "
		if i == 0 {
			sep = "\n  "
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if !showSecret {
			if _, err := w.Write(obj); err != nil {
				return err
			}
			continue
		}
		h, err := secret(r.ID)
		if err != nil {
			return err
		}
		_, err = w.Write(obj[:len(obj)-1]) // without the closing brace
		if err == nil {
			_, err = io.WriteString(w, `,"secret":"`)
		}
		if err == nil {
			_, err = w.Write(h)
		}
		clear(h)
		if err == nil {
			_, err = io.WriteString(w, `"}`)
		}
		if err != nil {
			return err
		}
	}
	end := "\n]\n"
	if len(rows) == 0 {
		end = "]\n"
	}
	_, err := io.WriteString(w, end)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// decryptFileCommand is 'decrypt-file --file F --out O'.
func (e *env) decryptFileCommand() *cobra.Command {
	var file, out, rel string
	check := func(*session) (err error) {
		if file == "" {
			return usagef("--file is required")
		}
		if rel, err = dataPath(e.dataDir, "--file", file); err != nil {
			return err
		}
		if err := outsideDataDir(e.dataDir, "--out", out); err != nil {
			return err
		}
		return mustNotExist("--out", out)
	}
	c := e.dataCommand("decrypt-file --file F --out O", 0, inspect, check, func(s *session) error {
		return decryptFile(s, rel, out)
	})
	c.Flags().StringVar(&file, "file", "", "the file to decrypt (relative to the data directory, or absolute inside it)")
	c.Flags().StringVar(&out, "out", "", "where the plaintext copy goes (must not exist; outside the data directory)")
	return c
}

// decryptFile writes a plaintext copy of rel to out.
func decryptFile(s *session, rel, out string) error {
	f, err := s.m.Open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", rel)
	}
	o, err := newOutput("--out", out)
	if err != nil {
		return err
	}
	if err := copyContext(s.ctx.Err, o, f); err != nil {
		o.abort()
		return fmt.Errorf("%s: %w", rel, err)
	}
	if err := o.commit(); err != nil {
		o.abort()
		return err
	}
	return nil
}

// verifyJSON is verify's JSON output; the lists are never null.
type verifyJSON struct {
	OK           bool             `json:"ok"`
	Entries      int              `json:"entries"`
	MissingFiles []string         `json:"missing_files"`
	MissingKeys  []string         `json:"missing_keys"`
	Unrecorded   []unrecordedJSON `json:"unrecorded"`
}

type unrecordedJSON struct {
	Name           string `json:"name"`
	Size           int64  `json:"size"`
	LooksEncrypted bool   `json:"looks_encrypted"`
}

// verifyCommand is 'verify [--json]'.
func (e *env) verifyCommand() *cobra.Command {
	var asJSON bool
	c := e.dataCommand("verify [--json]", 0, inspect, nil, func(s *session) error {
		return verify(s, asJSON)
	})
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// verify checks the dictionaries against the disk and reports what it
// found: an error when anything is wrong.
func verify(s *session, asJSON bool) error {
	e := s.env
	r, err := operator.Verify(e.ctx, s.m)
	if err != nil {
		return err
	}
	if asJSON {
		v := verifyJSON{OK: r.OK(), Entries: r.Entries, MissingFiles: orEmpty(r.MissingFiles), MissingKeys: orEmpty(r.MissingKeys), Unrecorded: []unrecordedJSON{}}
		for _, u := range r.Unrecorded {
			v.Unrecorded = append(v.Unrecorded, unrecordedJSON{Name: u.Name, Size: u.Size, LooksEncrypted: u.LooksEncrypted})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		writeReport(e.stdout, r)
	}
	if r.OK() {
		return nil
	}
	var problems []string
	if n := len(r.MissingFiles); n > 0 {
		problems = append(problems, plural(n, "entry", "entries")+" without their file")
	}
	if n := len(r.MissingKeys); n > 0 {
		problems = append(problems, plural(n, "file", "files")+" without their data key")
	}
	n := 0
	for _, u := range r.Unrecorded {
		if u.LooksEncrypted {
			n++
		}
	}
	if n > 0 {
		problems = append(problems, plural(n, "unrecorded file", "unrecorded files")+" that look encrypted")
	}
	return errors.New("problems found: " + strings.Join(problems, ", "))
}

// writeReport prints a verify report for people.
func writeReport(w io.Writer, r operator.VerifyReport) {
	fmt.Fprintf(w, "%s checked\n", plural(r.Entries, "entry", "entries"))
	if len(r.MissingFiles) > 0 {
		fmt.Fprintln(w, "entries whose file is gone (encctl cleanup drops them):")
		for _, n := range r.MissingFiles {
			fmt.Fprintf(w, "  %s\n", displayName(n))
		}
	}
	if len(r.MissingKeys) > 0 {
		fmt.Fprintln(w, "files whose data key is not in the key dictionary (they cannot be read):")
		for _, n := range r.MissingKeys {
			fmt.Fprintf(w, "  %s\n", displayName(n))
		}
	}
	if len(r.Unrecorded) > 0 {
		fmt.Fprintln(w, "files with no entry (read as plaintext):")
		for _, u := range r.Unrecorded {
			mark := ""
			if u.LooksEncrypted {
				mark = "  LOOKS ENCRYPTED: probably an encrypted file whose entry was lost"
			}
			fmt.Fprintf(w, "  %s  %s%s\n", displayName(u.Name), formatBytes(u.Size), mark)
		}
	}
	if r.OK() {
		fmt.Fprintln(w, "OK")
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
