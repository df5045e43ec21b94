package bridge

import (
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Replies (XEP-0461), reactions (XEP-0444) and corrections (XEP-0308),
// both ways.
//
// From XMPP, a client with message-tags sees a reply as the reply text
// (the sender's XEP-0428 fallback quote removed) with +draft/reply naming
// the original's msgid; a plain client sees a line "> nick: "first
// words …"" before it. A correction is a new message "(corrected) text",
// with +draft/reply naming the original for tag clients; one from anyone
// but the original's sender is shown as an ordinary message (logged). A
// reaction is one TAGMSG +draft/react per emoji added and +draft/unreact
// per emoji removed (XEP-0444 sends the whole set: the change is computed
// against the last set of that reactor), for plain clients a NOTICE "nick
// reacted 👍 to "first words …"". A reference to a message the gateway
// does not know (too old, from before a restart) is shown without it: a
// reply or correction as its whole text, a reaction as a NOTICE to "an
// earlier message".
//
// From IRC, +draft/reply (or +reply) on a PRIVMSG sends a XEP-0461 reply
// with a quote for old clients, TAGMSG +draft/react / +draft/unreact sends
// the user's whole set for the message, and "s/old/new/" (or
// "s/old/new/g") corrects the user's last message in the conversation
// (setting sed_corrections). A msgid the gateway cannot resolve gets FAIL
// <command> UNKNOWN_MSGID and nothing is sent; a substitution that does not
// apply is sent as ordinary text, as other gateways do.
//
// Clients are sent +draft/reply only: the IRCv3 reply tag is a work in
// progress whose unprefixed name must not be used yet. Both are accepted.

// correctedMark leads the text of a corrected message.
const correctedMark = "(corrected) "

// Bounds of what is kept for references.
const (
	maxReactionSets = 2000       // (message, reactor) pairs
	maxLastOwn      = 500        // conversations
	ownSender       = "\x00self" // the sender key of the user's own messages
	// maxKnownText bounds the text kept of someone else's message: only
	// its start is quoted (the user's own is kept whole for s/old/new/,
	// and is as long as IRC lets it be).
	maxKnownText = 1024
)

// knownMessage is what the gateway remembers of a message shown or sent
// (messageStore): what CHATHISTORY references to it need and, while it is
// kept, what references from XMPP and IRC need. A busy user has thousands:
// its own strings share one allocation (pack), the conversation is the
// string its contact or room holds, and it takes 48 bytes.
type knownMessage struct {
	// strs is the text, then the other string fields' distinct values
	// (a field equal to another shares its value), each after its length
	// as a uvarint. bits has 4 bits per field (msgField): 0 for "", n for
	// the n-th value after the text, or sameAsConv or isOwnSender; then
	// the flags (msgFlag).
	strs string
	conv string // the conversation: the contact's bare JID or the room's
	// shownAt: when it was shown (flagShown), in Unix nanoseconds, 0 for
	// the zero time: a time.Time would take three times the room.
	shownAt int64
	bits    uint64
}

// msgFlag is a flag of a knownMessage, in its bits after the fields'.
type msgFlag uint64

const (
	// flagShown: it was shown, at shownAt.
	flagShown msgFlag = 1 << (4*numFields + iota)
	// flagKept: it is kept for references, with all the fields; else its
	// msgid, archive id, seen id and ref alone may be known.
	flagKept
	flagRoom // a group chat's
	// flagSenderInConv: the sender's value is the part after conv+"/".
	flagSenderInConv
)

// has reports whether k has the flag f.
func (k *knownMessage) has(f msgFlag) bool { return k.bits&uint64(f) != 0 }

// flag sets or clears the flag f of k.
func (k *knownMessage) flag(f msgFlag, on bool) {
	k.bits &^= uint64(f)
	if on {
		k.bits |= uint64(f)
	}
}

func (k *knownMessage) shown() bool { return k.has(flagShown) }
func (k *knownMessage) kept() bool  { return k.has(flagKept) }
func (k *knownMessage) room() bool  { return k.has(flagRoom) }

// msgFields is a knownMessage's strings unpacked (fields), as keep takes
// them.
type msgFields struct {
	msgid     string // as IRC clients saw it
	archiveID string // its archive id when shown, "" when not known
	seenID    string // its stanza id, once shown to the user (messageStore.markSeen)
	// ref: the id XEP-0461 and XEP-0444 refer to it by (referenceID);
	// when it is not kept, the XMPP id its msgid stands for (xmppRefFor).
	ref      string
	id       string // the stanza's id, which XEP-0308 corrections name
	origin   string // its XEP-0359 origin-id, which XEP-0424 retractions name
	stanzaID string // its XEP-0359 stanza-id (a room's, or the user's server's)
	conv     string
	sender   string // the occupant JID in a room, a bare JID in a chat, ownSender for the user
	nick     string // the sender as IRC showed them
	text     string // the text, corrected when it was
	room     bool
}

// msgField is a string field of a knownMessage other than the text.
type msgField uint

const (
	fMsgid msgField = iota
	fArchiveID
	fSeenID
	fRef
	fID
	fOrigin
	fStanzaID
	fSender
	fNick
	numFields
)

// Values of a field's 4 bits in knownMessage.bits besides 0 and the
// values' numbers (at most numFields).
const (
	sameAsConv  = 14 // the sender: the conversation's string
	isOwnSender = 15 // the sender: ownSender
)

// values are the string fields of f other than the text, by msgField.
func (f *msgFields) values() [numFields]*string {
	return [numFields]*string{fMsgid: &f.msgid, fArchiveID: &f.archiveID, fSeenID: &f.seenID, fRef: &f.ref, fID: &f.id, fOrigin: &f.origin, fStanzaID: &f.stanzaID, fSender: &f.sender, fNick: &f.nick}
}

// pack makes f the strings, conversation, nick and room of k.
func (k *knownMessage) pack(f *msgFields) {
	var distinct [numFields]string
	n, size, which, inConv := 0, uvarintLen(len(f.text))+len(f.text), uint64(0), false
	for i, p := range f.values() {
		v, sel := *p, 0
		if msgField(i) == fSender {
			switch c := len(f.conv); {
			case v == f.conv:
				sel = sameAsConv
			case v == ownSender:
				sel = isOwnSender
			case len(v) > c+1 && v[c] == '/' && v[:c] == f.conv: // an occupant of the room: its nick alone
				v, inConv = v[c+1:], true
			}
		}
		if v != "" && sel == 0 {
			sel = slices.Index(distinct[:n], v) + 1
			if sel == 0 {
				distinct[n] = v
				n++
				sel = n
				size += uvarintLen(len(v)) + len(v)
			}
		}
		which |= uint64(sel) << (4 * i)
	}
	var sb strings.Builder
	sb.Grow(size)
	writeUvarint(&sb, len(f.text))
	sb.WriteString(f.text)
	for _, v := range distinct[:n] {
		writeUvarint(&sb, len(v))
		sb.WriteString(v)
	}
	k.strs, k.conv = sb.String(), f.conv
	k.bits = k.bits&uint64(flagShown|flagKept) | which
	k.flag(flagRoom, f.room)
	k.flag(flagSenderInConv, inConv)
}

// sel is f's 4 bits in bits.
func (k *knownMessage) sel(f msgField) uint64 { return k.bits >> (4 * f) & 0xf }

// value is the n-th value in strs, the text being the 0th.
func (k *knownMessage) value(n uint64) string {
	s := k.strs
	for ; ; n-- {
		l, w := readUvarint(s)
		if n == 0 {
			return s[w : w+l]
		}
		s = s[w+l:]
	}
}

// field is the value of f.
func (k *knownMessage) field(f msgField) string {
	switch sel := k.sel(f); {
	case sel == 0:
		return ""
	case sel == sameAsConv:
		return k.conv
	case sel == isOwnSender:
		return ownSender
	case f == fSender && k.has(flagSenderInConv):
		return k.conv + "/" + k.value(sel)
	default:
		return k.value(sel)
	}
}

// set makes v the value of f (not the sender): the number of an equal
// value k has, else k packed anew.
func (k *knownMessage) set(f msgField, v string) {
	sel := uint64(0)
	for g := range numFields {
		if s := k.sel(g); v != "" && s != 0 && s <= uint64(numFields) && k.value(s) == v {
			sel = s
			break
		}
	}
	if sel != 0 || v == "" {
		k.bits = k.bits&^(0xf<<(4*f)) | sel<<(4*f)
		return
	}
	u := k.fields()
	*u.values()[f] = v
	k.pack(&u)
}

// setText makes text k's text.
func (k *knownMessage) setText(text string) {
	u := k.fields()
	u.text = text
	k.pack(&u)
}

// packed is a record of f.
func packed(f msgFields) *knownMessage {
	k := &knownMessage{}
	k.pack(&f)
	return k
}

// fields is k unpacked.
func (k *knownMessage) fields() msgFields {
	return msgFields{msgid: k.msgid(), archiveID: k.archiveID(), seenID: k.field(fSeenID), ref: k.ref(), id: k.id(), origin: k.origin(), stanzaID: k.stanzaID(),
		conv: k.conv, sender: k.sender(), nick: k.nick(), text: k.text(), room: k.room()}
}

func (k *knownMessage) msgid() string     { return k.field(fMsgid) }
func (k *knownMessage) archiveID() string { return k.field(fArchiveID) }
func (k *knownMessage) ref() string       { return k.field(fRef) }
func (k *knownMessage) id() string        { return k.field(fID) }
func (k *knownMessage) origin() string    { return k.field(fOrigin) }
func (k *knownMessage) nick() string      { return k.field(fNick) }
func (k *knownMessage) stanzaID() string  { return k.field(fStanzaID) }
func (k *knownMessage) sender() string    { return k.field(fSender) }

func (k *knownMessage) text() string { return k.value(0) }

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// writeUvarint writes n as a uvarint.
func writeUvarint(sb *strings.Builder, n int) {
	for ; n >= 0x80; n >>= 7 {
		sb.WriteByte(byte(n) | 0x80)
	}
	sb.WriteByte(byte(n))
}

// readUvarint is the uvarint s starts with, and its length.
func readUvarint(s string) (n, w int) {
	for shift := 0; ; shift += 7 {
		b := s[w]
		w++
		n |= int(b&0x7f) << shift
		if b < 0x80 {
			return n, w
		}
	}
}

// at is when k was shown.
func (k *knownMessage) at() time.Time {
	if k.shownAt == 0 {
		return time.Time{}
	}
	return time.Unix(0, k.shownAt).UTC()
}

// xmppIDs are the ids by which XMPP may name k, "" for those it lacks.
func (k *knownMessage) xmppIDs() [3]string { return [3]string{k.id(), k.origin(), k.stanzaID()} }

// namedBy reports whether XMPP may name k by id (not "").
func (k *knownMessage) namedBy(id string) bool {
	ids := k.xmppIDs()
	return id != "" && slices.Contains(ids[:], id)
}

// xmppRef is the XMPP id k's msgid stands for (xmppRefFor), "" when not
// known.
func (k *knownMessage) xmppRef() string {
	switch {
	case !k.kept() || k.room():
		return k.ref()
	case k.origin() != "":
		return k.origin()
	}
	return k.id()
}

// references keeps the sets of reactions and the user's last message per
// conversation, bounded.
type references struct {
	reactions *bounded[[]string]      // by conv, msgid and reactor
	lastOwn   *bounded[*knownMessage] // the user's last message sent from IRC, by conv
}

func newReferences() *references {
	return &references{
		reactions: newBounded[[]string](maxReactionSets),
		lastOwn:   newBounded[*knownMessage](maxLastOwn),
	}
}

// convOf is the conversation of m (own: sent by the user).
func convOf(m *xmpp.Message, own bool) string {
	peer := m.From
	if own && m.Type != "groupchat" {
		peer = m.To
	}
	return strings.ToLower(xmpp.BareJID(peer))
}

// sharedConv is conv as the string its contact or room holds: the
// messages of a conversation then share one copy.
func (b *Bridge) sharedConv(conv string) string {
	if c := b.contacts.get(conv); c != nil {
		return c.key()
	}
	if r := b.rooms.byKey[conv]; r != nil {
		return r.key
	}
	return conv
}

// senderOf is the sender key of m (own: sent by the user).
func senderOf(m *xmpp.Message, own bool) string {
	switch {
	case own:
		return ownSender
	case m.Type == "groupchat":
		return m.From
	}
	return strings.ToLower(xmpp.BareJID(m.From))
}

// referenceID is the id by which replies and reactions refer to m: the
// room's stanza-id in a group chat, else the stanza's id attribute
// (XEP-0461, XEP-0444), its origin-id when it has none.
func referenceID(m *xmpp.Message) string {
	switch {
	case m.Type == "groupchat":
		return m.StanzaID
	case m.ID != "":
		return m.ID
	}
	return m.OriginID
}

// quoteOf is the short quote of k that leads a reply for those who do
// not see the reference.
func quoteOf(k *knownMessage) string {
	return "> " + k.nick() + ": " + excerpt(k.text())
}

// withReferences shows m's reply or correction as s (already given its
// msgid) for IRC, and notes m for later references to it.
func (b *Bridge) withReferences(m *xmpp.Message, own bool, s *shown) {
	if m.Reactions != nil {
		return
	}
	conv, sender := b.sharedConv(convOf(m, own)), senderOf(m, own)
	text := m.Body
	switch {
	case m.Replace != "":
		orig := b.msgs.byXMPP(conv, m.Replace)
		switch {
		case orig == nil:
			s.body = correctedMark + m.Body
		case orig.sender() != sender:
			b.log.Info("correction of someone else's message ignored", "from", m.From, "replaces", m.Replace)
		default:
			s.body, s.replyTo = correctedMark+m.Body, orig.msgid()
			orig.setText(keptText(m.Body, own))
		}
	case m.Reply != nil && m.ReplyText != "":
		if orig := b.msgs.byXMPP(conv, m.Reply.ID); orig != nil {
			text = m.ReplyText
			s.body, s.replyTo = text, orig.msgid()
			s.plain = quoteOf(orig) + "\n" + text
		}
	}
	nick := b.userNick()
	if s.from != nil && !own {
		nick = s.from.Name
	}
	b.msgs.keep(msgFields{msgid: s.msgid, room: m.Type == "groupchat", ref: referenceID(m), id: m.ID, origin: m.OriginID, stanzaID: m.StanzaID,
		conv: conv, sender: sender, nick: nick, text: keptText(text, own)})
}

// keptText is what is kept of the text of a message (own: the user's).
func keptText(text string, own bool) string {
	if own || len(text) <= maxKnownText {
		return text
	}
	return ircd.SplitText(text, maxKnownText)[0]
}

// showReactions shows m, a set of reactions (own: the user's, from
// another client), as the change from the reactor's last set; base is how
// a message of the same sender there shows.
func (b *Bridge) showReactions(m *xmpp.Message, own bool, base *shown) {
	conv := convOf(m, own)
	orig := b.msgs.byXMPP(conv, m.Reactions.ID)
	key := conv + " " + m.Reactions.ID + " " + senderOf(m, own)
	if orig != nil {
		key = conv + " " + orig.msgid() + " " + senderOf(m, own)
	}
	prev, _ := b.refsOf.reactions.get(key)
	added, removed := setChange(prev, m.Reactions.Emojis)
	b.refsOf.reactions.put(key, slices.Clone(m.Reactions.Emojis))
	if len(added)+len(removed) == 0 {
		return
	}
	who := b.userNick()
	if base.from != nil && !own {
		who = base.from.Name
	}
	s := *base
	s.notice = true
	s.body = reactionText(who, added, removed, orig)
	if orig != nil {
		for _, e := range added {
			s.reacts = append(s.reacts, irc.Tags{"+draft/react": e, "+draft/reply": orig.msgid()})
		}
		for _, e := range removed {
			s.reacts = append(s.reacts, irc.Tags{"+draft/unreact": e, "+draft/reply": orig.msgid()})
		}
	}
	b.show(m, own, &s)
}

// setChange is what was added to and removed from prev to make next.
func setChange(prev, next []string) (added, removed []string) {
	for _, e := range next {
		if !slices.Contains(prev, e) {
			added = append(added, e)
		}
	}
	for _, e := range prev {
		if !slices.Contains(next, e) {
			removed = append(removed, e)
		}
	}
	return added, removed
}

// reactionText is the readable line of a change of who's reactions to
// orig (nil: a message the gateway does not know).
func reactionText(who string, added, removed []string, orig *knownMessage) string {
	what := "an earlier message"
	if orig != nil {
		what = orig.nick() + "'s message " + excerpt(orig.text())
		if orig.sender() == ownSender {
			what = "your message " + excerpt(orig.text())
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "reacted "+strings.Join(added, " ")+" to "+what)
	}
	if len(removed) > 0 {
		r := "removed " + strings.Join(removed, " ")
		if len(added) == 0 {
			r += " from " + what
		}
		parts = append(parts, r)
	}
	return who + " " + strings.Join(parts, " and ")
}

// replyTag is the msgid a client's reply tag names, "" for none.
func replyTag(tags irc.Tags) string {
	if v := tags["+draft/reply"]; v != "" {
		return v
	}
	return tags["+reply"]
}

// resolve finds the message of conv that a client's msgid names, with the
// id XMPP references use; it answers FAIL UNKNOWN_MSGID when there is none.
func (b *Bridge) resolve(r *ircd.Request, conv, target, msgid string) *knownMessage {
	k := b.msgs.kept(msgid)
	if k == nil {
		// A message shown but no longer (or never) kept whole: the id alone.
		if ref, ok := b.xmppRef(msgid); ok {
			k = packed(msgFields{msgid: msgid, ref: ref, conv: conv})
		}
	}
	if k == nil || k.conv != conv || k.ref() == "" {
		r.Fail("UNKNOWN_MSGID", []string{target, msgid}, "No such message here (it may be too old): nothing was sent")
		return nil
	}
	return k
}

// outRefs adds to out (a message of the user to conv, shown as target on
// IRC) the reply the client asked for with its reply tag, or makes it a
// correction when its text is "s/old/new/"; ok is false when a FAIL was
// answered and nothing must be sent. to is the XMPP address of a sender
// of conv by its key.
func (b *Bridge) outRefs(r *ircd.Request, conv, target string, out *xmpp.OutMessage, to func(sender string) string) (corrected bool, ok bool) {
	if msgid := replyTag(r.Msg.Tags); msgid != "" {
		orig := b.resolve(r, conv, target, msgid)
		if orig == nil {
			return false, false
		}
		out.Reply = &xmpp.OutReply{ID: orig.ref(), To: to(orig.sender())}
		if orig.text() != "" {
			out.Reply.Quote = quoteOf(orig) + "\n"
		}
		return false, true
	}
	if !b.sedCorrections {
		return false, true
	}
	old, repl, global, isSed := parseSubstitution(out.Body)
	last, _ := b.refsOf.lastOwn.get(conv)
	if !isSed || last == nil || !strings.Contains(last.text(), old) {
		return false, true
	}
	n := 1
	if global {
		n = -1
	}
	out.Body = strings.Replace(last.text(), old, repl, n)
	out.Replace = last.id()
	// Its echo names the corrected message, as a correction from XMPP does.
	if r.Msg.Tags == nil {
		r.Msg.Tags = irc.Tags{}
	}
	r.Msg.Tags["+draft/reply"] = last.msgid()
	return true, true
}

// parseSubstitution recognises "s/old/new/" and "s/old/new/g" (old not
// empty, neither containing "/").
func parseSubstitution(text string) (old, repl string, global, ok bool) {
	rest, found := strings.CutPrefix(text, "s/")
	if !found {
		return "", "", false, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[2] != "" && parts[2] != "g" {
		return "", "", false, false
	}
	return parts[0], parts[1], parts[2] == "g", true
}

// noteOwnSent remembers out, just sent by the user from IRC to conv, for
// references and corrections. ref is the id references use ("" in a room
// until its reflection tells the room's stanza-id: noteReflection).
func (b *Bridge) noteOwnSent(conv string, out *xmpp.OutMessage, ref string) {
	if out.Reactions != nil {
		return
	}
	if out.Replace != "" {
		if last, _ := b.refsOf.lastOwn.get(conv); last != nil && last.id() == out.Replace {
			last.setText(out.Body)
		}
		return
	}
	k := b.msgs.keep(msgFields{msgid: out.ID, room: out.Type == "groupchat", ref: ref, id: out.ID, origin: out.ID, conv: conv, sender: ownSender, nick: b.userNick(),
		text: out.Body})
	b.refsOf.lastOwn.put(conv, k)
}

// noteReflection: the room reflected the user's message sent as msgid,
// with the stanza-id references to it use.
func (b *Bridge) noteReflection(msgid string, m *xmpp.Message) {
	if k := b.msgs.kept(msgid); k != nil && k.ref() == "" {
		v := k.fields()
		v.ref = referenceID(m)
		v.stanzaID = v.ref
		b.msgs.keep(v)
	}
}

// reactionTags are a TAGMSG's reaction tags: the emoji and whether it is
// removed; ok is false when it has none.
func reactionTags(tags irc.Tags) (emoji string, remove, ok bool) {
	if e, has := tags["+draft/react"]; has {
		return e, false, true
	}
	if e, has := tags["+draft/unreact"]; has {
		return e, true, true
	}
	return "", false, false
}

// reactOut makes out the user's whole set of reactions to the message a
// TAGMSG names (in conv, shown as target), with its emoji added or
// removed; ok is false when a FAIL was answered.
func (b *Bridge) reactOut(r *ircd.Request, conv, target string, out *xmpp.OutMessage) bool {
	emoji, remove, _ := reactionTags(r.Msg.Tags)
	msgid := replyTag(r.Msg.Tags)
	switch {
	case msgid == "":
		r.Fail("INVALID_PARAMS", []string{target}, "A reaction needs +draft/reply naming the message")
		return false
	case strings.TrimSpace(emoji) == "" || len(emoji) > xmpp.MaxReactionLen || strings.ContainsAny(emoji, "\r\n\t"):
		r.Fail("INVALID_PARAMS", []string{target}, "A reaction is one emoji")
		return false
	}
	orig := b.resolve(r, conv, target, msgid)
	if orig == nil {
		return false
	}
	key := conv + " " + orig.msgid() + " " + ownSender
	set, _ := b.refsOf.reactions.get(key)
	set = slices.Clone(set)
	switch {
	case remove:
		set = slices.DeleteFunc(set, func(e string) bool { return e == emoji })
	case slices.Contains(set, emoji):
	case len(set) >= xmpp.MaxReactions:
		r.Fail("INVALID_PARAMS", []string{target}, "Too many reactions to one message")
		return false
	default:
		set = append(set, emoji)
	}
	b.refsOf.reactions.put(key, set)
	out.Reactions = &xmpp.Reactions{ID: orig.ref(), Emojis: set}
	return true
}

// reactLines are the TAGMSGs of s, a change of reactions, for v, from
// from to target.
func reactLines(s *shown, v viewer, from *irc.Prefix, target string) []*irc.Message {
	var out []*irc.Message
	for i, rt := range s.reacts {
		tags := irc.Tags{"msgid": lineMsgID(s.msgid, i), "time": serverTime(s.at)}
		maps.Copy(tags, rt)
		if s.account != "" {
			tags["account"] = s.account
		}
		if v.batch != "" {
			tags["batch"] = v.batch
		}
		out = append(out, &irc.Message{Tags: tags, Prefix: from, Command: "TAGMSG", Params: []string{target}})
	}
	return out
}

// reactTagmsg sends the user's reaction (a TAGMSG with +draft/react or
// +draft/unreact) to a contact or a room, as the whole set XEP-0444 wants.
func (b *Bridge) reactTagmsg(s *session, r *ircd.Request, target string) error {
	if rm := b.roomByChannel(target); rm != nil && rm.shown {
		out := xmpp.OutMessage{ID: b.x.NewID(), To: rm.jid, Type: "groupchat"}
		if !b.reactOut(r, strings.ToLower(rm.jid), target, &out) {
			return nil
		}
		b.echo(s, r, out.ID, target)
		b.sendRoomMessage(rm, out)
		return nil
	}
	c := b.contactByNick(target)
	if c == nil {
		return errNoSuchNick(target)
	}
	out := xmpp.OutMessage{ID: b.x.NewID()}
	if !b.reactOut(r, strings.ToLower(xmpp.BareJID(c.jid())), target, &out) {
		return nil
	}
	b.echo(s, r, out.ID, target)
	b.sendChat(c, &out)
	return nil
}
