package cpuclock

import (
	"testing"
	"time"
)

func TestHzIsPlausible(t *testing.T) {
	hz := Hz()
	if !supported {
		if hz != 0 {
			t.Fatalf("Hz() = %v on an architecture without a calibration loop", hz)
		}
		return
	}
	// Any core that runs this test clocks between 0.5 and 7 GHz; a wrong
	// chain (eliminated adds, a broken loop) lands far outside.
	if hz < 0.5e9 || hz > 7e9 {
		t.Fatalf("Hz() = %.3g, not a plausible core clock", hz)
	}
	t.Logf("core clock about %.2f GHz", hz/1e9)
}

func TestCyclesPerByte(t *testing.T) {
	tests := []struct {
		perOp time.Duration
		n     int
		hz    float64
		want  float64
	}{
		{time.Microsecond, 4000, 4e9, 1},
		{250 * time.Nanosecond, 4000, 4e9, 0.25},
		{time.Microsecond, 0, 4e9, 0},
		{time.Microsecond, 4000, 0, 0},
	}
	for _, tc := range tests {
		if got := CyclesPerByte(tc.perOp, tc.n, tc.hz); got < tc.want*0.999 || got > tc.want*1.001 {
			t.Errorf("CyclesPerByte(%v, %d, %g) = %g, want %g", tc.perOp, tc.n, tc.hz, got, tc.want)
		}
	}
}
