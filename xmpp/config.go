package xmpp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes the account and how to reach its server.
type Config struct {
	JID          string // bare JID of the account; "user@domain/res" sets Resource
	Password     string
	PasswordFile string // read when Password is empty; one trailing newline is ignored

	// Server is "host:port" or "host" (port 5222, 5223 for direct TLS). Empty
	// means a DNS SRV lookup (_xmpp-client._tcp, or _xmpps-client._tcp for
	// direct TLS) of the JID's domain, then the domain itself.
	Server string
	// TLS is "starttls" (default), "direct" (TLS from the first byte) or
	// "plain" (no TLS; refused unless Server is a loopback address).
	TLS                string
	CAFile             string // extra PEM CA(s) trusted for the server certificate
	InsecureSkipVerify bool

	Resource string // default "xircd"
	Priority int    // presence priority, -128..127

	ConnectTimeout time.Duration // whole connect: dial, TLS, SASL, bind; default 30s
	DeadTimeout    time.Duration // silence after which the stream is dead; default 60s
	PingInterval   time.Duration // keepalive XEP-0199 pings when idle; default DeadTimeout/2
	MinBackoff     time.Duration // first reconnect delay; default 1s
	MaxBackoff     time.Duration // reconnect delay cap; default 5m

	ClientName    string // jabber:iq:version name and disco identity; default "xircd"
	ClientVersion string // jabber:iq:version version; default "dev"

	// Logger is the session's, as is: the caller adds what names the
	// account (a With copies the handler, which a server of many users
	// keeps once per user).
	Logger *slog.Logger

	// OnEvent, when set, sees every event as it is queued for NextEvent,
	// one call at a time and in the order of the queue, and drops the
	// event when it returns false (the session's end still comes). It is
	// called by the session's goroutines with the queue locked: it must
	// return at once and not call the Session.
	OnEvent func(Event) bool
}

// Connection modes of Config.TLS.
const (
	TLSStartTLS = "starttls"
	TLSDirect   = "direct"
	TLSPlain    = "plain"
)

func (cfg *Config) normalize() error {
	jid := strings.TrimSpace(cfg.JID)
	if i := strings.IndexByte(jid, '/'); i >= 0 {
		if cfg.Resource == "" {
			cfg.Resource = jid[i+1:]
		}
		jid = jid[:i]
	}
	local, domain, ok := strings.Cut(jid, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(jid, " \t\r\n\"'<>&") {
		return fmt.Errorf("xmpp: jid %q is not a bare JID like user@example.org", cfg.JID)
	}
	cfg.JID = strings.ToLower(local) + "@" + strings.ToLower(domain)
	if cfg.Password == "" && cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return fmt.Errorf("xmpp: password_file: %w", err)
		}
		cfg.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	if cfg.Password == "" {
		return errors.New("xmpp: no password (password or password_file)")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSDirect, TLSPlain:
	default:
		return fmt.Errorf("xmpp: tls = %q: want \"starttls\", \"direct\" or \"plain\"", cfg.TLS)
	}
	if cfg.Server != "" {
		host, port, err := net.SplitHostPort(cfg.Server)
		if err != nil {
			host = cfg.Server
			port = "5222"
			if cfg.TLS == TLSDirect {
				port = "5223"
			}
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
			return fmt.Errorf("xmpp: server %q is not host:port", cfg.Server)
		}
		cfg.Server = net.JoinHostPort(host, port)
	}
	if cfg.TLS == TLSPlain && !isLoopback(cfg.Server) {
		return fmt.Errorf("xmpp: tls = \"plain\" is only allowed to a loopback server address, not %q", cfg.Server)
	}
	if cfg.Resource == "" {
		cfg.Resource = "xircd"
	}
	if cfg.Priority < -128 || cfg.Priority > 127 {
		return fmt.Errorf("xmpp: priority %d outside -128..127", cfg.Priority)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, 30*time.Second)
	def(&cfg.DeadTimeout, 60*time.Second)
	def(&cfg.PingInterval, cfg.DeadTimeout/2)
	def(&cfg.MinBackoff, time.Second)
	def(&cfg.MaxBackoff, 5*time.Minute)
	if cfg.PingInterval >= cfg.DeadTimeout {
		return fmt.Errorf("xmpp: ping interval %v must be shorter than the dead timeout %v", cfg.PingInterval, cfg.DeadTimeout)
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "xircd"
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// isLoopback reports whether hostport names the local machine literally.
func isLoopback(hostport string) bool {
	if hostport == "" {
		return false
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Session) tlsConfig() (*tls.Config, error) {
	var extra *x509.CertPool
	if s.cfg.CAFile != "" {
		var err error
		if extra, err = caFilePool(s.cfg.CAFile); err != nil {
			return nil, err
		}
	}
	key := tlsKey{domain: s.domain, insecure: s.cfg.InsecureSkipVerify, caFile: s.cfg.CAFile}
	tlsConfigs.Lock()
	defer tlsConfigs.Unlock()
	if c, ok := tlsConfigs.byKey[key]; ok && c.extra == extra {
		return c.tc, nil
	}
	tc := &tls.Config{
		ServerName:         s.domain,
		InsecureSkipVerify: s.cfg.InsecureSkipVerify, //nolint:gosec // explicit user choice
		MinVersion:         tls.VersionTLS12,
	}
	if extra != nil && !s.cfg.InsecureSkipVerify {
		// The system roots stay trusted, but they are parsed only when the
		// extra CA does not verify the server: loading the system pool
		// takes several MiB that a server signed by ca_file never needs.
		// The chain and host name are checked in verifyWithExtra instead of
		// by crypto/tls, which is why its own check is switched off here.
		tc.InsecureSkipVerify = true //nolint:gosec // verified in VerifyConnection
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyWithExtra(cs, extra)
		}
	}
	if tlsConfigs.byKey == nil {
		tlsConfigs.byKey = map[tlsKey]sharedTLSConfig{}
	}
	tlsConfigs.byKey[key] = sharedTLSConfig{extra: extra, tc: tc}
	return tc, nil
}

// tlsConfigs holds the TLS configuration of each server name, verification
// and ca_file, shared by every stream that uses it (crypto/tls allows that)
// instead of one copy per stream kept for as long as it lasts (about 500
// bytes a user in multi-user mode). The server names are the allowed
// domains' (or the one account's), so the map stays small.
var tlsConfigs struct {
	sync.Mutex
	byKey map[tlsKey]sharedTLSConfig
}

type tlsKey struct {
	domain   string
	insecure bool
	caFile   string
}

// sharedTLSConfig is a TLS configuration and the ca_file pool it verifies
// with: a changed ca_file gives a new pool, and then a new configuration.
type sharedTLSConfig struct {
	extra *x509.CertPool
	tc    *tls.Config
}

// caFilePools holds the pool of each ca_file as last read, shared by every
// session and stream that names it: many users' sessions would otherwise
// each keep a parsed copy (about 2 KiB each) and parse it again at every
// login. The file is still read at every connection, so that a changed CA
// is used from the next one on.
var caFilePools struct {
	sync.Mutex
	byPath map[string]parsedCAFile
}

// parsedCAFile is a ca_file's content and the pool parsed from it.
type parsedCAFile struct {
	pem  []byte
	pool *x509.CertPool
}

// caFilePool returns the pool of the PEM certificates in path, parsed
// again only when the file changed since the last call.
func caFilePool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("xmpp: ca_file: %w", err)
	}
	caFilePools.Lock()
	defer caFilePools.Unlock()
	if c, ok := caFilePools.byPath[path]; ok && bytes.Equal(c.pem, pem) {
		return c.pool, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("xmpp: ca_file %s holds no PEM certificate", path)
	}
	if caFilePools.byPath == nil {
		caFilePools.byPath = map[string]parsedCAFile{}
	}
	caFilePools.byPath[path] = parsedCAFile{pem: pem, pool: pool}
	return pool, nil
}

// verifyWithExtra verifies the server's chain and name against the extra CA
// pool first and then against the system roots.
func verifyWithExtra(cs tls.ConnectionState, extra *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("xmpp: server sent no certificate")
	}
	if cs.ServerName == "" {
		// x509 skips the host name check for an empty name.
		return errors.New("xmpp: no server name to verify the certificate against")
	}
	opts := x509.VerifyOptions{DNSName: cs.ServerName, Roots: extra, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(opts); err == nil {
		return nil
	}
	opts.Roots = nil // the system roots
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("xmpp: server certificate: %w", err)
	}
	return nil
}

// serverAddr returns the address to dial: the configured server, else the
// best SRV target, else the domain on the default port.
func (s *Session) serverAddr(ctx context.Context) string {
	if s.cfg.Server != "" {
		return s.cfg.Server
	}
	service, port := "xmpp-client", "5222"
	if s.cfg.TLS == TLSDirect {
		service, port = "xmpps-client", "5223"
	}
	_, addrs, err := net.DefaultResolver.LookupSRV(ctx, service, "tcp", s.domain)
	if err == nil && len(addrs) > 0 && addrs[0].Target != "." {
		// LookupSRV sorts by priority and randomizes by weight.
		return net.JoinHostPort(strings.TrimSuffix(addrs[0].Target, "."), strconv.Itoa(int(addrs[0].Port)))
	}
	return net.JoinHostPort(s.domain, port)
}

// String describes the configuration without the password.
func (cfg Config) String() string {
	pw := "(none)"
	if cfg.Password != "" {
		pw = "(redacted)"
	}
	return fmt.Sprintf("xmpp.Config{JID: %q, Password: %s, PasswordFile: %q, Server: %q, TLS: %q, CAFile: %q, InsecureSkipVerify: %v, Resource: %q, Priority: %d}",
		cfg.JID, pw, cfg.PasswordFile, cfg.Server, cfg.TLS, cfg.CAFile, cfg.InsecureSkipVerify, cfg.Resource, cfg.Priority)
}

// LogValue keeps the password out of structured logs.
func (cfg Config) LogValue() slog.Value {
	return slog.StringValue(cfg.String())
}
