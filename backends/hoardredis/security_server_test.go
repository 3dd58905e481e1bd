package hoardredis_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ownServer is a redis-server the test starts itself: ACL users, passwords
// and TLS are set only on servers of our own, never on the shared one.
type ownServer struct {
	addr string
	dir  string
}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs redis-server with args added to a port, a data dir and
// no persistence, and waits until its port accepts connections (ping, when
// given, then checks it answers). It skips the test when redis-server is
// not installed, or when the log says the build lacks what args ask for
// (TLS).
func startServer(t *testing.T, args []string, tlsPort bool, ping func(addr string) error) *ownServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: this test needs a server of its own (apt-get install redis-server)")
	}
	port := freePort(t)
	dir := t.TempDir()
	portArgs := []string{"--port", strconv.Itoa(port)}
	if tlsPort {
		portArgs = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	all := append(append(portArgs, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", ""), args...)
	logf, err := os.Create(filepath.Join(dir, "hoardredis.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, all...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logf.Close()
	})
	s := &ownServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			if strings.Contains(string(b), "TLS") && (strings.Contains(string(b), "not supported") || strings.Contains(string(b), "Bad directive")) {
				t.Skipf("this redis-server has no TLS support (built without BUILD_TLS=yes):\n%s", b)
			}
			t.Fatalf("redis-server %v exited at start:\n%s", all, b)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			if ping == nil {
				return s
			}
			if err = ping(s.addr); err == nil {
				return s
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("redis-server at %s does not answer: %v; its log:\n%s", s.addr, err, b)
		}
	}
}

// pingAs returns a ping function for startServer that logs in as user.
func pingAs(user, password string, tlsConfig *tls.Config) func(string) error {
	return func(addr string) error {
		c := goredis.NewClient(&goredis.Options{Addr: addr, Username: user, Password: password, TLSConfig: tlsConfig, MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
}
