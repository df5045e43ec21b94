package bridge

import (
	"testing"

	"xircd/xmpp"
)

func TestLinkText(t *testing.T) {
	const u = "https://up.example/x/cat.jpg"
	for _, tc := range []struct {
		body  string
		links []xmpp.OOB
		want  string
	}{
		{u, []xmpp.OOB{{URL: u}}, u},                             // Conversations: the URL once
		{u, []xmpp.OOB{{URL: u, Desc: "A cat"}}, u + " (A cat)"}, // with its description
		{"", []xmpp.OOB{{URL: u, Desc: "A cat"}}, u + " (A cat)"},
		{"look", []xmpp.OOB{{URL: u, Desc: "A cat"}}, "look\n" + u + " (A cat)"},
		{"see " + u + " here", []xmpp.OOB{{URL: u, Desc: "A cat"}}, "see " + u + " here (A cat)"},
		{"see " + u + " (A cat)", []xmpp.OOB{{URL: u, Desc: "A cat"}}, "see " + u + " (A cat)"},
		{u, []xmpp.OOB{{URL: u, Desc: u}}, u},
		{"plain", nil, "plain"},
	} {
		if got := linkText(tc.body, tc.links); got != tc.want {
			t.Errorf("linkText(%q, %v) = %q, want %q", tc.body, tc.links, got, tc.want)
		}
	}
}

func TestFileLink(t *testing.T) {
	for body, want := range map[string]string{
		"https://up.example/a.png":          "https://up.example/a.png",
		"http://up.example/a.png":           "",
		"https://up.example/a.png and more": "",
		"see https://up.example/a.png":      "",
		"https://":                          "",
		"":                                  "",
		"/me https://up.example/a.png":      "",
	} {
		if got := fileLink(body); got != want {
			t.Errorf("fileLink(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestIncomingFileLinkIsShownWithItsDescription(t *testing.T) {
	h, c := online(t)
	const u = "https://up.example/x/cat.jpg"
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: u, OOB: []xmpp.OOB{{URL: u, Desc: "A cat"}}})
	c.expect(":Alice!alice@example.org PRIVMSG me :" + u + " (A cat)")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", OOB: []xmpp.OOB{{URL: u}}})
	c.expect(":Alice!alice@example.org PRIVMSG me " + u)
}
