package keyenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodHex = "00112233445566778899aabbccddeeff0123456789abcdefFEDCBA9876543210"

func TestKeyFileShapes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string // written to the file unless setup says otherwise
		setup   func(path string)
		ok      bool
		msg     string // the error must say this
	}{
		{name: "lower case", content: strings.ToLower(goodHex) + "\n", ok: true},
		{name: "upper case", content: strings.ToUpper(goodHex) + "\n", ok: true},
		{name: "mixed case", content: goodHex + "\n", ok: true},
		{name: "empty", content: "", msg: "is empty"},
		{name: "only newline", content: "\n", msg: "wrong length: 0 characters"},
		{name: "short", content: goodHex[:62] + "\n", msg: "wrong length: 62 characters"},
		{name: "long", content: goodHex + "00\n", msg: "wrong length: 66 characters"},
		{name: "128-bit key", content: goodHex[:32] + "\n", msg: "wrong length: 32 characters"},
		{name: "huge", content: strings.Repeat(goodHex, 10) + "\n", msg: "wrong length: the file is 641 bytes"},
		{name: "no trailing newline", content: goodHex, msg: "no trailing newline"},
		{name: "CRLF", content: goodHex + "\r\n", msg: "CRLF"},
		{name: "two newlines", content: goodHex + "\n\n", msg: "wrong length: 65 characters"},
		{name: "non-hex", content: goodHex[:10] + "g" + goodHex[11:] + "\n", msg: "non-hex character at position 11"},
		{name: "space", content: " " + goodHex[1:] + "\n", msg: "non-hex character at position 1"},
		{name: "0x prefix", content: "0x" + goodHex[2:] + "\n", msg: "non-hex character at position 2"},
		{name: "missing", setup: func(string) {}, msg: "does not exist"},
		{name: "directory", setup: func(p string) { os.Mkdir(p, 0o700) }, msg: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if tt.setup != nil {
				tt.setup(path)
			} else if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := OpenKeyFile(path, WithLogger(discardLogger()))
			if tt.ok {
				if err != nil {
					t.Fatalf("refused a good key file: %v", err)
				}
				defer b.Close()
				if b.Kind() != KindFile || !b.Secure() || b.ID() != "file:"+path {
					t.Errorf("kind %v secure %v id %q", b.Kind(), b.Secure(), b.ID())
				}
				return
			}
			wantErr(t, err, ErrBadKeyFile)
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not say %q and the path", err, tt.msg)
			}
			assertNoKeyBytes(t, err, []byte(goodHex))
			if strings.Contains(err.Error(), goodHex[:8]) {
				t.Errorf("error %q echoes the file's content", err)
			}
		})
	}
}

// Every case spelling of the same key is the same key.
func TestKeyFileCaseInsensitive(t *testing.T) {
	dir := t.TempDir()
	lower := filepath.Join(dir, "lower")
	upper := filepath.Join(dir, "upper")
	os.WriteFile(lower, []byte(strings.ToLower(goodHex)+"\n"), 0o600)
	os.WriteFile(upper, []byte(strings.ToUpper(goodHex)+"\n"), 0o600)
	a, err := OpenKeyFile(lower)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenKeyFile(upper)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustUnseal(t, b, "x", mustSeal(t, a, "x", []byte("secret")), []byte("secret"))
}

func TestKeyFilePermissionWarning(t *testing.T) {
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{
		{0o600, false}, {0o400, false}, {0o700, false}, {0o640, true}, {0o604, true}, {0o644, true}, {0o620, false},
	} {
		path := filepath.Join(t.TempDir(), "k")
		os.WriteFile(path, []byte(goodHex+"\n"), 0o600)
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		var log logBuffer
		b, err := OpenKeyFile(path, WithLogger(slogTo(&log)))
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		got := strings.Contains(log.String(), "readable by group or others")
		if got != tt.warn {
			t.Errorf("mode %04o: warned %v, want %v (log %q)", tt.mode, got, tt.warn, log.String())
		}
		if bytes.Contains([]byte(log.String()), []byte(goodHex[:16])) {
			t.Errorf("log holds key material: %q", log.String())
		}
	}
}

// The backend's key is zero once closed.
func TestKeyFileZeroedOnClose(t *testing.T) {
	b, key := newFileBackend(t)
	held := b.(*envelope).src.(*fileKey).key.Bytes()
	if !bytes.Equal(held, key) {
		t.Fatalf("held key %x, want %x", held, key)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(held, make([]byte, len(held))) {
		t.Fatalf("key not zeroed after Close: %x", held)
	}
	_, err := b.Seal(t.Context(), "x", []byte("s"))
	if err == nil {
		t.Fatal("Seal after Close worked")
	}
}
