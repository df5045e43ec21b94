package bridge

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"xircd/internal/filehost"
	"xircd/xmpp"
)

// fakeUploader is the fake session with an XEP-0363 service: service ""
// for a server without one.
type fakeUploader struct {
	*fakeXMPP
	service string
	max     int64
}

func (f *fakeUploader) FindUploadService(ctx context.Context) (string, error) {
	f.record("find-upload-service")
	return f.request(func(id string) xmpp.Event { return xmpp.UploadService{ID: id, JID: f.service, MaxSize: f.max} })
}

func (f *fakeUploader) RequestUploadSlot(ctx context.Context, service, name string, size int64, ctype string) (string, error) {
	f.record("upload-slot %s %s %d %s", service, name, size, ctype)
	return f.request(func(id string) xmpp.Event {
		u := "https://" + service + "/f/" + name
		return xmpp.UploadSlot{ID: id, PutURL: u, GetURL: u, Header: map[string]string{"Authorization": "s"}}
	})
}

func uploadHarness(t *testing.T, service string) *harness {
	h := newHarness(t, Config{FileHostURL: "https://irc.example:6680/upload"}, func(b *Bridge) {
		b.x = &fakeUploader{fakeXMPP: b.x.(*fakeXMPP), service: service, max: 100}
	})
	h.connect()
	h.barrier()
	h.x.takeCalls()
	return h
}

// askSlot calls UploadSlot as the HTTP endpoint does, from its own
// goroutine, delivering XMPP's answer meanwhile.
func askSlot(h *harness, size int64) (filehost.Slot, error) {
	type result struct {
		slot filehost.Slot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		s, err := h.b.UploadSlot(context.Background(), "cat.jpg", size, "image/jpeg")
		done <- result{s, err}
	}()
	deadline := time.After(waitTimeout)
	for {
		h.barrier()
		select {
		case r := <-done:
			return r.slot, r.err
		case <-deadline:
			h.t.Fatal("UploadSlot did not return")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestUploadSlotFromTheServersService(t *testing.T) {
	h := uploadHarness(t, "upload.example.org")
	c := h.attach("me")
	if !strings.Contains(strings.Join(c.burst, "\n"), "soju.im/FILEHOST=https://irc.example:6680/upload") {
		t.Errorf("no FILEHOST in ISUPPORT:\n%s", strings.Join(c.burst, "\n"))
	}
	slot, err := askSlot(h, 50)
	if err != nil || slot.PutURL != "https://upload.example.org/f/cat.jpg" || slot.Header["Authorization"] != "s" {
		t.Fatalf("slot %+v, %v", slot, err)
	}
	h.expectCalls("upload-slot upload.example.org cat.jpg 50 image/jpeg")

	var tooLarge *filehost.TooLargeError
	if _, err := askSlot(h, 101); !errors.As(err, &tooLarge) || tooLarge.Max != 100 {
		t.Errorf("101 bytes with a limit of 100: %v", err)
	}
	h.expectCalls()

	h.event(xmpp.Disconnected{})
	if _, err := askSlot(h, 50); !errors.Is(err, filehost.ErrUnavailable) {
		t.Errorf("while disconnected: %v", err)
	}
}

func TestNoUploadWithoutAService(t *testing.T) {
	h := uploadHarness(t, "")
	if _, err := askSlot(h, 50); !errors.Is(err, filehost.ErrUnavailable) || !strings.Contains(err.Error(), "XEP-0363") {
		t.Errorf("without a service: %v", err)
	}
	h.expectCalls()
}

// Without a file host nothing uses an upload service: the server is not
// asked for one at login.
func TestNoUploadServiceLookupWithoutAFileHost(t *testing.T) {
	h := newHarness(t, Config{}, func(b *Bridge) {
		b.x = &fakeUploader{fakeXMPP: b.x.(*fakeXMPP), service: "upload.example.org"}
	})
	h.connect()
	h.barrier()
	for _, call := range h.x.takeCalls() {
		if call == "find-upload-service" {
			t.Fatal("the upload service was looked for without a file host")
		}
	}
	h = newHarness(t, Config{FileHostURL: "https://irc.example:6680/upload"}, func(b *Bridge) {
		b.x = &fakeUploader{fakeXMPP: b.x.(*fakeXMPP), service: "upload.example.org"}
	})
	h.connect()
	h.barrier()
	if !slices.Contains(h.x.takeCalls(), "find-upload-service") {
		t.Fatal("the upload service was not looked for with a file host")
	}
}
