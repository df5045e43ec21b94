package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"
	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
)

// A draft/multiline batch arrives at the contact as ONE message; a
// multi-line body arrives as one batch at a client with the capability and
// as several lines at one without.
func TestMultilineBothWays(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.rawPeer("alice", "desk")
	e.start()
	c := e.client("me", "batch", "draft/multiline", "message-tags", "echo-message")
	plain := e.client("me")
	waitContact(t, c, "alice")

	c.send("BATCH +b1 draft/multiline alice")
	c.send("@batch=b1 PRIVMSG alice :first line")
	c.send("@batch=b1;draft/multiline-concat PRIVMSG alice :, continued")
	c.send("@batch=b1 PRIVMSG alice :second line")
	c.send("BATCH -b1")
	got := alice.expect(func(m goxmpp.Chat) bool { return m.Text != "" })
	if got.Text != "first line, continued\nsecond line" {
		t.Errorf("alice received %q, want the batch as one message", got.Text)
	}
	open := c.expect(func(m *irc.Message) bool { return m.Command == "BATCH" && m.Param(1) == "draft/multiline" })
	if open.Param(2) != "alice" || open.Tags["msgid"] == "" {
		t.Errorf("echo opens with %q", open)
	}

	alice.send("<message to='%s' type='chat' id='ml-1'><body>one\ntwo\nthree</body></message>", e.userJID)
	open = c.expect(func(m *irc.Message) bool {
		return m.Command == "BATCH" && m.Param(1) == "draft/multiline" && m.Prefix.Name == "alice"
	})
	ref := strings.TrimPrefix(open.Param(0), "+")
	if open.Param(2) != "me" || open.Tags["msgid"] == "" || ref == open.Param(0) {
		t.Errorf("batch opens with %q", open)
	}
	for _, want := range []string{"one", "two", "three"} {
		m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" })
		if m.Tags["batch"] != ref || m.Trailing() != want || m.Tags["msgid"] != "" {
			t.Errorf("in the batch: %q, want %q with batch=%s", m, want, ref)
		}
	}
	c.expect(func(m *irc.Message) bool { return m.Command == "BATCH" && m.Param(0) == "-"+ref })
	for _, want := range []string{"one", "two", "three"} {
		if m := plain.expect(privmsgFrom("alice")); m.Trailing() != want {
			t.Errorf("plain client got %q, want %q", m, want)
		}
	}
	if n := plain.count(func(m *irc.Message) bool { return m.Command == "BATCH" }); n != 0 {
		t.Errorf("plain client got %d BATCH lines", n)
	}
}

// An XEP-0066 link (as Conversations sends an upload: the URL as body and
// the link) shows as the URL with its description; the user's message that
// is one https URL carries the link.
func TestFileLinksBothWays(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.rawPeer("alice", "desk")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")

	const u = "https://upload.example/abc/cat.jpg"
	alice.send("<message to='%s' type='chat' id='f-1'><body>%s</body><x xmlns='jabber:x:oob'><url>%s</url><desc>A cat</desc></x></message>", e.userJID, u, u)
	if m := c.expect(privmsgFrom("alice")); m.Trailing() != u+" (A cat)" {
		t.Errorf("link shown as %q", m.Trailing())
	}
	alice.send("<message to='%s' type='chat' id='f-2'><body>%s</body><x xmlns='jabber:x:oob'><url>%s</url></x></message>", e.userJID, u, u)
	if m := c.expect(privmsgFrom("alice")); m.Trailing() != u {
		t.Errorf("link without description shown as %q", m.Trailing())
	}

	c.send("PRIVMSG alice :%s", u)
	if got := alice.expect(func(m goxmpp.Chat) bool { return m.Text != "" }); got.Text != u || got.Oob.Url != u {
		t.Errorf("alice received %+v, want the URL with an oob link", got)
	}
	c.send("PRIVMSG alice :look at %s", u)
	if got := alice.expect(func(m goxmpp.Chat) bool { return m.Text != "" }); got.Oob.Url != "" {
		t.Errorf("a sentence with a URL carries a link: %+v", got)
	}
}

// A file uploaded to the FILEHOST endpoint goes into an XEP-0363 slot of
// the user's server (Prosody's mod_http_file_share) and is served, the
// same bytes, at the URL the answer gives; a file above the server's
// limit is refused.
func TestFileHostUploadThroughXEP0363(t *testing.T) {
	e := newEnvWith(t, prosodytest.Options{FileShareLimit: 4096}, contact{user: "alice"})
	httpAddr := freeAddr(t)
	e.ircExtra = fmt.Sprintf("http_listen = %q", httpAddr)
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	endpoint := "http://" + httpAddr + "/upload"
	if n := c.count(func(m *irc.Message) bool {
		return m.Command == "005" && slices.Contains(m.Params, "soju.im/FILEHOST="+endpoint)
	}); n != 1 {
		t.Fatalf("ISUPPORT announces soju.im/FILEHOST=%s %d times", endpoint, n)
	}

	upload := func(body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Disposition", `attachment; filename="data.bin"`)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	file := make([]byte, 3000)
	for i := range file {
		file[i] = byte(i * 7)
	}
	var res *http.Response
	// The upload service is looked for once XMPP is connected: until then
	// the endpoint answers 503.
	waitFor(t, func() bool {
		res = upload(file)
		return res.StatusCode != http.StatusServiceUnavailable
	})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "http://"+e.srv.HTTPAddr+"/") {
		t.Fatalf("upload answered %s, Location %q", res.Status, loc)
	}
	get, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(got, file) {
		t.Errorf("GET %s gave %d bytes, not the %d uploaded", loc, len(got), len(file))
	}

	if res := upload(make([]byte, 5000)); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("5000 bytes with a limit of 4096: %s", res.Status)
	}
}
