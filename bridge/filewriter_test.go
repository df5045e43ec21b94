package bridge

import (
	"sync"
	"testing"

	"xircd/xmpp"
)

// A slow state write does not hold up the user's messages: the files are
// written beside the owner goroutine, and all of them by the time Run ends.
func TestSlowStateWriteHoldsNoMessage(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	release := make(chan struct{})
	var releaseOnce sync.Once
	released := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(released) // before the harness stops, should the test fail
	h.b.files.writeFile = func(path string, data []byte) error {
		<-release // a disk that takes its time
		return writeFileAtomic(path, data)
	}
	c := h.attach("me")
	c.take()
	h.connect(item("alice@example.org", "Alice")) // the new nick is saved
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"})
	c.expectContains(":Alice!alice@example.org PRIVMSG me hi")
	released()
	h.stop()
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Nicks["alice@example.org"]; got != "Alice" {
		t.Errorf("saved nick %q, want Alice", got)
	}
}
