package main

import (
	"log/slog"

	"xircd/internal/lazylog"
)

// userLog is what a user's loggers in multi-user mode (its XMPP session's
// and its bridge's) put first in each record: the part and the user,
// added as each record is logged (see lazylog) rather than kept in a copy
// of the handler for every user, twice.
type userLog struct {
	handler    slog.Handler
	part, user string
}

// userLogger is the logger of one part of a user's session.
func userLogger(l *slog.Logger, part, user string) *slog.Logger {
	return lazylog.New(&userLog{l.Handler(), part, user})
}

func (u *userLog) Handler() slog.Handler { return u.handler }

func (u *userLog) LogAttrs() []slog.Attr {
	return []slog.Attr{slog.String("part", u.part), slog.String("user", u.user)}
}
