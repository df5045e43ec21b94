package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession runs a terminal program in a detached tmux session so a test
// can type into it and read its screen as a user would.
type tmuxSession struct {
	t    *testing.T
	name string
}

func needTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (.ci/run installs it with apt-get)", tool)
			}
			t.Skipf("%s is not installed: apt-get install %s", tool, tool)
		}
	}
}

func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, name: fmt.Sprintf("xircd-e2e-%d", time.Now().UnixNano())}
	cmd := exec.Command("tmux", "new-session", "-d", "-s", s.name, "-x", "200", "-y", "50", command)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screen at the end:\n%s", s.screen())
		}
		exec.Command("tmux", "kill-session", "-t", s.name).Run()
	})
	return s
}

func (s *tmuxSession) keys(text string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", "send-keys", "-t", s.name, "-l", text).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
	exec.Command("tmux", "send-keys", "-t", s.name, "Enter").Run()
}

// alive reports whether the program in the session is still running.
func (s *tmuxSession) alive() bool {
	return exec.Command("tmux", "has-session", "-t", s.name).Run() == nil
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).Output()
	return string(out)
}

// waitScreen waits until the visible screen contains every part.
func (s *tmuxSession) waitScreen(parts ...string) {
	s.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		scr := s.screen()
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(scr, p)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q; it shows:\n%s", parts, scr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The final word: a real irssi connects, sees its contacts in &xmpp with
// voice, chats with one both ways and quits.
func TestIrssi(t *testing.T) {
	needTool(t, "tmux", "irssi")
	e := newEnv(t, contact{user: "alice", name: "Alice"}, contact{user: "bob"})
	alice := e.peer("alice", "phone")
	bob := e.peer("bob", "laptop")
	bob.SetPresence("away", "out for lunch")
	e.start()

	host, port, _ := strings.Cut(e.ircAddr, ":")
	home := filepath.Join(t.TempDir(), "irssi")
	os.MkdirAll(home, 0o700)
	term := startTmux(t, fmt.Sprintf("irssi --home=%s -n me -c %s -p %s", home, host, port))
	term.waitScreen("Act: 2") // irssi opened the control channel in window 2
	term.keys("/window goto &xmpp")
	term.waitScreen("[+Alice]", "[ bob]")
	term.keys("/msg Alice hello from irssi <&>")
	alice.expectMessage("hello from irssi <&>")

	alice.send(e.userJID, "hello back, irssi user")
	term.keys("/window goto Alice")
	term.waitScreen("<Alice> hello back, irssi user")

	term.keys("/window 1") // WHOIS replies land in the status window
	term.keys("/whois bob")
	term.waitScreen("bob@localhost", "out for lunch")

	term.keys("/away gone home")
	alice.expect(func(ev xmppEvent) bool { return isPresence(ev, e.userJID, "away", "gone home") })
	term.keys("/quit bye")
	waitFor(t, func() bool { return !term.alive() })
}
