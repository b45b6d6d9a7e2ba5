package keyenv

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration as TiKV's configuration writes it: one
// or more decimal numbers each followed by a unit, ms, s, m, h or d (a day
// is 24 hours), such as "168h", "7d", "1d12h" or "1.5h". Unlike
// time.ParseDuration it knows days, and it refuses a missing unit.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: expected a number at %q", in, s)
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: bad number %q", in, s[:i])
		}
		s = s[i:]
		j := 0
		for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch s[:j] {
		case "ms":
			unit = time.Millisecond
		case "s":
			unit = time.Second
		case "m":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "d":
			unit = 24 * time.Hour
		case "":
			return 0, fmt.Errorf("duration %q: missing unit (ms, s, m, h or d)", in)
		default:
			return 0, fmt.Errorf("duration %q: unknown unit %q (ms, s, m, h or d)", in, s[:j])
		}
		s = s[j:]
		total += n * float64(unit)
		if total > math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is too long", in)
		}
	}
	return time.Duration(total), nil
}
