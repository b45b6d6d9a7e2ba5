package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
)

// binDir holds the encctl binary, built once for the whole test binary.
var (
	binDir   string
	buildMu  sync.Mutex
	builtBin string
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "encctl-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// encctlBin builds the command (once) and returns the binary's path.
func encctlBin(t *testing.T) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtBin != "" {
		return builtBin
	}
	bin := filepath.Join(binDir, "encctl")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build encctl: %v", err)
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	builtBin = bin
	return bin
}

// result is what a run of encctl printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// encctl runs the built binary with extra environment variables and
// standard input.
func encctl(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(encctlBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("encctl %v: %v", args, err)
	}
	return r
}

// inProcess runs the command through run, in this process (the race
// detector sees it).
func inProcess(ctx context.Context, stdin string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustSucceed fails the test unless r is a success.
func mustSucceed(t *testing.T, r result, what string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: %v", what, r)
	}
}

// mustFail checks r failed with code and one line on stderr containing
// every want.
func mustFail(t *testing.T, r result, code int, what string, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: want exit %d, got %v", what, code, r)
	}
	if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasPrefix(r.stderr, "encctl: ") {
		t.Errorf("%s: want one line on stderr starting with 'encctl: ', got %q", what, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: stderr lacks %q: %q", what, w, r.stderr)
		}
	}
}

// writeKeyFile writes a fresh master key file: 64 hex characters and a
// newline, mode 0600.
func writeKeyFile(t *testing.T, path string) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeConfig writes a configuration with a key-file master key (and a
// previous one if prev is set) and returns it as the library reads it.
func writeConfig(t *testing.T, path, method, keyFile, prev string) keyenv.Config {
	t.Helper()
	s := fmt.Sprintf("[security.encryption]\ndata-encryption-method = %q\n[security.encryption.master-key]\ntype = \"file\"\npath = %q\n", method, keyFile)
	if prev != "" {
		s += fmt.Sprintf("[security.encryption.previous-master-key]\ntype = \"file\"\npath = %q\n", prev)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := keyenv.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dataDir is a test data directory with its master key and
// configuration.
type dataDir struct {
	root, dir, keyFile, config string
	cfg                        keyenv.Config
}

// newDataDir makes an encrypted data directory holding files, written
// through a Manager.
func newDataDir(t *testing.T, method string, files map[string][]byte) *dataDir {
	t.Helper()
	root := t.TempDir()
	d := &dataDir{root: root, dir: filepath.Join(root, "data"), keyFile: filepath.Join(root, "master.key"), config: filepath.Join(root, "config.toml")}
	if err := os.Mkdir(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeKeyFile(t, d.keyFile)
	d.cfg = writeConfig(t, d.config, method, d.keyFile, "")
	m, err := dict.Open(context.Background(), d.dir, d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for name, data := range files {
		writeThrough(t, m, name, data)
	}
	return d
}

func writeThrough(t *testing.T, m *dict.Manager, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(m.Dir(), filepath.Dir(filepath.FromSlash(name))), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := m.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// open opens the directory with cfg to look at it; the test closes it.
func open(t *testing.T, dir string, cfg keyenv.Config) *dict.Manager {
	t.Helper()
	m, err := dict.Open(context.Background(), dir, cfg, dict.WithInspection())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// readThrough reads a file through the Manager.
func readThrough(t *testing.T, m *dict.Manager, name string) []byte {
	t.Helper()
	f, err := m.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshot describes every file and directory under root: name, size,
// modification time and a hash of the content, so that any change shows.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	s := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			s[rel] = "dir"
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s[rel] = fmt.Sprintf("%d %d %x", info.Size(), info.ModTime().UnixNano(), sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkUnchanged(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if maps.Equal(before, after) {
		return
	}
	for k, v := range after {
		if before[k] != v {
			t.Errorf("%s: %s changed or appeared (%s -> %s)", what, k, before[k], v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s: %s disappeared", what, k)
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// dumpedFile is dump-file's JSON as a reader outside Go sees it.
type dumpedFile struct {
	Path     string `json:"path"`
	Recorded bool   `json:"recorded"`
	KeyID    string `json:"key_id"`
	Method   string `json:"method"`
	IV       string `json:"iv"`
}

// dumpedKey is dump-key's JSON.
type dumpedKey struct {
	ID      string `json:"id"`
	Method  string `json:"method"`
	Created string `json:"created"`
	Exposed bool   `json:"exposed"`
	Current bool   `json:"current"`
	Files   int    `json:"files"`
	Secret  string `json:"secret"`
}

// TestEndToEnd drives every command through the built binary on one data
// directory, in the order an operator might, and checks each result
// against the library's own view of the directory.
func TestEndToEnd(t *testing.T) {
	content := map[string][]byte{
		"000001.sst": randomBytes(40 << 10),
		"sub/b.log":  []byte("hello, world\n"),
		"000002.sst": randomBytes(300 << 10),
	}
	d := newDataDir(t, "aes256-ctr", content)
	// A file written before encryption: no entry, plaintext.
	if err := os.WriteFile(filepath.Join(d.dir, "plain.txt"), []byte("plain text, stored as it is\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() // outputs: plaintext copies, exports, keys
	g := []string{"--config", d.config, "--data-dir", d.dir}
	cmd := func(args ...string) []string { return append(slices.Clone(g), args...) }

	// What the library says, to compare the dumps with.
	entries := map[string]dict.Entry{}
	secrets := map[uint64]string{}
	var current uint64
	func() {
		m, err := dict.Open(context.Background(), d.dir, d.cfg, dict.WithInspection())
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for name := range content {
			e, ok, err := m.Lookup(name)
			if err != nil || !ok {
				t.Fatalf("Lookup(%s): %v, %v", name, ok, err)
			}
			entries[name] = e
		}
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		current = st.CurrentKeyID
		for _, k := range st.Keys {
			_, b, err := m.Maintenance().DataKeySecret(k.ID)
			if err != nil {
				t.Fatal(err)
			}
			secrets[k.ID] = hex.EncodeToString(b.Bytes())
			b.Release()
		}
	}()
	if len(secrets) != 1 {
		t.Fatalf("want one data key, have %d", len(secrets))
	}

	t.Log("dump-file")
	r := encctl(t, nil, "", cmd("dump-file")...)
	mustSucceed(t, r, "dump-file")
	for name, e := range entries {
		line := ""
		for l := range strings.Lines(r.stdout) {
			if strings.HasPrefix(l, name+" ") {
				line = l
			}
		}
		for _, want := range []string{strconv.FormatUint(e.KeyID, 10), e.Method.String(), hex.EncodeToString(e.IV[:])} {
			if !strings.Contains(line, want) {
				t.Errorf("dump-file: the line of %s lacks %s:\n%s", name, want, r.stdout)
			}
		}
	}
	r = encctl(t, nil, "", cmd("dump-file", "--json")...)
	mustSucceed(t, r, "dump-file --json")
	var files []dumpedFile
	if err := json.Unmarshal([]byte(r.stdout), &files); err != nil {
		t.Fatalf("dump-file --json: %v\n%s", err, r.stdout)
	}
	if len(files) != len(entries) {
		t.Errorf("dump-file --json: %d entries, want %d", len(files), len(entries))
	}
	for _, f := range files {
		e, ok := entries[f.Path]
		if !ok || !f.Recorded || f.KeyID != strconv.FormatUint(e.KeyID, 10) || f.Method != e.Method.String() || f.IV != hex.EncodeToString(e.IV[:]) {
			t.Errorf("dump-file --json: %+v, the library has %+v", f, e)
		}
	}
	r = encctl(t, nil, "", cmd("dump-file", "--path", "plain.txt")...)
	mustSucceed(t, r, "dump-file --path plain.txt")
	if !strings.Contains(r.stdout, "plaintext") {
		t.Errorf("dump-file of a file with no entry does not say plaintext: %v", r)
	}
	r = encctl(t, nil, "", cmd("dump-file", "--json", "--path", filepath.Join(d.dir, "sub", "b.log"))...)
	mustSucceed(t, r, "dump-file --path (absolute)")
	files = nil
	bIV := entries["sub/b.log"].IV
	if err := json.Unmarshal([]byte(r.stdout), &files); err != nil || len(files) != 1 || files[0].Path != "sub/b.log" || files[0].IV != hex.EncodeToString(bIV[:]) {
		t.Errorf("dump-file --path --json: %v %+v\n%s", err, files, r.stdout)
	}
	mustFail(t, encctl(t, nil, "", cmd("dump-file", "--path", "nosuch.sst")...), exitFailure, "dump-file of a missing file", "nosuch.sst")

	t.Log("dump-key")
	r = encctl(t, nil, "", cmd("dump-key")...)
	mustFail(t, r, exitUsage, "dump-key without consent", "--i-consent")
	if r.stdout != "" {
		t.Errorf("dump-key without consent printed %q", r.stdout)
	}
	for _, args := range [][]string{{"dump-key", "--i-consent"}, {"dump-key", "--i-consent", "--json"}} {
		r = encctl(t, nil, "", cmd(args...)...)
		mustSucceed(t, r, "dump-key --i-consent")
		for id, s := range secrets {
			if !strings.Contains(r.stdout, strconv.FormatUint(id, 10)) || !strings.Contains(r.stdout, "aes256-ctr") {
				t.Errorf("%v lacks key %d or its method:\n%s", args, id, r.stdout)
			}
			if strings.Contains(r.stdout+r.stderr, s) || strings.Contains(strings.ToUpper(r.stdout), strings.ToUpper(s)) {
				t.Errorf("%v shows key bytes without --show-secret", args)
			}
		}
	}
	r = encctl(t, nil, "", cmd("dump-key", "--i-consent", "--show-secret", "--json", "--ids", strconv.FormatUint(current, 10))...)
	mustSucceed(t, r, "dump-key --show-secret --json")
	var keys []dumpedKey
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 1 {
		t.Fatalf("dump-key --json: %v\n%s", err, r.stdout)
	}
	k := keys[0]
	if k.ID != strconv.FormatUint(current, 10) || k.Method != "aes256-ctr" || !k.Current || k.Exposed || k.Files != len(content) || k.Secret != secrets[current] {
		t.Errorf("dump-key --json: %+v (want files %d, secret %s)", k, len(content), secrets[current])
	}
	if _, err := time.Parse(time.RFC3339, k.Created); err != nil {
		t.Errorf("dump-key: creation time %q: %v", k.Created, err)
	}
	r = encctl(t, nil, "", cmd("dump-key", "--i-consent", "--show-secret")...)
	mustSucceed(t, r, "dump-key --show-secret")
	if !strings.Contains(r.stdout, secrets[current]) || !strings.Contains(r.stdout, "SECRET") {
		t.Errorf("dump-key --show-secret lacks the key bytes:\n%s", r.stdout)
	}
	mustFail(t, encctl(t, nil, "", cmd("dump-key", "--i-consent", "--ids", "12345")...), exitFailure, "dump-key of an unknown id", "12345")

	t.Log("decrypt-file")
	plainCopy := filepath.Join(out, "copy.sst")
	mustSucceed(t, encctl(t, nil, "", cmd("decrypt-file", "--file", "000002.sst", "--out", plainCopy)...), "decrypt-file")
	if b, err := os.ReadFile(plainCopy); err != nil || !bytes.Equal(b, content["000002.sst"]) {
		t.Errorf("decrypt-file: the copy differs from the content (%v)", err)
	}
	if st, err := os.Stat(plainCopy); err != nil || runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("decrypt-file: mode %v, want 0600 (%v)", st.Mode(), err)
	}
	before := snapshot(t, out)
	mustFail(t, encctl(t, nil, "", cmd("decrypt-file", "--file", "sub/b.log", "--out", plainCopy)...), exitFailure, "decrypt-file over an existing file", "already exists")
	checkUnchanged(t, "decrypt-file over an existing file", before, snapshot(t, out))

	t.Log("verify and cleanup")
	r = encctl(t, nil, "", cmd("verify")...)
	mustSucceed(t, r, "verify")
	if !strings.Contains(r.stdout, "OK") || !strings.Contains(r.stdout, "plain.txt") {
		t.Errorf("verify: %v", r)
	}
	if err := os.Remove(filepath.Join(d.dir, "sub", "b.log")); err != nil {
		t.Fatal(err)
	}
	r = encctl(t, nil, "", cmd("verify")...)
	mustFail(t, r, exitFailure, "verify with a file gone", "problems")
	if !strings.Contains(r.stdout, "sub/b.log") {
		t.Errorf("verify does not list the missing file: %v", r)
	}
	r = encctl(t, nil, "", cmd("verify", "--json")...)
	var report struct {
		OK           bool     `json:"ok"`
		Entries      int      `json:"entries"`
		MissingFiles []string `json:"missing_files"`
		Unrecorded   []struct {
			Name           string `json:"name"`
			LooksEncrypted bool   `json:"looks_encrypted"`
		} `json:"unrecorded"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code != exitFailure || report.OK || report.Entries != 3 ||
		!slices.Equal(report.MissingFiles, []string{"sub/b.log"}) || len(report.Unrecorded) != 1 || report.Unrecorded[0].Name != "plain.txt" || report.Unrecorded[0].LooksEncrypted {
		t.Errorf("verify --json: %v %+v\n%v", err, report, r)
	}
	before = snapshot(t, d.dir)
	r = encctl(t, nil, "n\n", cmd("cleanup")...)
	mustSucceed(t, r, "cleanup answered no")
	if !strings.Contains(r.stderr, "drop 1 entry? [y/N]") || !strings.Contains(r.stdout, "nothing dropped") {
		t.Errorf("cleanup answered no: %v", r)
	}
	checkUnchanged(t, "cleanup answered no", before, snapshot(t, d.dir))
	r = encctl(t, nil, "", cmd("cleanup")...)
	if r.code != exitFailure || !strings.HasPrefix(r.stderr, "drop 1 entry? [y/N] \nencctl: cleanup: no answer") || strings.Count(r.stderr, "\n") != 2 {
		t.Errorf("cleanup with no answer: %v", r)
	}
	checkUnchanged(t, "cleanup with no answer", before, snapshot(t, d.dir))
	r = encctl(t, nil, "", cmd("cleanup", "--yes")...)
	mustSucceed(t, r, "cleanup --yes")
	if !strings.Contains(r.stdout, "dropped 1 entry") || !strings.Contains(r.stdout, "sub/b.log") {
		t.Errorf("cleanup --yes: %v", r)
	}
	mustSucceed(t, encctl(t, nil, "", cmd("verify")...), "verify after cleanup")
	r = encctl(t, nil, "", cmd("cleanup")...)
	mustSucceed(t, r, "cleanup with nothing to do")
	if !strings.Contains(r.stdout, "nothing to clean up") {
		t.Errorf("cleanup with nothing to do: %v", r)
	}
	delete(content, "sub/b.log")

	t.Log("rotate-master-key")
	newKey := filepath.Join(d.root, "new-master.key")
	writeKeyFile(t, newKey)
	newConfig := filepath.Join(d.root, "new.toml")
	newCfg := writeConfig(t, newConfig, "aes256-ctr", newKey, "")
	r = encctl(t, nil, "", cmd("rotate-master-key", "--to", newConfig)...)
	mustSucceed(t, r, "rotate-master-key")
	for _, want := range []string{"old: file:" + d.keyFile, "new: file:" + newKey, "previous-master-key"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("rotate-master-key does not say %q: %v", want, r)
		}
	}
	before = snapshot(t, d.dir)
	mustFail(t, encctl(t, nil, "", cmd("dump-file")...), exitFailure, "the old master key after rotation", "wrong master key", d.keyFile)
	mustFail(t, encctl(t, nil, "", cmd("cleanup", "--yes")...), exitFailure, "cleanup with the old master key", "wrong master key")
	checkUnchanged(t, "commands with the old master key", before, snapshot(t, d.dir))
	g = []string{"--config", newConfig, "--data-dir", d.dir}
	mustSucceed(t, encctl(t, nil, "", cmd("verify")...), "verify with the new master key")
	if st, err := open(t, d.dir, newCfg).Stats(); err != nil || st.MasterKey.ID != "file:"+newKey || len(st.Keys) != 1 {
		t.Errorf("after rotate-master-key: %+v %v", st, err)
	}
	// The configuration the operator is told to write opens it too.
	bothConfig := filepath.Join(d.root, "both.toml")
	writeConfig(t, bothConfig, "aes256-ctr", newKey, d.keyFile)
	mustSucceed(t, encctl(t, nil, "", "--config", bothConfig, "--data-dir", d.dir, "dump-file"), "dump-file with master-key new, previous-master-key old")

	t.Log("reencrypt")
	sm4Config := filepath.Join(d.root, "sm4.toml")
	sm4Cfg := writeConfig(t, sm4Config, "sm4-ctr", newKey, "")
	g = []string{"--config", sm4Config, "--data-dir", d.dir}
	r = encctl(t, nil, "", cmd("reencrypt", "--rate", "100MiB/s", "--older-than", "0s")...)
	mustSucceed(t, r, "reencrypt")
	if !strings.Contains(r.stderr, "files") || !strings.Contains(r.stderr, "ETA") || !strings.Contains(r.stdout, "re-encrypted 3 files") {
		t.Errorf("reencrypt: no progress or summary: %v", r)
	}
	// plain.txt too: a file with no entry is encrypted when the method
	// encrypts.
	content["plain.txt"] = []byte("plain text, stored as it is\n")
	m := open(t, d.dir, sm4Cfg)
	for name, want := range content {
		e, ok, err := m.Lookup(name)
		if err != nil || !ok || e.Method != ctr.SM4CTR {
			t.Errorf("after reencrypt %s: %+v %v %v", name, e, ok, err)
		}
		if got := readThrough(t, m, name); !bytes.Equal(got, want) {
			t.Errorf("after reencrypt %s reads back differently", name)
		}
	}
	m.Close()
	r = encctl(t, nil, "", cmd("reencrypt")...)
	mustSucceed(t, r, "reencrypt again")
	if !strings.Contains(r.stdout, "nothing to re-encrypt") {
		t.Errorf("reencrypt again: %v", r)
	}

	t.Log("export and import")
	d2 := newDataDir(t, "aes128-ctr", map[string][]byte{"own.sst": []byte("the second directory's own file")})
	for _, name := range []string{"000001.sst", "000002.sst"} {
		copyFile(t, filepath.Join(d.dir, name), filepath.Join(d2.dir, name))
	}
	doc := filepath.Join(out, "export.atex")
	keyFile := filepath.Join(out, "transfer.key")
	r = encctl(t, nil, "", cmd("export", "--out", doc, "--transfer-key-file", keyFile, "000001.sst", "000002.sst")...)
	mustSucceed(t, r, "export")
	tk, err := os.ReadFile(keyFile)
	if err != nil || len(tk) != 65 || tk[64] != '\n' {
		t.Fatalf("transfer key file: %q %v", tk, err)
	}
	if st, _ := os.Stat(keyFile); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("transfer key file mode %v, want 0600", st.Mode())
	}
	if strings.Contains(r.stdout, string(tk[:64])) {
		t.Errorf("export printed the transfer key it wrote to a file: %v", r)
	}
	wrongKey := filepath.Join(out, "wrong.key")
	if err := os.WriteFile(wrongKey, []byte(hex.EncodeToString(randomBytes(32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g2 := []string{"--config", d2.config, "--data-dir", d2.dir}
	before = snapshot(t, d2.dir)
	mustFail(t, encctl(t, nil, "", append(slices.Clone(g2), "import", "--in", doc, "--transfer-key-file", wrongKey)...), exitFailure, "import with a wrong transfer key", "wrong transfer key")
	checkUnchanged(t, "import with a wrong transfer key", before, snapshot(t, d2.dir))
	r = encctl(t, nil, "", append(slices.Clone(g2), "import", "--in", doc, "--transfer-key-file", keyFile)...)
	mustSucceed(t, r, "import")
	if r.stdout != "000001.sst\n000002.sst\n" {
		t.Errorf("import printed %q", r.stdout)
	}
	m2 := open(t, d2.dir, d2.cfg)
	for _, name := range []string{"000001.sst", "000002.sst"} {
		if got := readThrough(t, m2, name); !bytes.Equal(got, content[name]) {
			t.Errorf("imported %s reads back differently", name)
		}
	}
	m2.Close()

	// The transfer key printed once, and given through the environment.
	doc2 := filepath.Join(out, "export2.atex")
	r = encctl(t, nil, "", cmd("export", "--out", doc2, "000001.sst")...)
	mustSucceed(t, r, "export printing the key")
	var printed string
	for l := range strings.Lines(r.stdout) {
		if strings.HasPrefix(l, "transfer key") {
			printed = strings.TrimSpace(l[strings.LastIndex(l, " "):])
		}
	}
	if len(printed) != 64 {
		t.Fatalf("export printed no transfer key: %v", r)
	}
	copyFile(t, filepath.Join(d.dir, "000001.sst"), filepath.Join(d2.dir, "imported", "000001.sst"))
	r = encctl(t, []string{transferKeyEnv + "=" + printed}, "", append(slices.Clone(g2), "import", "--in", doc2, "--under", "imported")...)
	mustSucceed(t, r, "import with the key in the environment")
	m2 = open(t, d2.dir, d2.cfg)
	if got := readThrough(t, m2, "imported/000001.sst"); !bytes.Equal(got, content["000001.sst"]) {
		t.Errorf("imported/000001.sst reads back differently")
	}
	if got := readThrough(t, m2, "own.sst"); string(got) != "the second directory's own file" {
		t.Errorf("own.sst reads %q", got)
	}
	m2.Close()
	mustSucceed(t, encctl(t, nil, "", append(slices.Clone(g2), "verify")...), "verify after import")

	// A file that looks encrypted but has no entry: an entry lost.
	if err := os.WriteFile(filepath.Join(d2.dir, "lost.sst"), randomBytes(16<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	r = encctl(t, nil, "", append(slices.Clone(g2), "verify")...)
	mustFail(t, r, exitFailure, "verify with a file that looks encrypted", "1 unrecorded file that look encrypted")
	if !strings.Contains(r.stdout, "lost.sst") || !strings.Contains(r.stdout, "LOOKS ENCRYPTED") {
		t.Errorf("verify does not mark lost.sst: %v", r)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeyring creates a keyring, adds a key and lists it through the
// binary, with the password in the environment.
func TestKeyring(t *testing.T) {
	t.Parallel()
	kr := filepath.Join(t.TempDir(), "keyring")
	env := []string{"ENCCTL_TEST_PW=correct horse", "ENCCTL_TEST_BAD_PW=wrong"}
	// Small argon2id parameters: the test checks the commands, not the
	// stretching.
	mustSucceed(t, encctl(t, env, "", "keyring", "create", "--keyring", kr, "--password-env", "ENCCTL_TEST_PW", "--kdf-time", "1", "--kdf-memory", "64", "--kdf-threads", "1"), "keyring create")
	mustFail(t, encctl(t, env, "", "keyring", "create", "--keyring", kr, "--password-env", "ENCCTL_TEST_PW"), exitFailure, "keyring create over an existing keyring", kr)
	r := encctl(t, env, "", "keyring", "list", "--keyring", kr, "--password-env", "ENCCTL_TEST_PW")
	mustSucceed(t, r, "keyring list (empty)")
	if !strings.Contains(r.stdout, "no keys") {
		t.Errorf("keyring list of an empty keyring: %v", r)
	}
	r = encctl(t, env, "", "keyring", "add", "--keyring", kr, "--name", "tikv-master", "--password-env", "ENCCTL_TEST_PW")
	mustSucceed(t, r, "keyring add")
	if !strings.Contains(r.stdout, "tikv-master version 1") {
		t.Errorf("keyring add: %v", r)
	}
	before, err := os.ReadFile(kr)
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, encctl(t, env, "", "keyring", "add", "--keyring", kr, "--name", "tikv-master", "--password-env", "ENCCTL_TEST_PW"), exitFailure, "keyring add of an existing name", "already exists")
	mustFail(t, encctl(t, env, "", "keyring", "add", "--keyring", kr, "--name", "other", "--password-env", "ENCCTL_TEST_BAD_PW"), exitFailure, "keyring add with a wrong password", "wrong keyring password")
	if after, _ := os.ReadFile(kr); !bytes.Equal(before, after) {
		t.Error("a failed keyring add changed the keyring")
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = encctl(t, env, "", "keyring", "list", "--keyring", kr, "--password-file", pwFile)
	mustSucceed(t, r, "keyring list")
	if !strings.Contains(r.stdout, "tikv-master") || !strings.Contains(r.stdout, "VERSION") || !strings.Contains(r.stdout, " 1 ") {
		t.Errorf("keyring list: %v", r)
	}
	mustFail(t, encctl(t, env, "", "keyring", "list", "--keyring", kr, "--password-env", "ENCCTL_TEST_BAD_PW"), exitFailure, "keyring list with a wrong password", "wrong keyring password")
}

// TestBadInput checks every bad input of the spec, in this process: one
// line on stderr, the expected exit code, nothing on stdout, and nothing
// changed in the data directory or where outputs would go.
func TestBadInput(t *testing.T) {
	d := newDataDir(t, "aes256-ctr", map[string][]byte{"a.sst": randomBytes(8 << 10)})
	root := d.root
	out := filepath.Join(root, "out")
	empty := filepath.Join(root, "empty")
	for _, dir := range []string{out, empty} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	existing := filepath.Join(out, "existing")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) string {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badToml := write("bad.toml", "[security.encryption\n")
	badMethod := write("method.toml", "[security.encryption]\ndata-encryption-method = \"rot13\"\n")
	otherKey := filepath.Join(root, "other.key")
	writeKeyFile(t, otherKey)
	wrongKeyConfig := filepath.Join(root, "wrong.toml")
	writeConfig(t, wrongKeyConfig, "aes256-ctr", otherKey, "")
	shortKey := write("short.key", "abcd\n")
	badKeyConfig := filepath.Join(root, "badkey.toml")
	writeConfig(t, badKeyConfig, "aes256-ctr", shortKey, "")
	plainConfig := write("plain.toml", "[security.encryption]\ndata-encryption-method = \"plaintext\"\n")
	badHexKey := write("badhex.key", strings.Repeat("zz", 32)+"\n")
	shortTK := write("short-tk.key", "abcdef\n")
	goodTK := write("tk.key", hex.EncodeToString(randomBytes(32))+"\n")
	notDoc := write("notdoc.atex", "this is not an export document")

	// A first start that crashed between the dictionaries: an empty file
	// dictionary and no key dictionary, which dict.Open would remove.
	half := filepath.Join(root, "half")
	if err := os.Mkdir(half, 0o755); err != nil {
		t.Fatal(err)
	}
	if m, err := dict.Open(context.Background(), half, d.cfg); err != nil {
		t.Fatal(err)
	} else {
		m.Close()
	}
	if err := os.Remove(filepath.Join(half, dict.KeyDictName)); err != nil {
		t.Fatal(err)
	}

	g := []string{"--config", d.config, "--data-dir", d.dir}
	with := func(args ...string) []string { return append(slices.Clone(g), args...) }
	outside := filepath.Join(root, "outside.sst")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, exitUsage, []string{"no command"}},
		{"unknown command", with("frobnicate"), exitUsage, []string{`unknown command "frobnicate"`, "dump-file"}},
		{"unknown global flag", []string{"--verbose", "verify"}, exitUsage, []string{"-verbose"}},
		{"unknown flag", with("verify", "--fix"), exitUsage, []string{"-fix"}},
		{"stray argument", with("verify", "now"), exitUsage, []string{`"now"`}},
		{"help of an unknown command", []string{"help", "frobnicate"}, exitUsage, []string{"frobnicate"}},
		{"missing --config", []string{"--data-dir", d.dir, "verify"}, exitUsage, []string{"--config is required"}},
		{"missing --data-dir", []string{"--config", d.config, "dump-file"}, exitUsage, []string{"--data-dir is required"}},
		{"missing config file", []string{"--config", filepath.Join(root, "nosuch.toml"), "--data-dir", d.dir, "verify"}, exitFailure, []string{"nosuch.toml"}},
		{"config that does not parse", []string{"--config", badToml, "--data-dir", d.dir, "verify"}, exitFailure, []string{"bad.toml"}},
		{"config with an unknown method", []string{"--config", badMethod, "--data-dir", d.dir, "dump-file"}, exitFailure, []string{"rot13"}},
		{"wrong master key", []string{"--config", wrongKeyConfig, "--data-dir", d.dir, "verify"}, exitFailure, []string{"wrong master key", otherKey}},
		{"wrong master key, modifying", []string{"--config", wrongKeyConfig, "--data-dir", d.dir, "reencrypt"}, exitFailure, []string{"wrong master key"}},
		{"bad master key file", []string{"--config", badKeyConfig, "--data-dir", d.dir, "dump-file"}, exitFailure, []string{"bad master key file"}},
		{"missing data directory", []string{"--config", d.config, "--data-dir", filepath.Join(root, "nosuch"), "verify"}, exitFailure, []string{"nosuch"}},
		{"data directory is a file", []string{"--config", d.config, "--data-dir", existing, "verify"}, exitFailure, []string{"not a directory"}},
		{"cleanup of an unencrypted directory", []string{"--config", d.config, "--data-dir", empty, "cleanup", "--yes"}, exitFailure, []string{"not an encrypted data directory"}},
		{"reencrypt of an unencrypted directory", []string{"--config", d.config, "--data-dir", empty, "reencrypt"}, exitFailure, []string{"not an encrypted data directory"}},
		{"rotate-master-key of an unencrypted directory", []string{"--config", d.config, "--data-dir", empty, "rotate-master-key", "--to", wrongKeyConfig}, exitFailure, []string{"not an encrypted data directory"}},
		{"import into an unencrypted directory", []string{"--config", d.config, "--data-dir", empty, "import", "--in", notDoc, "--transfer-key-file", goodTK}, exitFailure, []string{"not an encrypted data directory"}},
		{"verify of half a dictionary", []string{"--config", d.config, "--data-dir", half, "verify"}, exitFailure, []string{"no key.dict", "incomplete"}},
		{"reencrypt of half a dictionary", []string{"--config", d.config, "--data-dir", half, "reencrypt"}, exitFailure, []string{"no key.dict", "incomplete"}},
		{"rotate-master-key of a plaintext directory", []string{"--config", plainConfig, "--data-dir", empty, "rotate-master-key", "--to", wrongKeyConfig}, exitFailure, []string{"never encrypted"}},

		{"dump-file outside", with("dump-file", "--path", "../outside.sst"), exitUsage, []string{"outside the data directory"}},
		{"dump-file outside, absolute", with("dump-file", "--path", outside), exitUsage, []string{"outside the data directory"}},
		{"dump-file of a dictionary", with("dump-file", "--path", "key.dict"), exitUsage, []string{"dictionaries"}},
		{"dump-file of a missing file", with("dump-file", "--path", "nosuch.sst"), exitFailure, []string{"nosuch.sst"}},
		{"dump-key without consent", with("dump-key", "--show-secret"), exitUsage, []string{"--i-consent"}},
		{"dump-key bad id", with("dump-key", "--i-consent", "--ids", "1,x"), exitUsage, []string{`"x"`}},
		{"dump-key unknown id", with("dump-key", "--i-consent", "--ids", "42"), exitFailure, []string{"42"}},
		{"decrypt-file without --file", with("decrypt-file", "--out", filepath.Join(out, "x")), exitUsage, []string{"--file is required"}},
		{"decrypt-file without --out", with("decrypt-file", "--file", "a.sst"), exitUsage, []string{"--out is required"}},
		{"decrypt-file outside", with("decrypt-file", "--file", outside, "--out", filepath.Join(out, "x")), exitUsage, []string{"outside the data directory"}},
		{"decrypt-file into the data directory", with("decrypt-file", "--file", "a.sst", "--out", filepath.Join(d.dir, "a.plain")), exitUsage, []string{"inside the data directory"}},
		{"decrypt-file over an existing file", with("decrypt-file", "--file", "a.sst", "--out", existing), exitFailure, []string{"already exists"}},
		{"decrypt-file of a missing file", with("decrypt-file", "--file", "nosuch.sst", "--out", filepath.Join(out, "x")), exitFailure, []string{"nosuch.sst"}},
		{"rotate-master-key without --to", with("rotate-master-key"), exitUsage, []string{"--to is required"}},
		{"rotate-master-key to a missing file", with("rotate-master-key", "--to", filepath.Join(root, "nosuch.toml")), exitFailure, []string{"nosuch.toml"}},
		{"rotate-master-key to a bad key", with("rotate-master-key", "--to", badKeyConfig), exitFailure, []string{"bad master key file"}},
		{"rotate-master-key to plaintext", with("rotate-master-key", "--to", plainConfig), exitFailure, []string{"insecure"}},
		{"reencrypt bad rate unit", with("reencrypt", "--rate", "50MiB/x"), exitUsage, []string{"--rate", "MiB"}},
		{"reencrypt bad rate", with("reencrypt", "--rate", "fast"), exitUsage, []string{"--rate"}},
		{"reencrypt zero rate", with("reencrypt", "--rate", "0"), exitUsage, []string{"--rate"}},
		{"reencrypt ambiguous rate", with("reencrypt", "--rate", "50M"), exitUsage, []string{"--rate", `"M"`}},
		{"reencrypt bad age", with("reencrypt", "--older-than", "30x"), exitUsage, []string{"--older-than"}},
		{"reencrypt age without unit", with("reencrypt", "--older-than", "30"), exitUsage, []string{"--older-than", "unit"}},
		{"export without names", with("export", "--out", filepath.Join(out, "x")), exitUsage, []string{"name the files"}},
		{"export without --out", with("export", "a.sst"), exitUsage, []string{"--out is required"}},
		{"export outside", with("export", "--out", filepath.Join(out, "x"), "../outside.sst"), exitUsage, []string{"outside the data directory"}},
		{"export over an existing file", with("export", "--out", existing, "a.sst"), exitFailure, []string{"already exists"}},
		{"export key over an existing file", with("export", "--out", filepath.Join(out, "x"), "--transfer-key-file", existing, "a.sst"), exitFailure, []string{"already exists"}},
		{"export into the data directory", with("export", "--out", filepath.Join(d.dir, "x.atex"), "a.sst"), exitUsage, []string{"inside the data directory"}},
		{"export of a missing file", with("export", "--out", filepath.Join(out, "x"), "--transfer-key-file", filepath.Join(out, "k"), "a.sst", "nosuch.sst"), exitFailure, []string{"nosuch.sst"}},
		{"import without --in", with("import", "--transfer-key-file", goodTK), exitUsage, []string{"--in is required"}},
		{"import without a transfer key", with("import", "--in", notDoc), exitUsage, []string{"--transfer-key-file", transferKeyEnv}},
		{"import key not hex", with("import", "--in", notDoc, "--transfer-key-file", badHexKey), exitFailure, []string{"not hex"}},
		{"import key too short", with("import", "--in", notDoc, "--transfer-key-file", shortTK), exitFailure, []string{"64 hex characters"}},
		{"import missing key file", with("import", "--in", notDoc, "--transfer-key-file", filepath.Join(root, "nosuch.key")), exitFailure, []string{"nosuch.key"}},
		{"import missing document", with("import", "--in", filepath.Join(root, "nosuch.atex"), "--transfer-key-file", goodTK), exitFailure, []string{"nosuch.atex"}},
		{"import not a document", with("import", "--in", notDoc, "--transfer-key-file", goodTK), exitFailure, []string{"corrupt"}},
		{"import under outside", with("import", "--in", notDoc, "--transfer-key-file", goodTK, "--under", "../x"), exitUsage, []string{"outside the data directory"}},
		{"keyring without command", []string{"keyring"}, exitUsage, []string{"create, add or list"}},
		{"keyring unknown command", []string{"keyring", "destroy"}, exitUsage, []string{`"destroy"`}},
		{"keyring without --keyring", []string{"keyring", "list", "--password-env", "X"}, exitUsage, []string{"--keyring is required"}},
		{"keyring without password", []string{"keyring", "create", "--keyring", filepath.Join(out, "kr")}, exitUsage, []string{"--password-env", "--password-file"}},
		{"keyring with two passwords", []string{"keyring", "create", "--keyring", filepath.Join(out, "kr"), "--password-env", "X", "--password-file", goodTK}, exitUsage, []string{"not both"}},
		{"keyring password unset", []string{"keyring", "create", "--keyring", filepath.Join(out, "kr"), "--password-env", "ENCCTL_TEST_SURELY_UNSET"}, exitFailure, []string{"ENCCTL_TEST_SURELY_UNSET"}},
		{"keyring add without --name", []string{"keyring", "add", "--keyring", filepath.Join(out, "kr"), "--password-env", "X"}, exitUsage, []string{"--name is required"}},
		{"keyring list of a missing keyring", []string{"keyring", "list", "--keyring", filepath.Join(out, "kr"), "--password-file", goodTK}, exitFailure, []string{"kr"}},
		{"keyring bad kdf", []string{"keyring", "create", "--keyring", filepath.Join(out, "kr"), "--password-file", goodTK, "--kdf-threads", "0"}, exitUsage, []string{"--kdf-threads"}},
	}
	watched := []string{d.dir, out, empty, half}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before []map[string]string
			for _, dir := range watched {
				before = append(before, snapshot(t, dir))
			}
			r := inProcess(context.Background(), "", tc.args...)
			t.Log(strings.TrimSpace(r.stderr))
			mustFail(t, r, tc.code, tc.name, tc.want...)
			if r.stdout != "" {
				t.Errorf("a failed command printed on stdout: %q", r.stdout)
			}
			for i, dir := range watched {
				checkUnchanged(t, tc.name, before[i], snapshot(t, dir))
			}
		})
	}

	// A few through the binary, for main's wiring of exit codes and
	// streams.
	mustFail(t, encctl(t, nil, "", "frobnicate"), exitUsage, "binary: unknown command", "frobnicate")
	mustFail(t, encctl(t, nil, "", "--config", wrongKeyConfig, "--data-dir", d.dir, "dump-file"), exitFailure, "binary: wrong master key", "wrong master key")
	before := snapshot(t, d.dir)
	mustFail(t, encctl(t, nil, "", with("rotate-master-key", "--to", badKeyConfig)...), exitFailure, "binary: rotate-master-key to a bad key", "bad master key file")
	checkUnchanged(t, "binary: rotate-master-key to a bad key", before, snapshot(t, d.dir))
}

// TestReadOnlyCommandsCreateNothing checks that the inspecting commands,
// pointed at a directory that was never encrypted with a configuration
// that encrypts, neither fail nor create dictionaries.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	t.Parallel()
	d := newDataDir(t, "aes256-ctr", nil)
	plain := filepath.Join(d.root, "plain")
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plain, "x.txt"), []byte("plaintext"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	before := snapshot(t, plain)
	g := []string{"--config", d.config, "--data-dir", plain}
	for _, args := range [][]string{
		{"dump-file"}, {"dump-file", "--json"}, {"dump-file", "--path", "x.txt"},
		{"dump-key", "--i-consent"}, {"verify"},
		{"decrypt-file", "--file", "x.txt", "--out", filepath.Join(out, "x.txt")},
		{"export", "--out", filepath.Join(out, "x.atex"), "--transfer-key-file", filepath.Join(out, "x.key"), "x.txt"},
	} {
		r := inProcess(context.Background(), "", append(slices.Clone(g), args...)...)
		mustSucceed(t, r, strings.Join(args, " "))
	}
	checkUnchanged(t, "read-only commands on an unencrypted directory", before, snapshot(t, plain))
	if b, err := os.ReadFile(filepath.Join(out, "x.txt")); err != nil || string(b) != "plaintext" {
		t.Errorf("decrypt-file of a plaintext file: %q %v", b, err)
	}
}

// While an engine holds the data directory (an open dict.Manager), every
// command that changes it is refused, in one line naming the cause, and
// leaves the directory as it was; the read-only ones run beside it.
func TestRefusesWhileEngineRuns(t *testing.T) {
	t.Parallel()
	d := newDataDir(t, "aes256-ctr", map[string][]byte{"a.sst": []byte("some data"), "b.log": []byte("more")})
	engine, err := dict.Open(context.Background(), d.dir, d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	newKey := filepath.Join(d.root, "new-master.key")
	writeKeyFile(t, newKey)
	newConfig := filepath.Join(d.root, "new.toml")
	writeConfig(t, newConfig, "aes256-ctr", newKey, "")
	g := []string{"--config", d.config, "--data-dir", d.dir}
	before := snapshot(t, d.dir)
	for _, args := range [][]string{
		{"rotate-master-key", "--to", newConfig},
		{"reencrypt"},
		{"cleanup", "--yes"},
	} {
		r := inProcess(context.Background(), "", append(slices.Clone(g), args...)...)
		mustFail(t, r, exitFailure, args[0]+" beside the engine", "in use by another open Manager", "stop the engine")
	}
	checkUnchanged(t, "refused commands", before, snapshot(t, d.dir))
	for _, args := range [][]string{{"verify"}, {"dump-file"}} {
		mustSucceed(t, inProcess(context.Background(), "", append(slices.Clone(g), args...)...), args[0]+" beside the engine")
	}
	engine.Close()
	mustSucceed(t, inProcess(context.Background(), "", append(slices.Clone(g), "cleanup", "--yes")...), "cleanup once the engine stopped")
}

// TestReencryptInterrupted cancels a rate-limited re-encryption, as
// Ctrl-C does, and checks every file still reads back and a second run
// finishes the job.
func TestReencryptInterrupted(t *testing.T) {
	t.Parallel()
	content := map[string][]byte{}
	for i := range 4 {
		content[fmt.Sprintf("%06d.sst", i)] = randomBytes(64 << 10)
	}
	d := newDataDir(t, "aes128-ctr", content)
	cfg := writeConfig(t, d.config, "aes256-ctr", d.keyFile, "")
	g := []string{"--config", d.config, "--data-dir", d.dir}

	// 256 KiB at 64 KiB/s: about four seconds, cut as soon as the first
	// copy is under way.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitCopying(d.dir)
		cancel()
	}()
	r := inProcess(ctx, "", append(slices.Clone(g), "reencrypt", "--rate", "64KiB/s")...)
	mustFail(t, r, exitFailure, "interrupted reencrypt", "interrupted", "run the command again")
	m := open(t, d.dir, cfg)
	left := 0
	for name, want := range content {
		if got := readThrough(t, m, name); !bytes.Equal(got, want) {
			t.Errorf("after the interruption %s reads back differently", name)
		}
		if e, _, _ := m.Lookup(name); e.Method != ctr.AES256CTR {
			left++
		}
	}
	m.Close()
	if left == 0 {
		t.Errorf("the interrupted run re-encrypted every file: it was not interrupted")
	}
	if runtime.GOOS != "windows" { // no way to send os.Interrupt there
		interruptBinary(t, d.dir, append(slices.Clone(g), "reencrypt", "--rate", "64KiB/s"))
	}
	m = open(t, d.dir, cfg)
	left = 0
	for name, want := range content {
		if got := readThrough(t, m, name); !bytes.Equal(got, want) {
			t.Errorf("after the interruption by a signal %s reads back differently", name)
		}
		if e, _, _ := m.Lookup(name); e.Method != ctr.AES256CTR {
			left++
		}
	}
	m.Close()
	r = inProcess(context.Background(), "", append(slices.Clone(g), "reencrypt")...)
	mustSucceed(t, r, "reencrypt resumed")
	if !strings.Contains(r.stdout, fmt.Sprintf("re-encrypted %d files", left)) && !(left == 1 && strings.Contains(r.stdout, "re-encrypted 1 file")) {
		t.Errorf("the resumed run did not re-encrypt the %d files left: %v", left, r)
	}
	m = open(t, d.dir, cfg)
	for name, want := range content {
		e, _, _ := m.Lookup(name)
		if got := readThrough(t, m, name); !bytes.Equal(got, want) || e.Method != ctr.AES256CTR {
			t.Errorf("after the resumed run %s: method %v, content equal %v", name, e.Method, bytes.Equal(got, want))
		}
	}
}

// TestParseRate checks the sizes --rate takes.
func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"50MiB/s", 50 << 20},
		{"1GiB/s", 1 << 30},
		{"500KB/s", 500_000},
		{"500kb/s", 500_000},
		{"1.5MiB/s", 3 << 19},
		{"2 MB/s", 2_000_000},
		{"1048576", 1 << 20},
		{"4096B/s", 4096},
		{"10TiB", 10 << 40},
		{"", 0},
		{"/s", 0},
		{"MiB/s", 0},
		{"50M/s", 0},
		{"50MiB/h", 0},
		{"-5MiB/s", 0},
		{"0", 0},
		{"0.5", 0},
		{"1.2.3MB", 0},
		{"99999999EiB", 0},
		{"1e3", 0},
		{"100000000TiB/s", 0},
	} {
		got, err := parseRate(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("parseRate(%q) = %d, want an error", tc.in, got)
			} else if !strings.Contains(err.Error(), "--rate") {
				t.Errorf("parseRate(%q): the error does not name the flag: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// TestDataPath checks the paths the commands take for files of the data
// directory.
func TestDataPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		in, want string // want "": a usage error
	}{
		{"a.sst", "a.sst"},
		{"sub/../b.sst", "b.sst"},
		{filepath.Join(dir, "sub", "c.sst"), "sub/c.sst"},
		{"./d.sst", "d.sst"},
		{"../x", ""},
		{"sub/../../x", ""},
		{filepath.Join(dir, "..", "x"), ""},
		{filepath.Dir(dir), ""},
		{".", ""},
		{dir, ""},
		{"", ""},
		{"key.dict", ""},
		{"file.dict", ""},
		{filepath.Join(dir, "key.dict"), ""},
	} {
		got, err := dataPath(dir, "--path", tc.in)
		if tc.want == "" {
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Errorf("dataPath(%q) = %q, %v; want a usage error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("dataPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestHelp checks help goes to stdout with exit status 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"help", "reencrypt"}, {"reencrypt", "-h"}, {"keyring", "-h"}} {
		r := inProcess(context.Background(), "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "usage: encctl") || r.stderr != "" {
			t.Errorf("%v: %v", args, r)
		}
	}
	r := inProcess(context.Background(), "", "help")
	cs := subcommands(newEnv(context.Background(), nil, io.Discard, io.Discard).rootCommand())
	if len(cs) != 10 {
		t.Errorf("encctl has %d commands, want 10", len(cs))
	}
	for _, c := range cs {
		if !strings.Contains(r.stdout, "\n  "+c.Use+"\n") {
			t.Errorf("help does not list %s", c.Name())
		}
	}
}

// TestOutput checks the exclusive, atomic output files: nothing existing
// is overwritten, an aborted output leaves nothing, a committed one is
// whole, mode 0600, with no temporary file left.
func TestOutput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	o, err := newOutput("--out", p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newOutput("--out", p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second output of the same name: %v", err)
	}
	io.WriteString(o, "partial")
	o.abort()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("an aborted output left %v", left)
	}

	o, err = newOutput("--out", p)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(o, "whole")
	if b, _ := os.ReadFile(p); len(b) != 0 {
		t.Errorf("the name shows content before the commit: %q", b)
	}
	if err := o.commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "whole" {
		t.Errorf("committed output: %q %v", b, err)
	}
	if st, err := os.Stat(p); err != nil || runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("committed output: mode %v (%v), want 0600", st.Mode(), err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("a committed output left %v", left)
	}
	// Aborted after its commit (export's key file when the document
	// fails): removed.
	o.abort()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("an output aborted after its commit left %v", left)
	}
}

// interruptBinary runs the binary with args and sends it os.Interrupt
// (Ctrl-C) once a re-encryption is copying in dir: it must stop with the
// one-line "interrupted" error.
func interruptBinary(t *testing.T, dir string, args []string) {
	t.Helper()
	cmd := exec.Command(encctlBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitCopying(dir)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	// Progress lines may precede the error line.
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if r.code != exitFailure || !strings.HasPrefix(last, "encctl: reencrypt: interrupted") {
		t.Errorf("reencrypt interrupted by a signal: %v", r)
	}
}

// waitCopying returns once a re-encryption's temporary file shows in dir
// (the copy is under way), or after ten seconds.
func waitCopying(dir string) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if names, _ := filepath.Glob(filepath.Join(dir, "*"+dict.ReencryptTempSuffix)); len(names) > 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
