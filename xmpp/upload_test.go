package xmpp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// The server's XEP-0363 service is found with its size limit, and a slot
// it gives takes a PUT whose file the get URL then serves.
func TestUploadSlotFromProsody(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{FileShareLimit: 5000})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", nil)
	start(t, s)

	id, err := s.FindUploadService(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	svc := answer[xmpp.UploadService](t, s, id, nil)
	if svc.JID != srv.UploadDomain || svc.MaxSize != 5000 {
		t.Fatalf("upload service %+v, want %s with 5000 bytes", svc, srv.UploadDomain)
	}
	id, err = s.RequestUploadSlot(context.Background(), svc.JID, "a b.txt", 5, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	slot := answer[xmpp.UploadSlot](t, s, id, nil)
	req, _ := http.NewRequest(http.MethodPut, slot.PutURL, strings.NewReader("hello"))
	req.Header.Set("Content-Type", "text/plain")
	for k, v := range slot.Header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %v %v", slot.PutURL, res, err)
	}
	res.Body.Close()
	get, err := http.Get(slot.GetURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if string(b) != "hello" {
		t.Errorf("GET %s = %q", slot.GetURL, b)
	}

	id, _ = s.RequestUploadSlot(context.Background(), svc.JID, "big", 6000, "")
	if big := answer[xmpp.UploadSlot](t, s, id, nil); big.Err == nil {
		t.Errorf("a slot for 6000 bytes with a limit of 5000: %+v", big)
	}
}
