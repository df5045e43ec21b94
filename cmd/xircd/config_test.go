package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

const minimal = `
[xmpp]
jid = "me@example.org"
password = "secret"
`

// TestParseConfigErrors checks that every error is one line starting with
// the file, the line of the key to blame when the file sets it, and the key.
func TestParseConfigErrors(t *testing.T) {
	const jid = "jid = \"me@example.org\"\n"
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "[xmpp]\n" + jid + "password = \"p\"\nbogus = 1\n", "x.toml:4: unknown key xmpp.bogus"},
		{"unknown table", minimal + "[nope]\na = 1\n", "x.toml:5: unknown key nope"},
		{"wrong type", "[irc]\nlisten = 5\n" + minimal, "x.toml:2: irc.listen: incompatible types"},
		{"bad duration", "[irc]\nping_interval = \"soon\"\n" + minimal, `x.toml:2: irc.ping_interval: not a duration`},
		{"syntax", "[irc\n", "x.toml:2: "},
		{"missing jid", "[xmpp]\npassword = \"p\"\n", "x.toml: xmpp.jid is required"},
		{"full jid", "[xmpp]\njid = \"me@example.org/res\"\npassword = \"p\"\n", `x.toml:2: xmpp.jid "me@example.org/res" must be a bare JID`},
		{"missing password", "[xmpp]\n" + jid, "x.toml: xmpp.password or xmpp.password_file is required"},
		{"two passwords", "[xmpp]\n" + jid + "password = \"p\"\npassword_file = \"/p\"\n", "x.toml:4: xmpp.password and xmpp.password_file are both set"},
		{"unreadable password file", "[xmpp]\n" + jid + "password_file = \"/nonexistent/p\"\n", "x.toml:3: xmpp.password_file: open /nonexistent/p: "},
		{"bad server name", "[irc]\nserver_name = \"irc server\"\n" + minimal, "x.toml:2: irc.server_name must be"},
		{"no listeners", "[irc]\nlisten = \"\"\n" + minimal, "x.toml:2: irc.listen and irc.tls_listen are both empty"},
		{"listen not host:port", "[irc]\nlisten = \"6667\"\n" + minimal, `x.toml:2: irc.listen: "6667" is not host:port`},
		{"public without password", "[irc]\nlisten = \"0.0.0.0:6667\"\n" + minimal, `x.toml:2: irc.listen: "0.0.0.0:6667" is not a loopback address; set irc.password`},
		{"tls without cert", "[irc]\ntls_listen = \"127.0.0.1:6697\"\n" + minimal, "x.toml:2: irc.tls_listen needs irc.tls_cert and irc.tls_key"},
		{"public uploads without password", "[irc]\nhttp_listen = \"0.0.0.0:6680\"\n" + minimal, `x.toml:2: irc.http_listen: "0.0.0.0:6680" is not a loopback address; set irc.password`},
		{"upload URL without endpoint", "[irc]\nhttp_url = \"https://irc.example/upload\"\n" + minimal, "x.toml:2: irc.http_url = \"https://irc.example/upload\": must be the http(s) URL"},
		{"bad proxy address", "[irc]\nproxy_from = [\"127.0.0.1/32\", \"10.0.0.300\"]\n" + minimal, `x.toml:2: irc.proxy_from: "10.0.0.300" is neither an IP address nor a CIDR prefix`},
		{"bad proxy prefix", "[irc]\nproxy_from = [\"10.0.0.0/33\"]\n" + minimal, `x.toml:2: irc.proxy_from: "10.0.0.0/33" is neither`},
		{"cert without tls", "[irc]\ntls_key = \"k.pem\"\n" + minimal, "x.toml:2: irc.tls_cert and irc.tls_key are set but irc.tls_listen is empty"},
		{"plain to remote", "[xmpp]\n" + jid + "password = \"p\"\ntls = \"plain\"\nserver = \"example.org:5222\"\n", `x.toml:4: xmpp.tls = "plain" is allowed only`},
		{"bad tls", "[xmpp]\n" + jid + "password = \"p\"\ntls = \"maybe\"\n", "x.toml:4: xmpp.tls must be"},
		{"server not host:port", "[xmpp]\n" + jid + "password = \"p\"\nserver = \"example.org\"\n", `x.toml:4: xmpp.server: "example.org" is not host:port`},
		{"ping after dead", "[xmpp]\n" + jid + "password = \"p\"\ndead_timeout = \"10s\"\n", "x.toml:4: xmpp.ping_interval (30s) must be positive and shorter than xmpp.dead_timeout (10s)"},
		{"bad muc service", "[xmpp]\n" + jid + "password = \"p\"\nmuc_service = \"me@muc\"\n", "x.toml:4: xmpp.muc_service must be a domain"},
		{"bad channel", "[bridge]\ncontrol_channel = \"xmpp\"\n" + minimal, `x.toml:2: bridge.control_channel "xmpp" must start with & or #`},
		{"no backlog", "[bridge]\nbacklog = 0\n" + minimal, "x.toml:2: bridge.backlog = 0: keep at least 1 message while no IRC client is attached"},
		{"negative backlog", "[bridge]\nbacklog = -5\n" + minimal, "x.toml:2: bridge.backlog = -5: keep at least 1"},
		{"backlog bytes beyond the send queue", "[irc]\nsend_queue = 100000\n[bridge]\nbacklog_bytes = 60000\n" + minimal, "x.toml:4: bridge.backlog_bytes = 60000: must be positive and at most half of irc.send_queue (100000)"},
		{"tiny send queue", "[irc]\nsend_queue = 100\n" + minimal, "x.toml:2: irc.send_queue = 100: a client's send queue needs at least 16384 bytes"},
		{"bad strangers", "[bridge]\nstrangers = \"drop\"\n" + minimal, `x.toml:2: bridge.strangers = "drop": must be accept, notice or ignore`},
		// The line is where the key really stands, however it is written.
		{"after a multi-line string", "[irc]\nmotd = \"\"\"\nlisten = here\n\"\"\"\nlisten = \"nowhere\"\n" + minimal, `x.toml:5: irc.listen: "nowhere" is not host:port`},
		{"dotted key", "xmpp.password = \"p\"\nxmpp.jid = \"me@example.org/res\"\n", `x.toml:2: xmpp.jid "me@example.org/res" must be a bare JID`},
		{"inline table", "irc = { server_name = \"\" }\n" + minimal, "x.toml:1: irc.server_name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("x.toml", []byte(tt.text))
			if err == nil {
				t.Fatalf("no error, want one starting %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line starting %q", err, tt.want)
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

// requiredKeys have no default; the documentation shows them with examples.
var requiredKeys = map[string]bool{"xmpp.jid": true, "xmpp.password": true, "xmpp.password_file": true}

// configFields maps every key of the configuration, "table.key", to the
// field of c that holds it.
func configFields(c *Config) map[string]reflect.Value {
	fields := map[string]reflect.Value{}
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		table := v.Type().Field(i).Tag.Get("toml")
		tv := v.Field(i)
		for j := range tv.NumField() {
			fields[table+"."+tv.Type().Field(j).Tag.Get("toml")] = tv.Field(j)
		}
	}
	return fields
}

// TestExampleConfigShowsEveryDefault checks the promise at the top of
// config.example.toml: every key is there, set to the value xircd uses when
// the key is left out.
func TestExampleConfigShowsEveryDefault(t *testing.T) {
	const path = "../../config.example.toml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	example, err := parseConfig(path, data)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	md, err := toml.Decode(string(data), &Config{})
	if err != nil {
		t.Fatal(err)
	}
	absent, err := parseConfig("x.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	shown := configFields(example)
	for key, def := range configFields(absent) {
		if !md.IsDefined(strings.Split(key, ".")...) {
			t.Errorf("%s is not in config.example.toml", key)
			continue
		}
		if requiredKeys[key] {
			continue
		}
		if got := shown[key].Interface(); !reflect.DeepEqual(got, def.Interface()) {
			t.Errorf("config.example.toml sets %s = %v, but without the key it is %v", key, got, def.Interface())
		}
	}
}

// TestReadmeConfigTableShowsEveryDefault checks the README's table of keys
// against the values xircd uses when a key is left out.
func TestReadmeConfigTableShowsEveryDefault(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	absent, err := parseConfig("x.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	fields := configFields(absent)
	code := regexp.MustCompile("`([^`]*)`")
	inTable, seen := false, map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if line == "| key | default | meaning |" {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(line, "| ---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		var keys, defaults []string
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			keys = append(keys, m[1])
		}
		for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
			defaults = append(defaults, m[1])
		}
		for i, key := range keys {
			seen[key] = true
			def, ok := fields[key]
			switch {
			case !ok:
				t.Errorf("README documents %s, which is not a key", key)
			case requiredKeys[key]:
				if len(defaults) != 0 {
					t.Errorf("README gives the required %s a default", key)
				}
			case len(defaults) != 1 && len(defaults) != len(keys):
				t.Errorf("README: %d defaults for %d keys in %q", len(defaults), len(keys), line)
			default:
				text := defaults[0]
				if len(defaults) > 1 {
					text = defaults[i]
				}
				if msg := differsFrom(def, text); msg != "" {
					t.Errorf("README says %s defaults to %s, but without the key it is %s", key, text, msg)
				}
			}
		}
	}
	for key := range fields {
		if !seen[key] {
			t.Errorf("%s is missing from the README's table of keys", key)
		}
	}
}

// differsFrom compares a field with the README's text for it and, when they
// differ, describes the field's value.
func differsFrom(field reflect.Value, text string) string {
	var same bool
	switch v := field.Interface().(type) {
	case string:
		same = v == text || v == "" && text == `""`
	case duration:
		d, err := time.ParseDuration(text)
		same = err == nil && d == v.Duration
	case bool:
		same = strconv.FormatBool(v) == text
	case int:
		same = strconv.Itoa(v) == text
	case []string:
		same = len(v) == 0 && text == "[]"
	default:
		return fmt.Sprintf("a %T the test cannot compare", v)
	}
	if same {
		return ""
	}
	return fmt.Sprintf("%v", field.Interface())
}

func TestProxyFrom(t *testing.T) {
	irc := IRCConfig{ProxyFrom: []string{"127.0.0.1", "10.0.0.7/24", "2001:db8::1", "2001:db8::/32"}}
	got, err := irc.proxyPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(got); s != "[127.0.0.1/32 10.0.0.0/24 2001:db8::1/128 2001:db8::/32]" {
		t.Errorf("irc.proxy_from parsed as %s", s)
	}
}
