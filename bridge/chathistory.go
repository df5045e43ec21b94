package bridge

// IRCv3 draft/chathistory served from the XMPP server's archive (XEP-0313
// MAM, paged with XEP-0059 RSM): the gateway keeps no history of its own.
//
// A contact's history is the account's archive filtered by the contact's
// bare JID; a room's is the room's own archive. Each answer is one
// chathistory batch of the messages as they were shown live (the same
// translation, msgid and, while the gateway remembers it, the same time),
// oldest first. A msgid reference is resolved to the archive id it stands
// for (the msgid of someone else's message is its archive id; the user's
// own message is known by its origin-id, whose archive id or time the
// gateway remembers from when it showed it), else looked up in the
// archive by id; a timestamp bounds the archive query with a little slack
// (archives keep whole seconds), and the messages are then cut exactly at
// it by the time they show.
//
// TARGETS reads the account's archive over the range (all peers), newest
// page first, and keeps each peer's latest message until it has as many
// peers as asked or has read targetsMaxPages pages: the archive has no
// query grouped by peer. Rooms are not listed (their archives are the
// rooms').
//
// The answer is asked for page by page as requests whose answers arrive as
// events (requests.go); the client's command stays open meanwhile (see
// heldCommand), bounded by historyTimeout, and nothing else waits.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Limits of CHATHISTORY.
const (
	capChathistory = "draft/chathistory"
	// historyMax is the most messages one answer gives (ISUPPORT
	// CHATHISTORY); a larger limit is capped to it.
	historyMax = 100
	// historyPage is the largest page asked of the archive; servers may
	// send fewer (Prosody at most 50 by default).
	historyPage = 100
	// historyMaxPages bounds the pages read for one answer.
	historyMaxPages = 20
	// targetsMaxPages bounds the pages of the account's archive that
	// TARGETS reads.
	targetsMaxPages = 10
	// historyTimeout bounds one answer, within the time a client's
	// command may be held open.
	historyTimeout = maxHold - 2*time.Second
	// historySlack widens a timestamp bound of an archive query, whose
	// times may be whole seconds and differ a little from the time a
	// message was shown live.
	historySlack = 2 * time.Second
)

// historyISupport are the ISUPPORT tokens of CHATHISTORY.
var historyISupport = []string{"CHATHISTORY=" + strconv.Itoa(historyMax), "MSGREFTYPES=msgid,timestamp"}

// msgRef is a message reference of CHATHISTORY: msgid=..., timestamp=...,
// or neither ("*").
type msgRef struct {
	msgid string
	at    time.Time
}

func (r msgRef) isAny() bool { return r.msgid == "" && r.at.IsZero() }

// historyCmd is a parsed CHATHISTORY command.
type historyCmd struct {
	sub    string // LATEST BEFORE AFTER AROUND BETWEEN TARGETS
	target string // "" for TARGETS
	from   msgRef
	to     msgRef // BETWEEN and TARGETS
	limit  int
}

// historyFail is a CHATHISTORY standard reply: FAIL CHATHISTORY code
// context... :text.
type historyFail struct {
	code    string
	context []string
	text    string
}

// historyParams is the number of parameters of each subcommand, itself
// included.
var historyParams = map[string]int{"LATEST": 4, "BEFORE": 4, "AFTER": 4, "AROUND": 4, "BETWEEN": 5, "TARGETS": 4}

// parseHistory parses the parameters of a CHATHISTORY command; the limit
// is capped to historyMax.
//
//	CHATHISTORY <LATEST|BEFORE|AFTER|AROUND> <target> <ref> <limit>
//	CHATHISTORY BETWEEN <target> <ref> <ref> <limit>
//	CHATHISTORY TARGETS <timestamp> <timestamp> <limit>
func parseHistory(params []string) (historyCmd, *historyFail) {
	sub := strings.ToUpper(params[0])
	n, ok := historyParams[sub]
	switch {
	case !ok:
		return historyCmd{}, &historyFail{"INVALID_PARAMS", []string{params[0]}, "Unknown command"}
	case len(params) < n:
		return historyCmd{}, &historyFail{"INVALID_PARAMS", []string{sub}, "Insufficient parameters"}
	case len(params) > n:
		return historyCmd{}, &historyFail{"INVALID_PARAMS", []string{sub}, "Too many parameters"}
	}
	cmd := historyCmd{sub: sub}
	refs := params[2 : n-1]
	if sub == "TARGETS" {
		refs = params[1 : n-1]
	} else {
		cmd.target = params[1]
	}
	for i, p := range refs {
		ref, fail := parseMsgRef(sub, cmd.target, p)
		if fail != nil {
			return historyCmd{}, fail
		}
		switch {
		case ref.isAny() && sub != "LATEST":
			return historyCmd{}, &historyFail{"INVALID_PARAMS", []string{sub, p}, "Only LATEST takes *"}
		case ref.msgid != "" && sub == "TARGETS":
			return historyCmd{}, &historyFail{"INVALID_PARAMS", []string{sub, p}, "TARGETS takes timestamps"}
		}
		if i == 0 {
			cmd.from = ref
		} else {
			cmd.to = ref
		}
	}
	limit, err := strconv.Atoi(params[n-1])
	if err != nil || limit < 1 {
		return historyCmd{}, &historyFail{"INVALID_PARAMS", []string{sub, params[n-1]}, "Invalid limit"}
	}
	cmd.limit = min(limit, historyMax)
	return cmd, nil
}

// parseMsgRef parses a message reference: *, msgid=ID or
// timestamp=YYYY-MM-DDThh:mm:ss.sssZ.
func parseMsgRef(sub, target, p string) (msgRef, *historyFail) {
	if p == "*" {
		return msgRef{}, nil
	}
	kind, value, ok := strings.Cut(p, "=")
	switch {
	case !ok:
		return msgRef{}, &historyFail{"INVALID_PARAMS", []string{sub, p}, "Invalid message reference"}
	case kind == "msgid" && value != "":
		return msgRef{msgid: value}, nil
	case kind == "timestamp":
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil || !strings.HasSuffix(value, "Z") {
			return msgRef{}, &historyFail{"INVALID_PARAMS", []string{sub, p}, "Invalid timestamp"}
		}
		return msgRef{at: t.UTC()}, nil
	case kind == "msgid":
		return msgRef{}, &historyFail{"INVALID_PARAMS", []string{sub, p}, "Invalid msgid"}
	}
	ctx := []string{sub}
	if target != "" {
		ctx = append(ctx, target)
	}
	return msgRef{}, &historyFail{"INVALID_MSGREFTYPE", append(ctx, kind), "Only msgid and timestamp references are supported"}
}

// rememberShown notes that the message shown as msgid has the archive id
// archiveID ("" when not known) and showed at at, so that CHATHISTORY
// shows it at the same time and resolves references to it.
func (b *Bridge) rememberShown(msgid, archiveID string, at time.Time) {
	if msgid != "" {
		k := b.msgs.record(msgid)
		k.set(fArchiveID, archiveID)
		k.flag(flagShown, true)
		k.shownAt = 0
		if !at.IsZero() {
			k.shownAt = at.UnixNano()
		}
	}
}

// shownMsg is the record of the message shown as msgid, nil when none is
// remembered.
func (b *Bridge) shownMsg(msgid string) *knownMessage {
	if k := b.msgs.get(msgid); k != nil && k.shown() {
		return k
	}
	return nil
}

// historyConv is the conversation a history query is about: a contact's
// chat or a room.
type historyConv struct {
	name    string // the target as the batch names it
	contact *contact
	room    *room
}

// archive is where the conversation's messages are: the account's archive
// (""), with the contact (TARGETS: with anyone), or the room's.
func (cv historyConv) archive() (archive, with string) {
	switch {
	case cv.room != nil:
		return cv.room.jid, ""
	case cv.contact != nil:
		return "", cv.contact.jid()
	}
	return "", ""
}

// bound is one exclusive end of a history query: an archive id (exact),
// else a time, with the msgid of a message at that time to leave out.
// Times are whole milliseconds, as time tags show them.
type bound struct {
	id    string
	at    time.Time
	msgid string
}

func (bd bound) isOpen() bool { return bd.id == "" && bd.at.IsZero() }

// historyPhase is one run of pages in one direction: backward (newest
// first, from upper down) or forward (from lower up).
type historyPhase struct {
	backward     bool
	lower, upper bound
	limit        int
	cursor       string // RSM id of the next page (before or after)
	msgs         []xmpp.Message
}

// historyQuery is one CHATHISTORY command being answered.
type historyQuery struct {
	cmd    historyCmd
	conv   historyConv
	s      *session
	held   *heldCommand
	ctx    context.Context
	cancel context.CancelFunc
	pages  int
	// refs awaiting their archive lookup (by msgid), and what they
	// resolved to.
	lookup   []string
	resolved map[string]bound
	phase    *historyPhase
	around   []xmpp.Message // AROUND: the messages before the reference
	peers    []historyPeer  // TARGETS: latest message per peer, newest first
}

// historyPeer is one conversation TARGETS found.
type historyPeer struct {
	jid string
	at  time.Time
}

// handleChathistory answers CHATHISTORY (see parseHistory).
func (b *Bridge) handleChathistory(s *session, r *ircd.Request) error {
	cmd, fail := parseHistory(r.Msg.Params)
	if fail == nil && !b.mam {
		fail = &historyFail{"MESSAGE_ERROR", []string{cmd.sub, cmd.target}, "The XMPP server keeps no message archive"}
	}
	if fail == nil && !b.connected {
		fail = &historyFail{"MESSAGE_ERROR", []string{cmd.sub, cmd.target}, "XMPP is not connected"}
	}
	var conv historyConv
	if fail == nil && cmd.sub != "TARGETS" {
		var empty bool
		conv, empty, fail = b.historyTarget(cmd)
		if empty {
			v := viewerOf(s)
			v.batch = b.historyBatchID()
			b.sendBatch(r.Reply, v, conv.name, nil)
			return nil
		}
	}
	if fail != nil {
		r.Reply(b.historyFailure(fail))
		return nil
	}
	ctx, cancel := context.WithTimeout(b.runCtx, historyTimeout)
	q := &historyQuery{cmd: cmd, conv: conv, s: s, held: b.hold(), ctx: ctx, cancel: cancel, resolved: map[string]bound{}}
	for _, ref := range []msgRef{cmd.from, cmd.to} {
		if ref.msgid == "" {
			continue
		}
		if bd, ok := b.resolveMsgID(conv, ref.msgid); ok {
			q.resolved[ref.msgid] = bd
		} else {
			q.lookup = append(q.lookup, baseMsgID(ref.msgid))
		}
	}
	b.historyNext(q)
	return nil
}

// historyTarget finds the conversation cmd is about; empty: the target
// has no history (the control channel, the service).
func (b *Bridge) historyTarget(cmd historyCmd) (historyConv, bool, *historyFail) {
	name := cmd.target
	if b.isControl(name) || b.nicks.isService(name) {
		return historyConv{name: name}, true, nil
	}
	if strings.HasPrefix(name, "#") {
		if r := b.roomByChannel(name); r != nil {
			return historyConv{name: r.channel, room: r}, false, nil
		}
	} else if c := b.contactByNick(name); c != nil {
		return historyConv{name: c.nick, contact: c}, false, nil
	}
	return historyConv{}, false, &historyFail{"INVALID_TARGET", []string{cmd.sub, name}, "Not a contact or a room of yours"}
}

// resolveMsgID finds what msgid stands for in cv's archive without asking
// the archive: a message the gateway showed or sent.
func (b *Bridge) resolveMsgID(cv historyConv, msgid string) (bound, bool) {
	msgid = baseMsgID(msgid)
	sm := b.shownMsg(msgid)
	if sm == nil {
		return bound{}, false
	}
	archiveID := sm.archiveID()
	if archiveID == "" && cv.room != nil {
		// The user's message in a room: its reflection gave the room's
		// stanza-id (rememberRef), which is the room's archive id.
		if ref := sm.xmppRef(); ref != "" && ref != msgid {
			archiveID = ref
		}
	}
	at := sm.at().Truncate(time.Millisecond) // as its time tag showed it
	if archiveID != "" {
		return bound{id: archiveID, at: at}, true
	}
	return bound{at: at, msgid: msgid}, true
}

// historyNext asks for what q needs next: the archive ids of unknown
// msgids, then the pages of its phases; or answers it.
func (b *Bridge) historyNext(q *historyQuery) {
	if len(q.lookup) > 0 {
		archive, with := q.conv.archive()
		b.historyRequest(q, xmpp.ArchiveQuery{Archive: archive, With: with, IDs: q.lookup, Max: len(q.lookup)})
		return
	}
	if q.phase == nil {
		q.phase = b.firstPhase(q)
	}
	p := q.phase
	if q.pages >= historyMaxPages {
		b.historyDone(q, nil)
		return
	}
	archive, with := q.conv.archive()
	aq := xmpp.ArchiveQuery{Archive: archive, With: with, Max: historyPage}
	if q.cmd.sub != "TARGETS" {
		aq.Max = min(historyPage, p.limit-len(p.msgs)) // what is still missing
	}
	if p.backward {
		aq.Before, aq.FromEnd = p.cursor, true
		if p.cursor == "" {
			aq.Before = p.upper.id
		}
		aq.AfterID = p.lower.id
	} else {
		aq.After = p.cursor
		if p.cursor == "" {
			aq.After = p.lower.id
		}
		aq.BeforeID = p.upper.id
	}
	if p.lower.id == "" && !p.lower.at.IsZero() {
		aq.Start = p.lower.at.Add(-historySlack)
	}
	if p.upper.id == "" && !p.upper.at.IsZero() {
		aq.End = p.upper.at.Add(historySlack)
	}
	q.pages++
	b.historyRequest(q, aq)
}

// firstPhase plans the first run of pages of q, its references resolved.
func (b *Bridge) firstPhase(q *historyQuery) *historyPhase {
	ref := func(r msgRef) bound {
		if r.msgid != "" {
			return q.resolved[r.msgid]
		}
		return bound{at: r.at}
	}
	from, to := ref(q.cmd.from), ref(q.cmd.to)
	switch q.cmd.sub {
	case "LATEST":
		return &historyPhase{backward: true, lower: from, limit: q.cmd.limit}
	case "BEFORE":
		return &historyPhase{backward: true, upper: from, limit: q.cmd.limit}
	case "AFTER":
		return &historyPhase{lower: from, limit: q.cmd.limit}
	case "AROUND":
		if q.cmd.limit/2 == 0 {
			return aroundAfter(q, nil, from)
		}
		return &historyPhase{backward: true, upper: from, limit: q.cmd.limit / 2}
	case "BETWEEN":
		if to.at.Before(from.at) {
			return &historyPhase{backward: true, upper: from, lower: to, limit: q.cmd.limit}
		}
		return &historyPhase{lower: from, upper: to, limit: q.cmd.limit}
	}
	// TARGETS: the account's archive over the range, newest first.
	lower, upper := from, to
	if upper.at.Before(lower.at) {
		lower, upper = upper, lower
	}
	return &historyPhase{backward: true, lower: lower, upper: upper, limit: q.cmd.limit}
}

// historyRequest sends one archive query of q.
func (b *Bridge) historyRequest(q *historyQuery, aq xmpp.ArchiveQuery) {
	err := b.startRequestIn(q.ctx, historyTimeout, request{kind: requestHistory, s: q.s, query: q}, func(ctx context.Context) (string, error) {
		return b.x.QueryArchive(ctx, aq)
	})
	if err != nil {
		b.historyDone(q, err)
	}
}

// onHistoryPage takes one answer to q's archive queries.
func (b *Bridge) onHistoryPage(q *historyQuery, p xmpp.ArchivePage) {
	if p.Err != nil {
		b.historyDone(q, p.Err)
		return
	}
	if len(q.lookup) > 0 {
		b.historyLookedUp(q, p.Messages)
		return
	}
	ph := q.phase
	kept := b.historyKeep(q, p.Messages)
	if ph.backward {
		ph.msgs = append(kept, ph.msgs...)
		ph.cursor = p.First
	} else {
		ph.msgs = append(ph.msgs, kept...)
		ph.cursor = p.Last
	}
	if q.cmd.sub == "TARGETS" {
		b.collectPeers(q, kept)
		ph.msgs = nil
		if len(q.peers) >= q.cmd.limit || q.pages >= targetsMaxPages {
			b.historyDone(q, nil)
			return
		}
	}
	full := len(ph.msgs) >= ph.limit
	if full {
		if ph.backward {
			ph.msgs = ph.msgs[len(ph.msgs)-ph.limit:]
		} else {
			ph.msgs = ph.msgs[:ph.limit]
		}
	}
	if full || p.Complete || len(p.Messages) == 0 || ph.cursor == "" {
		b.historyPhaseDone(q)
		return
	}
	b.historyNext(q)
}

// historyLookedUp resolves q's looked-up msgids from the messages the
// archive has under those ids; a msgid it does not have fails q.
func (b *Bridge) historyLookedUp(q *historyQuery, msgs []xmpp.Message) {
	for _, id := range q.lookup {
		i := slices.IndexFunc(msgs, func(m xmpp.Message) bool { return m.StanzaID == id })
		if i < 0 {
			b.historyFail(q, &historyFail{"MESSAGE_ERROR", []string{q.cmd.sub, q.conv.name, "msgid=" + id}, "Unknown message id"})
			return
		}
		q.resolved[id] = bound{id: id, at: b.historyTime(q.conv, msgs[i]).Truncate(time.Millisecond)}
	}
	for _, ref := range []msgRef{q.cmd.from, q.cmd.to} {
		if bd, ok := q.resolved[baseMsgID(ref.msgid)]; ok && ref.msgid != "" {
			q.resolved[ref.msgid] = bd
		}
	}
	q.lookup = nil
	b.historyNext(q)
}

// historyKeep returns the messages of a page that the phase shows: those
// with a body, inside its time bounds, not a bound itself.
func (b *Bridge) historyKeep(q *historyQuery, msgs []xmpp.Message) []xmpp.Message {
	ph := q.phase
	var kept []xmpp.Message
	for _, m := range msgs {
		if m.Body == "" || m.Type == "error" {
			continue
		}
		if !ph.lower.isOpen() && ph.lower.id == "" || !ph.upper.isOpen() && ph.upper.id == "" {
			// Cut exactly at a time bound, by the time the message shows.
			msgid := msgIDFor(&m, b.historyOwn(q.conv, m))
			if msgid != "" && (msgid == ph.lower.msgid || msgid == ph.upper.msgid) {
				continue
			}
			// As the time tag shows it.
			at := b.historyTime(q.conv, m).Truncate(time.Millisecond)
			if ph.lower.id == "" && !ph.lower.at.IsZero() && !at.After(ph.lower.at) ||
				ph.upper.id == "" && !ph.upper.at.IsZero() && !at.Before(ph.upper.at) {
				continue
			}
		}
		kept = append(kept, m)
	}
	return kept
}

// historyPhaseDone ends a run of pages: AROUND goes on after the
// reference, everything else is answered.
func (b *Bridge) historyPhaseDone(q *historyQuery) {
	ph := q.phase
	if q.cmd.sub == "AROUND" && ph.backward {
		q.around = ph.msgs
		q.phase = aroundAfter(q, ph.msgs, ph.upper)
		if q.phase.limit > 0 {
			b.historyNext(q)
			return
		}
	}
	b.historyDone(q, nil)
}

// aroundAfter plans the second half of AROUND at ref, after the messages
// before it: from the last of those on, or from ref's time on, ref
// included.
func aroundAfter(q *historyQuery, before []xmpp.Message, ref bound) *historyPhase {
	next := &historyPhase{limit: q.cmd.limit - len(before)}
	if n := len(before); n > 0 {
		next.lower = bound{id: before[n-1].StanzaID}
	} else {
		next.lower = bound{at: ref.at.Add(-time.Nanosecond)}
	}
	return next
}

// historyDone answers q with what it found, or with a FAIL for err.
func (b *Bridge) historyDone(q *historyQuery, err error) {
	if err != nil {
		text := "Messages could not be retrieved: " + oneLine(err.Error())
		if q.ctx.Err() != nil {
			text = "The XMPP server did not answer in time"
		}
		b.historyFail(q, &historyFail{"MESSAGE_ERROR", []string{q.cmd.sub, q.conv.name}, text})
		return
	}
	q.cancel()
	if q.cmd.sub == "TARGETS" {
		b.sendTargets(q)
	} else {
		msgs := append(q.around, q.phase.msgs...)
		v := viewerOf(q.s)
		v.batch = b.historyBatchID()
		b.sendBatch(q.held.reply, v, q.conv.name, b.historyShown(q.conv, msgs))
	}
	b.release(q.held)
}

// historyFail answers q with a FAIL.
func (b *Bridge) historyFail(q *historyQuery, f *historyFail) {
	q.cancel()
	q.held.reply(b.historyFailure(f))
	b.release(q.held)
}

// historyFailure is the standard reply FAIL CHATHISTORY for f.
func (b *Bridge) historyFailure(f *historyFail) *irc.Message {
	params := []string{"CHATHISTORY", f.code}
	for _, c := range f.context {
		if c != "" { // TARGETS names no target
			params = append(params, c)
		}
	}
	return &irc.Message{Prefix: b.serverPrefix(), Command: "FAIL", Params: append(params, f.text)}
}

// historyTime is when m shows: when it showed live if the gateway
// remembers, else its archive time.
func (b *Bridge) historyTime(cv historyConv, m xmpp.Message) time.Time {
	if sm := b.shownMsg(msgIDFor(&m, b.historyOwn(cv, m))); sm != nil {
		return sm.at()
	}
	return m.Delay
}

// historyOwn reports whether the user sent the archived m of cv.
func (b *Bridge) historyOwn(cv historyConv, m xmpp.Message) bool {
	if cv.room != nil {
		_, nick := splitResource(m.From)
		return nick != "" && nick == cv.room.nick
	}
	return b.isOwnJID(xmpp.BareJID(m.From))
}

// historyShown translates archived messages of cv, oldest first, into
// messages as they showed live.
func (b *Bridge) historyShown(cv historyConv, msgs []xmpp.Message) []shown {
	var out []shown
	for _, m := range msgs {
		own := b.historyOwn(cv, m)
		var s shown
		if cv.room != nil {
			_, nick := splitResource(m.From)
			s = b.roomShown(cv.room, nick, &m)
		} else {
			b.chatShown(&s, cv.contact.prefix(), cv.contact.account(), &m, own, m.Type == "headline")
		}
		at := b.historyTime(cv, m)
		b.identify(&m, own, &s)
		s.at, s.toUser = at, s.target == b.userNick()
		b.rememberShown(s.msgid, m.StanzaID, at)
		out = append(out, s)
	}
	return out
}

// sendBatch sends msgs, formatted for v with their time, as the
// chathistory batch v.batch about target, through send.
func (b *Bridge) sendBatch(send func(*irc.Message), v viewer, target string, msgs []shown) {
	send(&irc.Message{Prefix: b.serverPrefix(), Command: "BATCH", Params: []string{"+" + v.batch, "chathistory", target}})
	for _, m := range msgs {
		m.delayed = true
		for _, line := range ircLines(&m, v) {
			send(line)
		}
	}
	send(&irc.Message{Prefix: b.serverPrefix(), Command: "BATCH", Params: []string{"-" + v.batch}})
}

// historyBatchID names a new batch.
func (b *Bridge) historyBatchID() string {
	b.historyBatch++
	return "H" + strconv.FormatUint(uint64(b.historyBatch), 10)
}

// collectPeers notes the peers of kept (a page of the account's archive,
// oldest first) not seen yet in q's newer pages.
func (b *Bridge) collectPeers(q *historyQuery, kept []xmpp.Message) {
	for i := len(kept) - 1; i >= 0; i-- {
		m := kept[i]
		peer := xmpp.BareJID(m.From)
		if b.isOwnJID(peer) {
			peer = xmpp.BareJID(m.To)
		}
		if m.Type == "groupchat" || peer == "" || b.isOwnJID(peer) || b.roomByJID(peer) != nil {
			continue
		}
		if slices.ContainsFunc(q.peers, func(p historyPeer) bool { return p.jid == peer }) {
			continue
		}
		if len(q.peers) < q.cmd.limit {
			q.peers = append(q.peers, historyPeer{jid: peer, at: b.historyTime(historyConv{}, m)})
		}
	}
}

// sendTargets answers TARGETS: the peers found, oldest latest message
// first, in one draft/chathistory-targets batch.
func (b *Bridge) sendTargets(q *historyQuery) {
	id := b.historyBatchID()
	reply := q.held.reply
	reply(&irc.Message{Prefix: b.serverPrefix(), Command: "BATCH", Params: []string{"+" + id, "draft/chathistory-targets"}})
	for i := len(q.peers) - 1; i >= 0; i-- {
		p := q.peers[i]
		c := b.tempContact(p.jid)
		if c == nil {
			continue
		}
		reply(&irc.Message{Tags: irc.Tags{"batch": id}, Prefix: b.serverPrefix(), Command: "CHATHISTORY", Params: []string{"TARGETS", c.nick, serverTime(p.at)}})
	}
	reply(&irc.Message{Prefix: b.serverPrefix(), Command: "BATCH", Params: []string{"-" + id}})
}

// onDiscoInfo learns whether the account's server keeps an archive, and
// offers or withdraws draft/chathistory accordingly.
func (b *Bridge) onDiscoInfo(ev xmpp.DiscoInfo) {
	if _, ok := b.answered(ev.ID); !ok {
		return
	}
	if ev.Err != nil {
		b.log.Info("disco#info of the account failed", "err", ev.Err)
		return
	}
	on := slices.Contains(ev.Features, xmpp.FeatureMAM)
	if !on {
		b.log.Info("the server keeps no message archive (XEP-0313): CHATHISTORY is not offered")
	}
	b.setMAM(on)
}

// setMAM records whether the server keeps an archive and tells clients.
func (b *Bridge) setMAM(on bool) {
	b.mam = on
	if b.setCap == nil {
		return
	}
	if err := b.setCap(capChathistory, on); err != nil {
		b.log.Error("cannot change a capability", "cap", capChathistory, "err", err)
	}
}

// askFeatures asks the account's server what it offers (onDiscoInfo).
func (b *Bridge) askFeatures() {
	err := b.startRequest(request{kind: requestDisco}, func(ctx context.Context) (string, error) {
		return b.x.DiscoFeatures(ctx, "")
	})
	if err != nil {
		b.log.Info("cannot ask the server for its features", "err", err)
	}
}

// SetCapSwitch gives the bridge the means to offer and withdraw its
// capabilities at run time (ircd's Server.SetCapAvailable). draft/chathistory
// is withdrawn until the XMPP server is known to keep an archive. Call it
// before Run.
func (b *Bridge) SetCapSwitch(f func(name string, on bool) error) {
	b.setCap = f
	b.setMAM(false)
}
