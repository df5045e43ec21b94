package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

// A read returns what was last written: queued, being written, or failed
// to write, before it is on disk; a failed writeNow changes nothing.
func TestFileWriterReadsWhatWasLastWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := writeFileAtomic(path, []byte("on disk")); err != nil {
		t.Fatal(err)
	}
	w := newFileWriter(slog.New(slog.DiscardHandler))
	started, release := make(chan struct{}, 1), make(chan error)
	w.writeFile = func(path string, data []byte) error {
		started <- struct{}{}
		if err := <-release; err != nil {
			return err
		}
		return writeFileAtomic(path, data)
	}
	expect := func(when, want string) {
		t.Helper()
		if got, err := w.read(path); err != nil || string(got) != want {
			t.Fatalf("%s: read %q, %v; want %q", when, got, err, want)
		}
	}
	expect("nothing written", "on disk")
	w.write(path, []byte("queued"))
	expect("queued", "queued")
	<-started
	expect("being written", "queued")
	w.write(path, []byte("queued after"))
	expect("queued behind a write", "queued after")
	release <- nil
	<-started
	release <- errors.New("disk full")
	w.flush()
	expect("failed to write", "queued after")
	if data, _ := os.ReadFile(path); string(data) != "queued" {
		t.Fatalf("on disk %q, want the last write that succeeded", data)
	}

	w.writeFile = func(string, []byte) error { return errors.New("disk full") }
	if err := w.writeNow(path, []byte("now")); err == nil {
		t.Fatal("a failed writeNow reports no error")
	}
	expect("a failed writeNow", "queued after")
	w.writeFile = writeFileAtomic
	if err := w.writeNow(path, []byte("now")); err != nil {
		t.Fatal(err)
	}
	expect("written now", "now")
	if data, _ := os.ReadFile(path); string(data) != "now" {
		t.Fatalf("on disk %q after writeNow", data)
	}
}

// The state files of many users are written by a few goroutines in turn,
// not one waiting in its fsync for every user, and none is left unwritten.
func TestFileWritersShareFewGoroutines(t *testing.T) {
	const users = 3 * maxFileWorkers
	var mu sync.Mutex
	writing, most, written := 0, 0, map[string]string{}
	release := make(chan struct{})
	writers := make([]*fileWriter, users)
	for i := range writers {
		w := newFileWriter(slog.New(slog.DiscardHandler))
		w.writeFile = func(path string, data []byte) error {
			mu.Lock()
			writing++
			most = max(most, writing)
			mu.Unlock()
			<-release // a disk that takes its time
			mu.Lock()
			writing--
			written[path] = string(data)
			mu.Unlock()
			return nil
		}
		writers[i] = w
	}
	for i, w := range writers {
		w.write(fmt.Sprintf("user%d/state.json", i), []byte(fmt.Sprint("state of ", i)))
	}
	// Every writer that can start is waiting in writeFile; the rest are
	// queued, not started.
	for {
		mu.Lock()
		n := writing
		mu.Unlock()
		if n >= min(users, maxFileWorkers) {
			break
		}
		runtime.Gosched()
	}
	close(release)
	for _, w := range writers {
		w.flush()
	}
	if most > maxFileWorkers {
		t.Errorf("%d files written at once, want at most %d", most, maxFileWorkers)
	}
	for i := range writers {
		if got, want := written[fmt.Sprintf("user%d/state.json", i)], fmt.Sprint("state of ", i); got != want {
			t.Errorf("user%d: written %q, want %q", i, got, want)
		}
	}
}
