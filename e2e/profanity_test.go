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

// A real OMEMO client, profanity (libsignal), as the contact alice: it
// makes its keys, fetches xircd's device and bundle, is told to trust
// xircd's fingerprint (which the user reads with "fingerprint" in &xmpp;
// without it profanity starts no session) and sends two encrypted
// messages, which the IRC client sees decrypted and marked, the ratchet
// advancing.
func TestProfanityOMEMO(t *testing.T) {
	needTool(t, "tmux", "profanity")
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")

	host, port, err := net.SplitHostPort(e.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	config := filepath.Join(home, "config")
	if err := os.MkdirAll(filepath.Join(config, "profanity"), 0o700); err != nil {
		t.Fatal(err)
	}
	prof := startTmux(t, fmt.Sprintf("env HOME=%s XDG_CONFIG_HOME=%s XDG_DATA_HOME=%s profanity -l DEBUG", home, config, filepath.Join(home, "data")))
	logFile := filepath.Join(home, "data", "profanity", "logs", "profanity.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
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
	// profanity publishes its device list only into an existing one: it
	// takes the server's item-not-found for a failure. alice's other
	// client publishes the list with profanity's device, as happens when
	// another client of the account came first.
	var device uint32
	waitFor(t, func() bool {
		b, _ := os.ReadFile(logFile)
		m := regexp.MustCompile(`\[OMEMO\] device id: (\d+)`).FindSubmatch(b)
		if m == nil {
			return false
		}
		id, err := strconv.ParseUint(string(m[1]), 10, 32)
		device = uint32(id)
		return err == nil
	})
	list, err := omemo.MarshalDeviceList([]uint32{device})
	if err != nil {
		t.Fatal(err)
	}
	publishOpen(t, e.peer("alice", "other"), omemo.DeviceListNode, list)
	prof.keys("/omemo start " + e.userJID)
	// xircd's fingerprint, as the user reads it in &xmpp.
	c.send("PRIVMSG &xmpp :fingerprint")
	_, fingerprint, _ := strings.Cut(c.expectLine("xircd's OMEMO device", "has the fingerprint").Trailing(), "has the fingerprint ")
	waitFor(t, func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "cache identity for "+e.userJID)
	})
	prof.keys("/omemo trust " + e.userJID + " " + strings.ReplaceAll(fingerprint, " ", ""))
	prof.waitScreen("[online] [OMEMO]")
	waitFor(t, func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "session with "+e.userJID+" device")
	})
	prof.keys("first from profanity")
	c.expectLine("🔒 first from profanity")
	prof.keys("second from profanity")
	c.expectLine("🔒 second from profanity")

	// The IRC user answers: alice's last message was encrypted, so xircd
	// encrypts ("auto") for profanity's device, which shows the text.
	for i, text := range []string{"first from irc", "second from irc"} {
		c.send("PRIVMSG Alice :%s", text)
		prof.waitScreen("~ me/xircd: " + text) // "~": profanity decrypted it (OMEMO)
		next := []string{"third from profanity", "fourth from profanity"}[i]
		prof.keys(next)
		c.expectLine("🔒 " + next)
	}
}
