package hoardredis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// testCA is a self-signed certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issueServer returns the PEM certificate and key of a server named
// localhost and 127.0.0.1, signed by ca.
func (ca *testCA) issueServer(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// tlsServer starts a redis-server of its own that speaks TLS only (--port
// 0), with a certificate signed by ca, not asking clients for theirs.
func tlsServer(t *testing.T, ca *testCA) string {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM := ca.issueServer(t)
	files := map[string][]byte{"ca.pem": ca.pem, "server.pem": certPEM, "server.key": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	s := startServer(t, []string{
		"--tls-cert-file", filepath.Join(dir, "server.pem"),
		"--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"),
		"--tls-auth-clients", "no",
	}, true, pingAs("", "", cfg))
	return s.addr
}

// A cache and a bus over TLS to a redis-server with a self-signed CA: the
// client trusts the CA through tls.Config.RootCAs, and every operation
// works.
func TestSecurityTLS(t *testing.T) {
	ca := newTestCA(t, "hoard test CA")
	addr := tlsServer(t, ca)
	client := goredis.NewClient(&goredis.Options{
		Addr:      addr,
		TLSConfig: &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12},
	})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := hoardredis.New[string](client, nil)
	must(t, err)
	must(t, c.Set(ctx, "k", hoard.Entry[string]{Value: "over tls"}))
	if e, err := c.Get(ctx, "k"); err != nil || e.Value != "over tls" {
		t.Fatalf("Get over TLS = %q, %v", e.Value, err)
	}
	if n, err := c.IncrBy(ctx, "ctr", 5); err != nil || n < 5 {
		t.Fatalf("IncrBy over TLS = %d, %v", n, err)
	}
	if n, err := c.DeletePrefix(ctx, "k"); err != nil || n != 1 {
		t.Fatalf("DeletePrefix over TLS = %d, %v", n, err)
	}

	pub, err := hoardredis.NewBus(client, nil)
	must(t, err)
	defer pub.Close(ctx)
	sub, err := hoardredis.NewBus(client, nil)
	must(t, err)
	defer sub.Close(ctx)
	got := make(chan hoard.Invalidation, 4)
	defer sub.Subscribe(func(evs []hoard.Invalidation) {
		for _, ev := range evs {
			got <- ev
		}
	})()
	must(t, sub.Ready(ctx))
	must(t, pub.Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: "k"}))
	select {
	case ev := <-got:
		if ev.Value != "k" {
			t.Fatalf("bus over TLS delivered %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("the bus over TLS delivered nothing")
	}
}

// A client that does not trust the server's CA, or that speaks plain TCP
// to the TLS port, fails with a clear error on the first call: the
// certificate error is wrapped (errors.As finds it), not a miss.
func TestSecurityTLSWrongCA(t *testing.T) {
	ca := newTestCA(t, "hoard test CA")
	addr := tlsServer(t, ca)
	other := newTestCA(t, "some other CA")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	client := goredis.NewClient(&goredis.Options{
		Addr: addr, MaxRetries: -1, DialerRetries: 1,
		TLSConfig: &tls.Config{RootCAs: other.pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12},
	})
	defer client.Close()
	c, err := hoardredis.New[string](client, nil)
	must(t, err)
	_, err = c.Get(ctx, "k")
	var unknown x509.UnknownAuthorityError
	if err == nil || errors.Is(err, hoard.ErrNotFound) || !errors.As(err, &unknown) || !strings.HasPrefix(err.Error(), "hoard:") {
		t.Fatalf("Get with a client that does not trust the CA: %v; want a hoard: error wrapping x509.UnknownAuthorityError", err)
	}
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("error %q does not say the certificate is untrusted", err)
	}
	if err := c.Set(ctx, "k", hoard.Entry[string]{Value: "v"}); !errors.As(err, &unknown) {
		t.Errorf("Set with a client that does not trust the CA: %v", err)
	}
	t.Logf("wrong CA: %v", err)

	plain := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, ReadTimeout: time.Second})
	defer plain.Close()
	pc, err := hoardredis.New[string](plain, nil)
	must(t, err)
	if _, err := pc.Get(ctx, "k"); err == nil || errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get in plain TCP from a TLS-only port: %v; want an error", err)
	} else {
		t.Logf("plain TCP to the TLS port: %v", err)
	}
}
