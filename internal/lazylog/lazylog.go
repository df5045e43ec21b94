// Package lazylog is a slog handler that adds a logger's own attributes to
// each record as it is logged. slog.Logger.With formats them up front into
// a copy of the handler (about 200 bytes with the text handler), which
// every IRC connection and every user of multi-user mode, idle ones too,
// would keep.
package lazylog

import (
	"context"
	"log/slog"
)

// Source gives a logger's handler and the attributes that come first in
// each of its records.
type Source interface {
	Handler() slog.Handler
	LogAttrs() []slog.Attr
}

// Handler logs through its source's handler, the source's attributes
// first. With a pointer as S it is a single pointer, which an interface
// (and so slog.New) holds without allocating.
type Handler[S Source] struct {
	src S
}

// New returns a logger whose records start with src's attributes.
func New[S Source](src S) *slog.Logger { return slog.New(Handler[S]{src: src}) }

func (h Handler[S]) Enabled(ctx context.Context, level slog.Level) bool {
	return h.src.Handler().Enabled(ctx, level)
}

func (h Handler[S]) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.src.LogAttrs()...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.src.Handler().Handle(ctx, out)
}

func (h Handler[S]) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.src.Handler().WithAttrs(append(h.src.LogAttrs(), attrs...))
}

func (h Handler[S]) WithGroup(name string) slog.Handler {
	return h.src.Handler().WithAttrs(h.src.LogAttrs()).WithGroup(name)
}
