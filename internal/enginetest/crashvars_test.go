//go:build unix

package enginetest

import (
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
)

// TestCrashVars: what the parent's Env says, the child's Child reads
// back, and a process without it is no child.
func TestCrashVars(t *testing.T) {
	const v CrashVars = "ATREST_ENGINETEST_CRASH"
	if v.Kills() != "ATREST_ENGINETEST_CRASH_KILLS" {
		t.Errorf("Kills = %q", v.Kills())
	}
	t.Setenv(string(v)+"_CHILD", "")
	if _, ok := v.Child(); ok || v.InChild() {
		t.Fatal("a process without the child variable is a child")
	}
	for _, tc := range []struct {
		at        string
		mustExist bool
	}{{"", false}, {"rotate.after-save:2", true}} {
		for _, kv := range v.Env("/data", "/k.key")(ctr.SM4CTR.String(), tc.at, tc.mustExist, 42) {
			name, value, _ := strings.Cut(kv, "=")
			t.Setenv(name, value)
		}
		if !v.InChild() {
			t.Fatal("the child's environment is no child's")
		}
		c, ok := v.Child()
		if !ok || c.Dir != "/data" || c.KeyPath != "/k.key" || c.Method != ctr.SM4CTR || c.MustExist != tc.mustExist {
			t.Fatalf("child %+v, %v", c, ok)
		}
		if got := len(c.Options); got != map[bool]int{false: 0, true: 1}[tc.at != ""] {
			t.Errorf("failpoint %q: %d options", tc.at, got)
		}
		c2, _ := v.Child()
		if c.Rand.Uint64() != c2.Rand.Uint64() {
			t.Error("the same seed makes different choices")
		}
	}
}
