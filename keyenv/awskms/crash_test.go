//go:build unix

package awskms

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/crashtest"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/kmstest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
)

// The cross-vendor master-key rotation crash test: a child process (this
// test binary) rotates a directory's master key back and forth between a
// key file and an AWS KMS key (the in-repo fake, served by the parent),
// reporting each rotation before it starts and after it returned. The
// parent kills it with SIGKILL at a random moment or at a rotation
// failpoint, then checks that exactly one of the two keys the rotation in
// flight was between opens the key dictionary alone (the last
// acknowledged one when none was in flight), that the configuration an
// operator sets (new key, old key as previous) always opens it, and that
// every file reads back.

const (
	envXChild    = "ATREST_XVENDOR_CHILD"
	envXDir      = "ATREST_XVENDOR_DIR"
	envXFrom     = "ATREST_XVENDOR_FROM"
	envXKMSURL   = "ATREST_XVENDOR_KMS_URL"
	envXKMSKeyID = "ATREST_XVENDOR_KMS_KEY"
	envXAt       = "ATREST_XVENDOR_AT"    // failpoint name:hit
	envXKills    = "ATREST_XVENDOR_KILLS" // make crash raises the count
)

// crossVendorKeys are the two master keys: the key file in root and the
// KMS key at url, with the fake's static credentials.
func crossVendorKeys(root, url, keyID string) []keyenv.MasterKeyConfig {
	return []keyenv.MasterKeyConfig{
		{Type: keyenv.KindFile, Path: filepath.Join(root, "master.key")},
		{Type: keyenv.KindKMS, KeyID: keyID, Region: testRegion, Endpoint: url,
			AWS: keyenv.AWSSettings{AccessKey: testAKID, SecretAccessKey: testSecret}},
	}
}

// TestCrossVendorCrashChild is the child's body; it does nothing unless
// re-executed by TestCrossVendorRotationCrash.
func TestCrossVendorCrashChild(t *testing.T) {
	if os.Getenv(envXChild) != "1" {
		t.Skip("the cross-vendor crash test's child process; run by TestCrossVendorRotationCrash")
	}
	dir := os.Getenv(envXDir)
	keys := crossVendorKeys(filepath.Dir(dir), os.Getenv(envXKMSURL), os.Getenv(envXKMSKeyID))
	from, _ := strconv.Atoi(os.Getenv(envXFrom))
	opts := []dict.Option{dict.WithKeyenvOptions(fastKMS...)}
	if fp := crashtest.Failpoint(envXAt); fp != nil {
		opts = append(opts, dict.WithFailpoint(fp))
	}
	m, err := dict.Open(context.Background(), dir, managerConfig(keys[from]), opts...)
	if err != nil {
		crashtest.Die("open: %v", err)
	}
	dicttest.RotateForever(from, len(keys), func(next int) error {
		return operator.RotateMasterKey(context.Background(), m, keys[next], fastKMS...)
	})
}

func TestCrossVendorRotationCrash(t *testing.T) {
	if os.Getenv(envXChild) != "" {
		t.Skip("inside the child")
	}
	kills := crashtest.Count(t, envXKills, 20, 6)
	srv := kmstest.New(kmstest.Options{Region: testRegion, AccessKeyID: testAKID, SecretAccessKey: testSecret})
	t.Cleanup(srv.Close)
	keyID := srv.CreateKey()
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	keys := crossVendorKeys(root, srv.URL, keyID)
	if err := os.WriteFile(keys[0].Path, []byte(strings.Repeat("d1", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := []dict.Option{dict.WithKeyenvOptions(fastKMS...)}
	m, err := dict.Open(ctx, dir, managerConfig(keys[0]), opts...)
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

	failpoints := []string{"rotate-master.before-save", "rotate-master.after-save"}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	cur, rotations := 0, 0
	for kill := range kills {
		env := []string{envXChild + "=1", envXDir + "=" + dir, envXFrom + "=" + strconv.Itoa(cur),
			envXKMSURL + "=" + srv.URL, envXKMSKeyID + "=" + keyID}
		byFailpoint := kill%2 == 1
		if byFailpoint {
			env = append(env, fmt.Sprintf("%s=%s:%d", envXAt, failpoints[r.IntN(len(failpoints))], 1+r.IntN(4)))
		}
		c := crashtest.Start(t, "TestCrossVendorCrashChild", env)
		delay := time.Duration(20+r.IntN(80)) * time.Millisecond
		if byFailpoint {
			delay = 5 * time.Second // the failpoint kills it first
		}
		c.KillAfter(delay)
		var inFlight, n int
		cur, inFlight, n = dicttest.FollowRotations(t, c, cur)
		rotations += n
		cur = dicttest.CheckRotationRecovery(t, kill, dir, func(k int, prev *int) keyenv.Config {
			c := managerConfig(keys[k])
			if prev != nil {
				p := keys[*prev]
				c.PreviousMasterKey = &p
			}
			return c
		}, opts, cur, inFlight, files)
	}
	t.Logf("%d kills, %d acknowledged rotations between a key file and AWS KMS", kills, rotations)
	if rotations == 0 {
		t.Error("no rotation was acknowledged: the kills came too early to test anything")
	}
}
