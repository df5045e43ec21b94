package xmpp

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Message retraction (XEP-0424) and moderated retraction in rooms
// (XEP-0425). The current namespaces are parsed and sent; the older :0
// form (inside a XEP-0422 apply-to) is still understood, as clients in use
// send it, and a moderation is sent in it to rooms that know only it.
const (
	nsRetract           = "urn:xmpp:message-retract:1"
	nsRetract0          = "urn:xmpp:message-retract:0"
	nsModerate          = "urn:xmpp:message-moderate:1"
	nsModerate0         = "urn:xmpp:message-moderate:0"
	nsFasten            = "urn:xmpp:fasten:0"
	retractFallbackBody = "/me retracted a previous message, but it's unsupported by your client."
)

// Retraction is a message's request to retract an earlier one.
type Retraction struct {
	// ID is the retracted message's id: its origin-id (or stanza id) in a
	// one-to-one chat, the room's stanza-id in a group chat.
	ID string
	// Moderated: a room moderator retracted it (XEP-0425); the message
	// comes from the room itself.
	Moderated bool
	By        string // the moderator's occupant JID, when given
	Reason    string
}

type xmlRetract struct {
	ID        string `xml:"id,attr"`
	Moderated *struct {
		By string `xml:"by,attr"`
	} `xml:"urn:xmpp:message-moderate:1 moderated"`
	Reason string `xml:"reason"`
}

type xmlApplyTo struct {
	ID        string    `xml:"id,attr"`
	Retract   *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
	Moderated *struct {
		By      string    `xml:"by,attr"`
		Retract *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
		Reason  string    `xml:"reason"`
	} `xml:"urn:xmpp:message-moderate:0 moderated"`
}

// retraction is the Retraction m carries, nil when none.
func (m *xmlMessage) retraction() *Retraction {
	if r := m.Retract; r != nil && r.ID != "" {
		out := &Retraction{ID: r.ID, Reason: CleanText(strings.TrimSpace(r.Reason))}
		if r.Moderated != nil {
			out.Moderated, out.By = true, r.Moderated.By
		}
		return out
	}
	if a := m.ApplyTo; a != nil && a.ID != "" {
		switch {
		case a.Retract != nil:
			return &Retraction{ID: a.ID}
		case a.Moderated != nil && a.Moderated.Retract != nil:
			return &Retraction{ID: a.ID, Moderated: true, By: a.Moderated.By,
				Reason: CleanText(strings.TrimSpace(a.Moderated.Reason))}
		}
	}
	return nil
}

// SendRetraction retracts the user's message id (its origin-id in a chat,
// the room's stanza-id in a group chat, as XEP-0424 requires) sent to to,
// with the XEP's fallback body for clients without retraction. typ is
// "chat" or "groupchat".
func (s *Session) SendRetraction(to, typ, id string) error {
	if !ValidJID(to) || id == "" || (typ != "chat" && typ != "groupchat") {
		return fmt.Errorf("xmpp: invalid retraction of %q to %q", id, to)
	}
	return s.send(fmt.Sprintf("<message to='%s' type='%s' id='%s'><retract xmlns='%s' id='%s'/>"+
		"<fallback xmlns='%s' for='%s'/><body>%s</body><store xmlns='%s'/></message>",
		escapeAttr(to), typ, newID(), nsRetract, escapeAttr(id), nsFallback, nsRetract,
		escapeText(retractFallbackBody), nsHints))
}

// ModerateMessage asks room to retract the message with the room's
// stanza-id id (XEP-0425), with an optional reason. A room that does not
// know the current request is asked again in the :0 form, the only one
// Prosody's mod_muc_moderation of early 2023 (Debian 12) understands. Its
// answer is a RequestDone{Op: "moderate"}.
func (s *Session) ModerateMessage(ctx context.Context, room, id, reason string) (string, error) {
	if !ValidJID(room) || strings.Contains(room, "/") || id == "" {
		return "", fmt.Errorf("xmpp: invalid moderation of %q in %q", id, room)
	}
	why := ""
	if reason != "" {
		why = "<reason>" + escapeText(reason) + "</reason>"
	}
	current := fmt.Sprintf("<moderate xmlns='%s' id='%s'><retract xmlns='%s'/>%s</moderate>",
		nsModerate, escapeAttr(id), nsRetract, why)
	older := fmt.Sprintf("<apply-to xmlns='%s' id='%s'><moderate xmlns='%s'><retract xmlns='%s'/>%s</moderate></apply-to>",
		nsFasten, escapeAttr(id), nsModerate0, nsRetract0, why)
	return s.startRequest(func(c *conn, reqID string) Event {
		err := iqError(c.iq(ctx, room, "set", current))
		var se *StanzaError
		if errors.As(err, &se) && (se.Condition == "service-unavailable" || se.Condition == "feature-not-implemented") {
			err = iqError(c.iq(ctx, room, "set", older))
		}
		return RequestDone{ID: reqID, Op: "moderate", Err: err}
	})
}
