package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

func TestCatchUpFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := loadCatchUp(dir)
	if err != nil || st.position.ID != "" || len(st.clients) != 0 {
		t.Fatalf("first start: %+v, %v", st, err)
	}
	at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	st.position = resumePoint{ID: "s9", At: at}
	putIn(&st.clients, "laptop", resumePoint{ID: "s8", At: at})
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	again, err := loadCatchUp(dir)
	if err != nil || again.position != st.position || again.clients["laptop"] != st.clients["laptop"] {
		t.Fatalf("reloaded %+v, %v", again, err)
	}
	os.WriteFile(filepath.Join(dir, catchUpFileName), []byte("{"), 0o600)
	if _, err := loadCatchUp(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a corrupt file: %v", err)
	}
}

// At start-up, xircd fetches what the archive holds after the last
// message it saw before it stopped, and shows it like backlog; the user's
// own messages sent through xircd before it stopped are not shown again.
func TestStartupCatchUp(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "seen", StanzaID: "s1", Delay: fixedNow.Add(-time.Minute)})
	c.send("PRIVMSG Alice :sent before stopping")
	c.take()
	h.stop()
	var f catchUpFile
	data, _ := os.ReadFile(filepath.Join(dir, catchUpFileName))
	if err := json.Unmarshal(data, &f); err != nil || f.Last.ID != "s1" || !f.Last.At.Equal(fixedNow) {
		t.Fatalf("catch-up point %+v (%v) in %s", f, err, data)
	}

	later := fixedNow.Add(time.Hour)
	h = newHarness(t, Config{StateDir: dir})
	h.x.archive = []xmpp.Message{
		{StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "seen", Delay: fixedNow.Add(-time.Minute)},
		{StanzaID: "s2", ID: "id1", OriginID: "id1", From: "me@example.org/xircd", To: "alice@example.org", Type: "chat", Body: "sent before stopping", Delay: fixedNow},
		{StanzaID: "s3", ID: "p1", From: "alice@example.org/phone", To: "me@example.org/phone", Type: "chat", Body: "taken by the phone", Delay: later},
		{StanzaID: "s4", OriginID: "o4", From: "me@example.org/phone", To: "alice@example.org", Type: "chat", Body: "answered on the phone", Delay: later},
	}
	// The roster comes before the archive's answer, as it does from a
	// server (it is asked for first).
	h.x.holdAnswers = true
	h.connect(item("alice@example.org", "Alice"))
	h.x.mu.Lock()
	h.x.holdAnswers = false
	h.x.mu.Unlock()
	c = h.attach("me", "server-time", "message-tags")
	got := c.take()
	want := []string{
		"@msgid=s3;time=2026-03-04T06:06:07.000Z :Alice!alice@example.org PRIVMSG me :taken by the phone",
		"@msgid=o4;time=2026-03-04T06:06:07.000Z :me!user@localhost PRIVMSG Alice :answered on the phone",
	}
	if n := strings.Count(strings.Join(got, "\n"), "PRIVMSG"); n != 2 {
		t.Errorf("%d messages, want 2:\n\t%s", n, strings.Join(got, "\n\t"))
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("missing %q in:\n\t%s", w, strings.Join(got, "\n\t"))
		}
	}
	if !strings.Contains(strings.Join(got, "\n"), "Fetched 2 message(s) from the server's archive that arrived while xircd was not running.") {
		t.Errorf("no notice:\n\t%s", strings.Join(got, "\n\t"))
	}
	if q := h.x.archiveQ; len(q) != 1 || q[0].After != "s1" {
		t.Errorf("archive queries %+v, want one after s1", q)
	}
}

// A named client gets, when it attaches, what arrived since it detached,
// once; another named client catches up on its own; a client without a
// name gets the shared backlog only.
func TestNamedClientsCatchUpSeparately(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	alice := func(id, body string) xmpp.Message {
		return xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: body, StanzaID: id, Delay: fixedNow}
	}
	laptop := h.attachUser("me", "me@laptop", "message-tags")
	phone := h.attachUser("me", "me@phone", "message-tags")
	h.event(alice("s1", "one"))
	laptop.detach()
	h.event(alice("s2", "two"))
	phone.detach()
	h.event(alice("s3", "three")) // into the shared backlog
	h.x.archiveQ = nil

	// The archive keeps times to the second; the catch-up shows the time
	// the message was shown with live.
	archived := func(id, body string) xmpp.Message {
		m := alice(id, body)
		m.Delay = m.Delay.Add(time.Second)
		return m
	}
	h.x.archive = []xmpp.Message{archived("s1", "one"), archived("s2", "two"), archived("s3", "three")}
	laptop = h.attachUser("me", "me@laptop", "message-tags")
	got := laptop.take()
	for _, body := range []string{"two", "three"} {
		if n := strings.Count(strings.Join(got, "\n"), "PRIVMSG me :"+timestampPrefix(fixedNow)+body); n != 1 {
			t.Errorf("laptop got %q %d times:\n\t%s", body, n, strings.Join(got, "\n\t"))
		}
	}
	if !strings.Contains(strings.Join(got, "\n"), "NOTICE me :Fetched 1 message(s) from the server's archive that arrived since this client (laptop) was last attached.") {
		t.Errorf("laptop: no notice:\n\t%s", strings.Join(got, "\n\t"))
	}

	// Like backlog: in a chathistory batch for a client with batch.
	phone = h.attachUser("me", "me@phone", "message-tags", "batch")
	got = phone.take()
	if n := strings.Count(strings.Join(got, "\n"), "PRIVMSG me"); n != 1 || !strings.Contains(strings.Join(got, "\n"), "BATCH +backlog1 chathistory Alice\n@batch=backlog1;msgid=s3") {
		t.Errorf("phone got:\n\t%s", strings.Join(got, "\n\t"))
	}
	laptop.expect() // the phone's catch-up is the phone's alone

	plain := h.attach("me")
	if got := plain.take(); strings.Contains(strings.Join(got, "\n"), "PRIVMSG") {
		t.Errorf("a client without a name got:\n\t%s", strings.Join(got, "\n\t"))
	}
	if q := h.x.archiveQ; len(q) != 2 || q[0].After != "s1" || q[1].After != "s2" {
		t.Errorf("archive queries %+v, want two, after what each client had seen", q)
	}
}

// A gateway that never saw a chat message still catches up, from when it
// stopped.
func TestStartupCatchUpWithoutAnyMessageSeen(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	h.x.archive = []xmpp.Message{{StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "while stopped", Delay: fixedNow.Add(time.Minute)}}
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	if got := strings.Join(c.take(), "\n"); !strings.Contains(got, "while stopped") {
		t.Errorf("not caught up:\n%s", got)
	}
	if q := h.x.archiveQ; len(q) != 1 || q[0].After != "" || !q[0].Start.Equal(fixedNow) {
		t.Errorf("archive queries %+v, want one from the stop", q)
	}
}

// A stream lost during the start-up catch-up does not lose what it was
// fetching: the catch-up after the reconnect starts where it did.
func TestStartupCatchUpInterruptedByReconnect(t *testing.T) {
	dir := t.TempDir()
	st, _ := loadCatchUp(dir)
	st.position = resumePoint{ID: "s1", At: fixedNow}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{StateDir: dir})
	h.x.archive = []xmpp.Message{
		{StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "seen", Delay: fixedNow},
		{StanzaID: "s2", From: "alice@example.org/phone", Type: "chat", Body: "while stopped", Delay: fixedNow.Add(time.Minute)},
	}
	h.x.holdAnswers = true
	h.connect(item("alice@example.org", "Alice"))
	h.x.takeAnswers() // lost with the stream
	h.event(xmpp.Disconnected{})
	h.x.mu.Lock()
	h.x.holdAnswers = false
	h.x.mu.Unlock()
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	c := h.attach("me")
	if got := strings.Join(c.take(), "\n"); !strings.Contains(got, "while stopped") {
		t.Errorf("not caught up:\n%s", got)
	}
	if q := h.x.archiveQ; len(q) != 2 || q[1].After != "s1" {
		t.Errorf("archive queries %+v, want the second after s1 again", q)
	}
}

func TestClientNamesAreBounded(t *testing.T) {
	var clients map[string]resumePoint
	for i := range maxClientNames {
		rememberClient(&clients, fmt.Sprintf("c%d", i), resumePoint{At: fixedNow.Add(time.Duration(i) * time.Minute)})
	}
	rememberClient(&clients, "c0", resumePoint{At: fixedNow.Add(time.Hour * 2)}) // c0 leaves again
	rememberClient(&clients, "new", resumePoint{At: fixedNow.Add(time.Hour * 3)})
	if len(clients) != maxClientNames {
		t.Errorf("%d names kept, want %d", len(clients), maxClientNames)
	}
	if _, ok := clients["c1"]; ok {
		t.Error("the client that left longest ago is still known")
	}
	for _, name := range []string{"c0", "c2", "new"} {
		if _, ok := clients[name]; !ok {
			t.Errorf("%s was forgotten", name)
		}
	}
}

// A position that moved within positionSaveEvery of the last save is
// written once that time has passed, by the owner itself: no goroutine waits to
// hand the save over while the owner is busy (there would be one for every user
// at once, a second after a message to all of them).
func TestCatchUpPointSavedLaterWithoutAGoroutine(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	alice := func(id string) xmpp.Message {
		return xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi " + id, StanzaID: id, Delay: fixedNow}
	}
	h.event(alice("s1")) // written at once
	h.event(alice("s2")) // written once positionSaveEvery has passed
	due := time.Now().Add(positionSaveEvery)

	// Run is busy, waiting for the XMPP session, when the save falls due,
	// and a while after.
	h.x.mu.Lock()
	c.write("PRIVMSG Alice :while busy")
	time.Sleep(time.Until(due) + positionSaveEvery)
	stacks := make([]byte, 1<<20)
	stacks = stacks[:runtime.Stack(stacks, true)]
	h.x.mu.Unlock()
	if bytes.Contains(stacks, []byte("flushCatchUpState")) {
		t.Error("a goroutine waits to hand the save to Run")
	}

	expectSaved := func(id string) {
		t.Helper()
		for deadline := time.Now().Add(waitTimeout); ; time.Sleep(10 * time.Millisecond) {
			st, err := loadCatchUp(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.position.ID == id {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("catch-up point %+v, want %s written while Run runs", st.position, id)
			}
		}
	}
	expectSaved("s2")
	// With nothing else for Run to do.
	h.event(alice("s3"))
	expectSaved("s3")
}
