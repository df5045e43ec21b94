package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// maxToldUntrusted bounds the untrusted devices remembered as told.
const maxToldUntrusted = 1000

// untrustedMark marks the text of a message decrypted from a device the
// user does not trust, in place of encryptedMark.
const untrustedMark = "⚠🔒 "

// omemoTrust is the trust store with what the user was told of it.
type omemoTrust struct {
	store   *trustStore
	problem string // why the store could not be read, told once connected
	// told: devices (sessionKey) whose untrusted standing the user was
	// told of in this run, so each gets one notice (the latest
	// maxToldUntrusted are remembered).
	told       *bounded[struct{}]
	saveFailed bool // the last save failed and was told
}

// loadOMEMOTrust loads the trust store kept in dir. A damaged one is
// replaced by an empty one, and the user is told what that costs.
func loadOMEMOTrust(dir string) omemoTrust {
	store, err := loadTrustStore(dir)
	t := omemoTrust{store: store, told: newBounded[struct{}](maxToldUntrusted)}
	if err != nil {
		t.problem = "The OMEMO trust store (" + omemoTrustFileName + ") could not be read (" + oneLine(err.Error()) +
			"); xircd starts a new one. The fingerprints you had verified are forgotten: your contacts' devices are trusted blindly again" +
			" until you verify them anew (omemo fingerprints NICK, then omemo trust NICK FINGERPRINT)."
	}
	return t
}

// omemoTrustConnected tells, once, that the trust store was lost.
func (b *Bridge) omemoTrustConnected() {
	if b.omemoTrust.problem != "" {
		b.announce(b.omemoTrust.problem, true)
		b.omemoTrust.problem = ""
	}
}

// saveOMEMOTrust writes the trust store; a failure is told once, until a
// save succeeds again.
func (b *Bridge) saveOMEMOTrust() {
	err := b.omemoTrust.store.save()
	switch {
	case err == nil:
		b.omemoTrust.saveFailed = false
	case !b.omemoTrust.saveFailed:
		b.omemoTrust.saveFailed = true
		b.announce("OMEMO: the trust store could not be saved ("+oneLine(err.Error())+"); what you trusted holds until xircd stops.", true)
	default:
		b.log.Info("OMEMO trust store not saved", "err", err)
	}
}

// omemoMayEncryptTo records that device of jid (a bare JID: a contact, or
// the user's own account) has the identity key, telling the user of a
// new untrusted device or a changed key, and reports whether xircd may
// encrypt to it. Outgoing encryption calls it for every recipient device
// (with the key of its bundle or session) and leaves out those refused.
func (b *Bridge) omemoMayEncryptTo(jid string, device uint32, identity omemo.PublicKey) bool {
	return b.omemoObserve(jid, device, identity).usable()
}

// omemoObserve records device's identity key and tells the user what is
// new: a device that starts untrusted, a changed key, a device not kept.
// Devices met blindly trusted are not told (BTBV).
func (b *Bridge) omemoObserve(jid string, device uint32, identity omemo.PublicKey) trustState {
	state, change := b.omemoTrust.store.observe(jid, device, identity)
	if change == trustKnown || (change == trustNotKept && state.usable()) {
		return state // nothing new, or an account the full store could not keep, used as nothing was verified for it
	}
	if change != trustNotKept {
		b.saveOMEMOTrust()
	}
	key := sessionKey(jid, device)
	who, ref := b.omemoTrustName(jid)
	fp := groupedFingerprint(identity)
	var text string
	switch {
	case change == trustKeyChanged:
		text = fmt.Sprintf("OMEMO: %s device %d has a NEW identity key, with the fingerprint %s, not the one xircd knew. xircd does not trust it", who, device, fp)
	case change == trustNotKept && b.omemoTrust.told.has(key):
		return state // met again, not kept again: told once
	case change == trustNotKept:
		text = fmt.Sprintf("OMEMO: %s device %d (fingerprint %s) is not trusted: xircd keeps %d devices per account and you trust all of them", who, device, fp, maxTrustDevices)
	case state == trustUntrusted:
		text = fmt.Sprintf("OMEMO: %s new device %d, with the fingerprint %s, is untrusted, since you verified fingerprints of that account before", who, device, fp)
	default:
		return state
	}
	b.omemoTrust.told.put(key, struct{}{})
	text += ": nothing is encrypted to it and its messages are marked " + strings.TrimSpace(untrustedMark) + "."
	if change != trustNotKept {
		text += " If its owner confirms that fingerprint, type: omemo trust " + ref + " " + fp
	}
	b.announce(text, true)
	return state
}

// omemoSenderMark is the mark of a message decrypted from jid's device:
// encryptedMark when the device is trusted (blindly or by the user),
// else untrustedMark, with a notice on the first such message (or key
// transport) from that device. A text met again in history whose session is gone takes the
// standing the store keeps; one whose sender is not known (a room's
// occupant gone, xircd's own device) was checked when it came live.
func (b *Bridge) omemoSenderMark(jid string, device uint32) string {
	if jid == "" || device == 0 || device == b.omemo.dev.DeviceID && b.isOwnJID(jid) {
		return encryptedMark
	}
	key := sessionKey(jid, device)
	var identity omemo.PublicKey
	if s := b.omemo.sessions[key]; s != nil {
		identity = s.RemoteIdentity()
		if b.omemoObserve(jid, device, identity).usable() {
			return encryptedMark
		}
	} else if d, ok := b.omemoTrust.store.device(jid, device); ok && d.State.usable() {
		return encryptedMark
	} else if ok {
		identity = d.Identity
	}
	if !b.omemoTrust.told.has(key) && identity != (omemo.PublicKey{}) {
		b.omemoTrust.told.put(key, struct{}{})
		who, ref := b.omemoTrustName(jid)
		fp := groupedFingerprint(identity)
		b.announce(fmt.Sprintf("OMEMO: %s device %d (fingerprint %s) is untrusted: its messages are marked %s and nothing is encrypted to it. If its owner confirms that fingerprint, type: omemo trust %s %s",
			who, device, fp, strings.TrimSpace(untrustedMark), ref, fp), true)
	}
	return untrustedMark
}

// omemoTrustName names jid's devices in notices ("alice's", "your own")
// and gives how to name the account in the omemo commands.
func (b *Bridge) omemoTrustName(jid string) (who, ref string) {
	if b.isOwnJID(jid) {
		return "your own", jid
	}
	if c := b.contacts.get(jid); c != nil {
		return c.nick + "'s", c.nick
	}
	return jid + "'s", jid
}

// omemoTrustTarget finds the account whose devices a command names: a
// contact by nick or JID, the user's own account by nick, JID or nothing,
// or a JID the trust store knows.
func (b *Bridge) omemoTrustTarget(out func(string), ref string) (jid string, ok bool) {
	switch {
	case ref == "" || b.nicks.isUser(ref) || b.isOwnJID(ref):
		return b.ownKey(), true
	case b.contactByRef(ref) != nil:
		return b.contactByRef(ref).key(), true
	case b.omemoTrust.store.JIDs[xmpp.BareJID(ref)] != nil:
		return xmpp.BareJID(ref), true
	}
	out("No contact \"" + ref + "\".")
	return "", false
}

// trustStateText says what a device's standing means.
func trustStateText(d trustedDevice) string {
	switch {
	case d.State == trustVerified:
		return "trusted (verified by you)"
	case d.State == trustBlind:
		return "trusted blindly (not verified)"
	case d.KeyChanged:
		return "UNTRUSTED (its identity key changed)"
	}
	return "UNTRUSTED"
}

// omemoNoDevice tells, when xircd has no OMEMO device, why.
func (b *Bridge) omemoNoDevice(out func(string)) bool {
	if b.omemo.dev == nil {
		b.cmdFingerprint(out, nil) // says why
		return true
	}
	return false
}

// cmdOMEMOFingerprints runs "omemo fingerprints [NICK]": the devices of a
// contact, or the user's own other devices with xircd's own first.
func (b *Bridge) cmdOMEMOFingerprints(out func(string), args []string) {
	if b.omemoNoDevice(out) {
		return
	}
	ref := ""
	if len(args) == 2 {
		ref = args[1]
	}
	jid, ok := b.omemoTrustTarget(out, ref)
	if !ok {
		return
	}
	devs, verified := b.omemoTrust.store.devices(jid)
	who, cmdRef := b.omemoTrustName(jid)
	own := b.isOwnJID(jid)
	if own {
		out(fmt.Sprintf("xircd's device %d: %s (this device)", b.omemo.dev.DeviceID, groupedFingerprint(b.omemo.dev.Identity.Public)))
	}
	if len(devs) == 0 {
		out("No other OMEMO device of " + jid + " is known yet: xircd learns a device's key from its first encrypted message, and when it encrypts to it.")
		return
	}
	if verified {
		out(jid + ": you trusted a fingerprint of this account, so its new devices are untrusted until you trust them.")
	} else {
		out(jid + ": you have trusted no fingerprint of this account yet, so its devices are trusted blindly.")
	}
	for _, d := range devs {
		out(fmt.Sprintf("%s device %d: %s — %s", who, d.id, groupedFingerprint(d.Identity), trustStateText(d.trustedDevice)))
	}
	out("After comparing a fingerprint with its owner's: omemo trust " + cmdRef + " FINGERPRINT (or omemo untrust " + cmdRef + " FINGERPRINT).")
}

func (b *Bridge) cmdOMEMOTrust(out func(string), args []string) {
	b.setOMEMOTrust(out, args, trustVerified)
}

func (b *Bridge) cmdOMEMOUntrust(out func(string), args []string) {
	b.setOMEMOTrust(out, args, trustUntrusted)
}

// setOMEMOTrust runs "omemo trust|untrust NICK FINGERPRINT".
func (b *Bridge) setOMEMOTrust(out func(string), args []string, state trustState) {
	if b.omemoNoDevice(out) {
		return
	}
	args = args[1:] // the subcommand's name
	jid, ok := b.omemoTrustTarget(out, args[0])
	if !ok {
		return
	}
	typed := strings.Join(args[1:], " ")
	fp, ok := parseFingerprint(typed)
	if !ok {
		out("\"" + typed + "\" is not a fingerprint: 64 hexadecimal digits (spaces or dashes between them allowed), as \"omemo fingerprints " + args[0] + "\" shows them.")
		return
	}
	ids, err := b.omemoTrust.store.setTrust(jid, fp, state)
	if errors.Is(err, errUnknownFingerprint) {
		out("No device of " + jid + " has the fingerprint " + fp + "; \"omemo fingerprints " + args[0] + "\" lists the known ones.")
		return
	}
	b.saveOMEMOTrust()
	who, _ := b.omemoTrustName(jid)
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = strconv.FormatUint(uint64(id), 10)
		if state == trustUntrusted {
			b.omemoTrust.told.put(sessionKey(jid, id), struct{}{}) // just told
		} else {
			b.omemoTrust.told.remove(sessionKey(jid, id))
		}
	}
	if state == trustVerified {
		out(who + " device " + strings.Join(names, ", ") + " is now trusted; new devices of " + jid + " are untrusted until you trust them.")
		return
	}
	out(who + " device " + strings.Join(names, ", ") + " is now untrusted: nothing is encrypted to it and its messages are marked " + strings.TrimSpace(untrustedMark) + ".")
}

// omemoTrustStatus sums up the trust store for "omemo", unless empty.
func (b *Bridge) omemoTrustStatus(out func(string)) {
	accounts, devices, untrusted := 0, 0, 0
	for _, j := range b.omemoTrust.store.JIDs {
		accounts++
		for _, d := range j.Devices {
			devices++
			if !d.State.usable() {
				untrusted++
			}
		}
	}
	if devices == 0 {
		return
	}
	out(fmt.Sprintf("OMEMO devices known: %d (of %d accounts), untrusted: %d. \"omemo fingerprints NICK\" lists a contact's.", devices, accounts, untrusted))
}
