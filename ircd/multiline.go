package ircd

import (
	"strconv"
	"strings"

	"gopkg.in/irc.v4"
)

// Client batches: IRCv3 draft/multiline. A backend that lists
// "draft/multiline=max-bytes=N,max-lines=M" in Features.Caps receives a
// client's multiline batch as ONE PRIVMSG or NOTICE whose text has its lines
// joined with "\n" (lines tagged draft/multiline-concat are joined without
// one), tagged like the opening BATCH (label, client-only tags). ircd
// collects the lines, keeps at most the advertised limits, and answers a
// batch that breaks the rules with FAIL BATCH <code> when it closes.

// MultilineCap is the capability name of multiline messages.
const MultilineCap = "draft/multiline"

// multilineConcatTag marks a line of a multiline batch that continues the
// previous one without a line break.
const multilineConcatTag = "draft/multiline-concat"

// multilineLimits are the limits a backend advertises with the capability.
type multilineLimits struct {
	maxBytes, maxLines int
}

// parseMultilineLimits reads "max-bytes=N,max-lines=M" (max-lines is
// optional in the spec; without it only max-bytes bounds the batch).
func parseMultilineLimits(value string) (multilineLimits, bool) {
	var l multilineLimits
	for _, kv := range strings.Split(value, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			continue
		}
		switch k {
		case "max-bytes":
			l.maxBytes = n
		case "max-lines":
			l.maxLines = n
		}
	}
	return l, l.maxBytes > 0
}

// multilineLimits returns the limits of the backend's draft/multiline
// capability; ok is false when the backend does not offer it.
func (s *Server) multilineLimits() (multilineLimits, bool) {
	for _, tok := range s.features.Caps {
		if name, value, _ := strings.Cut(tok, "="); name == MultilineCap {
			return parseMultilineLimits(value)
		}
	}
	return multilineLimits{}, false
}

// clientBatch is a multiline batch a client has opened and not yet closed.
type clientBatch struct {
	ref    string
	target string
	opener irc.Tags // the opening BATCH's tags (label, client-only tags)
	limits multilineLimits

	command string // PRIVMSG or NOTICE, from the first line
	text    strings.Builder
	lines   int
	// fail is the first broken rule (code, context, text); the batch
	// keeps nothing more once it is set.
	fail *standardFail
}

type standardFail struct {
	code    string
	context []string
	text    string
}

func (b *clientBatch) failWith(code string, context []string, text string) {
	if b.fail == nil {
		b.fail = &standardFail{code, context, text}
		b.text.Reset()
	}
}

// add takes one line of the batch, checking the spec's rules and the limits.
func (b *clientBatch) add(m *irc.Message) {
	if b.fail != nil {
		return
	}
	if m.Command != "PRIVMSG" && m.Command != "NOTICE" {
		b.failWith("MULTILINE_INVALID", nil, "Only PRIVMSG and NOTICE may be in a multiline batch")
		return
	}
	if b.command == "" {
		b.command = m.Command
	} else if m.Command != b.command {
		b.failWith("MULTILINE_INVALID", nil, "A multiline batch may not mix PRIVMSG and NOTICE")
		return
	}
	if len(m.Params) < 2 {
		b.failWith("MULTILINE_INVALID", nil, "A line of the batch has no target or text")
		return
	}
	if Casefold(m.Params[0]) != Casefold(b.target) {
		b.failWith("MULTILINE_INVALID_TARGET", []string{b.target, m.Params[0]}, "A line of the batch has another target than the batch")
		return
	}
	text := m.Params[1]
	_, concat := m.Tags[multilineConcatTag]
	if concat && text == "" {
		b.failWith("MULTILINE_INVALID", nil, "A blank line may not be concatenated")
		return
	}
	b.lines++
	if b.limits.maxLines > 0 && b.lines > b.limits.maxLines {
		b.failWith("MULTILINE_MAX_LINES", []string{strconv.Itoa(b.limits.maxLines)}, "Multiline batch has too many lines")
		return
	}
	sep := 0
	if b.lines > 1 && !concat {
		sep = 1
	}
	if b.text.Len()+sep+len(text) > b.limits.maxBytes {
		b.failWith("MULTILINE_MAX_BYTES", []string{strconv.Itoa(b.limits.maxBytes)}, "Multiline batch is too long")
		return
	}
	if sep == 1 {
		b.text.WriteByte('\n')
	}
	b.text.WriteString(text)
}

// message is the batch as one command for the backend.
func (b *clientBatch) message() *irc.Message {
	return &irc.Message{Tags: b.opener, Command: b.command, Params: []string{b.target, b.text.String()}}
}

// inBatch takes m when it is a line of the client's open batch (it carries
// a batch tag), and reports whether it did.
func (c *conn) inBatch(m *irc.Message) bool {
	ref, tagged := m.Tags["batch"]
	if !tagged || m.Command == "BATCH" || !c.isRegistered() {
		return false
	}
	if c.batch == nil || ref != c.batch.ref {
		c.sendReply(standardReply(c.s.cfg.ServerName, "FAIL", "BATCH", "MULTILINE_INVALID", nil, "No open batch "+ref))
		return true
	}
	c.batch.add(m)
	return true
}

// BATCH +<ref> draft/multiline <target>   |   BATCH -<ref>
func handleBatch(c *conn, r *Request) error {
	arg := r.Msg.Params[0]
	if len(arg) < 2 || arg[0] != '+' && arg[0] != '-' {
		r.Fail("MULTILINE_INVALID", nil, "Invalid batch reference")
		return nil
	}
	ref := arg[1:]
	if arg[0] == '-' {
		b := c.batch
		if b == nil || b.ref != ref {
			r.Fail("MULTILINE_INVALID", nil, "No open batch "+ref)
			return nil
		}
		c.batch = nil
		// The answer belongs to the opening BATCH: its label.
		r.Msg = &irc.Message{Tags: b.opener, Command: "BATCH", Params: r.Msg.Params}
		switch {
		case b.fail != nil:
			r.Fail(b.fail.code, b.fail.context, b.fail.text)
			return nil
		case strings.TrimSpace(b.text.String()) == "":
			r.Fail("MULTILINE_INVALID", nil, "A multiline batch needs a line that is not blank")
			return nil
		}
		r.Msg = b.message()
		return toBackend(c, r)
	}
	typ := r.Msg.Param(1)
	limits, offered := c.s.multilineLimits()
	switch {
	case typ != MultilineCap:
		r.Fail("INVALID_TYPE", []string{typ}, "Unsupported batch type")
	case !offered || !c.HasCap(MultilineCap) || !c.HasCap("batch"):
		r.Fail("MULTILINE_INVALID", nil, "draft/multiline and batch must be negotiated first")
	case len(r.Msg.Params) < 3 || r.Msg.Params[2] == "":
		r.Fail("MULTILINE_INVALID_TARGET", nil, "A multiline batch needs a target")
	case c.batch != nil:
		r.Fail("MULTILINE_INVALID", nil, "Another batch is still open")
	default:
		c.batch = &clientBatch{ref: ref, target: r.Msg.Params[2], opener: r.Msg.Tags, limits: limits}
		// The batch is answered when it closes, with the opener's label.
		r.Msg = &irc.Message{Command: r.Msg.Command, Params: r.Msg.Params}
	}
	return nil
}
