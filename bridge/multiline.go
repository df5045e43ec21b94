package bridge

import (
	"hash/fnv"
	"strconv"
	"strings"

	"gopkg.in/irc.v4"

	"xircd/ircd"
)

// Multi-line messages (IRCv3 draft/multiline). ircd collects a client's
// multiline batch into one PRIVMSG/NOTICE whose text has "\n" between its
// lines: it becomes one XMPP message. An XMPP body of several lines goes to
// a client with the capability as one multiline batch (the msgid on the
// BATCH), to other clients as several lines, as before. The user's own
// multi-line message is echoed the same way.

// The limits of a multiline batch: a paste of code fits, and one message
// stays far below what XMPP servers accept in a stanza.
const (
	multilineMaxBytes = 16384
	multilineMaxLines = 200
)

// multilineCap is the capability with its limits, as Features lists it.
var multilineCap = ircd.MultilineCap + "=max-bytes=" + strconv.Itoa(multilineMaxBytes) + ",max-lines=" + strconv.Itoa(multilineMaxLines)

// takesMultiline reports whether the client d is sent multiline batches.
func takesMultiline(d ircd.Downstream) bool {
	return d.HasCap(ircd.MultilineCap) && d.HasCap("batch")
}

// multilineBatchRef is the batch reference of the message msgid: unique
// enough among the batches of one connection, and free of characters a
// reference may not have.
func multilineBatchRef(msgid string) string {
	h := fnv.New64a()
	h.Write([]byte(msgid))
	return "ml" + strconv.FormatUint(h.Sum64(), 36)
}

// multilineBatch is one message of several lines as a draft/multiline
// batch from from to target: tags (msgid, time, account, an enclosing
// batch) go on the opening BATCH, each line is a PRIVMSG or NOTICE in it,
// a piece continuing the line before it marked draft/multiline-concat.
func multilineBatch(tags irc.Tags, from *irc.Prefix, command, target string, lines []ircLine) []*irc.Message {
	ref := multilineBatchRef(tags["msgid"])
	out := []*irc.Message{{Tags: tags, Prefix: from, Command: "BATCH", Params: []string{"+" + ref, ircd.MultilineCap, target}}}
	for _, l := range lines {
		lt := irc.Tags{"batch": ref}
		if l.Concat {
			lt["draft/multiline-concat"] = ""
		}
		out = append(out, &irc.Message{Tags: lt, Prefix: from, Command: command, Params: []string{target, l.Text}})
	}
	end := &irc.Message{Tags: irc.Tags{}, Prefix: from, Command: "BATCH", Params: []string{"-" + ref}}
	if outer := tags["batch"]; outer != "" {
		end.Tags["batch"] = outer
	}
	return append(out, end)
}

// echoLines is m, the user's PRIVMSG or NOTICE as echoed to the client d,
// in lines: one message when its text is one line, a multiline batch for a
// client that takes them, else one message per line (the n-th with the
// msgid lineMsgID gives it). Long lines are split to fit.
func echoLines(m *irc.Message, d ircd.Downstream) []*irc.Message {
	if len(m.Params) < 2 || !strings.Contains(m.Params[1], "\n") {
		return []*irc.Message{m}
	}
	target := m.Params[0]
	multi := takesMultiline(d)
	room := textRoom(m.Prefix, m.Command, target)
	var lines []ircLine
	for _, raw := range strings.Split(m.Params[1], "\n") {
		if raw == "" {
			if multi {
				lines = append(lines, ircLine{})
			}
			continue
		}
		for i, part := range ircd.SplitText(raw, room) {
			lines = append(lines, ircLine{Text: part, Concat: i > 0})
		}
	}
	if multi {
		return multilineBatch(m.Tags, m.Prefix, m.Command, target, lines)
	}
	out := make([]*irc.Message, len(lines))
	for i, l := range lines {
		mm := m.Copy()
		mm.Params = []string{target, l.Text}
		mm.Tags["msgid"] = lineMsgID(m.Tags["msgid"], i)
		out[i] = mm
	}
	return out
}

// privmsgLines is text as the lines the user sent to a target that takes
// one line at a time (the service, the control channel, the user): a
// multiline batch there is its lines one after the other.
func privmsgLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
