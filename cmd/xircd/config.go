package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"xircd/bridge"
	"xircd/internal/filehost"
	"xircd/ircd"
)

// Config is the whole configuration file. Every key is documented, with its
// default, in config.example.toml.
type Config struct {
	IRC       IRCConfig       `toml:"irc"`
	XMPP      XMPPConfig      `toml:"xmpp"`
	Bridge    BridgeConfig    `toml:"bridge"`
	MultiUser MultiUserConfig `toml:"multiuser"`
}

// MultiUserConfig is the [multiuser] table: one xircd for many people,
// each logging in with their own XMPP account.
type MultiUserConfig struct {
	Enabled        bool     `toml:"enabled"`
	AllowedDomains []string `toml:"allowed_domains"`
	AllowedJIDs    []string `toml:"allowed_jids"`
	MaxUsers       int      `toml:"max_users"`
	ClientsPerUser int      `toml:"clients_per_user"`
	RoomsPerUser   int      `toml:"rooms_per_user"`
	MetricsListen  string   `toml:"metrics_listen"`
}

// IRCConfig is the [irc] table.
type IRCConfig struct {
	ServerName   string   `toml:"server_name"`
	Network      string   `toml:"network"`
	Listen       string   `toml:"listen"`
	TLSListen    string   `toml:"tls_listen"`
	TLSCert      string   `toml:"tls_cert"`
	TLSKey       string   `toml:"tls_key"`
	Password     string   `toml:"password"`
	MOTD         string   `toml:"motd"`
	PingInterval duration `toml:"ping_interval"`
	PingTimeout  duration `toml:"ping_timeout"`
	SendQueue    int      `toml:"send_queue"`
	HTTPListen   string   `toml:"http_listen"`
	HTTPURL      string   `toml:"http_url"`
	// ProxyFrom lists the addresses and CIDR prefixes of proxies that
	// send a PROXY protocol header before IRC (or TLS); empty: none.
	ProxyFrom []string `toml:"proxy_from"`
}

// XMPPConfig is the [xmpp] table.
type XMPPConfig struct {
	JID                string   `toml:"jid"`
	Password           string   `toml:"password"`
	PasswordFile       string   `toml:"password_file"`
	Server             string   `toml:"server"`
	TLS                string   `toml:"tls"`
	CAFile             string   `toml:"ca_file"`
	InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
	Resource           string   `toml:"resource"`
	Priority           int      `toml:"priority"`
	MUCService         string   `toml:"muc_service"`
	PingInterval       duration `toml:"ping_interval"`
	DeadTimeout        duration `toml:"dead_timeout"`
}

// BridgeConfig is the [bridge] table.
type BridgeConfig struct {
	ControlChannel string `toml:"control_channel"`
	StateDir       string `toml:"state_dir"`
	ShowOffline    bool   `toml:"show_offline"`
	Backlog        int    `toml:"backlog"`
	BacklogBytes   int    `toml:"backlog_bytes"`
	Strangers      string `toml:"strangers"`
	ReadMarkers    bool   `toml:"read_markers"`
	SedCorrections bool   `toml:"sed_corrections"`
}

// minSendQueue is the smallest irc.send_queue: a few long lines.
const minSendQueue = 16 << 10

// duration is a time.Duration written as a string such as "90s" or "2m".
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (use e.g. \"90s\" or \"2m\"): %q", b)
	}
	if v < 0 {
		return fmt.Errorf("duration must not be negative: %q", b)
	}
	d.Duration = v
	return nil
}

func defaultConfig() Config {
	return Config{
		IRC: IRCConfig{
			ServerName:   "xircd",
			Network:      "xircd",
			Listen:       "127.0.0.1:6667",
			PingInterval: duration{90 * time.Second},
			PingTimeout:  duration{60 * time.Second},
			SendQueue:    ircd.DefaultSendQueueBytes,
			ProxyFrom:    []string{},
		},
		XMPP: XMPPConfig{
			TLS:          "starttls",
			Resource:     "xircd",
			PingInterval: duration{30 * time.Second},
			DeadTimeout:  duration{60 * time.Second},
		},
		MultiUser: MultiUserConfig{
			AllowedDomains: []string{},
			AllowedJIDs:    []string{},
			MaxUsers:       100,
			ClientsPerUser: 5,
			RoomsPerUser:   100,
		},
		Bridge: BridgeConfig{
			ControlChannel: "&xmpp",
			Backlog:        bridge.DefaultBacklog,
			BacklogBytes:   bridge.DefaultBacklogBytes,
			Strangers:      "accept",
			ReadMarkers:    true,
			SedCorrections: true,
		},
	}
}

// loadConfig reads, decodes and validates the file at path. Errors are one
// line naming the file, the key and, when the file sets the key, its line.
func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, data)
}

func parseConfig(path string, data []byte) (*Config, error) {
	cfg := defaultConfig()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := strings.TrimPrefix(pe.Message, "toml: ")
			if pe.LastKey != "" {
				return nil, fmt.Errorf("%s:%d: %s: %s", path, pe.Position.Line, pe.LastKey, msg)
			}
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, msg)
		}
		if m := decodeErr.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s: %s", path, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, located(path, data, badValue("unknown key "+k.String(), k.String()))
	}
	if err := cfg.resolve(); err != nil {
		return nil, located(path, data, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, located(path, data, err)
	}
	return &cfg, nil
}

// keyError is a configuration error about the keys it names, the one to
// blame first.
type keyError struct {
	msg  string
	keys []string
}

func (e *keyError) Error() string { return e.msg }

// badValue returns a keyError; msg names the keys too.
func badValue(msg string, keys ...string) error {
	return &keyError{msg: msg, keys: keys}
}

// located puts the file and, for a keyError, the line of the first of its
// keys that the file sets in front of err.
func located(path string, data []byte, err error) error {
	var ke *keyError
	if errors.As(err, &ke) {
		for _, k := range ke.keys {
			if line := keyLine(data, toml.Key(strings.Split(k, "."))); line > 0 {
				return fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
	}
	return fmt.Errorf("%s: %w", path, err)
}

// decodeErr matches the decoder's type errors, which are not ParseErrors.
var decodeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// keyLine returns the line where key k is set, or 0 when the file does not
// set it. The decoder knows where every key stands but tells only in the
// error of a value that refuses to be decoded, so k's value is decoded into
// lineProbe.
func keyLine(data []byte, k toml.Key) int {
	var level map[string]toml.Primitive
	md, err := toml.Decode(string(data), &level)
	if err != nil {
		return 0
	}
	for i, name := range k {
		p, ok := level[name]
		if !ok {
			return 0
		}
		if i == len(k)-1 {
			var pe toml.ParseError
			if errors.As(md.PrimitiveDecode(p, lineProbe{}), &pe) {
				return pe.Position.Line
			}
			return 0
		}
		level = nil
		if md.PrimitiveDecode(p, &level) != nil {
			return 0
		}
	}
	return 0
}

// lineProbe refuses every value, which makes the decoder report its position.
type lineProbe struct{}

func (lineProbe) UnmarshalTOML(any) error { return errors.New("line probe") }

// resolve reads secrets kept in files.
func (c *Config) resolve() error {
	if c.XMPP.PasswordFile != "" {
		if c.XMPP.Password != "" {
			return badValue("xmpp.password and xmpp.password_file are both set; keep one", "xmpp.password_file", "xmpp.password")
		}
		b, err := os.ReadFile(c.XMPP.PasswordFile)
		if err != nil {
			return badValue("xmpp.password_file: "+err.Error(), "xmpp.password_file")
		}
		c.XMPP.Password = strings.TrimRight(string(b), "\r\n")
	}
	return nil
}

func (c *Config) validate() error {
	irc := &c.IRC
	if irc.ServerName == "" || strings.ContainsAny(irc.ServerName, " \t\r\n\x00:!@") {
		return badValue("irc.server_name must be a non-empty name without spaces, ':', '!' or '@'", "irc.server_name")
	}
	if irc.Listen == "" && irc.TLSListen == "" {
		return badValue("irc.listen and irc.tls_listen are both empty: xircd would accept no clients", "irc.listen", "irc.tls_listen")
	}
	for _, l := range []struct{ key, addr string }{{"irc.listen", irc.Listen}, {"irc.tls_listen", irc.TLSListen}, {"irc.http_listen", irc.HTTPListen}} {
		if l.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(l.addr)
		if err != nil {
			return badValue(fmt.Sprintf("%s: %q is not host:port", l.key, l.addr), l.key)
		}
		if irc.Password == "" && !c.MultiUser.Enabled && !isLoopbackHost(host) {
			return badValue(fmt.Sprintf("%s: %q is not a loopback address; set irc.password before listening on the network", l.key, l.addr), l.key)
		}
	}
	if irc.SendQueue < minSendQueue {
		return badValue(fmt.Sprintf("irc.send_queue = %d: a client's send queue needs at least %d bytes", irc.SendQueue, minSendQueue), "irc.send_queue")
	}
	if irc.TLSListen != "" && (irc.TLSCert == "" || irc.TLSKey == "") {
		return badValue("irc.tls_listen needs irc.tls_cert and irc.tls_key", "irc.tls_listen", "irc.tls_cert", "irc.tls_key")
	}
	if irc.TLSListen == "" && (irc.TLSCert != "" || irc.TLSKey != "") {
		return badValue("irc.tls_cert and irc.tls_key are set but irc.tls_listen is empty", "irc.tls_cert", "irc.tls_key", "irc.tls_listen")
	}
	if _, err := irc.proxyPrefixes(); err != nil {
		return err
	}
	if irc.HTTPURL != "" {
		u, err := url.Parse(irc.HTTPURL)
		if irc.HTTPListen == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badValue(fmt.Sprintf("irc.http_url = %q: must be the http(s) URL of the upload endpoint, and irc.http_listen set", irc.HTTPURL), "irc.http_url", "irc.http_listen")
		}
	}

	x := &c.XMPP
	if c.MultiUser.Enabled {
		if err := c.MultiUser.validate(c); err != nil {
			return err
		}
	} else {
		if m, def := c.MultiUser, defaultConfig().MultiUser; len(m.AllowedDomains) > 0 || len(m.AllowedJIDs) > 0 ||
			m.MaxUsers != def.MaxUsers || m.ClientsPerUser != def.ClientsPerUser || m.RoomsPerUser != def.RoomsPerUser || m.MetricsListen != "" {
			return badValue("multiuser keys are set but multiuser.enabled is not true", "multiuser.enabled", "multiuser.allowed_domains", "multiuser.allowed_jids", "multiuser.max_users", "multiuser.clients_per_user", "multiuser.rooms_per_user", "multiuser.metrics_listen")
		}
		if x.JID == "" {
			return badValue("xmpp.jid is required", "xmpp.jid")
		}
		if at := strings.IndexByte(x.JID, '@'); at <= 0 || at == len(x.JID)-1 || strings.ContainsAny(x.JID, " /") {
			return badValue(fmt.Sprintf("xmpp.jid %q must be a bare JID such as me@example.org", x.JID), "xmpp.jid")
		}
		if x.Password == "" {
			return badValue("xmpp.password or xmpp.password_file is required", "xmpp.password", "xmpp.password_file")
		}
	}
	switch x.TLS {
	case "starttls", "direct":
	case "plain":
		host, _, err := net.SplitHostPort(x.Server)
		if x.Server == "" || err != nil || !isLoopbackHost(host) {
			return badValue("xmpp.tls = \"plain\" is allowed only with xmpp.server on a loopback address", "xmpp.tls", "xmpp.server")
		}
	default:
		return badValue(fmt.Sprintf("xmpp.tls must be \"starttls\", \"direct\" or \"plain\", not %q", x.TLS), "xmpp.tls")
	}
	if x.Server != "" {
		if _, _, err := net.SplitHostPort(x.Server); err != nil {
			return badValue(fmt.Sprintf("xmpp.server: %q is not host:port", x.Server), "xmpp.server")
		}
	}
	if x.DeadTimeout.Duration == 0 || x.PingInterval.Duration == 0 || x.PingInterval.Duration >= x.DeadTimeout.Duration {
		return badValue(fmt.Sprintf("xmpp.ping_interval (%s) must be positive and shorter than xmpp.dead_timeout (%s)", x.PingInterval.Duration, x.DeadTimeout.Duration), "xmpp.ping_interval", "xmpp.dead_timeout")
	}
	if x.MUCService != "" && strings.ContainsAny(x.MUCService, "@/ ") {
		return badValue("xmpp.muc_service must be a domain such as conference.example.org", "xmpp.muc_service")
	}

	b := &c.Bridge
	if len(b.ControlChannel) < 2 || (b.ControlChannel[0] != '&' && b.ControlChannel[0] != '#') ||
		strings.ContainsAny(b.ControlChannel, " ,\x07\r\n\x00") {
		return badValue(fmt.Sprintf("bridge.control_channel %q must start with & or # and contain no spaces or commas", b.ControlChannel), "bridge.control_channel")
	}
	// 0 could mean "keep nothing" or "no limit"; neither is offered, so it
	// is refused rather than guessed.
	if b.Backlog < 1 {
		return badValue(fmt.Sprintf("bridge.backlog = %d: keep at least 1 message while no IRC client is attached", b.Backlog), "bridge.backlog")
	}
	// The replay goes into the client's send queue at once, and the lines
	// of a message take more room than its text (prefix, tags).
	if b.BacklogBytes < 1 || b.BacklogBytes > irc.SendQueue/2 {
		return badValue(fmt.Sprintf("bridge.backlog_bytes = %d: must be positive and at most half of irc.send_queue (%d), so that the replay fits a client's send queue", b.BacklogBytes, irc.SendQueue), "bridge.backlog_bytes", "irc.send_queue")
	}
	switch b.Strangers {
	case "accept", "notice", "ignore":
	default:
		return badValue(fmt.Sprintf("bridge.strangers = %q: must be accept, notice or ignore", b.Strangers), "bridge.strangers")
	}
	return nil
}

// validate checks the [multiuser] table of an enabled multi-user mode,
// and that the single-user account and password are not set with it.
func (m *MultiUserConfig) validate(c *Config) error {
	if c.XMPP.JID != "" || c.XMPP.Password != "" || c.XMPP.PasswordFile != "" {
		return badValue("multiuser.enabled: every user logs in with their own XMPP account; remove xmpp.jid, xmpp.password and xmpp.password_file", "xmpp.jid", "xmpp.password", "xmpp.password_file", "multiuser.enabled")
	}
	if c.IRC.Password != "" {
		return badValue("multiuser.enabled: users log in with their XMPP password; remove irc.password", "irc.password", "multiuser.enabled")
	}
	if c.IRC.HTTPListen != "" {
		return badValue("irc.http_listen (file uploads) is not available in multi-user mode", "irc.http_listen", "multiuser.enabled")
	}
	if len(m.AllowedDomains) == 0 && len(m.AllowedJIDs) == 0 {
		return badValue("multiuser.allowed_domains or multiuser.allowed_jids must name who may log in", "multiuser.allowed_domains", "multiuser.allowed_jids", "multiuser.enabled")
	}
	for _, d := range m.AllowedDomains {
		if _, err := normalizeDomain(d); err != nil {
			return badValue(fmt.Sprintf("multiuser.allowed_domains: %q: %v", d, err), "multiuser.allowed_domains")
		}
	}
	for _, j := range m.AllowedJIDs {
		if _, err := normalizeJID(j); err != nil {
			return badValue(fmt.Sprintf("multiuser.allowed_jids: %q: %v", j, err), "multiuser.allowed_jids")
		}
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"multiuser.max_users", m.MaxUsers}, {"multiuser.clients_per_user", m.ClientsPerUser}, {"multiuser.rooms_per_user", m.RoomsPerUser}} {
		if l.n < 1 {
			return badValue(fmt.Sprintf("%s = %d: must be at least 1", l.key, l.n), l.key)
		}
	}
	if m.MetricsListen != "" {
		host, _, err := net.SplitHostPort(m.MetricsListen)
		if err != nil || !isLoopbackHost(host) {
			return badValue(fmt.Sprintf("multiuser.metrics_listen: %q must be a loopback host:port", m.MetricsListen), "multiuser.metrics_listen")
		}
	}
	return nil
}

// proxyPrefixes parses irc.proxy_from; a plain address stands for itself
// alone.
func (irc *IRCConfig) proxyPrefixes() ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, s := range irc.ProxyFrom {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, badValue(fmt.Sprintf("irc.proxy_from: %q is neither an IP address nor a CIDR prefix such as \"10.0.0.0/24\"", s), "irc.proxy_from")
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fileHostURL is the URL advertised as soju.im/FILEHOST: irc.http_url, or
// the one irc.http_listen gives ("" without an endpoint).
func (c *IRCConfig) fileHostURL() string {
	switch {
	case c.HTTPListen == "":
		return ""
	case c.HTTPURL != "":
		return c.HTTPURL
	}
	return filehost.URL(c.HTTPListen, c.TLSListen != "")
}

// motdLines splits the configured MOTD into lines.
func (c *IRCConfig) motdLines() []string {
	if strings.TrimSpace(c.MOTD) == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(strings.ReplaceAll(c.MOTD, "\r\n", "\n"), "\n"), "\n")
}
