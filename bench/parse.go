package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/bytesize"
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

// ParseSizes parses a comma-separated list of sizes such as
// "64,4KiB,16KB,1MiB", sorted ascending without repeats: bytes, or a
// number with a unit, where KB is 1000 bytes and KiB 1024 (MB, MiB and
// the rest likewise, see internal/bytesize; a bare K or M is refused as
// ambiguous). Each must lie between MinSize and MaxSize; anything else
// gives an error wrapping ErrSize that says what a valid size looks like.
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
	v, err := bytesize.Parse(s)
	switch {
	case err != nil:
	case v < MinSize:
		err = fmt.Errorf("less than %d B", MinSize)
	case v > MaxSize:
		err = fmt.Errorf("more than %s", FormatSize(MaxSize))
	}
	if err != nil {
		return 0, fmt.Errorf("%w %q: %v (valid: %d B to %s, in bytes or with a unit where KB = 1000 bytes and KiB = 1024, MB and MiB likewise; e.g. 64,4KiB,1MiB)",
			ErrSize, s, err, MinSize, FormatSize(MaxSize))
	}
	return int(v), nil
}

// FormatSize writes a byte count the way sizes are labelled in reports, in
// the largest binary unit that divides it: "64 B", "4 KiB", "1 MiB",
// "2 GiB", or the exact bytes when it is no whole multiple
// (bytesize.Format).
func FormatSize(n int) string {
	return bytesize.Format(int64(n))
}
