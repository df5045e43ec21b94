package xmpp

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Namespaces used by the session.
const (
	nsClient     = "jabber:client"
	nsStream     = "http://etherx.jabber.org/streams"
	nsStanzas    = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster     = "jabber:iq:roster"
	nsPing       = "urn:xmpp:ping"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsVersion    = "jabber:iq:version"
	nsCarbons    = "urn:xmpp:carbons:2"
	nsForward    = "urn:xmpp:forward:0"
	nsDelay      = "urn:xmpp:delay"
	nsLegacyDel  = "jabber:x:delay"
	nsSID        = "urn:xmpp:sid:0"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsMUC        = "http://jabber.org/protocol/muc"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
	nsConference = "jabber:x:conference"
	nsCaps       = "http://jabber.org/protocol/caps"
	nsNick       = "http://jabber.org/protocol/nick"
)

// ourFeatures is what disco#info answers: only what the session handles.
var ourFeatures = []string{
	nsDiscoInfo, nsPing, nsVersion, nsCarbons, nsChatStates, nsMUC,
	nsConference, nsDelay, nsSID, nsChatMarkers, nsMDS + "+notify",
	nsReply, nsReactions, nsCorrect,
	nsRetract, nsReceipts, omemoDeviceListNotify,
}

// capsNode is our XEP-0115 node.
const capsNode = "https://xircd.invalid/caps"

// capsVer is the XEP-0115 verification string of a disco#info answer with
// the identity client/pc/name and the given features. Our presence carries
// it so that contacts' clients learn what we support (chat states, ...).
func capsVer(name string, features []string) string {
	var b strings.Builder
	b.WriteString("client/pc//" + name + "<")
	fs := slices.Clone(features)
	slices.Sort(fs)
	for _, f := range fs {
		b.WriteString(f + "<")
	}
	sum := sha1.Sum([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type xmlAny struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   []byte     `xml:",innerxml"`
}

type xmlError struct {
	Type string   `xml:"type,attr"`
	Text string   `xml:"urn:ietf:params:xml:ns:xmpp-stanzas text"`
	Any  []xmlAny `xml:",any"`
}

// errorOf is the StanzaError of an error stanza, undefined-condition when
// the stanza carries none.
func (e *xmlError) errorOf() *StanzaError {
	if se := e.toStanzaError(); se != nil {
		return se
	}
	return &StanzaError{Condition: "undefined-condition"}
}

func (e *xmlError) toStanzaError() *StanzaError {
	if e == nil {
		return nil
	}
	se := &StanzaError{Type: e.Type, Text: CleanText(e.Text)}
	for _, a := range e.Any {
		if a.XMLName.Space == nsStanzas {
			se.Condition = a.XMLName.Local
			break
		}
	}
	if se.Condition == "" {
		se.Condition = "undefined-condition"
	}
	return se
}

type xmlDelay struct {
	XMLName xml.Name
	Stamp   string `xml:"stamp,attr"`
	From    string `xml:"from,attr"`
}

type xmlSID struct {
	ID string `xml:"id,attr"`
	By string `xml:"by,attr"`
}

type xmlMUCItem struct {
	Affiliation string `xml:"affiliation,attr"`
	Role        string `xml:"role,attr"`
	JID         string `xml:"jid,attr"`
	Nick        string `xml:"nick,attr"`
	Reason      string `xml:"reason"`
	Actor       *struct {
		Nick string `xml:"nick,attr"`
		JID  string `xml:"jid,attr"`
	} `xml:"actor"`
}

type xmlMUCUser struct {
	Items    []xmlMUCItem `xml:"item"`
	Statuses []struct {
		Code string `xml:"code,attr"`
	} `xml:"status"`
	Invite *struct {
		From   string `xml:"from,attr"`
		Reason string `xml:"reason"`
	} `xml:"invite"`
	Password *string `xml:"password"`
}

type xmlForwarded struct {
	Delay   *xmlDelay   `xml:"urn:xmpp:delay delay"`
	Message *xmlMessage `xml:"jabber:client message"`
}

type xmlCarbon struct {
	Forwarded *xmlForwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type xmlMessage struct {
	ID         string        `xml:"id,attr"`
	From       string        `xml:"from,attr"`
	To         string        `xml:"to,attr"`
	Type       string        `xml:"type,attr"`
	Bodies     []xmlLang     `xml:"body"`
	Subject    *string       `xml:"subject"`
	Thread     string        `xml:"thread"`
	Error      *xmlError     `xml:"error"`
	Delays     []xmlDelay    `xml:"urn:xmpp:delay delay"`
	OldDelay   *xmlDelay     `xml:"jabber:x:delay x"`
	StanzaIDs  []xmlSID      `xml:"urn:xmpp:sid:0 stanza-id"`
	OriginID   *xmlSID       `xml:"urn:xmpp:sid:0 origin-id"`
	Sent       *xmlCarbon    `xml:"urn:xmpp:carbons:2 sent"`
	Received   *xmlCarbon    `xml:"urn:xmpp:carbons:2 received"`
	MUCUser    *xmlMUCUser   `xml:"http://jabber.org/protocol/muc#user x"`
	Conference *xmlConfInv   `xml:"jabber:x:conference x"`
	MAMResult  *xmlMAMResult `xml:"urn:xmpp:mam:2 result"`
	// PubSubEvent is a PEP notification (markers.go).
	PubSubEvent *xmlPubSubEvent `xml:"http://jabber.org/protocol/pubsub#event event"`
	Reply       *xmlReply       `xml:"urn:xmpp:reply:0 reply"`
	Fallbacks   []xmlFallback   `xml:"urn:xmpp:fallback:0 fallback"`
	Reactions   *xmlReactions   `xml:"urn:xmpp:reactions:0 reactions"`
	Replace     *xmlReplace     `xml:"urn:xmpp:message-correct:0 replace"`
	OOB         []xmlOOB        `xml:"jabber:x:oob x"`
	// Retract and ApplyTo: retractions (retract.go); EME: encryption.go.
	Retract *xmlRetract `xml:"urn:xmpp:message-retract:1 retract"`
	ApplyTo *xmlApplyTo `xml:"urn:xmpp:fasten:0 apply-to"`
	EME     *xmlEME     `xml:"urn:xmpp:eme:0 encryption"`
	// OMEMO is OMEMO 0.3's <encrypted/> (omemo.go).
	OMEMO   *xmlInner    `xml:"eu.siacs.conversations.axolotl encrypted"`
	Receipt *xmlSID      `xml:"urn:xmpp:receipts received"`
	Other   []xmlAnyName `xml:",any"`
}

type xmlLang struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text string `xml:",chardata"`
}

type xmlConfInv struct {
	JID      string `xml:"jid,attr"`
	Password string `xml:"password,attr"`
	Reason   string `xml:"reason,attr"`
}

// xmlAnyName keeps only the name of an unknown child (chat states).
type xmlAnyName struct {
	XMLName xml.Name
}

type xmlPresence struct {
	ID       string      `xml:"id,attr"`
	From     string      `xml:"from,attr"`
	To       string      `xml:"to,attr"`
	Type     string      `xml:"type,attr"`
	Show     string      `xml:"show"`
	Status   []xmlLang   `xml:"status"`
	Priority string      `xml:"priority"`
	Error    *xmlError   `xml:"error"`
	MUCUser  *xmlMUCUser `xml:"http://jabber.org/protocol/muc#user x"`
	Caps     *struct {
		Node string `xml:"node,attr"`
	} `xml:"http://jabber.org/protocol/caps c"`
	Nick *string `xml:"http://jabber.org/protocol/nick nick"`
}

type xmlRosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr"`
	Subscription string   `xml:"subscription,attr"`
	Ask          string   `xml:"ask,attr"`
	Groups       []string `xml:"group"`
}

type xmlRosterQuery struct {
	Ver   string          `xml:"ver,attr"`
	Items []xmlRosterItem `xml:"item"`
}

type xmlIQ struct {
	ID     string          `xml:"id,attr"`
	From   string          `xml:"from,attr"`
	To     string          `xml:"to,attr"`
	Type   string          `xml:"type,attr"`
	Roster *xmlRosterQuery `xml:"jabber:iq:roster query"`
	Error  *xmlError       `xml:"error"`
	Inner  []byte          `xml:",innerxml"`
	Any    []xmlAny        `xml:",any"`
}

// payloadName is the name of the IQ's payload element (not <error/>).
func (iq *xmlIQ) payloadName() xml.Name {
	if iq.Roster != nil {
		return xml.Name{Space: nsRoster, Local: "query"}
	}
	for _, a := range iq.Any {
		return a.XMLName
	}
	return xml.Name{}
}

type xmlStreamError struct {
	Text string   `xml:"urn:ietf:params:xml:ns:xmpp-streams text"`
	Any  []xmlAny `xml:",any"`
}

func (e *xmlStreamError) condition() string {
	for _, a := range e.Any {
		if a.XMLName.Space == "urn:ietf:params:xml:ns:xmpp-streams" {
			if e.Text != "" {
				return a.XMLName.Local + " (" + CleanText(e.Text) + ")"
			}
			return a.XMLName.Local
		}
	}
	return "undefined-condition"
}

func (it xmlRosterItem) toItem() RosterItem {
	sub := it.Subscription
	if sub == "" {
		sub = "none"
	}
	groups := it.Groups[:0] // filtered in place: the item is not used again
	for _, g := range it.Groups {
		if g = CleanText(strings.TrimSpace(g)); g != "" {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		groups = nil
	}
	ask := ""
	if it.Ask == "subscribe" {
		ask = "subscribe"
	}
	return RosterItem{JID: BareJID(it.JID), Name: CleanText(it.Name), Groups: groups, Subscription: sub, Ask: ask}
}

// pickText chooses the text without xml:lang, else the first one.
func pickText(ts []xmlLang) string {
	for _, t := range ts {
		if t.Lang == "" {
			return t.Text
		}
	}
	if len(ts) > 0 {
		return ts[0].Text
	}
	return ""
}

// earliestDelay returns the earliest valid delay stamp (the original send
// time when both a server and a room stamped the message).
func earliestDelay(ds ...*xmlDelay) time.Time {
	var t time.Time
	for _, d := range ds {
		if d == nil {
			continue
		}
		if st, err := ParseStamp(d.Stamp); err == nil && (t.IsZero() || st.Before(t)) {
			t = st
		}
	}
	return t
}

// toMessage converts a (carbon-unwrapped) message; own is our bare JID,
// used to recognise the stanza-id set by our own server.
func (m *xmlMessage) toMessage(own string, extraDelay *xmlDelay) Message {
	out := Message{
		ID:     m.ID,
		From:   m.From,
		To:     m.To,
		Type:   m.Type,
		Body:   CleanText(pickText(m.Bodies)),
		Thread: CleanText(m.Thread),
	}
	if out.Type == "" {
		out.Type = "normal"
	}
	if m.Subject != nil {
		out.Subject, out.HasSubject = CleanText(*m.Subject), true
	}
	if m.OriginID != nil {
		out.OriginID = m.OriginID.ID
	}
	// A group chat message is known by the room's stanza-id (the one that
	// replies and the room's archive use), even when our server added its own.
	by := own
	if out.Type == "groupchat" {
		by = BareJID(m.From)
	}
	for _, sid := range m.StanzaIDs {
		if BareJID(sid.By) == by {
			out.StanzaID = sid.ID
			break
		}
	}
	ds := []*xmlDelay{extraDelay, m.OldDelay}
	for i := range m.Delays {
		ds = append(ds, &m.Delays[i])
	}
	out.Delay = earliestDelay(ds...)
	out.OOB = oobLinks(m.OOB)
	for _, o := range m.Other {
		if o.XMLName.Space == nsChatMarkers && o.XMLName.Local == "markable" {
			out.Markable = true
		}
		if o.XMLName.Space == nsReceipts && o.XMLName.Local == "request" {
			out.ReceiptRequest = true
		}
		if o.XMLName.Space == nsChatStates {
			switch o.XMLName.Local {
			case "active", "composing", "paused", "inactive", "gone":
				out.ChatState = o.XMLName.Local
			}
		}
	}
	if m.Reply != nil && m.Reply.ID != "" {
		out.Reply = &Reply{To: m.Reply.To, ID: m.Reply.ID}
		out.ReplyText = CleanText(withoutReplyFallback(pickText(m.Bodies), m.Fallbacks))
	}
	if m.Reactions != nil && m.Reactions.ID != "" {
		out.Reactions = reactionsOf(m.Reactions)
	}
	if m.Replace != nil {
		out.Replace = m.Replace.ID
	}
	if out.Type == "error" {
		out.Error = m.Error.errorOf()
	}
	out.Retract = m.retraction()
	out.Encryption = m.encryption()
	out.OMEMO = m.omemoElement()
	if m.Receipt != nil {
		out.ReceiptFor = m.Receipt.ID
	}
	switch {
	case m.MUCUser != nil && m.MUCUser.Invite != nil:
		inv := &MUCInvite{Room: BareJID(m.From), From: m.MUCUser.Invite.From, Reason: CleanText(m.MUCUser.Invite.Reason)}
		if m.MUCUser.Password != nil {
			inv.Password = *m.MUCUser.Password
		}
		out.Invite = inv
	case m.Conference != nil && m.Conference.JID != "":
		out.Invite = &MUCInvite{Room: BareJID(m.Conference.JID), From: m.From,
			Reason: CleanText(m.Conference.Reason), Password: m.Conference.Password}
	}
	return out
}

func (p *xmlPresence) toPresence() Presence {
	out := Presence{From: p.From, Type: p.Type, Status: CleanText(pickText(p.Status))}
	switch s := strings.TrimSpace(p.Show); s {
	case "chat", "away", "xa", "dnd":
		out.Show = s
	}
	if n, err := strconv.Atoi(strings.TrimSpace(p.Priority)); err == nil {
		out.Priority = max(-128, min(127, n))
	}
	if p.Caps != nil {
		out.Client = CleanText(p.Caps.Node)
	}
	if p.Type == "error" {
		out.Error = p.Error.errorOf()
	}
	if u := p.MUCUser; u != nil {
		mp := &MUCPresence{}
		if len(u.Items) > 0 {
			it := u.Items[0]
			mp.Affiliation, mp.Role, mp.JID, mp.Nick = it.Affiliation, it.Role, it.JID, it.Nick
			mp.Reason = CleanText(it.Reason)
			if it.Actor != nil {
				mp.Actor = it.Actor.Nick
				if mp.Actor == "" {
					mp.Actor = it.Actor.JID
				}
			}
		}
		for _, st := range u.Statuses {
			if c, err := strconv.Atoi(st.Code); err == nil {
				mp.Codes = append(mp.Codes, c)
			}
		}
		out.MUC = mp
	}
	return out
}
