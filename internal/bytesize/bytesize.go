// Package bytesize reads and writes byte counts, with one meaning of the
// units everywhere in atrest: KB, MB, GB and TB are powers of 1000 (as
// disks and networks are quoted), KiB, MiB, GiB and TiB powers of 1024 (as
// memory and buffers are sized), B is a byte. The case of a unit does not
// matter. A bare K, M, G or T is refused: whether it means 1000 or 1024 is
// exactly what a reader could get wrong.
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
)

// Units names the units Parse reads, for flags' help and error messages.
const Units = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; KB = 1000 bytes, KiB = 1024"

// units are the multipliers Parse reads, by lower-case name.
var units = map[string]uint64{
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// Parse reads a byte count: a number, then optionally (with or without a
// space) one of Units, as in "4096", "64KiB", "1.5 MiB" or "500kb". The
// number is written in digits, with a fraction if wanted; a fraction of a
// byte left in the product is dropped. The error says what is wrong, for
// the caller to put in context.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" {
		return 0, errors.New("no number")
	}
	mult := uint64(1)
	if unit != "" {
		var ok bool
		if mult, ok = units[strings.ToLower(unit)]; !ok {
			if p := strings.ToUpper(unit); len(p) == 1 && strings.Contains("KMGT", p) {
				return 0, fmt.Errorf("ambiguous unit %q: write %sB for powers of 1000 or %siB for powers of 1024", unit, p, p)
			}
			return 0, fmt.Errorf("unknown unit %q", unit)
		}
	}
	tooLarge := errors.New("too large")
	if !strings.Contains(num, ".") {
		// Whole numbers exactly, however large.
		v, err := strconv.ParseUint(num, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, tooLarge
		}
		if err != nil {
			return 0, errors.New("bad number")
		}
		hi, lo := bits.Mul64(v, mult)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, tooLarge
		}
		return int64(lo), nil
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errors.New("bad number")
	}
	v *= float64(mult)
	if v >= math.MaxInt64 {
		return 0, tooLarge
	}
	return int64(v), nil
}

// Format writes a byte count exactly, in the largest binary unit that
// divides it: "64 B", "4 KiB", "1 MiB", "2 GiB", "1536 B".
func Format(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// FormatRounded writes a byte count for people, in binary units to one
// decimal: "512 B", "1.5 KiB", "12.3 MiB".
func FormatRounded(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	names := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	u := 0
	for v >= 1024 && u < len(names)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %s", v, names[u])
}
