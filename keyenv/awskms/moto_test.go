package awskms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/atrest/atrest/keyenv"
)

// moto is a running moto_server (the Python package moto's stand-alone
// server, a third-party implementation of the AWS APIs), started by a test
// on 127.0.0.1 at a free port and stopped by its process id.
type moto struct {
	URL string
	cmd *exec.Cmd
}

// motoCommand finds how to run moto's server: the moto_server command, or
// python3 -m moto.server when only the package is installed. ok is false
// when neither is there.
func motoCommand() (argv []string, ok bool) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return []string{p}, true
	}
	if p, err := exec.LookPath("python3"); err == nil && exec.Command(p, "-c", "import moto.server").Run() == nil {
		return []string{p, "-m", "moto.server"}, true
	}
	return nil, false
}

// startMoto starts a moto server for the test and stops it when the test
// ends. Where moto is not installed the test is skipped, loudly, unless
// ATREST_REQUIRE_MOTO is set (.ci/run sets it, after checking moto is
// there): then it fails.
func startMoto(t *testing.T) *moto {
	t.Helper()
	argv, ok := motoCommand()
	if !ok && os.Getenv("ATREST_REQUIRE_MOTO") != "" {
		t.Fatal("moto is not installed (pip install 'moto[server]') and ATREST_REQUIRE_MOTO is set")
	}
	if !ok {
		t.Skip("SKIPPED LOUDLY: moto is not installed (pip install 'moto[server]'; Debian has no package): " +
			"the AWS KMS tests against moto's server did not run")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], append(argv[1:], "-H", "127.0.0.1", "-p", strconv.Itoa(port))...)
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=false")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	m := &moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	t.Cleanup(m.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto did not answer on %s within 30 s: %v\n%s", m.URL, err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop kills the server by its process id (moto_server, even through a
// pyenv shim, execs the Python process it is: no child is left).
func (m *moto) stop() {
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
}

// admin is a KMS client for setting moto up (creating and disabling keys)
// in region. Until enableAuth, moto accepts any credentials.
func (m *moto) admin(t *testing.T, region string) *kms.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAMOTOADMIN", "moto-admin", "")))
	if err != nil {
		t.Fatal(err)
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(m.URL) })
}

// createKey creates a symmetric key in region and returns its key id.
func (m *moto) createKey(t *testing.T, region string) string {
	t.Helper()
	out, err := m.admin(t, region).CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func (m *moto) disableKey(t *testing.T, region, id string) {
	t.Helper()
	if _, err := m.admin(t, region).DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

func (m *moto) createAlias(t *testing.T, region, alias, id string) {
	t.Helper()
	if _, err := m.admin(t, region).CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

// iam calls moto's IAM query API (signed, as any AWS request is) and
// returns the response body.
func (m *moto) iam(t *testing.T, action string, params url.Values) []byte {
	t.Helper()
	params.Set("Action", action)
	params.Set("Version", "2010-05-08")
	body := params.Encode()
	req, err := http.NewRequest(http.MethodPost, m.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "AKIAMOTOADMIN", SecretAccessKey: "moto-admin"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM %s: HTTP %d: %s", action, resp.StatusCode, out)
	}
	return out
}

// iamUser creates an IAM user, allowed every KMS action if kmsAllowed,
// and returns its access key.
func (m *moto) iamUser(t *testing.T, name string, kmsAllowed bool) (akid, secret string) {
	t.Helper()
	m.iam(t, "CreateUser", url.Values{"UserName": {name}})
	if kmsAllowed {
		m.iam(t, "PutUserPolicy", url.Values{"UserName": {name}, "PolicyName": {"kms"},
			"PolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}})
	}
	var out struct {
		Key struct {
			ID     string `xml:"AccessKeyId"`
			Secret string `xml:"SecretAccessKey"`
		} `xml:"CreateAccessKeyResult>AccessKey"`
	}
	if err := xml.Unmarshal(m.iam(t, "CreateAccessKey", url.Values{"UserName": {name}}), &out); err != nil || out.Key.ID == "" {
		t.Fatalf("CreateAccessKey: %v %+v", err, out)
	}
	return out.Key.ID, out.Key.Secret
}

// enableAuth makes moto check every later request's credentials against
// its IAM users and their policies (moto's reset-auth with no free
// requests left).
func (m *moto) enableAuth(t *testing.T) {
	t.Helper()
	resp, err := http.Post(m.URL+"/moto-api/reset-auth", "text/plain", strings.NewReader("0"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("reset-auth: HTTP %d: %s", resp.StatusCode, b)
	}
}

// motoEnv starts moto and points the SDK's default credential chain at
// test credentials and nothing else, as kmsEnv does for the fake.
func motoEnv(t *testing.T) *moto {
	t.Helper()
	m := startMoto(t)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAMOTOTEST", "AWS_SECRET_ACCESS_KEY": "moto-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": "/nonexistent/atrest-test", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/atrest-test",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	return m
}

// openMoto opens a KMS backend on moto.
func openMoto(t *testing.T, m *moto, c Config) keyenv.Backend {
	t.Helper()
	c.Endpoint = m.URL
	b, err := Open(context.Background(), c, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
