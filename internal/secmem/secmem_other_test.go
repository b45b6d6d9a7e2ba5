//go:build !(aix || darwin || dragonfly || freebsd || illumos || ios || linux || netbsd || openbsd || solaris)

package secmem

import (
	"errors"
	"testing"
)

func TestUnprotectedPlatform(t *testing.T) {
	if err := DisableCoreDumps(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("DisableCoreDumps() = %v, want an error wrapping errors.ErrUnsupported", err)
	}
	p := Status()
	if p.Locked || p.NoDump || p.Detail == "" {
		t.Errorf("Status() = %+v, want nothing granted and a Detail", p)
	}
}
