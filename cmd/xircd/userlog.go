package main

import (
	"context"
	"log/slog"
)

// userLog is the handler of a user's loggers in multi-user mode (its XMPP
// session's and its bridge's): it puts part and user first in each record
// as it is logged, where slog.Logger.With would format them up front into
// a copy of the handler (about 200 bytes with the text handler) that every
// user would keep twice.
type userLog struct {
	slog.Handler
	part, user string
}

// userLogger is the logger of one part of a user's session.
func userLogger(l *slog.Logger, part, user string) *slog.Logger {
	return slog.New(&userLog{l.Handler(), part, user})
}

func (h *userLog) attrs() []slog.Attr {
	return []slog.Attr{slog.String("part", h.part), slog.String("user", h.user)}
}

func (h *userLog) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.attrs()...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h *userLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(append(h.attrs(), attrs...))
}

func (h *userLog) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs(h.attrs()).WithGroup(name)
}
