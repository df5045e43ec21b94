package xmpp

import (
	"encoding/xml"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStamp(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
	}{
		{"2002-09-10T23:08:25Z", time.Date(2002, 9, 10, 23, 8, 25, 0, time.UTC)},
		{"2002-09-10T23:08:25.123Z", time.Date(2002, 9, 10, 23, 8, 25, 123e6, time.UTC)},
		{"2002-09-10T23:08:25.123456789123Z", time.Date(2002, 9, 10, 23, 8, 25, 123456789, time.UTC)},
		{"2002-09-10T23:08:25-07:00", time.Date(2002, 9, 11, 6, 8, 25, 0, time.UTC)},
		{"2002-09-10T23:08:25.5+02:30", time.Date(2002, 9, 10, 20, 38, 25, 5e8, time.UTC)},
		{"2002-09-10t23:08:25z", time.Date(2002, 9, 10, 23, 8, 25, 0, time.UTC)},
		{"20020910T23:08:25", time.Date(2002, 9, 10, 23, 8, 25, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := ParseStamp(c.in)
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("ParseStamp(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2002-09-10", "2002-09-10T23:08:25", "2002-09-10T23:08:25.Z", "2002-13-10T23:08:25Z"} {
		if got, err := ParseStamp(bad); err == nil {
			t.Errorf("ParseStamp(%q) = %v, want an error", bad, got)
		}
	}
}

func TestCleanText(t *testing.T) {
	cases := map[string]string{
		"plain":            "plain",
		"a\nb\tc":          "a\nb\tc",
		"a\r\nb\rc":        "a\nb\nc",
		"x\x00y\x01z\x1f":  "xyz",
		"bad\xffutf8":      "bad\uFFFDutf8",
		"\uFFFE\uFFFF":     "\uFFFD\uFFFD",
		"<&>\"' 😀":         "<&>\"' 😀",
		"\x7f\u0085 kept":  "\x7f\u0085 kept",
		"trailing cr\r":    "trailing cr\n",
		"\xed\xa0\x80surr": "\uFFFD\uFFFD\uFFFDsurr",
	}
	for in, want := range cases {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapingIsWellFormed(t *testing.T) {
	hostile := "</body><evil/>&amp;&#x0;\x00'\"\n\t\xff]]>"
	stanza := "<m a='" + escapeAttr(hostile) + "' b=\"" + escapeAttr(hostile) + "\">" + escapeText(hostile) + "</m>"
	var m struct {
		A    string   `xml:"a,attr"`
		B    string   `xml:"b,attr"`
		Text string   `xml:",chardata"`
		Any  []xmlAny `xml:",any"`
	}
	if err := xml.Unmarshal([]byte(stanza), &m); err != nil {
		t.Fatalf("escaped stanza is not well-formed: %v\n%s", err, stanza)
	}
	want := CleanText(hostile)
	if m.A != want || m.B != want || m.Text != want || len(m.Any) != 0 {
		t.Errorf("round trip: a=%q b=%q text=%q children=%d, want %q", m.A, m.B, m.Text, len(m.Any), want)
	}
}

func decodeMessage(t *testing.T, s string) *xmlMessage {
	t.Helper()
	var m xmlMessage
	if err := xml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestMessageParsing(t *testing.T) {
	m := decodeMessage(t, `<message xmlns='jabber:client' from='room@muc.example/nick' to='me@example/r' type='groupchat' id='i1'>
		<body xml:lang='de'>hallo</body><body>hello</body><subject/>
		<delay xmlns='urn:xmpp:delay' from='room@muc.example' stamp='2020-01-01T10:00:00.250+01:00'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='other@example' id='wrong'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example' id='room-sid'/>
		<origin-id xmlns='urn:xmpp:sid:0' id='orig'/>
		<paused xmlns='http://jabber.org/protocol/chatstates'/></message>`).toMessage("me@example", nil)
	want := Message{ID: "i1", OriginID: "orig", StanzaID: "room-sid", From: "room@muc.example/nick", To: "me@example/r",
		Type: "groupchat", Body: "hello", HasSubject: true, Delay: time.Date(2020, 1, 1, 9, 0, 0, 25e7, time.UTC), ChatState: "paused"}
	if m.ID != want.ID || m.OriginID != want.OriginID || m.StanzaID != want.StanzaID || m.Body != want.Body ||
		!m.HasSubject || m.Subject != "" || !m.Delay.Equal(want.Delay) || m.ChatState != want.ChatState || m.Type != want.Type {
		t.Errorf("got %+v\nwant %+v", m, want)
	}

	// The room's stanza-id names a group chat message, our server's a chat:
	// whichever comes first, and none when the right one is missing.
	for _, tc := range []struct{ typ, ids, want string }{
		{"groupchat", `<stanza-id xmlns='urn:xmpp:sid:0' by='me@example' id='mine'/><stanza-id xmlns='urn:xmpp:sid:0' by='Room@MUC.example' id='rooms'/>`, "rooms"},
		{"groupchat", `<stanza-id xmlns='urn:xmpp:sid:0' by='me@example' id='mine'/>`, ""},
		{"chat", `<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example' id='rooms'/><stanza-id xmlns='urn:xmpp:sid:0' by='ME@example' id='mine'/>`, "mine"},
		{"chat", `<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example' id='rooms'/>`, ""},
	} {
		got := decodeMessage(t, `<message xmlns='jabber:client' from='room@muc.example/nick' type='`+tc.typ+`'><body>x</body>`+tc.ids+`</message>`).toMessage("me@example", nil)
		if got.StanzaID != tc.want {
			t.Errorf("%s with %s: stanza id %q, want %q", tc.typ, tc.ids, got.StanzaID, tc.want)
		}
	}

	e := decodeMessage(t, `<message xmlns='jabber:client' from='x@y' type='error' id='e1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone</text></error></message>`).toMessage("me@example", nil)
	if e.Error == nil || e.Error.Condition != "item-not-found" || e.Error.Type != "cancel" || e.Error.Text != "gone" || e.ID != "e1" {
		t.Errorf("error message = %+v %+v", e, e.Error)
	}

	inv := decodeMessage(t, `<message xmlns='jabber:client' from='room@muc.example'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='friend@example/r'><reason>join us</reason></invite><password>pw</password></x></message>`).toMessage("me@example", nil)
	if inv.Invite == nil || *inv.Invite != (MUCInvite{Room: "room@muc.example", From: "friend@example/r", Reason: "join us", Password: "pw"}) {
		t.Errorf("mediated invite = %+v", inv.Invite)
	}
	dir := decodeMessage(t, `<message xmlns='jabber:client' from='friend@example/r'><x xmlns='jabber:x:conference' jid='room@muc.example' reason='hi' password='s'/></message>`).toMessage("me@example", nil)
	if dir.Invite == nil || *dir.Invite != (MUCInvite{Room: "room@muc.example", From: "friend@example/r", Reason: "hi", Password: "s"}) {
		t.Errorf("direct invite = %+v", dir.Invite)
	}
	if n := decodeMessage(t, `<message xmlns='jabber:client' from='a@b'><body>x</body></message>`).toMessage("me@example", nil); n.Type != "normal" || n.Invite != nil {
		t.Errorf("plain message = %+v", n)
	}
}

func TestPresenceParsing(t *testing.T) {
	var p xmlPresence
	err := xml.Unmarshal([]byte(`<presence xmlns='jabber:client' from='room@muc.example/old'>
		<show>bogus</show><priority> 200 </priority><status>bye</status>
		<x xmlns='http://jabber.org/protocol/muc#user'>
		  <item affiliation='member' role='none' jid='real@example/r' nick='new'><reason>because</reason><actor nick='mod'/></item>
		  <status code='303'/><status code='110'/></x>
		<c xmlns='http://jabber.org/protocol/caps' node='https://client.example' ver='v' hash='sha-1'/></presence>`), &p)
	if err != nil {
		t.Fatal(err)
	}
	got := p.toPresence()
	if got.Show != "" || got.Priority != 127 || got.Status != "bye" || got.Client != "https://client.example" || got.MUC == nil {
		t.Fatalf("presence = %+v", got)
	}
	mp := got.MUC
	if mp.Affiliation != "member" || mp.Role != "none" || mp.JID != "real@example/r" || mp.Nick != "new" ||
		mp.Reason != "because" || mp.Actor != "mod" || !slices.Equal(mp.Codes, []int{303, 110}) {
		t.Errorf("muc = %+v", mp)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := Config{JID: "Me@Example.org/home", Password: "x"}
	if err := ok.normalize(); err != nil || ok.JID != "me@example.org" || ok.Resource != "home" || ok.TLS != "starttls" {
		t.Errorf("normalize = %+v, %v", ok, err)
	}
	bad := []Config{
		{JID: "nodomain", Password: "x"},
		{JID: "a@b", Password: ""},
		{JID: "a@b", Password: "x", TLS: "maybe"},
		{JID: "a@b", Password: "x", TLS: "plain", Server: "example.org:5222"},
		{JID: "a@b", Password: "x", TLS: "plain"},
		{JID: "a@b", Password: "x", Server: "host:99999"},
		{JID: "a@b", Password: "x", PingInterval: time.Minute, DeadTimeout: time.Second},
	}
	for _, c := range bad {
		if err := c.normalize(); err == nil {
			t.Errorf("normalize(%+v) accepted", c)
		}
	}
	for _, srv := range []string{"127.0.0.1:5222", "localhost", "[::1]:5222"} {
		c := Config{JID: "a@b", Password: "x", TLS: "plain", Server: srv}
		if err := c.normalize(); err != nil {
			t.Errorf("plain to %s refused: %v", srv, err)
		}
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	s := &Session{cfg: Config{MinBackoff: time.Second, MaxBackoff: 8 * time.Second}}
	for attempt, max := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second} {
		for i := 0; i < 50; i++ {
			d := s.backoff(attempt)
			if d < max/2 || d > max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", attempt, d, max/2, max)
			}
		}
	}
}

func TestBareJID(t *testing.T) {
	for jid, want := range map[string]string{
		"alice@example.org":                "alice@example.org",
		"Alice@Example.ORG/Phone":          "alice@example.org",
		"ÄLICE@example.org/x":              "älice@example.org",
		"Room@Conference.example.org/Nick": "room@conference.example.org",
		"example.org":                      "example.org",
		"a@b/r/s":                          "a@b",
	} {
		if got := BareJID(jid); got != want {
			t.Errorf("BareJID(%q) = %q, want %q", jid, got, want)
		}
	}
}

func TestValidJID(t *testing.T) {
	for jid, want := range map[string]bool{
		"a@b": true, "b": true, "room@muc/Nick With Spaces": true, "a@b/r/s": true,
		"": false, "a b@c": false, "@b": false, "a@": false, "a@b/": false,
		"a@b/x\ny": false, "a@b\x00": false, "a@b/\xff": false,
	} {
		if got := ValidJID(jid); got != want {
			t.Errorf("ValidJID(%q) = %v, want %v", jid, got, want)
		}
	}
}

func TestCapsVer(t *testing.T) {
	// The simple example of XEP-0115 section 5.2.
	got := capsVer("Exodus 0.9.1", []string{"http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps"})
	if got != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Errorf("capsVer = %q", got)
	}
}

func TestConfigNeverShowsPassword(t *testing.T) {
	cfg := Config{JID: "a@b", Password: "hunter2"}
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("config", "cfg", cfg)
	s := fmt.Sprintf("%v %+v %s", cfg, cfg, cfg) + buf.String()
	if strings.Contains(s, "hunter2") {
		t.Errorf("password leaked: %s", s)
	}
}

func TestNewIDUniqueAndSafe(t *testing.T) {
	seen := make(map[string]bool, 10000)
	for range 10000 {
		id := newID()
		if len(id) != 20 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("id %q: want 20 characters of [a-z2-7]", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestSendRefusesStanzaOverServerLimit(t *testing.T) {
	// writing: as if a writer ran, so that none starts on this bare conn.
	c := &conn{maxBytes: 16, writing: true, done: make(chan struct{})}
	if err := c.send("<message>this is too long</message>"); err == nil || !strings.Contains(err.Error(), "limit of 16") {
		t.Fatalf("send over the limit: err = %v, want the limit named", err)
	}
	if c.queued.Len() != 0 {
		t.Fatal("a refused stanza was queued")
	}
	if err := c.send("<presence/>"); err != nil {
		t.Fatalf("send under the limit: %v", err)
	}
	if got, _ := c.dequeue(); got.text != "<presence/>" {
		t.Fatalf("queued %q", got.text)
	}
}

// A message's stanza is made in one allocation, the size of the stanza,
// whatever its length: not one per doubling of a growing buffer.
func TestMessageStanzaAllocatesOnce(t *testing.T) {
	m := &OutMessage{To: "bob@example.org", Body: strings.Repeat("hello there ", 40), ChatState: "active"}
	var stanza string
	if n := testing.AllocsPerRun(10, func() { stanza = messageStanza(m, "chat", "id1", m.Body, "") }); n != 1 {
		t.Errorf("%v allocations for a message's stanza, want 1", n)
	}
	want := "<message to='bob@example.org' type='chat' id='id1'><body>" + m.Body + "</body><active xmlns='" + nsChatStates + "'/><origin-id xmlns='" + nsSID + "' id='id1'/></message>"
	if stanza != want {
		t.Errorf("stanza %q, want %q", stanza, want)
	}
}
