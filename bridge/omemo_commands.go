package bridge

import (
	"sort"
	"strconv"
	"strings"
)

// omemoSubcommand is one subcommand of the control command "omemo".
type omemoSubcommand struct {
	usage   string // the subcommand with its arguments, after "omemo "
	summary string // one sentence, for "help omemo"
	min     int    // required arguments
	max     int    // allowed arguments; -1: any number (the last may hold spaces)
	// run gets the subcommand's name as args[0], then its arguments.
	run func(b *Bridge, out func(string), args []string)
}

// omemoSubcommands are the subcommands of "omemo", by name.
var omemoSubcommands = map[string]*omemoSubcommand{
	omemoOn: {usage: "on NICK", min: 1, max: 1, run: (*Bridge).cmdOMEMOMode,
		summary: "Encrypts every message to NICK; without a usable device of theirs, nothing is sent."},
	omemoOff: {usage: "off NICK", min: 1, max: 1, run: (*Bridge).cmdOMEMOMode,
		summary: "Sends messages to NICK unencrypted."},
	omemoAuto: {usage: "auto NICK", min: 1, max: 1, run: (*Bridge).cmdOMEMOMode,
		summary: "The default: encrypts when NICK's last message was encrypted, or when xircd has a session with every OMEMO device NICK lists."},
	"fingerprints": {usage: "fingerprints [NICK]", max: 1, run: (*Bridge).cmdOMEMOFingerprints,
		summary: "Lists NICK's OMEMO devices with their fingerprints and trust; without NICK (or with your own nick), your other devices."},
	"trust": {usage: "trust NICK FINGERPRINT", min: 2, max: -1, run: (*Bridge).cmdOMEMOTrust,
		summary: "Trusts NICK's device with that fingerprint (spaces, dashes and case do not matter), after you compared it with NICK's."},
	"untrust": {usage: "untrust NICK FINGERPRINT", min: 2, max: -1, run: (*Bridge).cmdOMEMOUntrust,
		summary: "Stops trusting NICK's device with that fingerprint: nothing is encrypted to it, its messages are marked " + strings.TrimSpace(untrustedMark) + "."},
}

// omemoSubcommandNames lists the subcommands in alphabetical order.
func omemoSubcommandNames() []string {
	names := make([]string, 0, len(omemoSubcommands))
	for n := range omemoSubcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// omemoHelp is what "help omemo" prints after the usage.
func omemoHelp() []string {
	lines := []string{"Without a subcommand, shows xircd's OMEMO device, your other devices and each contact's mode. Subcommands:"}
	for _, n := range omemoSubcommandNames() {
		s := omemoSubcommands[n]
		lines = append(lines, "  omemo "+s.usage+" — "+s.summary)
	}
	return append(lines, "New devices of a contact are trusted blindly until you trust one of the contact's fingerprints; after that, new devices are untrusted until you trust them. A device whose key changes is always untrusted until you trust it again.")
}

// cmdOMEMO runs "omemo [SUBCOMMAND ARGS...]".
func (b *Bridge) cmdOMEMO(out func(string), args []string) {
	if len(args) == 0 {
		b.cmdFingerprint(out, nil)
		if b.omemo.dev != nil {
			b.omemoSendStatus(out)
		}
		return
	}
	sub, ok := omemoSubcommands[strings.ToLower(args[0])]
	if !ok {
		out("Unknown subcommand \"" + args[0] + "\". Subcommands of omemo: " + strings.Join(omemoSubcommandNames(), ", ") + ". Type \"help omemo\" for details.")
		return
	}
	if n := len(args) - 1; n < sub.min || (sub.max >= 0 && n > sub.max) {
		out("Usage: omemo " + sub.usage)
		return
	}
	sub.run(b, out, args)
}

// cmdOMEMOMode sets a contact's mode: "on NICK", "off NICK", "auto NICK".
// It is kept across restarts.
func (b *Bridge) cmdOMEMOMode(out func(string), args []string) {
	mode := strings.ToLower(args[0])
	c := b.contactByRef(args[1])
	if c == nil {
		out("No contact " + args[1] + ".")
		return
	}
	if mode == omemoAuto {
		delete(b.state.OMEMO, c.key())
	} else {
		putIn(&b.state.OMEMO, c.key(), mode)
	}
	b.saveState()
	out("OMEMO for " + c.nick + ": " + mode + "; " + b.omemoContactState(c))
	if mode != omemoOff && b.omemo.dev != nil && b.connected {
		// Sessions are started now, so that the first message need not wait.
		if l := b.omemoOut.lists[c.key()]; l == nil || !l.known {
			b.fetchDeviceList(c.key())
		} else {
			b.fetchBundles(c.key())
		}
	}
}

// omemoSendStatus shows the account's other devices and the contacts
// whose mode is set or whose devices are known.
func (b *Bridge) omemoSendStatus(out func(string)) {
	own := b.ownKey()
	var others []string
	if l := b.omemoOut.lists[own]; l != nil {
		for _, id := range l.ids {
			if id != b.omemo.dev.DeviceID {
				others = append(others, b.omemoDeviceState(own, id))
			}
		}
	}
	if len(others) == 0 {
		others = append(others, "none known")
	}
	out("Your other OMEMO devices: " + strings.Join(others, ", ") + ".")
	b.omemoTrustStatus(out)
	var listed []*contact // ordered by JID, as the contacts are
	for _, c := range b.contacts.all() {
		k := c.key()
		_, set := b.state.OMEMO[k]
		if l := b.omemoOut.lists[k]; set || l != nil && len(l.ids) > 0 {
			listed = append(listed, c)
		}
	}
	if len(listed) == 0 {
		out("No contact has OMEMO devices known or a mode set; each is \"auto\".")
		return
	}
	for _, c := range listed {
		out(c.nick + ": " + b.omemoMode(c.key()) + "; " + b.omemoContactState(c))
	}
}

// omemoContactState says whether messages to c go encrypted now, and to
// which devices.
func (b *Bridge) omemoContactState(c *contact) string {
	what := "messages go unencrypted"
	if b.omemoEncrypts(c) {
		what = "messages go encrypted"
	}
	l := b.omemoOut.lists[c.key()]
	switch {
	case l == nil || !l.known:
		return what + "; devices not known yet"
	case len(l.ids) == 0:
		return what + "; no OMEMO device"
	}
	var ds []string
	for _, id := range l.ids {
		ds = append(ds, b.omemoDeviceState(c.key(), id))
	}
	return what + "; devices: " + strings.Join(ds, ", ")
}

// omemoDeviceState is a device's id and whether xircd can encrypt to it
// (it has a session, which the user did not refuse to trust).
func (b *Bridge) omemoDeviceState(jid string, id uint32) string {
	k := sessionKey(jid, id)
	state := "no session yet"
	switch s := b.omemo.sessions[k]; {
	case s != nil && b.omemoTrust.store.refused(jid, id, s.RemoteIdentity()):
		state = "left out: untrusted"
	case s != nil:
		state = "session"
	case b.omemoOut.unusable[k] != "":
		state = "left out: " + b.omemoOut.unusable[k]
	}
	return strconv.FormatUint(uint64(id), 10) + " (" + state + ")"
}
