package lazylog

import (
	"bytes"
	"log/slog"
	"testing"
)

type source struct {
	handler slog.Handler
	name    string
}

func (s *source) Handler() slog.Handler { return s.handler }
func (s *source) LogAttrs() []slog.Attr { return []slog.Attr{slog.String("who", s.name)} }

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// The source's attributes come first, also through With and WithGroup,
// and are read when a record is logged, not when the logger is made.
func TestAttributesFirst(t *testing.T) {
	var out bytes.Buffer
	src := &source{slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: dropTime}), "a"}
	l := New(src)
	l.Info("one", "k", 1)
	src.name = "b"
	l.With("w", 2).Info("two")
	l.WithGroup("g").Info("three", "k", 3)
	want := "level=INFO msg=one who=a k=1\nlevel=INFO msg=two who=b w=2\nlevel=INFO msg=three who=b g.k=3\n"
	if got := out.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
}

// A logger over a pointer source costs the logger alone: the handler is
// held in the interface without an allocation of its own.
func TestOneAllocation(t *testing.T) {
	src := &source{slog.NewTextHandler(&bytes.Buffer{}, nil), "a"}
	var l *slog.Logger
	if n := testing.AllocsPerRun(100, func() { l = New(src) }); n != 1 {
		t.Errorf("%v allocations per logger, want 1", n)
	}
	if l.Handler().(Handler[*source]).src != src {
		t.Error("the handler lost its source")
	}
}
