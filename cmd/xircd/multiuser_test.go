package main

import (
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

const multiUserMinimal = `
[multiuser]
enabled = true
allowed_domains = ["example.org"]
`

func TestMultiUserConfig(t *testing.T) {
	cfg, err := parseConfig("x.toml", []byte("[irc]\nlisten = \"0.0.0.0:6667\"\n"+multiUserMinimal))
	if err != nil {
		t.Fatalf("a multi-user configuration listening on the network: %v", err)
	}
	if m := cfg.MultiUser; !m.Enabled || m.MaxUsers != 100 || m.ClientsPerUser != 5 || m.RoomsPerUser != 100 {
		t.Errorf("parsed %+v", m)
	}
	tests := []struct{ name, text, want string }{
		{"with a jid", "[xmpp]\njid = \"me@example.org\"\n" + multiUserMinimal, "x.toml:2: multiuser.enabled: every user logs in with their own XMPP account; remove xmpp.jid"},
		{"with a password", "[xmpp]\npassword = \"p\"\n" + multiUserMinimal, "x.toml:2: multiuser.enabled: every user logs in with their own XMPP account"},
		{"with irc.password", "[irc]\npassword = \"p\"\n" + multiUserMinimal, "x.toml:2: multiuser.enabled: users log in with their XMPP password; remove irc.password"},
		{"nobody allowed", "[multiuser]\nenabled = true\n", "x.toml:2: multiuser.allowed_domains or multiuser.allowed_jids must name who may log in"},
		{"bad domain", "[multiuser]\nenabled = true\nallowed_domains = [\"exa mple.org\"]\n", `x.toml:3: multiuser.allowed_domains: "exa mple.org"`},
		{"bad jid", "[multiuser]\nenabled = true\nallowed_jids = [\"../x@y\"]\n", `x.toml:3: multiuser.allowed_jids: "../x@y": the character '/' is not allowed`},
		{"no users", multiUserMinimal + "max_users = 0\n", "x.toml:5: multiuser.max_users = 0: must be at least 1"},
		{"public metrics", multiUserMinimal + "metrics_listen = \"0.0.0.0:9100\"\n", `x.toml:5: multiuser.metrics_listen: "0.0.0.0:9100" must be a loopback host:port`},
		{"keys without enabled", minimal + "[multiuser]\nmax_users = 5\n", "x.toml:6: multiuser keys are set but multiuser.enabled is not true"},
		{"uploads", "[irc]\nhttp_listen = \"127.0.0.1:6680\"\n" + multiUserMinimal, "x.toml:2: irc.http_listen (file uploads) is not available in multi-user mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("x.toml", []byte(tc.text))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeJID(t *testing.T) {
	good := map[string]string{
		"Me@Example.ORG":   "me@example.org",
		"..@example.org":   "..@example.org",
		"ünï@example.org":  "ünï@example.org",
		"a.b-c@x.example":  "a.b-c@x.example",
		"a%2F@example.org": "a%2f@example.org",
	}
	for in, want := range good {
		if got, err := normalizeJID(in); err != nil || got != want {
			t.Errorf("normalizeJID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"../x@y", "x@../y", "x@y/z", "x/y@z", "", "@example.org", "me", "me@", "a@b@c", "a\x00b@example.org",
		"a b@example.org", "a\\b@example.org", "me@exa_mple.org", "me@.example.org", "me@example..org",
		strings.Repeat("a", 300) + "@example.org", "\xff@example.org",
	} {
		if got, err := normalizeJID(bad); err == nil {
			t.Errorf("normalizeJID(%q) = %q, want an error", bad, got)
		}
	}
}

// TestUserStateDirStaysInside maps JIDs that are valid but look like paths:
// each gets its own directory directly in state_dir.
func TestUserStateDirStaysInside(t *testing.T) {
	root := t.TempDir()
	seen := map[string]string{}
	for _, in := range []string{"..@example.org", ".@example.org", "a%2F..@example.org", "a%2Fb@example.org", "me@example.org", "ünï@example.org", "%2E%2E@example.org"} {
		jid, err := normalizeJID(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		dir, err := userStateDir(root, jid)
		if err != nil {
			t.Fatalf("%q: %v", jid, err)
		}
		if filepath.Dir(dir) != root {
			t.Errorf("%q maps to %q, not a directory directly in %q", jid, dir, root)
		}
		if other, ok := seen[dir]; ok {
			t.Errorf("%q and %q share %q", jid, other, dir)
		}
		seen[dir] = jid
	}
	if dir, _ := userStateDir("", "me@example.org"); dir != "" {
		t.Errorf("without state_dir: %q", dir)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(3, time.Minute, 4)
	th.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if d := th.wait("a"); d != 0 {
			t.Fatalf("attempt %d waits %v", i, d)
		}
		th.fail("a")
	}
	if d := th.wait("a"); d != time.Minute {
		t.Errorf("after 3 failures: wait %v, want 1m", d)
	}
	if d := th.wait("b"); d != 0 {
		t.Errorf("another key waits %v", d)
	}
	now = now.Add(30 * time.Second)
	if d := th.wait("a"); d != 30*time.Second {
		t.Errorf("half a minute later: wait %v", d)
	}
	now = now.Add(30 * time.Second)
	if d := th.wait("a"); d != 0 {
		t.Errorf("a minute later: wait %v", d)
	}
	th.fail("a")
	if d := th.wait("a"); d == 0 {
		t.Error("the forgiven failure was not taken back")
	}

	// Bounded: a flood of keys keeps at most maxKeys.
	for i := 0; i < 100; i++ {
		th.fail(strings.Repeat("k", i+1))
	}
	if n := len(th.buckets); n > 4 {
		t.Errorf("%d keys tracked, want at most 4", n)
	}
}

// The collector's lower target applies in multi-user mode only, and GOGC
// in the environment wins over both.
func TestGCPercentByMode(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		gogc      string
		multiUser bool
		want      int
	}{
		{"", false, defaultGCPercent},
		{"", true, multiUserGCPercent},
		{"80", true, 100}, // left as the runtime set it from GOGC
		{"80", false, 100},
	} {
		t.Setenv("GOGC", tc.gogc)
		debug.SetGCPercent(100)
		setGCPercent(tc.multiUser)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q, multi-user %v: GC percent %d, want %d", tc.gogc, tc.multiUser, got, tc.want)
		}
	}
}
