package bridge

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Message identity: every PRIVMSG, NOTICE and TAGMSG carries a msgid and a
// time tag, the same wherever the same message is shown again (live, echo,
// backlog, archive, room history, after a restart).
//
// The msgid of a message from someone else is the stanza-id its archive gave
// it (the user's server for chats, the room for group chats), else its
// origin-id. The msgid of the user's own message is its origin-id: the
// gateway chooses it before sending (so the echo carries it), and every copy
// of it (carbon, reflection, archive, room history) carries it too. Anything
// else gets a generated id.

// maxMsgRefs bounds the messages remembered (messageStore): how far back
// a msgid still resolves to XMPP, and a reply, reaction, correction or
// retraction finds the message it names.
const maxMsgRefs = 2000

// msgIDFor is the msgid of m (own: sent by the user), "" when m carries
// no usable id.
func msgIDFor(m *xmpp.Message, own bool) string {
	switch {
	case own && m.OriginID != "":
		return m.OriginID
	case m.StanzaID != "":
		return m.StanzaID
	}
	return m.OriginID
}

// xmppRefFor is the id by which XMPP extensions (replies, reactions,
// retractions) refer to m: the room's stanza-id in a group chat, else the
// origin-id or the stanza's id.
func xmppRefFor(m *xmpp.Message) string {
	switch {
	case m.Type == "groupchat":
		return m.StanzaID
	case m.OriginID != "":
		return m.OriginID
	}
	return m.ID
}

// lineMsgID is the msgid of the n-th IRC line (from 0) of a message whose
// body takes several lines: each line is an IRC message of its own.
func lineMsgID(msgid string, n int) string {
	if n == 0 {
		return msgid
	}
	return msgid + "/" + strconv.Itoa(n+1)
}

// rememberRef notes which XMPP id the message shown as msgid has.
func (b *Bridge) rememberRef(msgid, ref string) {
	if msgid == "" || ref == "" {
		return
	}
	if k := b.msgs.record(msgid); !k.kept() {
		k.set(fRef, ref) // a kept message knows it (knownMessage.xmppRef)
	}
}

// xmppRef resolves a msgid a client quotes (of any line of a message) to
// the XMPP id of the message; ok is false when it is unknown or forgotten.
func (b *Bridge) xmppRef(msgid string) (ref string, ok bool) {
	for _, id := range []string{msgid, baseMsgID(msgid)} {
		if k := b.msgs.get(id); k != nil && k.xmppRef() != "" {
			return k.xmppRef(), true
		}
	}
	return "", false
}

// baseMsgID is the msgid of the message whose line (of several) has
// msgid: the inverse of lineMsgID.
func baseMsgID(msgid string) string {
	if i := strings.LastIndexByte(msgid, '/'); i > 0 {
		if _, err := strconv.Atoi(msgid[i+1:]); err == nil {
			return msgid[:i]
		}
	}
	return msgid
}

// messageStore is what the gateway remembers of the newest maxMsgRefs
// messages it showed or sent: one record each, by msgid, which replies,
// reactions, corrections and retractions (replies.go, redact.go), the
// resolution of msgids to XMPP ids and CHATHISTORY references
// (chathistory.go) share; the records of messages kept for references are
// also found by their conversation and XMPP ids, and the stanza ids shown
// to the user (for the archive catch-up) are found in the records too.
type messageStore struct {
	byMsgid hashIndex[string]
	index   hashIndex[xmppKey]  // the kept ones, by their XMPP ids other than the msgid
	seenIDs hashIndex[string]   // by their seen ids other than the msgid
	order   ring[*knownMessage] // oldest first
}

// xmppKey is how XMPP names a message: by one of its ids in a
// conversation (ids are only unique per sender).
type xmppKey struct{ conv, id string }

func newMessageStore(max int) *messageStore {
	seed := maphash.MakeSeed()
	return &messageStore{
		byMsgid: hashIndex[string]{seed: seed, keys: func(k *knownMessage) [3]string { return [3]string{k.msgid()} }},
		index:   hashIndex[xmppKey]{seed: seed, keys: xmppKeys},
		seenIDs: hashIndex[string]{seed: seed, keys: seenKeys},
		order:   ring[*knownMessage]{max: max},
	}
}

// seenKeys are the keys of k in the store's seenIDs (zero: none).
func seenKeys(k *knownMessage) [3]string {
	if id := k.field(fSeenID); id != k.msgid() {
		return [3]string{id}
	}
	return [3]string{}
}

// xmppKeys are the keys of k in the store's index (zero: none).
func xmppKeys(k *knownMessage) [3]xmppKey {
	var keys [3]xmppKey
	if k.kept() {
		for i, id := range k.xmppIDs() {
			if key := (xmppKey{k.conv, id}); id != "" && id != k.msgid() && !slices.Contains(keys[:], key) {
				keys[i] = key
			}
		}
	}
	return keys
}

// get is the record of msgid, nil when none.
func (ms *messageStore) get(msgid string) *knownMessage { return ms.byMsgid.get(msgid) }

// record is the record of msgid, new (the oldest forgotten when the
// store is full) when there is none.
func (ms *messageStore) record(msgid string) *knownMessage {
	if k := ms.get(msgid); k != nil {
		return k
	}
	k := packed(msgFields{msgid: msgid})
	if old, full := ms.order.push(k); full {
		ms.byMsgid.remove(old)
		ms.seenIDs.remove(old)
		ms.unindex(old)
	}
	ms.byMsgid.add(k.msgid(), k)
	return k
}

// keep makes v the kept record of its message (the time, archive id and
// seen id it showed with stay), found by its XMPP ids, and returns it.
func (ms *messageStore) keep(v msgFields) *knownMessage {
	k := ms.record(v.msgid)
	ms.unindex(k)
	v.archiveID, v.seenID = k.archiveID(), k.field(fSeenID)
	k.pack(&v)
	k.flag(flagKept, true)
	for _, key := range xmppKeys(k) {
		if key != (xmppKey{}) {
			ms.index.add(key, k)
		}
	}
	return k
}

// unindex removes k's XMPP ids (those not taken by a later message).
func (ms *messageStore) unindex(k *knownMessage) { ms.index.remove(k) }

// forget forgets that k is kept, once deleted: a second retraction of it
// is then of an unknown message. Its msgid still resolves to its XMPP id.
func (ms *messageStore) forget(k *knownMessage) {
	ref := k.xmppRef()
	ms.unindex(k)
	k.flag(flagKept, false)
	k.set(fRef, ref)
}

// markSeen notes that the message shown as msgid, with the stanza id
// id, was shown to the user.
func (ms *messageStore) markSeen(msgid, id string) {
	k := ms.record(msgid)
	ms.seenIDs.remove(k)
	k.set(fSeenID, id)
	if id != msgid {
		ms.seenIDs.add(id, k)
	}
}

// seen reports whether a message with the stanza id id was shown to the
// user, among the newest maxMsgRefs.
func (ms *messageStore) seen(id string) bool {
	if k := ms.get(id); k != nil && k.field(fSeenID) == id {
		return true
	}
	return ms.seenIDs.get(id) != nil
}

// kept finds the kept message a client names by msgid (of any of its
// lines).
func (ms *messageStore) kept(msgid string) *knownMessage {
	if k := ms.get(msgid); k != nil && k.kept() {
		return k
	}
	if k := ms.get(baseMsgID(msgid)); k != nil && k.kept() {
		return k
	}
	return nil
}

// byXMPP finds the kept message of conv that XMPP calls id.
func (ms *messageStore) byXMPP(conv, id string) *knownMessage {
	if k := ms.index.get(xmppKey{conv, id}); k != nil {
		return k
	}
	// An id that is also the msgid is not in the index: the user's own
	// messages go by their origin-id, others' by their stanza-id.
	if k := ms.get(id); k != nil && k.kept() && k.conv == conv && k.namedBy(id) {
		return k
	}
	return nil
}

// hashIndex finds records by their keys through the keys' hashes: a map
// with 8-byte keys takes far less room than one with strings (which
// would keep their own copies alive, not those packed in the records).
// Each key names one record, the last one added with it. A hash that
// several keys have (with a seeded 64-bit hash, as good as never) is
// shared: its keys are in over, by the keys themselves.
// The maps are made when first needed: most users' stores stay empty.
type hashIndex[K comparable] struct {
	byHash map[uint64]*knownMessage // the record of the one key with the hash
	over   map[K]*knownMessage
	shared map[uint64]int // the shared hashes: how many keys in over have each
	seed   maphash.Seed
	keys   func(*knownMessage) [3]K // the keys a record is added with (zero: none)
	with   func(K) uint64           // the hash, when not maphash's (tests make keys collide)
}

// hash is key's hash.
func (x *hashIndex[K]) hash(key K) uint64 {
	if x.with != nil {
		return x.with(key)
	}
	return maphash.Comparable(x.seed, key)
}

// get is the record key names, nil when none.
func (x *hashIndex[K]) get(key K) *knownMessage {
	h := x.hash(key)
	if x.shared[h] > 0 {
		return x.over[key]
	}
	// The record of the hash's one key, which may be another than key.
	if k := x.byHash[h]; k != nil && x.keyOf(k, h) == key {
		return k
	}
	return nil
}

// add makes key, one of k's, name k, and no longer the record it named.
func (x *hashIndex[K]) add(key K, k *knownMessage) {
	h := x.hash(key)
	if x.shared[h] > 0 {
		x.putOver(h, key, k)
		return
	}
	o := x.byHash[h]
	if o == nil || x.keyOf(o, h) == key {
		if x.byHash == nil {
			x.byHash = map[uint64]*knownMessage{}
		}
		x.byHash[h] = k
		return
	}
	// A second key with the hash: both go to over.
	delete(x.byHash, h)
	x.putOver(h, x.keyOf(o, h), o)
	x.putOver(h, key, k)
}

// putOver makes key, of the shared hash h, name k.
func (x *hashIndex[K]) putOver(h uint64, key K, k *knownMessage) {
	if x.over == nil {
		x.over, x.shared = map[K]*knownMessage{}, map[uint64]int{}
	}
	if _, ok := x.over[key]; !ok {
		x.shared[h]++
	}
	x.over[key] = k
}

// remove removes the keys of k that still name it.
func (x *hashIndex[K]) remove(k *knownMessage) {
	var zero K
	for _, key := range x.keys(k) {
		if key == zero {
			continue
		}
		h := x.hash(key)
		switch {
		case x.shared[h] > 0 && x.over[key] == k:
			delete(x.over, key)
			if x.shared[h]--; x.shared[h] == 0 {
				delete(x.shared, h)
			}
		case x.byHash[h] == k: // not shared then
			delete(x.byHash, h)
		}
	}
}

// keyOf is the key of k with the hash h (there is one when k is in
// byHash under h: a second would have made h shared).
func (x *hashIndex[K]) keyOf(k *knownMessage, h uint64) K {
	var zero K
	for _, key := range x.keys(k) {
		if key != zero && x.hash(key) == h {
			return key
		}
	}
	return zero
}

// len is the number of keys that name a record.
func (x *hashIndex[K]) len() int { return len(x.byHash) + len(x.over) }

// shown is a message as IRC shows it, as a handler decided it. It is kept
// whole (in the backlog too) and formatted into IRC lines only when it is
// delivered, for the client it is delivered to (ircLines): the user's nick,
// the visible time stamp and the room left for the text differ by client.
type shown struct {
	from    *irc.Prefix
	target  string // the user's nick, a contact's nick or a channel
	notice  bool
	body    string
	account string // of the sender, "" when not known
	msgid   string
	at      time.Time
	// toUser: the target is the user; fromUser: the user sent it. The
	// user's nick and hostmask are those of the client it is shown to.
	toUser, fromUser bool
	// delayed: written earlier than it is shown, so clients without
	// server-time see its time in the text.
	delayed bool
	// replyTo: the msgid the message answers or corrects, for clients
	// with message-tags; plain: the text for clients without, when it
	// differs; reacts: for clients with message-tags, one TAGMSG with
	// each of these tags instead of the text (replies.go).
	replyTo string
	plain   string
	reacts  []irc.Tags
}

// viewer is what formatting a message needs to know of the client it is
// for.
type viewer struct {
	nick       string      // the user's nick
	self       *irc.Prefix // the user's hostmask
	serverTime bool        // the client takes the time tag
	batch      string      // the batch the lines belong to, "" for none
	tags       bool        // the client takes message-tags
	multiline  bool        // the client takes draft/multiline batches
}

// viewerOf is the viewer of the client s.
func viewerOf(s *session) viewer {
	return viewer{nick: s.d.Nick(), self: userPrefix(s.d), serverTime: s.d.HasCap("server-time"), tags: s.d.HasCap("message-tags"), multiline: takesMultiline(s.d)}
}

// minTextRoom is the least room ircLines leaves for text in a line: a
// sender's hostmask that would leave less (JIDs may be 3071 bytes) is
// shortened.
const minTextRoom = 200

// ircLines formats s for the client v: one IRC message per line of its
// body, split (ircd.SplitText, through bodyToIRC) so that every line,
// without its tags, fits IRC's 512 bytes whatever the nick, the target and
// the sender's hostmask. Every piece carries the time: the time tag, and,
// when s is delayed and the client has no server-time, a visible stamp in
// front of its text. The first line has the message's msgid, the n-th
// further one the msgid with "/n+1" (lineMsgID): a msgid names one line,
// and each still resolves to the message (xmppRef).
func ircLines(s *shown, v viewer) []*irc.Message {
	command := "PRIVMSG"
	if s.notice {
		command = "NOTICE"
	}
	from, target := s.from, s.target
	if s.fromUser {
		from = v.self
	}
	if s.toUser {
		target = v.nick
	}
	stamp := ""
	if s.delayed && !v.serverTime {
		stamp = timestampPrefix(s.at)
	}
	from = fitPrefix(from, command, target, len(stamp))
	if v.tags && len(s.reacts) > 0 {
		return reactLines(s, v, from, target)
	}
	body := s.body
	if !v.tags && s.plain != "" {
		body = s.plain
	}
	lines := bodyToIRC(body, textRoom(from, command, target)-len(stamp))
	if v.multiline && len(lines) > 1 && !lines[0].Action {
		if stamp != "" {
			lines[0].Text = stamp + lines[0].Text
		}
		return multilineBatch(lineTags(s, v, s.msgid), from, command, target, lines)
	}
	var out []*irc.Message
	for i, line := range lines {
		text := stamp + line.Text
		if line.Action && !s.notice { // no CTCP in a NOTICE
			text = "\x01ACTION " + text + "\x01"
		}
		out = append(out, &irc.Message{Tags: lineTags(s, v, lineMsgID(s.msgid, i)), Prefix: from, Command: command, Params: []string{target, text}})
	}
	return out
}

// lineTags are the tags of a line of s for v, with the given msgid.
func lineTags(s *shown, v viewer, msgid string) irc.Tags {
	tags := irc.Tags{"msgid": msgid, "time": serverTime(s.at)}
	if s.account != "" {
		tags["account"] = s.account
	}
	if v.batch != "" {
		tags["batch"] = v.batch
	}
	if v.tags && s.replyTo != "" {
		tags["+draft/reply"] = s.replyTo
	}
	return tags
}

// textRoom is the room for the text in a line "from command target"
// (tags aside). It counts from.String()'s length without building it: it
// runs twice for every message and client.
func textRoom(from *irc.Prefix, command, target string) int {
	prefix := len(from.Name)
	if from.User != "" {
		prefix += len("!") + len(from.User)
	}
	if from.Host != "" {
		prefix += len("@") + len(from.Host)
	}
	return ircd.MaxLineLen - len("\r\n") - (len(":") + prefix + len(" ") + len(command) + len(" ") + len(target) + len(" :"))
}

// fitPrefix shortens the user and host of from when a line from it would
// leave less than minTextRoom for the text and a stamp of stampLen bytes.
func fitPrefix(from *irc.Prefix, command, target string, stampLen int) *irc.Prefix {
	over := minTextRoom + stampLen - textRoom(from, command, target)
	if over <= 0 || from.User == "" && from.Host == "" {
		return from
	}
	// What is left is shared out, a short part keeping all of its own.
	room := max(len(from.User)+len(from.Host)-over, 2*utf8.UTFMax)
	userRoom := min(len(from.User), max(room/2, room-len(from.Host)))
	short := *from
	short.User = ircd.SplitText(from.User, max(userRoom, utf8.UTFMax))[0]
	short.Host = ircd.SplitText(from.Host, room-len(short.User))[0]
	return &short
}

// show gives m its identity (own: sent by the user) in s and delivers it
// as s.
func (b *Bridge) show(m *xmpp.Message, own bool, s *shown) {
	b.identify(m, own, s)
	archiveID := m.StanzaID
	if own && m.Type != "groupchat" {
		archiveID = "" // a carbon's stanza-id need not be the archive's
	}
	b.rememberShown(s.msgid, archiveID, s.at)
	b.deliver(s)
	// After the message: a read marker waiting for it follows it.
	b.indexShown(m, s.at)
	b.notePosition(m, s.at)
}

// identify gives m, about to be shown as s (own: sent by the user), its
// msgid and time in s, and remembers which XMPP id the msgid stands for.
func (b *Bridge) identify(m *xmpp.Message, own bool, s *shown) {
	s.msgid = msgIDFor(m, own)
	if s.msgid == "" {
		s.msgid = b.newMsgID()
	}
	s.at = m.Delay
	s.delayed = !m.Delay.IsZero()
	if s.at.IsZero() {
		s.at = b.now()
	}
	b.rememberRef(s.msgid, xmppRefFor(m))
	s.fromUser = own
	b.withReferences(m, own, s)
}

// showGateway delivers s, a message of the gateway's own, with a new msgid
// and the current time.
func (b *Bridge) showGateway(s shown) {
	s.msgid, s.at = b.newMsgID(), b.now()
	b.deliver(&s)
}

// deliver sends s to every attached client, formatted for each, or keeps
// (a copy of) it for the next one. It sets s.toUser.
func (b *Bridge) deliver(s *shown) {
	s.toUser = s.target == b.userNick()
	if b.only != nil || len(b.sessions) == 0 {
		b.keep(s)
		return
	}
	for _, c := range b.sessions {
		sendShown(c, s, viewerOf(c))
	}
}

// sendShown sends s to the client c, formatted for it as v.
func sendShown(c *session, s *shown, v viewer) {
	noteSentTo(c, s.msgid)
	for _, m := range ircLines(s, v) {
		c.send(m)
	}
}

// stamped gives m (a message of the gateway's own) a new msgid and the
// current time, unless it has them.
func (b *Bridge) stamped(m *irc.Message) *irc.Message {
	switch m.Command {
	case "PRIVMSG", "NOTICE", "TAGMSG":
	default:
		return m
	}
	if m.Tags["msgid"] != "" && m.Tags["time"] != "" {
		return m
	}
	mm := m.Copy()
	if mm.Tags == nil {
		mm.Tags = irc.Tags{}
	}
	if mm.Tags["msgid"] == "" {
		mm.Tags["msgid"] = b.newMsgID()
	}
	if mm.Tags["time"] == "" {
		mm.Tags["time"] = serverTime(b.now())
	}
	return mm
}
