package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"xircd/xmpp"
)

// copyCountingHandler counts the copies made of it with attributes.
type copyCountingHandler struct {
	slog.Handler
	copies *atomic.Int32
}

func (h copyCountingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.copies.Add(1)
	return copyCountingHandler{h.Handler.WithAttrs(attrs), h.copies}
}

// A user's log lines start with the part and the user, and neither its
// logger nor its XMPP session keeps a copy of the process's log handler
// (which With would make, for every user).
func TestUserLogger(t *testing.T) {
	var out bytes.Buffer
	var copies atomic.Int32
	logger := slog.New(copyCountingHandler{slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: dropTime}), &copies})
	cfg := defaultConfig()
	cfg.MultiUser.Enabled, cfg.MultiUser.AllowedDomains = true, []string{"example.org"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	us := newUsers(ctx, &cfg, logger, &metrics{})
	defer us.close()
	s, err := xmpp.New(us.xmppConfig("someone@example.org", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := copies.Load(); n != 0 {
		t.Errorf("a user's XMPP session copied the log handler %d times", n)
	}

	l := userLogger(logger, "bridge", "someone@example.org")
	l.Info("hello", "k", "v")
	l.With("w", 1).WithGroup("g").Warn("bye", "k", "v")
	want := "level=INFO msg=hello part=bridge user=someone@example.org k=v\n" +
		"level=WARN msg=bye part=bridge user=someone@example.org w=1 g.k=v\n"
	if out.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", out.String(), want)
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
