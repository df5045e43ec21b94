package xmpp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// testCA makes a self-signed CA and a leaf for host signed by it.
func testCA(t *testing.T, host string) (ca, leaf *x509.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(leafDER)
	return ca, leaf
}

func TestVerifyWithExtra(t *testing.T) {
	ca, leaf := testCA(t, "xmpp.example")
	other, _ := testCA(t, "xmpp.example")
	pool := func(c *x509.Certificate) *x509.CertPool { p := x509.NewCertPool(); p.AddCert(c); return p }
	state := func(name string) tls.ConnectionState {
		return tls.ConnectionState{ServerName: name, PeerCertificates: []*x509.Certificate{leaf}}
	}
	if err := verifyWithExtra(state("xmpp.example"), pool(ca)); err != nil {
		t.Errorf("leaf signed by the extra CA: %v", err)
	}
	if err := verifyWithExtra(state("other.example"), pool(ca)); err == nil {
		t.Error("wrong host name verified")
	}
	if err := verifyWithExtra(state("xmpp.example"), pool(other)); err == nil {
		t.Error("leaf of an untrusted CA verified")
	}
	if err := verifyWithExtra(state(""), pool(ca)); err == nil {
		t.Error("verified without a server name")
	}
	if err := verifyWithExtra(tls.ConnectionState{ServerName: "xmpp.example"}, pool(ca)); err == nil {
		t.Error("no certificate verified")
	}
}
