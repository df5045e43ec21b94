package bridge

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xircd/xmpp/omemo"
)

// testKey is an identity key made of the byte n.
func testKey(n byte) omemo.PublicKey {
	var k omemo.PublicKey
	for i := range k {
		k[i] = n
	}
	return k
}

// trustStep is one step of a trust policy case: a device met with a key,
// or the user trusting or untrusting a key.
type trustStep struct {
	op      string // "see", "trust", "untrust"
	jid     string
	id      uint32 // see
	key     byte
	state   trustState  // see: the standing wanted
	change  trustChange // see: what changed
	unknown bool        // trust, untrust: errUnknownFingerprint wanted
}

func see(jid string, id uint32, key byte, state trustState, change trustChange) trustStep {
	return trustStep{op: "see", jid: jid, id: id, key: key, state: state, change: change}
}

func TestTrustPolicy(t *testing.T) {
	const a, b = "alice@example.org", "bob@example.org"
	cases := []struct {
		name  string
		steps []trustStep
	}{
		{"before any verification every device is trusted blindly", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			see(a, 2, 2, trustBlind, trustNewDevice),
			see(a, 1, 1, trustBlind, trustKnown),
		}},
		{"once one is trusted, devices met later are untrusted; those met before stay blindly trusted", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			see(a, 2, 2, trustBlind, trustNewDevice),
			{op: "trust", jid: a, key: 1},
			see(a, 1, 1, trustVerified, trustKnown),
			see(a, 2, 2, trustBlind, trustKnown),
			see(a, 3, 3, trustUntrusted, trustNewDevice),
			{op: "trust", jid: a, key: 3},
			see(a, 3, 3, trustVerified, trustKnown),
		}},
		{"a verification concerns one account only", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			{op: "trust", jid: a, key: 1},
			see(b, 2, 2, trustBlind, trustNewDevice),
		}},
		{"a blindly trusted device whose key changes is untrusted", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			see(a, 1, 9, trustUntrusted, trustKeyChanged),
			see(a, 1, 9, trustUntrusted, trustKnown),
			{op: "trust", jid: a, key: 1, unknown: true}, // the old key is gone
			{op: "trust", jid: a, key: 9},
			see(a, 1, 9, trustVerified, trustKnown),
		}},
		{"a verified device whose key changes is untrusted", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			{op: "trust", jid: a, key: 1},
			see(a, 1, 2, trustUntrusted, trustKeyChanged),
		}},
		{"untrusting the verified device does not bring back blind trust", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			{op: "trust", jid: a, key: 1},
			{op: "untrust", jid: a, key: 1},
			see(a, 1, 1, trustUntrusted, trustKnown),
			see(a, 2, 2, trustUntrusted, trustNewDevice),
		}},
		{"untrusting a blindly trusted device leaves blind trust for new ones", []trustStep{
			see(a, 1, 1, trustBlind, trustNewDevice),
			{op: "untrust", jid: a, key: 1},
			see(a, 1, 1, trustUntrusted, trustKnown),
			see(a, 2, 2, trustBlind, trustNewDevice),
		}},
		{"unknown fingerprints and accounts", []trustStep{
			{op: "trust", jid: a, key: 1, unknown: true},
			see(a, 1, 1, trustBlind, trustNewDevice),
			{op: "trust", jid: a, key: 2, unknown: true},
			{op: "untrust", jid: b, key: 1, unknown: true},
			see(a, 2, 2, trustBlind, trustNewDevice), // a failed trust verified nothing
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := loadTrustStore("")
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				switch s.op {
				case "see":
					state, change := ts.observe(s.jid, s.id, testKey(s.key))
					if state != s.state || change != s.change {
						t.Fatalf("step %d: device %d of %s with key %d: %s, change %d; want %s, change %d", i, s.id, s.jid, s.key, state, change, s.state, s.change)
					}
				case "trust", "untrust":
					state := trustVerified
					if s.op == "untrust" {
						state = trustUntrusted
					}
					_, err := ts.setTrust(s.jid, omemo.Fingerprint(testKey(s.key)), state)
					if errors.Is(err, errUnknownFingerprint) != s.unknown {
						t.Fatalf("step %d: %s %s key %d: %v", i, s.op, s.jid, s.key, err)
					}
				}
			}
		})
	}
}

// The store is bounded: a full account loses its oldest device the user
// did not trust, and a full store its oldest account without a trusted
// fingerprint; what cannot be kept has a defined standing.
func TestTrustStoreBounds(t *testing.T) {
	const a = "alice@example.org"
	ts, _ := loadTrustStore("")
	ts.observe(a, 1, testKey(1))
	if _, err := ts.setTrust(a, omemo.Fingerprint(testKey(1)), trustVerified); err != nil {
		t.Fatal(err)
	}
	for id := uint32(2); id <= maxTrustDevices; id++ {
		ts.observe(a, id, testKey(byte(id)))
	}
	if state, change := ts.observe(a, 1000, testKey(200)); state != trustUntrusted || change != trustNewDevice {
		t.Fatalf("device beyond the bound: %s, %d", state, change)
	}
	devs, _ := ts.devices(a)
	ids := make([]uint32, len(devs))
	for i, d := range devs {
		ids[i] = d.id
	}
	if len(ids) != maxTrustDevices || !slices.Contains(ids, 1) || slices.Contains(ids, 2) || !slices.Contains(ids, 1000) {
		t.Fatalf("after one device too many, devices %v: want the trusted 1 kept, 2 (met first) dropped", ids)
	}

	full, _ := loadTrustStore("")
	for id := uint32(1); id <= maxTrustDevices; id++ {
		full.observe(a, id, testKey(byte(id)))
		full.setTrust(a, omemo.Fingerprint(testKey(byte(id))), trustVerified)
	}
	if state, change := full.observe(a, 1000, testKey(200)); state != trustUntrusted || change != trustNotKept {
		t.Fatalf("device beyond a bound of trusted devices: %s, %d; want untrusted, not kept", state, change)
	}

	jids, _ := loadTrustStore("")
	jid := func(i int) string { return "c" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "@example.org" }
	jids.observe(jid(0), 1, testKey(1))
	jids.setTrust(jid(0), omemo.Fingerprint(testKey(1)), trustVerified)
	for i := 1; i < maxTrustJIDs; i++ {
		jids.observe(jid(i), 1, testKey(1))
	}
	jids.observe("new@example.org", 1, testKey(1))
	if len(jids.JIDs) != maxTrustJIDs || jids.JIDs[jid(0)] == nil || jids.JIDs[jid(1)] != nil || jids.JIDs["new@example.org"] == nil {
		t.Fatalf("after one account too many: %d accounts, verified kept %v, oldest dropped %v", len(jids.JIDs), jids.JIDs[jid(0)] != nil, jids.JIDs[jid(1)] == nil)
	}
	for j := range jids.JIDs {
		jids.JIDs[j].Verified = true
	}
	if state, change := jids.observe("newer@example.org", 1, testKey(1)); state != trustBlind || change != trustNotKept {
		t.Fatalf("account beyond a bound of verified accounts: %s, %d; want blind, not kept", state, change)
	}
}

func TestParseFingerprint(t *testing.T) {
	fp := omemo.Fingerprint(testKey(0xab))
	cases := []struct {
		in   string
		want string
	}{
		{fp, fp},
		{strings.ToUpper(fp), fp},
		{groupedFingerprint(testKey(0xab)), fp},
		{" " + fp[:5] + "  " + fp[5:] + " ", fp},
		{strings.ReplaceAll(groupedFingerprint(testKey(0xab)), " ", "-"), fp}, // as profanity shows it
		{fp[:2] + ":" + fp[2:4] + "\t" + fp[4:], fp},
		{fp[:10] + "." + fp[10:], ""},
		{fp[:63], ""},
		{fp + "a", ""},
		{"05" + fp, ""},
		{strings.Replace(fp, "a", "g", 1), ""},
		{"", ""},
	}
	for _, c := range cases {
		got, ok := parseFingerprint(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("parseFingerprint(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if g := groupedFingerprint(testKey(0xab)); g != "abababab abababab abababab abababab abababab abababab abababab abababab" {
		t.Errorf("grouped: %q", g)
	}
}

// The store survives a restart (mode 0600); a damaged file is an error
// and an empty store, never a crash.
func TestTrustStorePersistence(t *testing.T) {
	dir := t.TempDir()
	ts, err := loadTrustStore(dir)
	if err != nil || len(ts.JIDs) != 0 {
		t.Fatalf("no file: %v, %d accounts", err, len(ts.JIDs))
	}
	const a = "alice@example.org"
	ts.observe(a, 1, testKey(1))
	ts.setTrust(a, omemo.Fingerprint(testKey(1)), trustVerified)
	ts.observe(a, 2, testKey(2))
	ts.observe(a, 2, testKey(3))
	if err := ts.save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, omemoTrustFileName)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("trust store %v, %v; want mode 0600", fi, err)
	}
	again, err := loadTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	devs, verified := again.devices(a)
	if !verified || len(devs) != 2 || devs[0].State != trustVerified || devs[1].State != trustUntrusted || !devs[1].KeyChanged || devs[1].Identity != testKey(3) {
		t.Fatalf("after a restart: verified %v, devices %+v", verified, devs)
	}
	if state, change := again.observe(a, 4, testKey(4)); state != trustUntrusted || change != trustNewDevice {
		t.Fatalf("new device after a restart: %s, %d", state, change)
	}

	for _, bad := range []string{
		"{not json",
		`{"jids":{"alice@example.org":{"devices":{"1":{"identity":"AAAA","state":"blind"}}}}}`,
		`{"jids":{"alice@example.org":{"devices":{"1":{"identity":"` + strings.Repeat("A", 43) + `=","state":"maybe"}}}}}`,
		`{"jids":{"alice@example.org":{"devices":{"0":{"identity":"` + strings.Repeat("A", 43) + `=","state":"blind"}}}}}`,
		`{"jids":{"alice@example.org":null}}`,
		`{"jids":{"alice@example.org":{}}}`,
		`{"seq":3}`,
		`[]`,
	} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		ts, err := loadTrustStore(dir)
		if err == nil || ts == nil || len(ts.JIDs) != 0 || ts.path() != path {
			t.Errorf("%s: err %v, store %+v; want an error and an empty store", bad, err, ts)
		}
	}
}
