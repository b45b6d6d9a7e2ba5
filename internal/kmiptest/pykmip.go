// Package kmiptest runs a real KMIP server for tests: PyKMIP's
// pykmip-server (Debian package python3-pykmip), with a CA, a server
// certificate and client certificates made here, in a temporary
// directory, on a free port of 127.0.0.1. It is not a fake: the tests
// talk KMIP over TLS with client certificates to the same server users
// run.
package kmiptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Package names the apt package that provides the server.
const Package = "python3-pykmip"

// serverCommand is PyKMIP's server script; its #! line names Debian's
// /usr/bin/python3, which is the interpreter PyKMIP is installed for
// (another python3 on PATH would not have it).
const serverCommand = "/usr/bin/pykmip-server"

// ErrNoServer means pykmip-server is not installed.
var ErrNoServer = errors.New(serverCommand + " not found: apt-get install " + Package)

// Server is a running pykmip-server.
type Server struct {
	// Addr is host:port of the server (127.0.0.1).
	Addr string
	// CAFile is the PEM CA that signed the server's and clients'
	// certificates.
	CAFile string
	// ServerName is the DNS name in the server's certificate (it also
	// carries 127.0.0.1).
	ServerName string
	// Dir holds the certificates, configuration, database and log.
	Dir string

	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	cmd    *exec.Cmd
	exited chan struct{}
	stop   sync.Once
}

// Start makes a CA and a server certificate in dir, writes PyKMIP's
// configuration there and starts pykmip-server on a free port, returning
// once it accepts connections (or an error after timeout). Close kills it.
func Start(dir string, timeout time.Duration) (*Server, error) {
	if _, err := os.Stat(serverCommand); err != nil {
		return nil, ErrNoServer
	}
	s := &Server{Dir: dir, ServerName: "kmip.atrest.test", CAFile: filepath.Join(dir, "ca.pem"), exited: make(chan struct{})}
	var err error
	if s.ca, s.caKey, err = newCA("atrest test KMIP CA"); err != nil {
		return nil, err
	}
	if err := writePEM(s.CAFile, "CERTIFICATE", s.ca.Raw); err != nil {
		return nil, err
	}
	serverCert, serverKey := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	if err := s.issue(serverCert, serverKey, "kmip server", x509.ExtKeyUsageServerAuth, s.ServerName); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	policies := filepath.Join(dir, "policies")
	if err := os.MkdirAll(policies, 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`[server]
hostname=127.0.0.1
port=%d
certificate_path=%s
key_path=%s
ca_path=%s
auth_suite=TLS1.2
policy_path=%s
enable_tls_client_auth=True
logging_level=INFO
database_path=%s
`, port, serverCert, serverKey, s.CAFile, policies, filepath.Join(dir, "pykmip.db"))
	confPath := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(serverCommand, "-f", confPath, "-l", filepath.Join(dir, "server.log"))
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// The server forks helpers (multiprocessing's manager); a process
	// group of its own lets Close end them with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", serverCommand, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			return nil, fmt.Errorf("%s exited: %s", serverCommand, log)
		default:
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("%s did not listen on %s within %v", serverCommand, s.Addr, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close kills the server and the helpers it forked (its process group,
// whose id is the server's process id) and returns once the server has
// exited and no process of the group is alive (or after ten seconds).
func (s *Server) Close() {
	s.stop.Do(func() {
		if s.cmd.Process != nil {
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
			killGroup(s.cmd.Process.Pid, 10*time.Second)
		}
	})
}

// PID is the server's process id, which is also its process group's.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// ClientCert issues a client certificate for identity (its common name,
// which PyKMIP takes as the client's identity and the owner of the
// objects it creates) and writes it and its key to dir, returning their
// paths.
func (s *Server) ClientCert(dir, identity string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, identity+".pem"), filepath.Join(dir, identity+".key")
	return certFile, keyFile, s.issue(certFile, keyFile, identity, x509.ExtKeyUsageClientAuth, "")
}

// ServerAuthCert issues, from the server's CA, a certificate for identity
// marked for server authentication only, which the server refuses as a
// client's in the TLS handshake.
func (s *Server) ServerAuthCert(dir, identity string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, identity+".pem"), filepath.Join(dir, identity+".key")
	return certFile, keyFile, s.issue(certFile, keyFile, identity, x509.ExtKeyUsageServerAuth, "")
}

// ForeignClientCert is a client certificate from another CA, which the
// server refuses in the TLS handshake.
func ForeignClientCert(dir, identity string) (certFile, keyFile string, err error) {
	ca, caKey, err := newCA("stranger CA")
	if err != nil {
		return "", "", err
	}
	other := &Server{ca: ca, caKey: caKey}
	return other.ClientCert(dir, identity)
}

func (s *Server) issue(certFile, keyFile, cn string, usage x509.ExtKeyUsage, dnsName string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if dnsName != "" {
		tmpl.DNSNames = []string{dnsName}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca, &key.PublicKey, s.caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(keyFile, "PRIVATE KEY", keyDER)
}

func newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
