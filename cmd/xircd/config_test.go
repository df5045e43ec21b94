package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `
[xmpp]
jid = "me@example.org"
password = "secret"
`

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig("x.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IRC.ServerName != "xircd" || cfg.IRC.Listen != "127.0.0.1:6667" || cfg.XMPP.TLS != "starttls" ||
		cfg.Bridge.ControlChannel != "&xmpp" || cfg.IRC.PingInterval.Duration != 90*time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key with line", "[xmpp]\njid = \"me@example.org\"\npassword = \"p\"\nbogus = 1\n", "x.toml:4: unknown key xmpp.bogus"},
		{"unknown table", minimal + "[nope]\na = 1\n", "x.toml:5: unknown key nope"},
		{"wrong type", "[irc]\nlisten = 5\n" + minimal, "x.toml:2: irc.listen"},
		{"bad duration", "[irc]\nping_interval = \"soon\"\n" + minimal, "irc.ping_interval"},
		{"syntax", "[irc\n", "x.toml:2"},
		{"missing jid", "[xmpp]\npassword = \"p\"\n", "xmpp.jid is required"},
		{"full jid", "[xmpp]\njid = \"me@example.org/res\"\npassword = \"p\"\n", "bare JID"},
		{"missing password", "[xmpp]\njid = \"me@example.org\"\n", "xmpp.password or xmpp.password_file"},
		{"public without password", "[irc]\nlisten = \"0.0.0.0:6667\"\n" + minimal, "set irc.password"},
		{"tls without cert", "[irc]\ntls_listen = \"127.0.0.1:6697\"\n" + minimal, "irc.tls_cert"},
		{"plain to remote", "[xmpp]\njid = \"me@example.org\"\npassword = \"p\"\ntls = \"plain\"\nserver = \"example.org:5222\"\n", "loopback"},
		{"bad tls", "[xmpp]\njid = \"me@example.org\"\npassword = \"p\"\ntls = \"maybe\"\n", "xmpp.tls"},
		{"bad channel", "[bridge]\ncontrol_channel = \"xmpp\"\n" + minimal, "bridge.control_channel"},
		{"ping after dead", "[xmpp]\njid = \"me@example.org\"\npassword = \"p\"\ndead_timeout = \"10s\"\n", "xmpp.ping_interval (30s) must be positive and shorter than xmpp.dead_timeout (10s)"},
		{"no listeners", "[irc]\nlisten = \"\"\n" + minimal, "accept no clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("x.toml", []byte(tt.text))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pw")
	if err := os.WriteFile(pf, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := "[xmpp]\njid = \"me@example.org\"\npassword_file = \"" + pf + "\"\n"
	cfg, err := parseConfig("x.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.XMPP.Password != "s3cret" {
		t.Errorf("password = %q", cfg.XMPP.Password)
	}
	_, err = parseConfig("x.toml", []byte(text+"password = \"other\"\n"))
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("both password and password_file: err = %v", err)
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := loadConfig("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The example documents the defaults: decoding it must not change them.
	def := defaultConfig()
	if cfg.IRC.PingInterval != def.IRC.PingInterval || cfg.Bridge.Backlog != def.Bridge.Backlog ||
		cfg.XMPP.DeadTimeout != def.XMPP.DeadTimeout || cfg.IRC.Listen != def.IRC.Listen {
		t.Errorf("config.example.toml disagrees with the defaults: %+v", cfg)
	}
}
