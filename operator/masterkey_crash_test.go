//go:build unix

package operator

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

// The master-key rotation crash test: a child process (this test binary)
// opens a directory with one of three key files and rotates the master
// key round the three, reporting each rotation before it starts and after
// it returned. The parent kills it with SIGKILL at a random moment or at a
// rotation failpoint, then checks the key dictionary opened with exactly
// one of the two keys the rotation in flight was between (with the last
// acknowledged one when none was in flight), that the recommended
// configuration (new key, old key as previous) always opens it, and that
// the files written before the rotations read back.

const (
	envMKChild = "ATREST_MK_CRASH_CHILD"
	envMKDir   = "ATREST_MK_CRASH_DIR"
	envMKFrom  = "ATREST_MK_CRASH_FROM"
	envMKAt    = "ATREST_MK_CRASH_AT"    // failpoint name:hit
	envMKKills = "ATREST_MK_CRASH_KILLS" // make crash raises the count
)

var mkFailpoints = []string{"rotate-master.before-save", "rotate-master.after-save"}

// mkKeys are the three master keys' configurations, in root.
func mkKeys(root string) []keyenv.MasterKeyConfig {
	var out []keyenv.MasterKeyConfig
	for i := range 3 {
		out = append(out, keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: filepath.Join(root, fmt.Sprintf("mk%d.key", i))})
	}
	return out
}

// TestMasterKeyCrashChild is the child's body; it does nothing unless
// re-executed by TestMasterKeyRotationCrash.
func TestMasterKeyCrashChild(t *testing.T) {
	if os.Getenv(envMKChild) != "1" {
		t.Skip("the master-key crash test's child process; run by TestMasterKeyRotationCrash")
	}
	dir := os.Getenv(envMKDir)
	keys := mkKeys(filepath.Dir(dir))
	from, _ := strconv.Atoi(os.Getenv(envMKFrom))
	opts := []dict.Option{dict.WithFailpoint(crashtest.Failpoint(envMKAt))} // nil: none
	m, err := dict.Open(context.Background(), dir, rotationConfig(keys[from], nil), opts...)
	if err != nil {
		crashtest.Die("open: %v", err)
	}
	dicttest.RotateForever(from, len(keys), func(next int) error {
		return RotateMasterKey(context.Background(), m, keys[next])
	})
}

func TestMasterKeyRotationCrash(t *testing.T) {
	if os.Getenv(envMKChild) != "" {
		t.Skip("inside the child")
	}
	kills := crashtest.Count(t, envMKKills, 30, 8)
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	keys := mkKeys(root)
	for i, k := range keys {
		testenv.FileMasterKey(t, root, filepath.Base(k.Path), byte(0x60+i))
	}
	ctx := context.Background()
	m, err := dict.Open(ctx, dir, rotationConfig(keys[0], nil))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("f%d", i)
		files[name] = bytes.Repeat([]byte{byte(i)}, 1000+i)
		dicttest.WriteFile(t, m, name, files[name])
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	cur, rotations := 0, 0
	for kill := range kills {
		env := []string{envMKChild + "=1", envMKDir + "=" + dir, envMKFrom + "=" + strconv.Itoa(cur)}
		byFailpoint := kill%2 == 1
		if byFailpoint {
			env = append(env, fmt.Sprintf("%s=%s:%d", envMKAt, mkFailpoints[r.IntN(len(mkFailpoints))], 1+r.IntN(5)))
		}
		c := crashtest.Start(t, "TestMasterKeyCrashChild", env)
		delay := time.Duration(5+r.IntN(40)) * time.Millisecond
		if byFailpoint {
			delay = time.Second // the failpoint kills it first
		}
		c.KillAfter(delay)
		var inFlight, n int
		cur, inFlight, n = dicttest.FollowRotations(t, c, cur)
		rotations += n
		cur = dicttest.CheckRotationRecovery(t, kill, dir, func(k int, prev *int) keyenv.Config {
			if prev == nil {
				return rotationConfig(keys[k], nil)
			}
			p := keys[*prev]
			return rotationConfig(keys[k], &p)
		}, nil, cur, inFlight, files)
	}
	t.Logf("%d kills, %d acknowledged rotations", kills, rotations)
	if rotations == 0 {
		t.Error("no rotation was acknowledged: the kills came too early to test anything")
	}
}
