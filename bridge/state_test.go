package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub") // created on first save
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Nicks["alice@example.org"] = "ally"
	putIn(&st.Overrides, "alice@example.org", true)
	putIn(&st.Settings, "show_offline", "true")
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != stateFileName {
		t.Errorf("state dir holds %v, want only %s", entries, stateFileName)
	}
	back, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Nicks["alice@example.org"] != "ally" || !back.Overrides["alice@example.org"] || back.Settings["show_offline"] != "true" {
		t.Errorf("state did not round-trip: %+v", back)
	}
}

func TestCorruptStateIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFileName), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{StateDir: dir}, newFakeXMPP())
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("New with a corrupt state file: %v", err)
	}
}

func TestSettingPersists(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :set show_offline on")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :show_offline = true")
	h.stop()
	b, err := New(Config{StateDir: dir}, newFakeXMPP())
	if err != nil {
		t.Fatal(err)
	}
	if !b.showOffline {
		t.Error("show_offline was not kept across a restart")
	}
}
