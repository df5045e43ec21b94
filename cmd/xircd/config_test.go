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
	default:
		return fmt.Sprintf("a %T the test cannot compare", v)
	}
	if same {
		return ""
	}
	return fmt.Sprintf("%v", field.Interface())
}
