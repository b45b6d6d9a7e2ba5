package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/bytesize"
)

// dataPath turns a path the operator gave for a file of the data directory
// (relative to it, or absolute inside it) into the dictionary's form:
// relative, clean, with forward slashes. Anything outside the directory,
// the directory itself and the dictionaries are usage errors, caught
// before anything is opened.
func dataPath(dataDir, flagName, p string) (string, error) {
	if p == "" {
		return "", usagef("%s: empty path", flagName)
	}
	rel := p
	if filepath.IsAbs(p) {
		dir, err := filepath.Abs(dataDir)
		if err != nil {
			return "", err
		}
		if rel, err = filepath.Rel(dir, p); err != nil {
			return "", usagef("%s %s: outside the data directory %s", flagName, p, dataDir)
		}
	} else if filepath.VolumeName(p) != "" || strings.HasPrefix(p, string(filepath.Separator)) {
		// Windows: "C:x" and "\x" are neither absolute nor relative to
		// the data directory.
		return "", usagef("%s %s: outside the data directory %s", flagName, p, dataDir)
	}
	rel = filepath.ToSlash(filepath.Clean(rel))
	switch {
	case rel == ".." || strings.HasPrefix(rel, "../"):
		return "", usagef("%s %s: outside the data directory %s", flagName, p, dataDir)
	case rel == ".":
		return "", usagef("%s %s: the data directory itself, not a file in it", flagName, p)
	case dict.IsDictionaryFile(rel):
		return "", usagef("%s %s: one of the encryption dictionaries, not a data file", flagName, p)
	}
	return rel, nil
}

// outsideDataDir refuses an output path inside the data directory: a
// plaintext copy, an export document or a transfer key there would be
// taken for a data file (and a plaintext one would sit next to the
// ciphertext it was meant to protect).
func outsideDataDir(dataDir, flagName, p string) error {
	if p == "" {
		return usagef("%s is required", flagName)
	}
	inside := func(dir, path string) bool {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return false // another volume
		}
		rel = filepath.ToSlash(rel)
		return rel != ".." && !strings.HasPrefix(rel, "../")
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	bad := inside(dir, path)
	// Through symbolic links too, as far as both exist.
	if rdir, err := filepath.EvalSymlinks(dir); err == nil {
		if rparent, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
			bad = bad || inside(rdir, filepath.Join(rparent, filepath.Base(path)))
		}
	}
	if bad {
		return usagef("%s %s: inside the data directory; write it elsewhere", flagName, p)
	}
	return nil
}

// mustNotExist gives the early, clear refusal for an output that exists;
// the exclusive create (newOutput) is what really guards it.
func mustNotExist(flagName, p string) error {
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("%s %s already exists: refusing to overwrite it", flagName, p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", flagName, err)
	}
	return nil
}

// output is a file encctl writes for the operator: its name is reserved
// with O_EXCL (so nothing existing is ever overwritten, even by a race),
// its content is written to a temporary file next to it and renamed over
// the reservation once complete and synced, so that the name never holds
// a partial file; abort removes both, so a failure leaves nothing.
type output struct {
	path      string
	tmp       *os.File
	committed bool
}

// newOutput reserves path and opens the temporary file, both mode 0600:
// what encctl writes (plaintext, transfer keys) is for the operator only.
func newOutput(flagName, path string) (*output, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s %s already exists: refusing to overwrite it", flagName, path)
		}
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return &output{path: path, tmp: tmp}, nil
}

// Write writes to the temporary file.
func (o *output) Write(p []byte) (int, error) { return o.tmp.Write(p) }

// commit makes the content durable and gives it the reserved name.
func (o *output) commit() error {
	if err := o.tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	if err := o.tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	if err := os.Rename(o.tmp.Name(), o.path); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	o.committed = true
	// Best effort: the file is already synced and complete under either
	// name.
	_ = fsys.OS().SyncDir(filepath.Dir(o.path))
	return nil
}

// abort removes what the output wrote, committed or not: a command that
// fails after committing one of its outputs (export's key file) must not
// leave it behind.
func (o *output) abort() {
	if !o.committed {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
	}
	os.Remove(o.path)
}

// copyContext copies src to dst, stopping between chunks when done
// reports an error (Ctrl-C).
func copyContext(done func() error, dst io.Writer, src io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		if err := done(); err != nil {
			return err
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseRate parses a byte rate such as "50MiB/s", "1GiB/s", "500KB/s" or
// "1048576" (bytes per second), in the units of internal/bytesize (KB is
// 1000 bytes, KiB 1024; the case does not matter); the "/s" may be left
// out. A bare "K", "M" or "G" is refused: whether it means 1000 or 1024 is
// exactly what an operator could get wrong.
func parseRate(s string) (int64, error) {
	bad := func(why string) error {
		return fmt.Errorf("--rate %q: %s; want a size per second such as 500KB/s, 50MiB/s or 1GiB/s (units %s)", s, why, bytesize.Units)
	}
	v, err := bytesize.Parse(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	if err != nil {
		return 0, bad(err.Error())
	}
	if v < 1 {
		return 0, bad("less than one byte per second (leave --rate out for no limit)")
	}
	return v, nil
}

// formatBytes writes a size in binary units, as the progress lines show
// it.
func formatBytes(n int64) string {
	return bytesize.FormatRounded(n)
}

// formatDuration rounds a duration for people.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// displayName shows a file name on a line of its own kind: quoted when it
// holds spaces or characters that would break the line or the columns.
func displayName(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"'
	}) {
		return strconv.Quote(s)
	}
	return s
}

// table prints aligned columns. A row may end with raw bytes (a key in
// hex) written straight to the output after the padded cells, so that
// they are never copied into buffers encctl cannot zero.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the table; raw(i), if set, returns row i's trailing bytes
// (nil for none), which the caller zeroes afterwards.
func (t *table) write(w io.Writer, raw func(i int) []byte) error {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for j, c := range r {
			widths[j] = max(widths[j], len(c))
		}
	}
	line := func(cells []string, tail []byte) error {
		var b strings.Builder
		for j, c := range cells {
			if j == len(cells)-1 && tail == nil {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[j]-len(c)+2))
		}
		if tail == nil {
			b.WriteString("\n")
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		if tail != nil {
			if _, err := w.Write(tail); err != nil {
				return err
			}
			_, err := io.WriteString(w, "\n")
			return err
		}
		return nil
	}
	if err := line(t.header, nil); err != nil {
		return err
	}
	for i, r := range t.rows {
		var tail []byte
		if raw != nil {
			tail = raw(i)
		}
		if err := line(r, tail); err != nil {
			return err
		}
	}
	return nil
}
