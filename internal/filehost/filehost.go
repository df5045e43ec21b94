// Package filehost is the HTTP endpoint behind the soju.im/FILEHOST
// ISUPPORT token: an IRC client POSTs a file to it, the endpoint asks Slots
// for a place to put the file (for xircd: an XEP-0363 upload slot of the
// XMPP server), PUTs the file there and answers 201 Created with the URL
// the file is served at in Location. It knows nothing of IRC or XMPP.
package filehost

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Path is where the endpoint takes uploads.
const Path = "/upload"

// Slot is where one file goes: PUT it to PutURL with Header, then GetURL
// serves it.
type Slot struct {
	PutURL string
	GetURL string
	Header map[string]string
}

// Slots hands out slots. UploadSlot returns ErrUnavailable (wrapped, with
// the reason) when there is nowhere to upload to, and a *TooLargeError for
// a file above the limit.
type Slots interface {
	UploadSlot(ctx context.Context, name string, size int64, contentType string) (Slot, error)
}

// ErrUnavailable: uploads are not possible at the moment.
var ErrUnavailable = errors.New("file upload is not available")

// TooLargeError refuses a file larger than Max bytes.
type TooLargeError struct{ Max int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the file is larger than the %d bytes the file server takes", e.Max)
}

// Config configures the handler.
type Config struct {
	// Password is what clients authenticate with (HTTP Basic, any user
	// name): the IRC password. Without one, only loopback clients may
	// upload, as on the IRC listener.
	Password string
	Slots    Slots
	// Client PUTs the files; nil is a client with PutTimeout.
	Client *http.Client
	Logger *slog.Logger
}

// Timeouts of one upload.
const (
	SlotTimeout = 30 * time.Second // waiting for a slot
	PutTimeout  = 10 * time.Minute // the PUT of the file, all of it
)

// maxNameLen bounds the file name asked for.
const maxNameLen = 200

type handler struct {
	cfg Config
}

// Handler returns the endpoint.
func Handler(cfg Config) http.Handler {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: PutTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &handler{cfg: cfg}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.Error(w, "not found: uploads go to "+Path, http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Allow", "OPTIONS, POST")
		w.Header().Set("Accept-Post", "*/*")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		h.upload(w, r)
	default:
		w.Header().Set("Allow", "OPTIONS, POST")
		http.Error(w, "method not allowed: POST the file", http.StatusMethodNotAllowed)
	}
}

func (h *handler) upload(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="xircd", charset="UTF-8"`)
		http.Error(w, "unauthorized: authenticate with the IRC password (HTTP Basic)", http.StatusUnauthorized)
		return
	}
	if r.ContentLength < 0 {
		http.Error(w, "length required: send Content-Length", http.StatusLengthRequired)
		return
	}
	if r.ContentLength == 0 {
		http.Error(w, "bad request: the file is empty", http.StatusBadRequest)
		return
	}
	ctype := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt == "" {
		ctype = "application/octet-stream"
	}
	name := fileName(r.Header.Get("Content-Disposition"))

	ctx, cancel := context.WithTimeout(r.Context(), SlotTimeout)
	slot, err := h.cfg.Slots.UploadSlot(ctx, name, r.ContentLength, ctype)
	cancel()
	var tooLarge *TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, "request entity too large: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, ErrUnavailable):
		http.Error(w, "service unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		h.cfg.Logger.Info("no upload slot", "err", err)
		http.Error(w, "bad gateway: the file server gave no upload slot: "+err.Error(), http.StatusBadGateway)
		return
	}

	put, err := http.NewRequestWithContext(r.Context(), http.MethodPut, slot.PutURL, io.LimitReader(r.Body, r.ContentLength))
	if err != nil {
		http.Error(w, "bad gateway: unusable upload slot", http.StatusBadGateway)
		return
	}
	put.ContentLength = r.ContentLength
	put.Header.Set("Content-Type", ctype)
	for k, v := range slot.Header {
		put.Header.Set(k, v)
	}
	res, err := h.cfg.Client.Do(put)
	if err != nil {
		h.cfg.Logger.Info("upload failed", "err", err)
		http.Error(w, "bad gateway: the upload to the file server failed", http.StatusBadGateway)
		return
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		h.cfg.Logger.Info("upload refused", "status", res.Status)
		http.Error(w, "bad gateway: the file server answered "+res.Status, http.StatusBadGateway)
		return
	}
	w.Header().Set("Location", slot.GetURL)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, slot.GetURL+"\n")
}

// authorized checks the IRC password, or without one that the client is
// on this machine.
func (h *handler) authorized(r *http.Request) bool {
	if h.cfg.Password == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		return err == nil && ip != nil && ip.IsLoopback()
	}
	_, pass, ok := r.BasicAuth()
	a, b := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(h.cfg.Password))
	return ok && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// fileName is the file name of a Content-Disposition, without directories
// or control characters, at most maxNameLen bytes; "file" when none is
// given.
func fileName(disposition string) string {
	_, params, _ := mime.ParseMediaType(disposition)
	name := path.Base(strings.ReplaceAll(params["filename"], `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	for len(name) > maxNameLen {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	return name
}

// URL is the FILEHOST URL of an endpoint listening on addr (host:port),
// https when tls.
func URL(addr string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + Path
	}
	if host == "" || net.ParseIP(host).IsUnspecified() {
		host = "localhost" // listening everywhere: irc.http_url names it for others
	}
	return scheme + "://" + net.JoinHostPort(host, port) + Path
}
