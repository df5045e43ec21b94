package bridge

import (
	"sort"
	"strconv"
	"strings"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// controlCommand is one command of the control channel and service nick.
type controlCommand struct {
	usage   string   // the command with its arguments
	summary string   // one sentence that stands alone, for the help overview
	help    []string // what "help COMMAND" prints after the usage, when it says more than summary
	min     int      // required arguments
	max     int      // allowed arguments; -1 = the rest of the line is the last
	run     func(b *Bridge, out func(string), args []string)
}

// controlCommands are the control channel's commands.
var controlCommands map[string]*controlCommand

func init() {
	controlCommands = map[string]*controlCommand{
		"help": {usage: "help [COMMAND]", max: 1, run: (*Bridge).cmdHelp,
			summary: "Lists the commands, or explains one."},
		"add": {usage: "add JID [NICK]", min: 1, max: 2, run: (*Bridge).cmdAdd,
			summary: "Adds a contact to your roster.",
			help: []string{
				"Adds JID to your roster and asks to see its presence.",
				"With NICK, the contact gets that nick (and roster name).",
			}},
		"remove": {usage: "remove NICK", min: 1, max: 1, run: (*Bridge).cmdRemove,
			summary: "Removes a contact from your roster.",
			help: []string{
				"Removes the contact from your roster; subscriptions both ways are cancelled.",
			}},
		"rename": {usage: "rename NICK NEWNICK", min: 2, max: 2, run: (*Bridge).cmdRename,
			summary: "Gives a contact another IRC nick.",
			help: []string{
				"Gives a contact another IRC nick. The choice is kept across restarts.",
			}},
		"accept": {usage: "accept JID", min: 1, max: 1, run: (*Bridge).cmdAccept,
			summary: "Accepts a request to see your presence.",
			help: []string{
				"Allows JID to see your presence (answers its subscription request)",
				"and asks to see JID's presence in return.",
			}},
		"deny": {usage: "deny JID", min: 1, max: 1, run: (*Bridge).cmdDeny,
			summary: "Refuses or revokes a request to see your presence.",
			help: []string{
				"Refuses JID's request to see your presence, or revokes it.",
			}},
		"info": {usage: "info NICK", min: 1, max: 1, run: (*Bridge).cmdInfo,
			summary: "Shows what is known of a contact.",
			help: []string{
				"Shows a contact's JID, roster name, groups, subscription and online resources.",
			}},
		"status": {usage: "status", run: (*Bridge).cmdStatus,
			summary: "Shows the state of the gateway.",
			help: []string{
				"Shows the XMPP connection, contacts online, attached clients and queued messages.",
			}},
		"set": {usage: "set [KEY [VALUE]]", max: 2, run: (*Bridge).cmdSet,
			summary: "Shows or changes the settings.",
			help: []string{
				"Shows the settings, one setting, or changes one. Changes are kept across restarts.",
				"Keys: show_offline (true/false): keep offline contacts in the channel;",
				"strangers (accept/notice/ignore): messages from JIDs not in your contacts are shown, only announced (who wrote, not what), or ignored;",
				"read_markers (true/false): tell contacts who ask (XEP-0333) when you have read their messages;",
				"sed_corrections (true/false): a message \"s/old/new/\" (or \"s/old/new/g\") corrects your last message in that conversation (XEP-0308).",
			}},
		"save": {usage: "save", run: (*Bridge).cmdSave,
			summary: "Saves nicks and settings now.",
			help: []string{
				"Writes nicks and settings to the state directory now (they are also saved on every change).",
			}},
		"join": {usage: "join ROOM [PASSWORD]", min: 1, max: 2, run: (*Bridge).cmdJoin,
			summary: "Joins a group chat.",
			help: []string{
				"Joins a group chat, like \"/join #ROOM [PASSWORD]\": ROOM is room@conference.example.org,",
				"or just the room's name on the default conference service (xmpp.muc_service).",
			}},
		"rooms": {usage: "rooms", run: (*Bridge).cmdRooms,
			summary: "Lists the group chats you are in.",
			help: []string{
				"Lists the group chats you are in, with your nick there.",
			}},
		"block": {usage: "block NICK|JID", min: 1, max: 1, run: (*Bridge).cmdBlock,
			summary: "Blocks a contact or JID on your XMPP server.",
			help: []string{
				"Asks your XMPP server to block NICK (a contact) or JID (XEP-0191): nothing from it reaches you,",
				"on any of your clients, and it no longer sees your presence.",
			}},
		"unblock": {usage: "unblock NICK|JID", min: 1, max: 1, run: (*Bridge).cmdUnblock,
			summary: "Unblocks a contact or JID.",
			help: []string{
				"Removes NICK (a contact) or JID from the block list on your XMPP server.",
			}},
		"blocklist": {usage: "blocklist", run: (*Bridge).cmdBlocklist,
			summary: "Shows whom you block.",
			help: []string{
				"Shows the block list your XMPP server keeps (XEP-0191). Blocks made by your other",
				"clients are announced here too.",
			}},
		"fingerprint": {usage: "fingerprint", run: (*Bridge).cmdFingerprint,
			summary: "Shows xircd's OMEMO device and fingerprint.",
			help: []string{
				"Shows the id and the fingerprint of xircd's OMEMO device, for your contacts (and your",
				"other clients) to compare before they trust it.",
			}},
		"omemo": {usage: "omemo [SUBCOMMAND ...]", max: -1, run: (*Bridge).cmdOMEMO,
			summary: "Shows xircd's OMEMO state; chooses, per contact, whether messages are encrypted; lists and trusts devices.",
			help:    omemoHelp()},
		"bookmark": {usage: "bookmark list | add ROOM [noautojoin] | remove ROOM", min: 1, max: 3, run: (*Bridge).cmdBookmark,
			summary: "Shows, adds or removes your group chat bookmarks.",
			help: []string{
				"Shows, adds or removes the bookmarks of your XMPP account (XEP-0402, or XEP-0048).",
				"Bookmarked rooms are joined when xircd connects, unless added with noautojoin.",
			}},
	}
}

// commandNames lists the commands in alphabetical order.
func commandNames() []string {
	names := make([]string, 0, len(controlCommands))
	for n := range controlCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// runCommand runs a control command typed by the user. Replies go to
// channel (or as private messages when channel is ""), to every client
// there: the requester through r so labeled-response can wrap them.
func (b *Bridge) runCommand(s *session, r *ircd.Request, channel, text string) {
	out := func(line string) {
		for _, l := range bodyToIRC(line, lineBudget(b.servicePrefix(), b.userNick())) {
			target := channel
			if target == "" {
				target = b.nicks.userNick()
			}
			m := b.stamped(&irc.Message{Prefix: b.servicePrefix(), Command: "PRIVMSG", Params: []string{target, l.Text}})
			for _, o := range b.sessions {
				switch {
				case o == s:
					r.Reply(m)
				case channel == "" || o.inControl:
					o.send(m)
				}
			}
		}
	}
	text = strings.TrimSpace(stripFormatting(text))
	// "xircd: help" and "xircd, help" address the service in the channel.
	if rest, ok := strings.CutPrefix(text, b.cfg.ServiceNick); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, ",")) {
		text = strings.TrimSpace(rest[1:])
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return
	}
	name := strings.ToLower(fields[0])
	cmd, ok := controlCommands[name]
	if !ok {
		out("Unknown command \"" + fields[0] + "\". Commands: " + strings.Join(commandNames(), ", ") + ". Type \"help COMMAND\" for details.")
		return
	}
	args := fields[1:]
	if len(args) < cmd.min || (cmd.max >= 0 && len(args) > cmd.max) {
		out("Usage: " + cmd.usage)
		return
	}
	cmd.run(b, out, args)
}

func (b *Bridge) cmdHelp(out func(string), args []string) {
	if len(args) == 1 {
		cmd, ok := controlCommands[strings.ToLower(args[0])]
		if !ok {
			out("No command \"" + args[0] + "\". Commands: " + strings.Join(commandNames(), ", ") + ".")
			return
		}
		out("Usage: " + cmd.usage)
		if len(cmd.help) == 0 {
			out(cmd.summary)
		}
		for _, l := range cmd.help {
			out(l)
		}
		return
	}
	out("Commands (type them here or send them to " + b.cfg.ServiceNick + "):")
	for _, n := range commandNames() {
		c := controlCommands[n]
		out("  " + c.usage + " — " + c.summary)
	}
	out("Contacts appear in " + b.cfg.ControlChannel + " when online (voiced when available). Chat with /msg NICK text, or \"NICK: text\" here; set your presence with /away text (\"dnd: text\" or \"xa: text\" for those states, /away alone to come back).")
}

// validBareJID reports whether s, typed by the user, is a bare JID: a
// valid JID without a resource, with one '@' at most and none of the
// characters RFC 7622 forbids in a localpart.
func validBareJID(s string) bool {
	return xmpp.ValidJID(s) && !strings.ContainsAny(s, "/\"'<>&") && strings.Count(s, "@") <= 1
}

func (b *Bridge) cmdAdd(out func(string), args []string) {
	jid := args[0]
	if !validBareJID(jid) {
		out("\"" + jid + "\" is not a JID. Usage: add JID [NICK]")
		return
	}
	if b.isOwnJID(jid) {
		out("That is your own JID.")
		return
	}
	item := xmpp.RosterItem{JID: jid}
	if c := b.contacts.get(xmpp.BareJID(jid)); c != nil && c.inRoster {
		item.Name, item.Groups = c.name(), c.groups.list()
	}
	if len(args) == 2 {
		nick := args[1]
		if err := b.nickFree(nick, b.contacts.get(xmpp.BareJID(jid))); err != "" {
			out(err)
			return
		}
		item.Name = nick
		key := xmpp.BareJID(jid)
		if c := b.contacts.get(key); c != nil {
			b.setNick(c, nick)
			c.override = true
		}
		b.saveNick(key, nick)
		putIn(&b.state.Overrides, key, true)
		b.saveState()
	}
	if _, err := b.x.RosterSet(item); err != nil {
		out("Could not add " + jid + ": " + err.Error())
		return
	}
	if err := b.x.Subscribe(jid); err != nil {
		out("Added " + jid + ", but the subscription request failed: " + err.Error())
		return
	}
	out("Adding " + jid + " and asking to see its presence.")
}

// nickFree explains why nick cannot be given to c, or returns "".
func (b *Bridge) nickFree(nick string, c *contact) string {
	switch {
	case !ircd.ValidNick(nick):
		return "\"" + nick + "\" is not a valid nick (letters, digits and []\\`_^{|}- only, at most " + strconv.Itoa(ircd.NickLen) + " characters, not starting with a digit or -)."
	case !b.nicks.free(nick, c):
		return "The nick \"" + nick + "\" is already in use."
	}
	return ""
}

// rosterContact finds a roster contact by nick or JID, telling the user
// when there is none.
func (b *Bridge) rosterContact(out func(string), ref string) *contact {
	c := b.contactByRef(ref)
	if c == nil || !c.inRoster {
		out("No contact \"" + ref + "\" in your roster.")
		return nil
	}
	return c
}

func (b *Bridge) cmdRemove(out func(string), args []string) {
	c := b.rosterContact(out, args[0])
	if c == nil {
		return
	}
	if _, err := b.x.RosterRemove(c.jid()); err != nil {
		out("Could not remove " + c.jid() + ": " + err.Error())
		return
	}
	out("Removing " + c.nick + " (" + c.jid() + ") from your roster.")
}

func (b *Bridge) cmdRename(out func(string), args []string) {
	c := b.contactByRef(args[0])
	if c == nil {
		out("No contact \"" + args[0] + "\".")
		return
	}
	nick := args[1]
	if err := b.nickFree(nick, c); err != "" {
		out(err)
		return
	}
	old := c.nick
	c.override = true
	if c.inRoster {
		putIn(&b.state.Overrides, c.key(), true)
	}
	b.setNick(c, nick)
	b.saveState()
	out(old + " is now known as " + nick + ".")
}

func (b *Bridge) cmdAccept(out func(string), args []string) {
	jid := args[0]
	if c := b.contactByRef(jid); c != nil {
		jid = c.jid()
	}
	if !validBareJID(jid) {
		out("\"" + args[0] + "\" is not a JID. Usage: accept JID")
		return
	}
	if err := b.x.Approve(jid); err != nil {
		out("Could not accept " + jid + ": " + err.Error())
		return
	}
	c := b.contacts.get(xmpp.BareJID(jid))
	if c == nil || !c.inRoster || c.sub&(subTo|subPending) == 0 {
		if err := b.x.Subscribe(jid); err != nil {
			out("Accepted " + jid + ", but asking for its presence failed: " + err.Error())
			return
		}
		out("Accepted " + jid + " and asked to see its presence in return.")
		return
	}
	out("Accepted " + jid + ".")
}

func (b *Bridge) cmdDeny(out func(string), args []string) {
	jid := args[0]
	if c := b.contactByRef(jid); c != nil {
		jid = c.jid()
	}
	if !validBareJID(jid) {
		out("\"" + args[0] + "\" is not a JID. Usage: deny JID")
		return
	}
	if err := b.x.Deny(jid); err != nil {
		out("Could not deny " + jid + ": " + err.Error())
		return
	}
	out("Denied " + jid + " your presence.")
}

func (b *Bridge) cmdInfo(out func(string), args []string) {
	c := b.contactByRef(args[0])
	if c == nil {
		out("No contact \"" + args[0] + "\".")
		return
	}
	out(c.nick + ":")
	for _, l := range b.contactInfo(c) {
		out("  " + l)
	}
}

func (b *Bridge) cmdStatus(out func(string), args []string) {
	jid := b.ownJID
	if jid == "" {
		jid = b.x.JID()
	}
	if b.connected {
		out("XMPP: connected as " + jid + ".")
	} else if b.lastErr != "" {
		out("XMPP: not connected (" + jid + "); last attempt: " + b.lastErr + ".")
	} else {
		out("XMPP: not connected (" + jid + ").")
	}
	total, online := 0, 0
	for _, c := range b.contacts.all() {
		if c.inRoster {
			total++
			if len(c.resources) > 0 {
				online++
			}
		}
	}
	out("Contacts: " + strconv.Itoa(online) + " online of " + strconv.Itoa(total) + ".")
	away := "available"
	if b.away != "" {
		show, status := awayToPresence(b.away)
		away = awayText(show, status)
	}
	out("Your presence: " + away + ".")
	out("IRC clients attached: " + strconv.Itoa(len(b.sessions)) + ".")
	if len(b.pending) > 0 {
		out("Messages queued for sending: " + strconv.Itoa(len(b.pending)) + ".")
	}
}

// settings are the keys "set" knows, with their current values.
func (b *Bridge) settings() map[string]string {
	return map[string]string{"show_offline": strconv.FormatBool(b.showOffline), "strangers": b.cfg.Strangers, "read_markers": strconv.FormatBool(b.readMarkers),
		"sed_corrections": strconv.FormatBool(b.sedCorrections)}
}

func (b *Bridge) cmdSet(out func(string), args []string) {
	cur := b.settings()
	if len(args) == 0 {
		keys := make([]string, 0, len(cur))
		for k := range cur {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out(k + " = " + cur[k])
		}
		return
	}
	key := strings.ToLower(args[0])
	if _, ok := cur[key]; !ok {
		out("Unknown setting \"" + args[0] + "\". Usage: set [KEY [VALUE]]; keys: read_markers, sed_corrections, show_offline, strangers.")
		return
	}
	if len(args) == 1 {
		out(key + " = " + cur[key])
		return
	}
	switch key {
	case "show_offline":
		v, ok := parseBool(args[1])
		if !ok {
			out("show_offline takes true or false. Usage: set show_offline true|false")
			return
		}
		b.showOffline = v
		putIn(&b.state.Settings, key, strconv.FormatBool(v))
		b.saveState()
		for _, c := range b.sortedContacts() {
			b.render(c, "offline")
		}
	case "strangers":
		v := strings.ToLower(args[1])
		if !validStrangers(v) {
			out("strangers takes accept, notice or ignore. Usage: set strangers accept|notice|ignore")
			return
		}
		b.cfg.Strangers = v
		putIn(&b.state.Settings, key, v)
		b.saveState()
	case "read_markers":
		v, ok := parseBool(args[1])
		if !ok {
			out("read_markers takes true or false. Usage: set read_markers true|false")
			return
		}
		b.readMarkers = v
		putIn(&b.state.Settings, key, strconv.FormatBool(v))
		b.saveState()
	case "sed_corrections":
		v, ok := parseBool(args[1])
		if !ok {
			out("sed_corrections takes true or false. Usage: set sed_corrections true|false")
			return
		}
		b.sedCorrections = v
		putIn(&b.state.Settings, key, strconv.FormatBool(v))
		b.saveState()
	}
	out(key + " = " + b.settings()[key])
}

// parseBool accepts the usual ways of saying yes and no.
func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "true", "on", "yes", "1":
		return true, true
	case "false", "off", "no", "0":
		return false, true
	}
	return false, false
}

func (b *Bridge) cmdSave(out func(string), args []string) {
	if b.state.dir == "" {
		out("No state directory is configured (bridge.state_dir); nothing is saved.")
		return
	}
	if err := b.state.save(); err != nil {
		out("Saving failed: " + err.Error())
		return
	}
	b.stateDirty = false
	out("Saved to " + b.state.path() + ".")
}
