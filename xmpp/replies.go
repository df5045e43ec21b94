package xmpp

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Namespaces of replies, reactions and corrections.
const (
	nsReply     = "urn:xmpp:reply:0"           // XEP-0461
	nsFallback  = "urn:xmpp:fallback:0"        // XEP-0428
	nsReactions = "urn:xmpp:reactions:0"       // XEP-0444
	nsCorrect   = "urn:xmpp:message-correct:0" // XEP-0308
	nsHints     = "urn:xmpp:hints"             // XEP-0334
)

// MaxReactions bounds the reactions kept of one set: XEP-0444 lets a
// client limit them, and a set of hundreds is a flood, not a reaction.
const MaxReactions = 20

// MaxReactionLen bounds one reaction (an emoji, perhaps with modifiers),
// in bytes.
const MaxReactionLen = 64

// Reply is a XEP-0461 reply: the message is an answer to the message ID
// (the room's stanza-id in a group chat, else the message's id) by To.
type Reply struct {
	To string
	ID string
}

// Reactions is a XEP-0444 reaction: the full set of emojis the sender
// now reacts with to the message ID (empty: all removed).
type Reactions struct {
	ID     string
	Emojis []string
}

type xmlReply struct {
	To string `xml:"to,attr"`
	ID string `xml:"id,attr"`
}

type xmlFallback struct {
	For    string `xml:"for,attr"`
	Bodies []struct {
		Start *int `xml:"start,attr"`
		End   *int `xml:"end,attr"`
	} `xml:"body"`
}

type xmlReactions struct {
	ID        string   `xml:"id,attr"`
	Reactions []string `xml:"reaction"`
}

type xmlReplace struct {
	ID string `xml:"id,attr"`
}

// withoutReplyFallback is body without the quote a XEP-0461 reply carries
// for clients that do not know replies, as its XEP-0428 fallback elements
// mark it: ranges counted in code points (XEP-0426); a body element with
// no range covers the whole body. Ranges out of bounds are ignored.
func withoutReplyFallback(body string, fbs []xmlFallback) string {
	runes := []rune(body)
	cut := make([]bool, len(runes))
	for _, fb := range fbs {
		if fb.For != nsReply {
			continue
		}
		for _, r := range fb.Bodies {
			start, end := 0, len(runes)
			if r.Start != nil || r.End != nil {
				if r.Start == nil || r.End == nil {
					continue
				}
				start, end = *r.Start, *r.End
			}
			if start < 0 || end > len(runes) || start >= end {
				continue
			}
			for i := start; i < end; i++ {
				cut[i] = true
			}
		}
	}
	var b strings.Builder
	for i, r := range runes {
		if !cut[i] {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// reactionsOf is the set of a <reactions/> element: distinct, trimmed,
// non-empty, at most MaxReactions of at most MaxReactionLen bytes each.
func reactionsOf(x *xmlReactions) *Reactions {
	r := &Reactions{ID: x.ID, Emojis: []string{}}
	for _, e := range x.Reactions {
		e = strings.TrimSpace(CleanText(e))
		if e == "" || len(e) > MaxReactionLen || strings.ContainsAny(e, "\n\t") {
			continue
		}
		dup := false
		for _, have := range r.Emojis {
			dup = dup || have == e
		}
		if !dup {
			r.Emojis = append(r.Emojis, e)
		}
		if len(r.Emojis) == MaxReactions {
			break
		}
	}
	return r
}

// OutReply makes an outgoing message a XEP-0461 reply to the message ID
// by To. Quote, when not empty, leads the body as the XEP-0428 fallback
// for clients that do not know replies.
type OutReply struct {
	To, ID string
	Quote  string
}

// writeModern writes m's reply, reactions and correction elements, and
// returns m's body with the reply's quote in front.
func writeModern(b *strings.Builder, m *OutMessage) string {
	body := m.Body
	if r := m.Reply; r != nil {
		fmt.Fprintf(b, "<reply xmlns='%s' to='%s' id='%s'/>", nsReply, escapeAttr(r.To), escapeAttr(r.ID))
		if r.Quote != "" && body != "" {
			body = CleanText(r.Quote) + body
			fmt.Fprintf(b, "<fallback xmlns='%s' for='%s'><body start='0' end='%s'/></fallback>",
				nsFallback, nsReply, strconv.Itoa(utf8.RuneCountInString(CleanText(r.Quote))))
		}
	}
	if r := m.Reactions; r != nil {
		fmt.Fprintf(b, "<reactions xmlns='%s' id='%s'>", nsReactions, escapeAttr(r.ID))
		for _, e := range r.Emojis {
			fmt.Fprintf(b, "<reaction>%s</reaction>", escapeText(e))
		}
		fmt.Fprintf(b, "</reactions><store xmlns='%s'/>", nsHints)
	}
	if m.Replace != "" {
		fmt.Fprintf(b, "<replace xmlns='%s' id='%s'/>", nsCorrect, escapeAttr(m.Replace))
	}
	return body
}
