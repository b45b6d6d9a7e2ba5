//go:build unix

package enginetest

import (
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
)

// CrashVars is the prefix of the environment variables through which a
// crash test's parent tells its child (the test binary, re-executed) what
// to do, of the engine's own ("ATREST_PEBBLEV1_CRASH"): PREFIX_CHILD,
// _DIR, _KEY_PATH, _METHOD, _MUST_EXIST, _CHILD_SEED and _AT (a dict
// failpoint "name:hit" to die at); PREFIX_KILLS is for whoever runs the
// test, to set how many times the parent kills (crashtest.Count).
type CrashVars string

func (v CrashVars) name(s string) string { return string(v) + "_" + s }

// Kills is the name of the variable that sets the number of kills.
func (v CrashVars) Kills() string { return v.name("KILLS") }

// InChild says whether this process is a crash test's child.
func (v CrashVars) InChild() bool { return os.Getenv(v.name("CHILD")) != "" }

// Env is the child's environment for one run (CrashSpec.Env) on the data
// directory dir with the master key file keyPath.
func (v CrashVars) Env(dir, keyPath string) func(method, at string, mustExist bool, seed uint64) []string {
	return func(method, at string, mustExist bool, seed uint64) []string {
		env := []string{v.name("CHILD") + "=1", v.name("DIR") + "=" + dir, v.name("KEY_PATH") + "=" + keyPath,
			v.name("METHOD") + "=" + method, v.name("CHILD_SEED") + "=" + strconv.FormatUint(seed, 10)}
		if mustExist {
			env = append(env, v.name("MUST_EXIST")+"=1")
		}
		if at != "" {
			env = append(env, v.name("AT")+"="+at)
		}
		return env
	}
}

// CrashChild is what a crash test's child learns from its environment.
type CrashChild struct {
	Dir, KeyPath string
	Method       ctr.Method
	// MustExist is whether the engine must find its DB (not the first run).
	MustExist bool
	// Rand makes the child's choices, seeded by the parent.
	Rand *rand.Rand
	// Options has the dict failpoint to die at, if the parent chose one.
	Options []dict.Option
}

// Child reads the child's environment; ok is false when this process is
// not a crash test's child. A method it cannot parse kills it
// (crashtest.Die).
func (v CrashVars) Child() (c CrashChild, ok bool) {
	if os.Getenv(v.name("CHILD")) != "1" {
		return c, false
	}
	seed, _ := strconv.ParseUint(os.Getenv(v.name("CHILD_SEED")), 10, 64)
	method, err := ctr.ParseMethod(os.Getenv(v.name("METHOD")))
	if err != nil {
		crashtest.Die("%v", err)
	}
	c = CrashChild{Dir: os.Getenv(v.name("DIR")), KeyPath: os.Getenv(v.name("KEY_PATH")), Method: method,
		MustExist: os.Getenv(v.name("MUST_EXIST")) == "1", Rand: rand.New(rand.NewPCG(seed, 0x5eed))}
	if fp := crashtest.Failpoint(v.name("AT")); fp != nil {
		c.Options = append(c.Options, dict.WithFailpoint(fp))
	}
	return c, true
}
