package bench

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/atrest/atrest/ctr"
)

// ErrSize is returned (wrapped) by ParseSizes for a size it cannot read or
// that is out of range.
var ErrSize = errors.New("invalid size")

// MinSize and MaxSize bound the Stream workload's buffer sizes.
const (
	MinSize = 1
	MaxSize = 64 << 20
)

// ParseMethods parses a comma-separated list of method names ("all" for
// every method), keeping the order of ctr.Methods and dropping repeats. An
// unknown name gives an error wrapping ctr.ErrUnknownMethod that lists the
// valid names.
func ParseMethods(list string) ([]ctr.Method, error) {
	if strings.TrimSpace(list) == "all" {
		return slices.Clone(ctr.Methods), nil
	}
	want := map[ctr.Method]bool{}
	for name := range strings.SplitSeq(list, ",") {
		m, err := ctr.ParseMethod(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("%w %q (valid: %s, or all)", ctr.ErrUnknownMethod, strings.TrimSpace(name), methodNames())
		}
		want[m] = true
	}
	var out []ctr.Method
	for _, m := range ctr.Methods {
		if want[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

func methodNames() string {
	var names []string
	for _, m := range ctr.Methods {
		names = append(names, m.String())
	}
	return strings.Join(names, ", ")
}

// sizeUnits are the suffixes ParseSizes reads; K, M and G are binary
// multiples, as they are for buffer sizes everywhere.
var sizeUnits = []struct {
	suffix string
	shift  uint
}{
	{"KiB", 10}, {"MiB", 20}, {"GiB", 30},
	{"KB", 10}, {"MB", 20}, {"GB", 30},
	{"K", 10}, {"M", 20}, {"G", 30},
	{"B", 0},
}

// ParseSizes parses a comma-separated list of sizes such as
// "64,4K,16KiB,1M", sorted ascending without repeats. Each must lie
// between MinSize and MaxSize; anything else gives an error wrapping
// ErrSize that says what a valid size looks like.
func ParseSizes(list string) ([]int, error) {
	var out []int
	for field := range strings.SplitSeq(list, ",") {
		n, err := parseSize(strings.TrimSpace(field))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func parseSize(s string) (int, error) {
	num, shift := s, uint(0)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil || v<<shift < MinSize || v<<shift > MaxSize {
		return 0, fmt.Errorf("%w %q (valid: whole numbers of bytes from %d to %s, with an optional K, KiB, M or MiB suffix, e.g. 64,4K,1MiB)",
			ErrSize, s, MinSize, FormatSize(MaxSize))
	}
	return int(v << shift), nil
}

// FormatSize writes a byte count the way sizes are labelled in reports, in
// the largest binary unit that divides it: "64 B", "4 KiB", "1 MiB",
// "2 GiB", or the exact bytes when it is no whole multiple.
func FormatSize(n int) string {
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
