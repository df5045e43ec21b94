package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"xircd/xmpp/omemo"
)

// profanityOMEMO is profanity (libsignal) in tmux as the contact alice,
// with OMEMO keys, a session with xircd's device and xircd's fingerprint
// trusted.
type profanityOMEMO struct {
	*tmuxSession
	logFile string
	device  uint32
}

// startProfanityOMEMO starts profanity in a HOME of its own as alice: it
// makes its keys, joins alice's device list (with others, when listed),
// fetches xircd's device and bundle and is told to trust xircd's
// fingerprint, which the user reads with "fingerprint" in &xmpp (without
// it profanity starts no session).
func startProfanityOMEMO(t *testing.T, e *env, c *ircClient, others ...uint32) *profanityOMEMO {
	t.Helper()
	host, port, err := net.SplitHostPort(e.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	config := filepath.Join(home, "config")
	if err := os.MkdirAll(filepath.Join(config, "profanity"), 0o700); err != nil {
		t.Fatal(err)
	}
	prof := &profanityOMEMO{
		tmuxSession: startTmux(t, fmt.Sprintf("env HOME=%s XDG_CONFIG_HOME=%s XDG_DATA_HOME=%s profanity -l DEBUG", home, config, filepath.Join(home, "data"))),
		logFile:     filepath.Join(home, "data", "profanity", "logs", "profanity.log"),
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(prof.logFile)
			t.Logf("profanity log:\n%s", tailString(string(b), 4000))
		}
	})
	prof.waitScreen("Welcome to")
	prof.keys(fmt.Sprintf("/connect alice@%s server %s port %s tls trust", e.srv.Domain, host, port))
	prof.waitScreen("Enter password")
	prof.keys("alice-pass")
	prof.waitScreen("logged in successfully")
	prof.keys("/omemo gen")
	prof.waitScreen("OMEMO crytographic materials generated")
	// profanity adds itself to an existing device list only: it takes
	// the server's item-not-found for a failure. alice's other client
	// publishes the list with profanity's device, as happens when
	// another client of the account came first.
	waitFor(t, func() bool {
		m := regexp.MustCompile(`\[OMEMO\] device id: (\d+)`).FindSubmatch(prof.log())
		if m == nil {
			return false
		}
		id, err := strconv.ParseUint(string(m[1]), 10, 32)
		prof.device = uint32(id)
		return err == nil
	})
	list, err := omemo.MarshalDeviceList(append(others, prof.device))
	if err != nil {
		t.Fatal(err)
	}
	publishOpen(t, e.peer("alice", fmt.Sprintf("other%d", prof.device)), omemo.DeviceListNode, list)
	prof.keys("/omemo start " + e.userJID)
	// xircd's fingerprint, as the user reads it in &xmpp.
	c.send("PRIVMSG &xmpp :fingerprint")
	_, fingerprint, _ := strings.Cut(c.expectLine("xircd's OMEMO device", "has the fingerprint").Trailing(), "has the fingerprint ")
	waitFor(t, func() bool { return strings.Contains(string(prof.log()), "cache identity for "+e.userJID) })
	prof.keys("/omemo trust " + e.userJID + " " + strings.ReplaceAll(fingerprint, " ", ""))
	prof.waitScreen("[online] [OMEMO]")
	waitFor(t, func() bool { return strings.Contains(string(prof.log()), "session with "+e.userJID+" device") })
	return prof
}

func (p *profanityOMEMO) log() []byte {
	b, _ := os.ReadFile(p.logFile)
	return b
}

// A real OMEMO client, profanity, as the contact alice, and the IRC user
// chat encrypted both ways: profanity's messages are shown decrypted and
// marked, the user's answers go encrypted ("auto": alice's last message
// was) and profanity shows them decrypted, the ratchet advancing over
// several messages; after xircd restarts, they go on; a second profanity
// of alice (another device) gets the user's next messages too. The user
// then verifies the first one's fingerprint, typed as profanity shows it.
func TestProfanityOMEMO(t *testing.T) {
	needTool(t, "tmux", "profanity")
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")
	prof := startProfanityOMEMO(t, e, c)

	// exchange: profanity p sends, the user answers, and every one of
	// readers shows the answer decrypted ("~" marks OMEMO in profanity).
	exchange := func(c *ircClient, p *profanityOMEMO, from, answer string, readers ...*profanityOMEMO) {
		t.Helper()
		p.keys(from)
		c.expectLine("🔒 " + from)
		c.send("PRIVMSG Alice :%s", answer)
		for _, r := range readers {
			r.waitScreen("~ me/xircd: " + answer)
		}
	}
	exchange(c, prof, "first from profanity", "first from irc", prof)
	exchange(c, prof, "second from profanity", "second from irc", prof)
	exchange(c, prof, "third from profanity", "third from irc", prof)

	e.stop()
	e.start()
	c = e.client("me")
	waitContact(t, c, "Alice")
	exchange(c, prof, "after the restart", "still encrypted", prof)

	second := startProfanityOMEMO(t, e, c, prof.device)
	waitFor(t, func() bool {
		c.send("PRIVMSG &xmpp :omemo")
		return strings.Count(c.expectLine("Alice: auto").Trailing(), "(session)") == 2
	})
	exchange(c, second, "from the second device", "to both devices", second, prof)

	// The user compares the first profanity's fingerprint, as profanity
	// shows it, with the one xircd lists for that device, and trusts it
	// typed as read there; the second device, met before, stays in use.
	prof.keys("/win 1")
	prof.keys("/omemo fingerprint")
	prof.waitScreen("Your OMEMO fingerprint: ")
	_, shown, _ := strings.Cut(prof.screen(), "Your OMEMO fingerprint: ")
	shown, _, _ = strings.Cut(shown, "\n")
	shown = strings.TrimSpace(shown)
	c.send("PRIVMSG &xmpp :omemo fingerprints Alice")
	c.expectLine("PRIVMSG &xmpp :Alice's device "+strconv.FormatUint(uint64(prof.device), 10)+": ", strings.ReplaceAll(shown, "-", " ")+" — trusted blindly")
	c.send("PRIVMSG &xmpp :omemo trust Alice " + shown)
	c.expectLine("PRIVMSG &xmpp :Alice's device " + strconv.FormatUint(uint64(prof.device), 10) + " is now trusted")
	prof.keys("/win 2")
	exchange(c, prof, "verified now", "to both still", second, prof)
}
