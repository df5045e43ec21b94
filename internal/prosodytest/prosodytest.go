// Package prosodytest runs a throwaway Prosody XMPP server for tests and
// benchmarks: its own temporary config, data and self-signed certificate, a
// client port on 127.0.0.1, a MUC component, and helpers that create accounts
// and rosters by writing Prosody's storage files directly.
package prosodytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options tune the server. The zero value is a server that requires TLS for
// authentication, like a production one.
type Options struct {
	// AllowPlain lets clients authenticate without TLS (loopback tests of the
	// "plain" mode). StartTLS stays offered.
	AllowPlain bool
	// ArchiveLimit is storage_archive_item_limit; 0 means 1,000,000 so that
	// benchmarks never hit Prosody's slow archive-rewrite path.
	ArchiveLimit int
	// NoMAM leaves mod_mam out (about twice the message throughput).
	NoMAM bool
	// ExtraModules are added to modules_enabled.
	ExtraModules []string
	// ExtraConfig is appended verbatim to the global section of the config.
	ExtraConfig string
	// LogLevel is the lowest level written to LogFile: "debug" (default,
	// every stanza; handy for failing tests), "info", "warn" or "error"
	// (for benchmarks).
	LogLevel string
	// TLS12 limits the server to TLS 1.2, where Prosody 0.12 offers the
	// SCRAM -PLUS mechanisms (with tls-unique channel binding, which TLS 1.3
	// does not define).
	TLS12 bool
	// DirectTLS also opens a direct-TLS (XEP-0368) client port, DirectTLSAddr.
	DirectTLS bool
	// StartTimeout bounds the wait for the port to accept; 0 means 15s.
	StartTimeout time.Duration
	// FileShareLimit, when above 0, runs an XEP-0363 upload service
	// (mod_http_file_share) as the component UploadDomain, taking files
	// of at most that many bytes, with its HTTP on HTTPAddr.
	FileShareLimit int64
	// Moderation loads mod_muc_moderation (XEP-0425, from Debian's
	// prosody-modules) on the MUC component.
	Moderation bool
}

// Server is a running Prosody.
type Server struct {
	Domain    string // "localhost"
	MUCDomain string // "conference.localhost"
	Addr      string // 127.0.0.1:port of the client (c2s) listener
	Port      int
	// DirectTLSAddr is 127.0.0.1:port of the direct-TLS client listener
	// when Options.DirectTLS is set.
	DirectTLSAddr string
	// UploadDomain and HTTPAddr (127.0.0.1:port, plain HTTP) are the
	// upload service's when Options.FileShareLimit is set.
	UploadDomain string
	HTTPAddr     string
	CAFile       string // PEM of the self-signed certificate clients should trust
	Dir          string // temporary directory holding config, data, cert and log
	LogFile      string

	opts       Options
	config     string
	directPort int

	mu           sync.Mutex
	accountFiles map[string]string // password -> account file text
	cmd          *exec.Cmd
	done         chan struct{} // closed when cmd has exited
}

// ErrNotInstalled is returned by Start when no prosody binary is found.
var ErrNotInstalled = errors.New("prosody not installed: apt-get install prosody")

// ModerationModule is where Debian's prosody-modules installs
// mod_muc_moderation, in a folder Prosody already searches for modules.
const ModerationModule = "/usr/lib/prosody/modules/mod_muc_moderation/mod_muc_moderation.lua"

// ErrNoModeration is returned by Start when Options.Moderation is set and
// ModerationModule is missing.
var ErrNoModeration = errors.New("mod_muc_moderation not installed: apt-get install prosody-modules")

// Installed reports whether a prosody binary is on PATH.
func Installed() bool {
	_, err := exec.LookPath("prosody")
	return err == nil
}

// Require stops a test that needs prosody when it is missing: the test is
// skipped, except with CI=true where it fails.
func Require(t testing.TB) {
	t.Helper()
	if !Installed() {
		if os.Getenv("CI") == "true" {
			t.Fatal(ErrNotInstalled)
		}
		t.Skip(ErrNotInstalled.Error())
	}
}

// requireModules stops a test whose opts need a module that is missing, as
// Require does for prosody itself.
func requireModules(t testing.TB, opts Options) {
	t.Helper()
	if err := checkModules(opts); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
}

func checkModules(opts Options) error {
	if !opts.Moderation {
		return nil
	}
	if _, err := os.Stat(ModerationModule); err != nil {
		return ErrNoModeration
	}
	return nil
}

// StartT starts a server for a test and stops it in t.Cleanup, which also
// removes Dir unless PROSODYTEST_KEEP is set. When prosody, or a module
// opts ask for, is missing it stops the test as Require does.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	requireModules(t, opts)
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping prosody: %v", err)
		}
		if t.Failed() {
			if b, err := os.ReadFile(s.LogFile); err == nil {
				t.Logf("prosody log (%s):\n%s", s.LogFile, tail(b, 4000))
			}
		}
		if os.Getenv("PROSODYTEST_KEEP") != "" {
			t.Logf("keeping %s (PROSODYTEST_KEEP)", s.Dir)
			return
		}
		os.RemoveAll(s.Dir)
	})
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Start creates the temporary directory, writes config and certificate and
// starts Prosody; it returns once the client port accepts connections. The
// caller must call Close (or Stop, keeping Dir for inspection).
func Start(opts Options) (_ *Server, err error) {
	if !Installed() {
		return nil, ErrNotInstalled
	}
	if err := checkModules(opts); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "prosodytest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	s := &Server{
		Domain:    "localhost",
		MUCDomain: "conference.localhost",
		Dir:       dir,
		LogFile:   filepath.Join(dir, "prosody.log"),
		CAFile:    filepath.Join(dir, "cert.pem"),
		opts:      opts,
		config:    filepath.Join(dir, "prosody.cfg.lua"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := WriteCert(s.CAFile, keyFile, []string{s.Domain, s.MUCDomain}); err != nil {
		return nil, fmt.Errorf("prosodytest: certificate: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.Port = port
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	if opts.DirectTLS {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.directPort = p
		s.DirectTLSAddr = fmt.Sprintf("127.0.0.1:%d", p)
	}
	if opts.FileShareLimit > 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.UploadDomain, s.HTTPAddr = "upload."+s.Domain, fmt.Sprintf("127.0.0.1:%d", p)
	}
	if err := os.WriteFile(s.config, []byte(s.configText(keyFile)), 0o600); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) configText(keyFile string) string {
	limit := s.opts.ArchiveLimit
	if limit == 0 {
		limit = 1000000
	}
	modules := []string{"roster", "saslauth", "tls", "disco", "carbons", "ping",
		"presence", "private", "vcard", "bookmarks", "smacks", "csi", "pep", "version", "offline"}
	if !s.opts.NoMAM {
		modules = append(modules, "mam")
	}
	modules = append(modules, s.opts.ExtraModules...)
	var b strings.Builder
	fmt.Fprintf(&b, "-- generated by prosodytest\n")
	if os.Geteuid() == 0 {
		b.WriteString("run_as_root = true\n")
	}
	fmt.Fprintf(&b, "pidfile = %s\n", luaQuote(filepath.Join(s.Dir, "prosody.pid")))
	fmt.Fprintf(&b, "data_path = %s\n", luaQuote(filepath.Join(s.Dir, "data")))
	fmt.Fprintf(&b, "certificates = %s\n", luaQuote(s.Dir))
	level := s.opts.LogLevel
	switch level {
	case "":
		level = "debug"
	case "debug", "info", "warn", "error":
	default:
		level = "debug"
	}
	fmt.Fprintf(&b, "log = { %s = %s }\n", level, luaQuote(s.LogFile))
	b.WriteString("daemonize = false\n")
	b.WriteString("interfaces = { \"127.0.0.1\" }\nc2s_interfaces = { \"127.0.0.1\" }\n")
	fmt.Fprintf(&b, "c2s_ports = { %d }\n", s.Port)
	if s.directPort != 0 {
		fmt.Fprintf(&b, "c2s_direct_tls_ports = { %d }\nc2s_direct_tls_interfaces = { \"127.0.0.1\" }\n", s.directPort)
		fmt.Fprintf(&b, "c2s_direct_tls_ssl = { certificate = %s; key = %s; }\n", luaQuote(s.CAFile), luaQuote(keyFile))
	} else {
		b.WriteString("c2s_direct_tls_ports = {}\n")
	}
	b.WriteString("legacy_ssl_ports = {}\ns2s_ports = {}\ncomponent_ports = {}\nhttps_ports = {}\n")
	if s.HTTPAddr != "" {
		_, port, _ := net.SplitHostPort(s.HTTPAddr)
		fmt.Fprintf(&b, "http_ports = { %s }\nhttp_interfaces = { \"127.0.0.1\" }\n", port)
		// URLs that the test can fetch, whatever Host it sends.
		fmt.Fprintf(&b, "http_external_url = %s\nhttp_default_host = %s\n", luaQuote("http://"+s.HTTPAddr+"/"), luaQuote(s.UploadDomain))
	} else {
		b.WriteString("http_ports = {}\n")
	}
	b.WriteString("modules_disabled = { \"s2s\", \"limits\" }\n")
	b.WriteString("modules_enabled = {")
	for _, m := range modules {
		fmt.Fprintf(&b, " %s;", luaQuote(m))
	}
	b.WriteString(" }\n")
	b.WriteString("authentication = \"internal_hashed\"\nstorage = \"internal\"\n")
	fmt.Fprintf(&b, "storage_archive_item_limit = %d\n", limit)
	b.WriteString("archive_expires_after = \"never\"\n")
	b.WriteString("default_archive_policy = true\n")
	if s.opts.AllowPlain {
		b.WriteString("c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n")
	} else {
		b.WriteString("c2s_require_encryption = true\n")
	}
	protocol := ""
	if s.opts.TLS12 {
		protocol = " protocol = \"tlsv1_2\";"
	}
	fmt.Fprintf(&b, "ssl = { certificate = %s; key = %s;%s }\n",
		luaQuote(s.CAFile), luaQuote(keyFile), protocol)
	b.WriteString(s.opts.ExtraConfig)
	b.WriteString("\n")
	fmt.Fprintf(&b, "VirtualHost %s\n", luaQuote(s.Domain))
	fmt.Fprintf(&b, "Component %s \"muc\"\n", luaQuote(s.MUCDomain))
	if s.opts.Moderation {
		b.WriteString("  modules_enabled = { \"muc_mam\", \"muc_moderation\" }\n")
	} else {
		b.WriteString("  modules_enabled = { \"muc_mam\" }\n")
	}
	b.WriteString("  muc_room_default_history_length = 50\n")
	b.WriteString("  restrict_room_creation = false\n")
	if s.UploadDomain != "" {
		fmt.Fprintf(&b, "Component %s \"http_file_share\"\n", luaQuote(s.UploadDomain))
		fmt.Fprintf(&b, "  http_file_share_size_limit = %d\n", s.opts.FileShareLimit)
	}
	return b.String()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("prosodytest: already running")
	}
	cmd := exec.Command("prosody", "--config", s.config, "-F")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.Dir = s.Dir
	// Own process group, so Stop can kill prosody and anything it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("prosodytest: starting prosody: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	timeout := s.opts.StartTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("prosodytest: prosody exited at start: %s\n%s", cmd.ProcessState, tail(out.Bytes(), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("prosodytest: port %s not accepting after %v", s.Addr, timeout)
		}
	}
}

// Stop stops Prosody (SIGTERM, then SIGKILL of its process group after 5s)
// and waits for it to exit. Data stay in Dir. Stopping twice is harmless.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	if s.cmd == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("prosodytest: prosody (pid %d) does not exit", pgid)
		}
	}
	s.cmd = nil
	// The listening socket is gone when the process is; wait until the port
	// refuses so that a Restart can bind it again.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Close stops Prosody and removes Dir.
func (s *Server) Close() error {
	err := s.Stop()
	if rerr := os.RemoveAll(s.Dir); err == nil {
		err = rerr
	}
	return err
}

// Restart stops and starts Prosody on the same port with the same data.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// PID returns the process id of the running server, or 0.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Dial connects to the client port (a convenience for raw-socket tests).
func (s *Server) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Addr)
}
