package backendtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

const envChild = "ATREST_BACKENDTEST_CHILD"

// misbehaving wraps a key-file backend and breaks one rule.
type misbehaving struct {
	keyenv.Backend
	how string
}

func (m misbehaving) Unseal(ctx context.Context, label string, blob []byte) (*keyenv.Secret, error) {
	s, err := m.Backend.Unseal(ctx, label, blob)
	switch {
	case err == nil:
		return s, nil
	case m.how == "leaks":
		return nil, fmt.Errorf("%w (token %s)", err, childSecret)
	case m.how == "denies" && errors.Is(err, keyenv.ErrWrongMasterKey):
		return nil, fmt.Errorf("%s: %w", m.ID(), keyenv.ErrKMSAccessDenied)
	}
	return nil, err
}

const childSecret = "s3cr3t-t0ken"

// TestMisbehavingChild runs the suite on a backend that breaks a rule; it
// runs only as TestSuiteCatchesMisbehaviour's child, and must fail.
func TestMisbehavingChild(t *testing.T) {
	how := os.Getenv(envChild)
	if how == "" {
		t.Skip("the child of TestSuiteCatchesMisbehaviour")
	}
	dir := t.TempDir()
	open := func(name, hex string) Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(strings.Repeat(hex, 32)+"\n"), 0o600); err != nil {
				return nil, err
			}
			b, err := keyenv.OpenKeyFile(p)
			if err != nil {
				return nil, err
			}
			return misbehaving{b, how}, nil
		}
	}
	Run(t, Env{Working: open("a.key", "a1"), Second: open("b.key", "b2"), Secret: childSecret})
}

// The suite fails a backend whose errors show the secret, and one that
// answers another key's blob with access denied instead of wrong master
// key, saying what is wrong.
func TestSuiteCatchesMisbehaviour(t *testing.T) {
	for how, says := range map[string]string{
		"leaks":  "the secret appears in",
		"denies": "want an error wrapping \"wrong master key\"",
	} {
		t.Run(how, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMisbehavingChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), envChild+"="+how)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend that %s:\n%s", how, out)
			}
			if !strings.Contains(string(out), says) || !strings.Contains(string(out), "--- FAIL") {
				t.Fatalf("the suite's failure does not say %q:\n%s", says, out)
			}
		})
	}
}
