package xmpp

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestReplyParsing(t *testing.T) {
	for _, tc := range []struct {
		name, xml      string
		wantID, wantTo string
		wantText       string
	}{
		{"XEP-0461 example", `<message to='anna@example.com' id='message-id2' type='chat'>
			<body>&gt; Anna wrote:
&gt; We should bake a cake
Great idea!</body>
			<reply to='anna@example.com/tablet' id='message-id1' xmlns='urn:xmpp:reply:0' />
			<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start="0" end="38" /></fallback>
		</message>`, "message-id1", "anna@example.com/tablet", "Great idea!"},
		{"offsets in code points", `<message><body>&gt; 😀é
ok</body><reply xmlns='urn:xmpp:reply:0' id='x'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' end='5'/></fallback></message>`, "x", "", "ok"},
		{"offsets out of range", `<message><body>hi</body><reply xmlns='urn:xmpp:reply:0' id='x'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' end='99'/></fallback></message>`, "x", "", "hi"},
		{"negative and reversed offsets", `<message><body>hi</body><reply xmlns='urn:xmpp:reply:0' id='x'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='-1' end='1'/><body start='2' end='1'/></fallback></message>`, "x", "", "hi"},
		{"fallback for something else", `<message><body>hi</body><reply xmlns='urn:xmpp:reply:0' id='x'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:other:0'><body start='0' end='1'/></fallback></message>`, "x", "", "hi"},
		{"no fallback", `<message><body>hi</body><reply xmlns='urn:xmpp:reply:0' id='x'/></message>`, "x", "", "hi"},
		{"no id: no reply", `<message><body>hi</body><reply xmlns='urn:xmpp:reply:0'/></message>`, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := decodeMessage(t, strings.Replace(tc.xml, "<message", "<message xmlns='jabber:client'", 1)).toMessage("me@example", nil)
			if tc.wantID == "" {
				if m.Reply != nil {
					t.Fatalf("Reply = %+v, want none", m.Reply)
				}
				return
			}
			if m.Reply == nil || m.Reply.ID != tc.wantID || m.Reply.To != tc.wantTo || m.ReplyText != tc.wantText {
				t.Fatalf("Reply = %+v, text %q; want %s/%s %q", m.Reply, m.ReplyText, tc.wantTo, tc.wantID, tc.wantText)
			}
		})
	}
}

func TestReactionsAndCorrectionParsing(t *testing.T) {
	m := decodeMessage(t, `<message xmlns='jabber:client' to='romeo@capulet.net/orchard' id='96d73204-a57a-11e9-88b8-4889e7820c76' type='chat'>
		<reactions id='744f6e18-a57a-11e9-a656-4889e7820c76' xmlns='urn:xmpp:reactions:0'>
			<reaction>👋</reaction><reaction>🐢</reaction><reaction>👋</reaction><reaction> </reaction>
		</reactions><store xmlns='urn:xmpp:hints'/></message>`).toMessage("me@example", nil)
	if m.Reactions == nil || m.Reactions.ID != "744f6e18-a57a-11e9-a656-4889e7820c76" || !slices.Equal(m.Reactions.Emojis, []string{"👋", "🐢"}) {
		t.Errorf("Reactions = %+v", m.Reactions)
	}
	none := decodeMessage(t, `<message xmlns='jabber:client'><reactions id='a' xmlns='urn:xmpp:reactions:0'/></message>`).toMessage("me@example", nil)
	if none.Reactions == nil || len(none.Reactions.Emojis) != 0 {
		t.Errorf("empty set = %+v, want an empty set (all removed)", none.Reactions)
	}
	var flood strings.Builder
	for i := range 500 {
		flood.WriteString("<reaction>r" + strconv.Itoa(i) + "</reaction>")
	}
	many := decodeMessage(t, `<message xmlns='jabber:client'><reactions id='a' xmlns='urn:xmpp:reactions:0'>`+flood.String()+`<reaction>`+strings.Repeat("x", 100)+`</reaction></reactions></message>`).toMessage("me@example", nil)
	if len(many.Reactions.Emojis) != MaxReactions {
		t.Errorf("a set of 500 kept %d reactions, want %d", len(many.Reactions.Emojis), MaxReactions)
	}
	c := decodeMessage(t, `<message xmlns='jabber:client' to='juliet@capulet.net/balcony' id='good1'>
		<body>But soft, what light through yonder window breaks?</body>
		<replace id='bad1' xmlns='urn:xmpp:message-correct:0'/></message>`).toMessage("me@example", nil)
	if c.Replace != "bad1" || c.Body != "But soft, what light through yonder window breaks?" {
		t.Errorf("correction = %q %q", c.Replace, c.Body)
	}
}

// TestWriteModernRoundTrip: what the session sends parses back as sent.
func TestWriteModernRoundTrip(t *testing.T) {
	for _, out := range []OutMessage{
		{Body: "yes!", Reply: &OutReply{To: "anna@example.com", ID: "m1", Quote: "> anna: 😀 cake?\n"}},
		{Reactions: &Reactions{ID: "m2", Emojis: []string{"👍", "<&>"}}},
		{Body: "fixed", Replace: "m3"},
	} {
		var b strings.Builder
		body := writeModern(&b, &out)
		x := `<message xmlns='jabber:client' type='chat'><body>` + escapeText(body) + `</body>` + b.String() + `</message>`
		m := decodeMessage(t, x).toMessage("me@example", nil)
		switch {
		case out.Reply != nil:
			if m.Reply == nil || m.Reply.ID != "m1" || m.Reply.To != "anna@example.com" || m.ReplyText != "yes!" || m.Body != "> anna: 😀 cake?\nyes!" {
				t.Errorf("reply %s parsed as %+v %q %q", x, m.Reply, m.ReplyText, m.Body)
			}
		case out.Reactions != nil:
			if m.Reactions == nil || !slices.Equal(m.Reactions.Emojis, out.Reactions.Emojis) || !strings.Contains(x, "<store xmlns='urn:xmpp:hints'/>") {
				t.Errorf("reactions %s parsed as %+v", x, m.Reactions)
			}
		default:
			if m.Replace != "m3" || m.Body != "fixed" {
				t.Errorf("correction %s parsed as %q %q", x, m.Replace, m.Body)
			}
		}
	}
}
