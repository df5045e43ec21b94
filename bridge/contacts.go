package bridge

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unique"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// contact is a roster contact, or a temporary entry for someone not in the
// roster who wrote to the user. Every user keeps one per roster item, so
// what can be derived is not stored (the name a nick was derived from is
// baseNick(name, jid)) and what is stored is small (BenchmarkUserRosterHeap).
type contact struct {
	// ids is the bare JID as the server spelled it and, when the roster
	// names the contact, fieldSep and the name: one string instead of two
	// keeps the contact in the 96-byte size class (TestContactSize).
	ids    string
	nick   string
	groups groupSet

	// resources are the online resources ordered by name: usually one or
	// two, so a sorted slice is smaller than a map and best needs no sort.
	resources []resource

	view view // what attached clients have been shown

	sub      subscription
	inRoster bool
	override bool // nick set by the user with rename/add; kept as is
	// nickSaved: nick is the contact's saved nick (savedNick), kept here
	// instead of in the state's Nicks. Only for roster contacts.
	nickSaved bool
	// chatStates is what the contact's messages told of XEP-0085 support:
	// 0 not known yet, 1 they carry chat states, -1 they do not. After a
	// reply without one, the contact gets no more chat states from us.
	chatStates int8
}

// fieldSep separates the two parts of contact.ids and resource.idStatus:
// a NUL, which neither a valid JID nor XML text holds.
const fieldSep = "\x00"

// newContact is a contact with jid, a bare JID, and no name.
func newContact(jid string) *contact { return &contact{ids: jid} }

// splitJoined gives the two parts of a string of two joined by fieldSep;
// the second is "" when there is no fieldSep.
func splitJoined(s string) (first, second string) {
	first, second, _ = strings.Cut(s, fieldSep)
	return first, second
}

// jid is the contact's bare JID as the server spelled it.
func (c *contact) jid() string {
	jid, _ := splitJoined(c.ids)
	return jid
}

// name is the contact's roster name, "" for none.
func (c *contact) name() string {
	_, name := splitJoined(c.ids)
	return name
}

// setName makes name the contact's roster name.
func (c *contact) setName(name string) {
	if name == c.name() {
		return
	}
	c.ids = c.jid()
	if name != "" {
		c.ids += fieldSep + name
	}
}

// key is the contact's key in Bridge.contacts and the state: its bare
// JID in lower case. Derived rather than kept: servers send JIDs in lower
// case, so that it is jid itself, without a copy.
func (c *contact) key() string { return xmpp.BareJID(c.jid()) }

// resource is one online resource of a contact.
type resource struct {
	// idStatus is the resource part of the JID as received and, when
	// the presence has a status, fieldSep and the status: one string
	// instead of two keeps a resource in 32 bytes (TestContactSize).
	idStatus string
	client   unique.Handle[string] // XEP-0115 caps node: most contacts share a few
	priority int8                  // -128..127 (RFC 6121)
	showIdx  uint8                 // index in presenceShows
}

// presenceShows are the show values of an available presence (RFC 6121),
// "" for plain available; a resource keeps the index of its own.
var presenceShows = [...]string{"", "chat", "away", "xa", "dnd"}

// newResource is the resource id of a presence p. The xmpp package passes
// only the show values of presenceShows; any other counts as "".
func newResource(id string, p xmpp.Presence) resource {
	// A string of its own, not a slice of p.From, which would keep the
	// whole JID.
	var idStatus string
	if status := oneLine(p.Status); status != "" {
		idStatus = id + fieldSep + status
	} else {
		idStatus = strings.Clone(id)
	}
	return resource{
		idStatus: idStatus,
		client:   unique.Make(oneLine(p.Client)),
		priority: int8(max(-128, min(127, p.Priority))),
		showIdx:  uint8(max(0, slices.Index(presenceShows[:], p.Show))),
	}
}

// id is the resource part of the JID as received.
func (r *resource) id() string {
	id, _ := splitJoined(r.idStatus)
	return id
}

// status is the status of the resource's presence, "" for none.
func (r *resource) status() string {
	_, status := splitJoined(r.idStatus)
	return status
}

// name is the resource's id made safe to show.
func (r *resource) name() string { return oneLine(r.id()) }

// show is the resource's show value: "", "chat", "away", "xa" or "dnd".
func (r *resource) show() string { return presenceShows[r.showIdx] }

// clientNode is the resource's caps node, "" when it gave none.
func (r *resource) clientNode() string {
	if r.client == (unique.Handle[string]{}) {
		return ""
	}
	return r.client.Value()
}

// subscription is a roster item's presence subscription (RFC 6121): bits
// for each direction and for a request of the user's that is pending.
type subscription uint8

const (
	subTo      subscription = 1 << iota // the user sees the contact's presence
	subFrom                             // the contact sees the user's
	subPending                          // the user asked to see the contact's (ask="subscribe")
)

// parseSubscription reads a roster item's subscription and ask attributes;
// a value RFC 6121 does not know counts as "none".
func parseSubscription(sub, ask string) subscription {
	var s subscription
	switch sub {
	case "to":
		s = subTo
	case "from":
		s = subFrom
	case "both":
		s = subTo | subFrom
	}
	if ask == "subscribe" {
		s |= subPending
	}
	return s
}

// state is the subscription attribute: "none", "to", "from" or "both".
func (s subscription) state() string {
	return [...]string{"none", "to", "from", "both"}[s&(subTo|subFrom)]
}

// groupSet is a contact's roster groups, joined with groupSep into one
// interned string: contacts share their few distinct sets of groups, and
// one in no group keeps nothing (the zero groupSet).
type groupSet struct{ h unique.Handle[string] }

// groupSep separates the groups of a groupSet: a control character, which
// group names, cleaned text (xmpp.CleanText), never contain.
const groupSep = "\x00"

// makeGroupSet is the groupSet of groups.
func makeGroupSet(groups []string) groupSet {
	if len(groups) == 0 {
		return groupSet{}
	}
	return groupSet{unique.Make(strings.Join(groups, groupSep))}
}

// list returns the groups, nil for none.
func (g groupSet) list() []string {
	if g == (groupSet{}) {
		return nil
	}
	return strings.Split(g.h.Value(), groupSep)
}

// view is a contact's membership in the control channel as clients see it.
// The away message is kept as what it is made of (awayMessage): the
// status is the string the contact's resource holds, not a second copy.
type view struct {
	shown  bool
	voiced bool
	away   uint8  // 0 when not away, awayOffline, else 1 + the show's index in presenceShows
	status string // the status in the away message
}

// awayOffline is view.away of an offline contact shown (show_offline).
const awayOffline = uint8(len(presenceShows) + 1)

// awayMessage is the away message, "" when not away.
func (v view) awayMessage() string {
	switch v.away {
	case 0:
		return ""
	case awayOffline:
		return "offline"
	}
	return awayText(presenceShows[v.away-1], v.status)
}

// sameAway reports whether v and w show the same away message.
func (v view) sameAway(w view) bool { return v.away == w.away && v.status == w.status }

// best returns the resource that represents the contact: highest
// priority, then most available, then first by name. nil when offline.
// It points into c.resources: valid until they change.
func (c *contact) best() *resource {
	var best *resource
	for i := range c.resources {
		r := &c.resources[i]
		if best == nil || r.priority > best.priority ||
			(r.priority == best.priority && showRank(r.show()) > showRank(best.show())) {
			best = r
		}
	}
	return best
}

// sortedResources returns the online resources ordered by name; callers
// must not modify the slice.
func (c *contact) sortedResources() []resource {
	return c.resources
}

// setResource adds r, or replaces the resource with the same id, keeping
// the order by name.
func (c *contact) setResource(r resource) {
	c.removeResource(r.id())
	name := r.name()
	i := sort.Search(len(c.resources), func(i int) bool { return c.resources[i].name() > name })
	c.resources = slices.Insert(c.resources, i, r)
}

// removeResource forgets the resource with id, if online.
func (c *contact) removeResource(id string) {
	c.resources = slices.DeleteFunc(c.resources, func(r resource) bool { return r.id() == id })
}

// prefix is the contact's hostmask nick!localpart@domain.
func (c *contact) prefix() *irc.Prefix {
	local, domain := splitJID(c.jid())
	if local == "" {
		local = domain
	}
	return &irc.Prefix{Name: c.nick, User: maskPart(local), Host: maskPart(domain)}
}

// account is the contact's IRC account (account-tag, extended-join,
// WHOIS 330): the bare JID, which the XMPP servers have authenticated.
func (c *contact) account() string { return c.jid() }

// realname is what clients see as the contact's real name: the roster
// name, else the JID.
func (c *contact) realname() string {
	if c.name() != "" {
		return cleanText(c.name())
	}
	return c.jid()
}

// accountTags are the tags of a message sent by someone whose account is
// account: none when it is not known. The output edge keeps the tag only
// for clients with account-tag.
func accountTags(account string) irc.Tags {
	if account == "" {
		return nil
	}
	return irc.Tags{"account": account}
}

// target is where a chat to c goes: the resource last heard from
// (forgotten when it goes offline), else the bare JID.
func (b *Bridge) target(c *contact) string {
	if res := b.lastRes[c]; res != "" {
		return c.jid() + "/" + res
	}
	return c.jid()
}

// heardFrom notes that c's last message came from resource res. The
// bridge keeps it, not the contact: few contacts write, and every
// contact would carry the field.
func (b *Bridge) heardFrom(c *contact, res string) {
	if b.lastRes[c] == res {
		return
	}
	if b.lastRes == nil {
		b.lastRes = make(map[*contact]string)
	}
	b.lastRes[c] = strings.Clone(res) // not a slice of the whole JID
}

// desiredView is what clients should see of c now.
func (b *Bridge) desiredView(c *contact) view {
	if !c.inRoster {
		return view{}
	}
	if r := c.best(); r != nil {
		v := view{shown: true, voiced: isVoicedShow(r.show())}
		if !v.voiced {
			v.away, v.status = r.showIdx+1, r.status()
		}
		return v
	}
	if b.showOffline {
		return view{shown: true, away: awayOffline}
	}
	return view{}
}

// sortedContacts returns the contacts ordered by nick, for stable output.
func (b *Bridge) sortedContacts() []*contact {
	cs := make([]*contact, 0, b.contacts.len())
	for _, c := range b.contacts.all() {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *contact) int { return ircd.CompareFolded(a.nick, b.nick) })
	return cs
}

// render brings what clients see of c in line with its state. quitReason is
// used when c leaves the channel.
func (b *Bridge) render(c *contact, quitReason string) {
	old, want := c.view, b.desiredView(c)
	c.view = want
	if old == want {
		return
	}
	ch := b.cfg.ControlChannel
	switch {
	case old.shown && !want.shown:
		if quitReason == "" {
			quitReason = "offline"
		}
		// QUIT would take the contact out of the rooms it is still in, too.
		cmd, params := "QUIT", []string{quitReason}
		if b.contactInShownRoom(c) {
			cmd, params = "PART", []string{ch, quitReason}
		}
		b.sessions.sendIn(b.control(), &irc.Message{Tags: accountTags(c.account()), Prefix: c.prefix(), Command: cmd, Params: params})
		return
	case !old.shown && want.shown:
		b.sessions.sendEachIn(b.control(), func(s *session) *irc.Message {
			return joinOf(s.d, ch, c.prefix(), c.account(), c.realname())
		})
		old = view{shown: true}
	}
	if old.voiced != want.voiced {
		mode := "-v"
		if want.voiced {
			mode = "+v"
		}
		// Set by the service, the operator of the control channel, not
		// by the server: irssi takes a prefix without a host that names a
		// channel member (the service's nick is the default server name)
		// for that member and complains that its host is missing.
		b.sessions.sendIn(b.control(), &irc.Message{Prefix: b.servicePrefix(), Command: "MODE", Params: []string{ch, mode, c.nick}})
	}
	if !old.sameAway(want) {
		// Monitors learn that c came online before they learn it is away.
		b.refreshMonitors()
		b.toObservers(c, "away-notify", func() *irc.Message {
			m := &irc.Message{Tags: accountTags(c.account()), Prefix: c.prefix(), Command: "AWAY"}
			if away := want.awayMessage(); away != "" {
				m.Params = []string{away}
			}
			return m
		})
	}
}

// joinOf is a JOIN of channel by p. For extended-join clients it carries
// the account ("*" when not known) and the real name.
func joinOf(d ircd.Downstream, channel string, p *irc.Prefix, account, realname string) *irc.Message {
	params := []string{channel}
	if d.HasCap("extended-join") {
		acct := account
		if acct == "" {
			acct = "*"
		}
		params = append(params, acct, realname)
	}
	return &irc.Message{Tags: accountTags(account), Prefix: p, Command: "JOIN", Params: params}
}

// setNick gives c a new nick and tells every client, also those that only
// have a query open with it.
func (b *Bridge) setNick(c *contact, nick string) {
	if c.nick == nick {
		return
	}
	old := c.prefix()
	b.nicks.hold(c, c.nick, nick)
	b.sessions.send(&irc.Message{Tags: accountTags(c.account()), Prefix: old, Command: "NICK", Params: []string{nick}})
	b.backlog.rename(old.Name, nick)
	if c.inRoster {
		b.saveNick(c.key(), nick)
	}
}

// savedNick is the nick saved in state_dir for the contact with key, ""
// for none. The state's Nicks holds only the saved nicks that no roster
// contact has now: a contact with its saved nick says so (nickSaved), so
// that a user's roster needs no second table of its nicks.
func (b *Bridge) savedNick(key string) string {
	if c := b.contacts.get(key); c != nil && c.nickSaved {
		return c.nick
	}
	return b.state.Nicks[key]
}

// saveNick saves nick as the nick of the contact with key.
func (b *Bridge) saveNick(key, nick string) {
	b.keepNick(key, nick)
	b.saveState()
}

// keepNick makes nick the saved nick of the contact with key, as the
// state file has it or will once written.
func (b *Bridge) keepNick(key, nick string) {
	c := b.contacts.get(key)
	if c != nil && c.inRoster && c.nick == nick {
		c.nickSaved = true
		delete(b.state.Nicks, key)
		return
	}
	if c != nil {
		c.nickSaved = false
	}
	b.state.Nicks[key] = nick
}

// rosterNicks yields the saved nicks that roster contacts keep
// (contact.nickSaved), for the state file.
func (b *Bridge) rosterNicks(yield func(key, nick string) bool) {
	for _, c := range b.contacts.all() {
		if c.nickSaved && !yield(c.key(), c.nick) {
			return
		}
	}
}

// compactSavedNicks gives the state's Nicks a table of its own size once
// a roster took its contacts' nicks from it: a map does not shrink.
func (b *Bridge) compactSavedNicks() {
	nicks := make(map[string]string, len(b.state.Nicks))
	maps.Copy(nicks, b.state.Nicks)
	b.state.Nicks = nicks
}

// upsertContact adds or updates a roster contact from item and returns it.
func (b *Bridge) upsertContact(item xmpp.RosterItem) *contact {
	key := xmpp.BareJID(item.JID)
	c := b.contacts.get(key)
	var base, oldRealname string
	if c == nil {
		c = newContact(item.JID)
		oldRealname = c.realname()
		// Named first, so that a nick made of the name or the JID is a
		// slice of the contact's own string, not of the item's.
		c.setName(item.Name)
		base = baseNick(c.name(), c.jid())
		c.override = b.state.Overrides[key]
		saved := b.savedNick(key)
		nick := saved
		if nick == "" || !ircd.ValidNick(nick) || !b.nicks.free(nick, c) {
			if c.override && nick != "" && ircd.ValidNick(nick) {
				base = nick
			}
			nick = b.nicks.unique(base, c)
		}
		b.contacts.put(c)
		b.nicks.hold(c, "", nick)
		c.inRoster = true
		// A saved nick that is blocked for now (say, by an occupant) stays
		// saved, so the contact gets it back later; the user's nick is the
		// user's, so one blocked by it is replaced, as takeUserNick would.
		switch {
		case saved == "" || b.nicks.isUser(saved):
			b.saveNick(key, nick)
		case saved == nick:
			b.keepNick(key, nick)
		}
	} else {
		oldRealname, base = c.realname(), baseNick(item.Name, item.JID)
		if !c.inRoster {
			// A stranger joined the roster (or wrote before the roster
			// arrived): it gets its saved or roster nick.
			c.inRoster = true
			c.override = b.state.Overrides[key]
			nick := b.savedNick(key)
			if nick == "" || !ircd.ValidNick(nick) || !b.nicks.free(nick, c) {
				nick = b.nicks.unique(base, c)
			}
			b.setNick(c, nick)
			b.saveNick(key, c.nick)
		} else if !c.override && base != baseNick(c.name(), item.JID) {
			// The nick follows the roster name, unless the user chose it.
			b.setNick(c, b.nicks.unique(base, c))
		}
	}
	c.setName(item.Name)
	c.groups, c.sub = makeGroupSet(item.Groups), parseSubscription(item.Subscription, item.Ask)
	if c.realname() != oldRealname {
		b.toObservers(c, "setname", func() *irc.Message {
			return &irc.Message{Tags: accountTags(c.account()), Prefix: c.prefix(), Command: "SETNAME", Params: []string{c.realname()}}
		})
	}
	return c
}

// toObservers sends the message build makes, a change of c's, to the
// clients with capability capName that share a channel with c or, with
// extended-monitor, monitor c's nick while c is online. It is built only
// for a client that gets it: a roster burst changes every contact, and
// most clients observe none of them.
func (b *Bridge) toObservers(c *contact, capName string, build func() *irc.Message) {
	var m *irc.Message
	inRoom, roomsChecked := false, false
	for _, s := range b.sessions {
		if !s.d.HasCap(capName) {
			continue
		}
		if !roomsChecked {
			inRoom, roomsChecked = b.contactInShownRoom(c), true
		}
		if inRoom || s.inControl && c.view.shown || s.d.HasCap("extended-monitor") && s.monitorsContact(c) && c.best() != nil {
			if m == nil {
				m = build()
			}
			s.send(m)
		}
	}
}

// removeContact forgets c, gone from the roster. forget also drops its
// saved nick: only for an explicit removal, so that a roster that comes
// back incomplete after a reconnect does not cost the user's renames.
func (b *Bridge) removeContact(c *contact, reason string, forget bool) {
	if c.nickSaved {
		b.state.Nicks[c.key()], c.nickSaved = c.nick, false
	}
	c.inRoster = false
	b.render(c, reason)
	b.contacts.remove(c.key())
	delete(b.lastRes, c)
	b.nicks.release(c, c.nick)
	if forget {
		delete(b.state.Nicks, c.key())
		delete(b.state.Overrides, c.key())
		b.saveState()
	}
}

// tempContact returns the contact for jid, creating a temporary one (not in
// the roster, not in the channel, not persisted) for a stranger. It
// returns nil for a JID that cannot be shown safely. Only the most recent
// maxTemp strangers are kept.
func (b *Bridge) tempContact(jid string) *contact {
	if !xmpp.ValidJID(jid) {
		return nil
	}
	bare, _ := splitResource(jid)
	key := xmpp.BareJID(bare)
	if c := b.contacts.get(key); c != nil {
		return c
	}
	for len(b.tempOrder) >= maxTemp {
		old := b.contacts.get(b.tempOrder[0])
		b.tempOrder = b.tempOrder[1:]
		if old != nil && !old.inRoster {
			b.contacts.remove(old.key())
			delete(b.lastRes, old)
			b.nicks.release(old, old.nick)
		}
	}
	b.tempOrder = append(b.tempOrder, key)
	c := newContact(bare)
	c.nick = b.nicks.unique(baseNick("", bare), c)
	b.contacts.put(c)
	b.nicks.hold(c, "", c.nick)
	return c
}

// contactByNick finds a contact by nick (any case).
func (b *Bridge) contactByNick(nick string) *contact { return b.nicks.contact(nick) }

// contactByRef finds a contact by nick or by JID.
func (b *Bridge) contactByRef(ref string) *contact {
	if c := b.contactByNick(ref); c != nil {
		return c
	}
	return b.contacts.get(xmpp.BareJID(ref))
}

func (b *Bridge) isOwnJID(jid string) bool {
	own := b.ownJID
	if own == "" {
		own = b.x.JID()
	}
	return own != "" && xmpp.BareJID(jid) == xmpp.BareJID(own)
}

func (b *Bridge) onRoster(ev xmpp.Roster) {
	seen := make(map[string]bool, len(ev.Items))
	// Contacts with a saved nick go first so that a newcomer cannot take
	// it; then the order is by JID, so collisions resolve the same way.
	items := ev.Items // sorted in place: an event belongs to its receiver
	sort.Slice(items, func(i, j int) bool {
		ki, kj := xmpp.BareJID(items[i].JID), xmpp.BareJID(items[j].JID)
		si, sj := b.savedNick(ki) != "", b.savedNick(kj) != ""
		if si != sj {
			return si
		}
		return ki < kj
	})
	for _, it := range items {
		if !xmpp.ValidJID(it.JID) || it.Subscription == "remove" || b.isOwnJID(it.JID) {
			continue
		}
		seen[xmpp.BareJID(it.JID)] = true
	}
	for _, c := range b.sortedContacts() {
		if c.inRoster && !seen[c.key()] {
			b.removeContact(c, "removed from the roster", false)
		}
	}
	// Room for the whole roster at once: grown a contact at a time, the
	// tables every user keeps would end up to a quarter larger.
	n := len(seen) + len(b.tempOrder)
	b.contacts.list = withRoom(b.contacts.list, n)
	b.nicks.contacts = withRoom(b.nicks.contacts, n)
	for _, it := range items {
		if seen[xmpp.BareJID(it.JID)] {
			b.upsertContact(it)
		}
	}
	b.compactSavedNicks()
	// Presence arrives after the roster; after a reconnect, give it a
	// moment before showing who went offline, so contacts do not flap.
	b.scheduleSettle()
}

func (b *Bridge) scheduleSettle() {
	shown := false
	for _, c := range b.contacts.all() {
		shown = shown || c.view.shown
	}
	if b.settleAfter <= 0 || !shown {
		b.settle()
		return
	}
	if b.settleTimer != nil {
		b.settleTimer.Stop()
	}
	b.settleGen++
	gen := b.settleGen
	b.settleTimer = time.AfterFunc(b.settleAfter, func() { b.post(opSettle{gen: gen}) })
}

// settle renders every contact after a roster (re)load.
func (b *Bridge) settle() {
	for _, c := range b.sortedContacts() {
		b.render(c, "offline")
	}
}

func (b *Bridge) onRosterPush(ev xmpp.RosterPush) {
	it := ev.Item
	if !xmpp.ValidJID(it.JID) || b.isOwnJID(it.JID) {
		return
	}
	if it.Subscription == "remove" {
		if c := b.contacts.get(xmpp.BareJID(it.JID)); c != nil && c.inRoster {
			b.removeContact(c, "removed from the roster", true)
			b.announce("Contact "+c.nick+" ("+c.jid()+") was removed from the roster.", true)
		}
		return
	}
	old := b.contacts.get(xmpp.BareJID(it.JID))
	wasRoster := old != nil && old.inRoster
	c := b.upsertContact(it)
	if !wasRoster {
		b.announce("Contact "+c.nick+" ("+c.jid()+") was added to the roster.", true)
	}
	b.render(c, "")
}

func (b *Bridge) onPresence(p xmpp.Presence) {
	if p.MUC != nil || b.roomByJID(p.From) != nil {
		b.roomPresence(p)
		return
	}
	bare, res := splitResource(p.From)
	if !xmpp.ValidJID(bare) || b.isOwnJID(bare) {
		return
	}
	c := b.contacts.get(xmpp.BareJID(bare))
	if c == nil {
		return
	}
	reason := ""
	switch p.Type {
	case "unavailable", "error":
		c.removeResource(res)
		if b.lastRes[c] == res {
			delete(b.lastRes, c)
		}
		reason = oneLine(p.Status)
		if p.Type == "error" && p.Error != nil {
			reason = "presence error: " + oneLine(p.Error.Error())
		}
	case "":
		c.setResource(newResource(res, p))
	default:
		return
	}
	if reason == "" {
		reason = "offline"
	}
	b.render(c, reason)
}

func (b *Bridge) onSubscription(ev xmpp.Subscription) {
	if !xmpp.ValidJID(ev.From) {
		return
	}
	who := ev.From
	if c := b.contacts.get(xmpp.BareJID(ev.From)); c != nil && c.inRoster {
		who = c.nick + " (" + c.jid() + ")"
	} else if ev.Nick != "" {
		who = ev.From + " (" + oneLine(ev.Nick) + ")"
	}
	switch ev.Type {
	case "subscribe":
		text := who + " asks to see your presence"
		if ev.Status != "" {
			text += ": " + oneLine(ev.Status)
		}
		b.announce(text+". Type \"accept "+ev.From+"\" to allow it or \"deny "+ev.From+"\" to refuse.", true)
	case "subscribed":
		b.announce(who+" accepted your presence subscription.", true)
	case "unsubscribe":
		b.announce(who+" no longer wants to see your presence.", true)
	case "unsubscribed":
		b.announce(who+" denied or cancelled your presence subscription.", true)
	}
}

func (b *Bridge) onConnected(ev xmpp.Connected) {
	b.connected, b.downAnnounced, b.lastErr = true, false, ""
	if ev.JID != "" {
		b.ownJID, _ = splitResource(ev.JID)
	}
	if ev.Resumed {
		// The server kept the session: roster, presences and rooms are as
		// they were, and it delivers what it held meanwhile, so there is
		// nothing to reload, fetch from the archive or rejoin.
		b.lostAt = time.Time{}
		b.announce("Reconnected to XMPP as "+ev.JID+" (session resumed, nothing missed).", false)
		b.flushPending()
		b.roomsResumed()
		return
	}
	// Presence restarts from nothing; the view keeps what clients saw so
	// that contacts still online do not flap (see settle).
	for _, c := range b.contacts.all() {
		c.resources = nil
	}
	b.lastRes = nil
	b.logins++
	// The user's own presence is restored by the session itself.
	b.announce("Connected to XMPP as "+ev.JID+".", false)
	b.flushPending()
	b.askFeatures()
	b.findUploadService()
	b.markRefusalTold = false
	b.startCatchUp()
	b.roomsConnected()
	b.roomsAutojoin()
	b.omemoConnected()
}

func (b *Bridge) onDisconnected(ev xmpp.Disconnected) {
	if b.connected {
		b.lostAt = b.lastLive
		if b.lostAt.IsZero() {
			b.lostAt = b.now()
		}
	}
	b.connected = false
	b.roomsDisconnected()
	b.lastErr = ""
	if ev.Err != nil {
		b.lastErr = oneLine(ev.Err.Error())
	}
	// Every failed attempt is one event; the user hears of the first one
	// and finds the latest in "status".
	if b.downAnnounced {
		return
	}
	b.downAnnounced = true
	text := "Disconnected from XMPP"
	if b.lastErr != "" {
		text += ": " + b.lastErr
	}
	if ev.RetryIn > 0 {
		text += "; reconnecting in " + ev.RetryIn.Round(time.Second).String()
	}
	// Only what the user sends from now on is queued: a message sent
	// before is with the session, which sends it again or reports it
	// (onUnconfirmed).
	b.announce(text+". Messages you send from now on are queued (up to "+strconv.Itoa(maxPending)+") and sent once it is back.", false)
}

// opLoginWork: the work a login set off and Config.LoginWork scheduled may
// begin, unless a newer login replaced that login.
type opLoginWork struct {
	login uint32
	run   func()
}

func (opLoginWork) isOp() {}

// afterLogin runs what the current login sets off that nothing waits for:
// at once, or when Config.LoginWork says.
func (b *Bridge) afterLogin(run func()) {
	if b.cfg.LoginWork == nil {
		run()
		return
	}
	o := opLoginWork{login: b.logins, run: run}
	b.cfg.LoginWork(func() { b.post(o) })
}

// loginWork runs scheduled work while its login still holds: a login
// since then scheduled its own, and without a connection it cannot start.
func (b *Bridge) loginWork(o opLoginWork) {
	if o.login == b.logins && b.connected {
		o.run()
	}
}
