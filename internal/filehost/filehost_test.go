package filehost

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fileServer takes PUTs like an XEP-0363 service and serves them back.
type fileServer struct {
	mu     sync.Mutex
	files  map[string]string
	header http.Header
	*httptest.Server
}

func newFileServer(t *testing.T) *fileServer {
	f := &fileServer{files: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			if r.Header.Get("Authorization") != "slot-secret" {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			b, _ := io.ReadAll(r.Body)
			f.files[r.URL.Path], f.header = string(b), r.Header.Clone()
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			io.WriteString(w, f.files[r.URL.Path])
		}
	}))
	t.Cleanup(f.Close)
	return f
}

type slots struct {
	srv  *fileServer
	max  int64
	err  error
	asks []string
}

func (s *slots) UploadSlot(ctx context.Context, name string, size int64, ctype string) (Slot, error) {
	s.asks = append(s.asks, fmt.Sprintf("%s %d %s", name, size, ctype))
	if s.err != nil {
		return Slot{}, s.err
	}
	if size > s.max {
		return Slot{}, &TooLargeError{Max: s.max}
	}
	u := s.srv.URL + "/f/" + name
	return Slot{PutURL: u, GetURL: u, Header: map[string]string{"Authorization": "slot-secret"}}, nil
}

func post(t *testing.T, h http.Handler, body, password string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://irc.example"+Path, strings.NewReader(body))
	if password != "" {
		r.SetBasicAuth("me", password)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestUploadGoesToTheSlot(t *testing.T) {
	srv := newFileServer(t)
	s := &slots{srv: srv, max: 100}
	h := Handler(Config{Password: "pw", Slots: s})

	res := post(t, h, "hello file", "pw", map[string]string{"Content-Type": "text/plain", "Content-Disposition": `attachment; filename="../a b.txt"`})
	if res.StatusCode != http.StatusCreated || res.Header.Get("Location") != srv.URL+"/f/a b.txt" {
		t.Fatalf("upload answered %s, Location %q", res.Status, res.Header.Get("Location"))
	}
	if got := srv.files["/f/a b.txt"]; got != "hello file" {
		t.Errorf("the file server got %q", got)
	}
	if srv.header.Get("Content-Type") != "text/plain" {
		t.Errorf("PUT with Content-Type %q", srv.header.Get("Content-Type"))
	}
	if s.asks[0] != "a b.txt 10 text/plain" {
		t.Errorf("slot asked for %q", s.asks[0])
	}
}

func TestUploadErrors(t *testing.T) {
	srv := newFileServer(t)
	for _, tc := range []struct {
		name     string
		body     string
		password string
		slotErr  error
		want     int
	}{
		{"no password", "x", "", nil, http.StatusUnauthorized},
		{"wrong password", "x", "nope", nil, http.StatusUnauthorized},
		{"too large", strings.Repeat("x", 101), "pw", nil, http.StatusRequestEntityTooLarge},
		{"empty", "", "pw", nil, http.StatusBadRequest},
		{"no upload service", "x", "pw", fmt.Errorf("%w: the XMPP server offers none", ErrUnavailable), http.StatusServiceUnavailable},
		{"slot refused", "x", "pw", fmt.Errorf("not-allowed"), http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handler(Config{Password: "pw", Slots: &slots{srv: srv, max: 100, err: tc.slotErr}})
			if res := post(t, h, tc.body, tc.password, nil); res.StatusCode != tc.want {
				t.Errorf("answered %s, want %d", res.Status, tc.want)
			}
		})
	}

	// The file server refusing the PUT is a bad gateway.
	h := Handler(Config{Password: "pw", Slots: &slots{srv: srv, max: 100}})
	bad := &slotsWithHeader{slots{srv: srv, max: 100}}
	if res := post(t, Handler(Config{Password: "pw", Slots: bad}), "x", "pw", nil); res.StatusCode != http.StatusBadGateway {
		t.Errorf("refused PUT answered %s", res.Status)
	}

	// Without Content-Length the size is not known: 411.
	r := httptest.NewRequest(http.MethodPost, Path, io.NopCloser(strings.NewReader("x")))
	r.ContentLength = -1
	r.SetBasicAuth("me", "pw")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusLengthRequired {
		t.Errorf("no Content-Length answered %d", w.Code)
	}

	for method, want := range map[string]int{http.MethodOptions: http.StatusNoContent, http.MethodGet: http.StatusMethodNotAllowed} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, Path, nil))
		if w.Code != want || !strings.Contains(w.Header().Get("Allow"), "POST") {
			t.Errorf("%s answered %d (Allow %q), want %d", method, w.Code, w.Header().Get("Allow"), want)
		}
	}
}

// slotsWithHeader gives slots without the file server's authorization.
type slotsWithHeader struct{ slots }

func (s *slotsWithHeader) UploadSlot(ctx context.Context, name string, size int64, ctype string) (Slot, error) {
	slot, err := s.slots.UploadSlot(ctx, name, size, ctype)
	slot.Header = nil
	return slot, err
}

func TestWithoutPasswordOnlyLoopback(t *testing.T) {
	srv := newFileServer(t)
	h := Handler(Config{Slots: &slots{srv: srv, max: 100}})
	for addr, want := range map[string]int{"127.0.0.1:5000": http.StatusCreated, "[::1]:5000": http.StatusCreated, "192.0.2.1:5000": http.StatusUnauthorized} {
		r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader("x"))
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("from %s: %d, want %d", addr, w.Code, want)
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		`attachment; filename="cat.jpg"`:                   "cat.jpg",
		`attachment; filename="../../etc/passwd"`:          "passwd",
		`attachment; filename="C:\\x\\y.txt"`:              "y.txt",
		`attachment; filename*=UTF-8''gr%C3%BC%C3%9Fe.txt`: "grüße.txt",
		`attachment; filename="a` + "\x01" + `b"`:          "ab",
		``:                         "file",
		`attachment`:               "file",
		`attachment; filename="/"`: "file",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fileName(`attachment; filename="` + strings.Repeat("é", 300) + `"`); len(got) > maxNameLen {
		t.Errorf("a long name stays %d bytes", len(got))
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		want string
	}{
		{"127.0.0.1:6680", false, "http://127.0.0.1:6680/upload"},
		{"[::1]:6680", true, "https://[::1]:6680/upload"},
		{"0.0.0.0:443", true, "https://localhost:443/upload"},
		{":6680", false, "http://localhost:6680/upload"},
	} {
		if got := URL(tc.addr, tc.tls); got != tc.want {
			t.Errorf("URL(%q, %v) = %q, want %q", tc.addr, tc.tls, got, tc.want)
		}
	}
}
