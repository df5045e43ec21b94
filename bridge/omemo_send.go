package bridge

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// Sending OMEMO: the user's chat messages to a contact are encrypted, in
// one <encrypted/> element, for every device of the contact and every
// other device of the user's own account. xircd keeps each account's
// device list (fetched when needed, updated by the server's pushes) and
// builds a session with each device from its bundle; until the device
// answers, its key is a pre-key message.
//
// Whether a message is encrypted is decided when the user sends it
// (omemoEncrypts), so that its echo is marked as sent; a message to
// encrypt waits, in order, for the device lists and bundles it needs.
// Nothing meant to be encrypted is ever sent in clear: without a usable
// device of the contact, it is not sent and the user is told why.

// omemoDevicesFileName is the file in state_dir holding the device lists
// and whether each contact's last message was encrypted.
const omemoDevicesFileName = "omemo-devices.json"

// maxOMEMOWaiting bounds the messages to one contact waiting for device
// lists and bundles.
const maxOMEMOWaiting = 50

// Per-contact modes: omemoOn encrypts every message, omemoOff none;
// omemoAuto (the default, not stored) encrypts when the contact's last
// message was encrypted or every device of theirs has a session.
const (
	omemoOn   = "on"
	omemoOff  = "off"
	omemoAuto = "auto"
)

// omemoOut is what sending needs beyond the device and its sessions.
type omemoOut struct {
	// lists are the device lists, by bare JID (the account's own among
	// them); encrypted says whether a contact's last message was.
	lists     map[string]*deviceList
	encrypted map[string]bool
	// bundles: the bundle fetches under way, by sessionKey; unusable:
	// the devices whose bundle could not be had, with why.
	bundles  map[string]bool
	unusable map[string]string
	// waiting are the messages waiting for device lists and bundles, by
	// contact key, in the order the user sent them.
	waiting map[string][]waitingChat
}

// deviceList is what is known of one account's OMEMO devices.
type deviceList struct {
	ids    []uint32
	known  bool   // fetched or pushed
	asking bool   // a fetch is under way
	failed string // why the last fetch failed: no device can be used for now
}

// waitingChat is a message to a contact waiting for its turn.
type waitingChat struct {
	c       *contact
	out     xmpp.OutMessage
	encrypt bool
}

// omemoOutFile is omemoDevicesFileName's content.
type omemoOutFile struct {
	Devices   map[string][]uint32 `json:"devices"`
	Encrypted map[string]bool     `json:"last_encrypted,omitempty"`
}

// loadOMEMOOut reads the device lists kept in dir. A damaged file is
// logged and forgotten: the lists are fetched again when needed.
func loadOMEMOOut(dir string, log func(msg string, args ...any)) omemoOut {
	var o omemoOut
	if dir == "" {
		return o
	}
	path := omemoOutPath(dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return o
	}
	var f omemoOutFile
	if err == nil {
		err = json.Unmarshal(data, &f)
	}
	if err != nil {
		log("OMEMO device lists not read; they are fetched again", "path", path, "err", err)
		return o
	}
	for jid, ids := range f.Devices {
		putIn(&o.lists, jid, &deviceList{ids: ids, known: true})
	}
	for jid, enc := range f.Encrypted {
		putIn(&o.encrypted, jid, enc)
	}
	return o
}

// omemoOutPath is the device lists' file in state_dir dir: the
// directory is the bridge's Config.StateDir, not kept a second time.
func omemoOutPath(dir string) string { return filepath.Join(dir, omemoDevicesFileName) }

// encode is the device lists' file.
func (o *omemoOut) encode() ([]byte, error) {
	f := omemoOutFile{Devices: map[string][]uint32{}, Encrypted: o.encrypted}
	for jid, l := range o.lists {
		if l.known {
			f.Devices[jid] = l.ids
		}
	}
	return json.Marshal(f)
}

// saveOMEMOOut has the device lists written (mode 0600, as every OMEMO
// file) by the file writer, not on the owner goroutine: a list may change
// with every push of a contact's device list, and a list lost to a crash
// is fetched again.
func (b *Bridge) saveOMEMOOut() {
	if b.cfg.StateDir == "" {
		return
	}
	data, err := b.omemoOut.encode()
	if err != nil {
		b.log.Error("saving the OMEMO device lists failed", "err", err)
		return
	}
	b.files.write(omemoOutPath(b.cfg.StateDir), data)
}

// omemoMode is the user's choice for the contact key.
func (b *Bridge) omemoMode(key string) string {
	if m := b.state.OMEMO[key]; m == omemoOn || m == omemoOff {
		return m
	}
	return omemoAuto
}

// omemoEncrypts decides whether a chat message to c sent now is
// encrypted: always with "on", never with "off"; with "auto" when c's
// last message was encrypted or xircd has a session with every device c
// lists (those whose bundle could not be had left aside, at least one).
func (b *Bridge) omemoEncrypts(c *contact) bool {
	switch b.omemoMode(c.key()) {
	case omemoOn:
		return true
	case omemoOff:
		return false
	}
	if b.omemo.dev == nil {
		return false
	}
	if b.omemoOut.encrypted[c.key()] {
		return true
	}
	l := b.omemoOut.lists[c.key()]
	if l == nil || !l.known {
		return false
	}
	sessions := 0
	for _, id := range l.ids {
		k := sessionKey(c.key(), id)
		switch {
		case b.omemo.sessions[k] != nil:
			sessions++
		case b.omemoOut.unusable[k] == "":
			return false
		}
	}
	return sessions > 0
}

// encryptedEcho is the user's IRC text as their clients see it when it
// goes encrypted: marked as incoming encrypted messages are.
func encryptedEcho(text string) string {
	if rest, ok := strings.CutPrefix(text, "\x01ACTION "); ok {
		return "\x01ACTION " + encryptedMark + rest
	}
	return encryptedMark + text
}

// sendChatOMEMO sends out to c, encrypted when encrypt is set, after the
// messages to c still waiting (a copy of it waits with them): a message
// never overtakes another.
func (b *Bridge) sendChatOMEMO(c *contact, out *xmpp.OutMessage, encrypt bool) {
	if encrypt || len(b.omemoOut.waiting[c.key()]) > 0 {
		b.waitToSend(c, out, encrypt)
		return
	}
	if l := b.omemoOut.lists[c.key()]; b.omemo.dev != nil && b.omemoMode(c.key()) == omemoAuto && (l == nil || !l.known) {
		// For the next messages: "auto" encrypts once every device of
		// the contact has a session.
		b.fetchDeviceList(c.key())
	}
	b.sendOut(out, c)
}

// waitToSend queues a copy of out to c behind the messages waiting for c
// and sends what can go.
func (b *Bridge) waitToSend(c *contact, out *xmpp.OutMessage, encrypt bool) {
	queue := b.omemoOut.waiting[c.key()]
	if len(queue) >= maxOMEMOWaiting {
		b.queryNotice(c, "too many messages wait for OMEMO keys; NOT sent: "+excerpt(out.Body))
		return
	}
	if len(queue) == 0 {
		// A new attempt: what failed last time is asked again.
		b.retryList(c.key())
		b.retryList(b.ownKey())
	}
	putIn(&b.omemoOut.waiting, c.key(), append(queue, waitingChat{c: c, out: *out, encrypt: encrypt}))
	b.flushWaiting(c.key())
	if n := len(b.omemoOut.waiting[c.key()]); n > 0 && !b.connected {
		b.queryNotice(c, "XMPP is not connected; message waiting ("+strconv.Itoa(n)+" for "+c.nick+"), it will be encrypted and sent on reconnect: "+excerpt(out.Body))
	}
}

// retryList forgets that key's device list could not be fetched, so that
// the next message asks again.
func (b *Bridge) retryList(key string) {
	if l := b.omemoOut.lists[key]; l != nil {
		l.failed = ""
	}
}

// ownKey is the account's bare JID, the key of its own device list.
func (b *Bridge) ownKey() string { return xmpp.BareJID(b.x.JID()) }

// flushWaiting sends the messages waiting for key, in order, as long as
// what they need is there; the rest waits for the answers asked for.
func (b *Bridge) flushWaiting(key string) {
	for len(b.omemoOut.waiting[key]) > 0 {
		w := b.omemoOut.waiting[key][0]
		if w.encrypt && b.omemo.dev != nil && !b.omemoReady(key) {
			return
		}
		b.omemoOut.waiting[key] = b.omemoOut.waiting[key][1:]
		if !w.encrypt {
			b.sendOut(&w.out, w.c)
			continue
		}
		b.sendEncrypted(w.c, w.out)
	}
	delete(b.omemoOut.waiting, key)
}

// omemoReady reports whether the device lists of key and of the account
// and the bundles of their devices are there (or known to be missing),
// asking for what is not.
func (b *Bridge) omemoReady(key string) bool {
	ready := true
	for _, k := range []string{key, b.ownKey()} {
		l := b.omemoOut.lists[k]
		if l == nil || !l.known && l.failed == "" {
			b.fetchDeviceList(k)
			ready = false
			continue
		}
		if !b.fetchBundles(k) {
			ready = false
		}
	}
	return ready
}

// fetchDeviceList asks for jid's device list unless it is being asked.
func (b *Bridge) fetchDeviceList(jid string) {
	l := b.omemoOut.lists[jid]
	if l == nil {
		l = &deviceList{}
		putIn(&b.omemoOut.lists, jid, l)
	}
	if l.asking {
		return
	}
	err := b.startRequest(request{kind: requestDeviceList}, func(ctx context.Context) (string, error) {
		return b.x.OMEMODevices(ctx, jid)
	})
	switch {
	case err == nil:
		l.asking = true
	case errors.Is(err, xmpp.ErrNotConnected):
		// Asked again once connected (omemoResume).
	default:
		l.failed = oneLine(err.Error())
	}
}

// fetchBundles asks for the bundles of jid's listed devices that have no
// session yet (not xircd's own); it reports whether none is awaited.
func (b *Bridge) fetchBundles(jid string) bool {
	l := b.omemoOut.lists[jid]
	if l == nil || b.omemo.dev == nil {
		return true
	}
	done := true
	for _, id := range l.ids {
		k := sessionKey(jid, id)
		if id == b.omemo.dev.DeviceID && jid == b.ownKey() || b.omemo.sessions[k] != nil || b.omemoOut.unusable[k] != "" {
			continue
		}
		done = false
		if b.omemoOut.bundles[k] {
			continue
		}
		err := b.startRequest(request{kind: requestBundleFetch}, func(ctx context.Context) (string, error) {
			return b.x.OMEMOBundle(ctx, jid, id)
		})
		switch {
		case err == nil:
			putIn(&b.omemoOut.bundles, k, true)
		case errors.Is(err, xmpp.ErrNotConnected):
		default:
			putIn(&b.omemoOut.unusable, k, oneLine(err.Error()))
		}
	}
	return done
}

// onDeviceList takes a device list: a push (no request id) or the answer
// to fetchDeviceList. The account's own list must keep xircd's device.
func (b *Bridge) onDeviceList(ev xmpp.OMEMODeviceList) {
	key := xmpp.BareJID(ev.JID)
	l := b.omemoOut.lists[key]
	if l == nil {
		l = &deviceList{}
		putIn(&b.omemoOut.lists, key, l)
	}
	if ev.ID != "" {
		l.asking = false
	}
	switch {
	case ev.Err != nil && !b.connected:
		// Lost with the stream: asked again once connected.
	case ev.Err != nil:
		b.log.Info("OMEMO device list not fetched", "jid", ev.JID, "err", ev.Err)
		l.failed = oneLine(ev.Err.Error())
	default:
		if key == b.ownKey() && b.omemo.dev != nil {
			b.keepOwnDeviceListed(ev.Devices)
		}
		b.noteDeviceList(key, ev.Devices)
	}
	b.flushAllWaiting()
}

// noteDeviceList records key's device list and starts sessions with its
// devices, unless the user turned OMEMO off for that contact: "auto" can
// then encrypt as soon as every device has one.
func (b *Bridge) noteDeviceList(key string, ids []uint32) {
	l := b.omemoOut.lists[key]
	if l == nil {
		l = &deviceList{}
		putIn(&b.omemoOut.lists, key, l)
	}
	changed := !l.known || !slices.Equal(l.ids, ids)
	for _, id := range ids {
		if !slices.Contains(l.ids, id) {
			delete(b.omemoOut.unusable, sessionKey(key, id)) // back in the list: asked again
		}
	}
	l.ids, l.known, l.failed = slices.Clone(ids), true, ""
	if changed {
		b.saveOMEMOOut()
	}
	if b.omemo.dev != nil && b.omemoMode(key) != omemoOff && (key == b.ownKey() || b.contacts.get(key) != nil) {
		b.fetchBundles(key)
	}
}

// onOMEMOBundle starts a session with the device whose bundle came. A
// bundle whose signature fails leaves that device out, and the user is
// told once.
func (b *Bridge) onOMEMOBundle(ev xmpp.OMEMOBundle) {
	if _, ok := b.answered(ev.ID); !ok {
		return
	}
	key := xmpp.BareJID(ev.JID)
	k := sessionKey(key, ev.DeviceID)
	delete(b.omemoOut.bundles, k)
	if b.omemo.dev == nil {
		return
	}
	switch {
	case ev.Err != nil && !b.connected:
	case ev.Err != nil:
		b.log.Info("OMEMO bundle not fetched", "jid", ev.JID, "device", ev.DeviceID, "err", ev.Err)
		if errors.Is(ev.Err, xmpp.ErrNoOMEMOBundle) {
			putIn(&b.omemoOut.unusable, k, "it published no bundle")
		} else {
			putIn(&b.omemoOut.unusable, k, "its bundle could not be fetched: "+oneLine(ev.Err.Error()))
		}
	case b.omemo.sessions[k] != nil:
		// The device started a session meanwhile (a pre-key message): its
		// next messages belong to that one, which also serves to encrypt.
	default:
		s, err := omemo.InitiateSession(rand.Reader, b.omemo.dev, ev.Bundle)
		if err != nil {
			putIn(&b.omemoOut.unusable, k, "its bundle is invalid: "+oneLine(err.Error()))
			b.tellUnusable(key, ev.DeviceID, b.omemoOut.unusable[k])
			break
		}
		putIn(&b.omemo.sessions, k, s)
		b.omemoObserve(key, ev.DeviceID, ev.Bundle.IdentityKey) // told now of a device that starts untrusted
		if err := b.omemo.saveSessions(); err != nil {
			b.log.Error("saving the OMEMO sessions failed", "err", err)
		}
	}
	b.flushAllWaiting()
}

// tellUnusable tells the user that a device is left out of encryption.
func (b *Bridge) tellUnusable(key string, device uint32, why string) {
	text := "OMEMO device " + strconv.FormatUint(uint64(device), 10)
	if key == b.ownKey() {
		b.announce(text+" of your account is left out of encryption: "+why+".", true)
		return
	}
	if c := b.contacts.get(key); c != nil {
		b.queryNotice(c, text+" of "+c.nick+" is left out of encryption: "+why+".")
		return
	}
	b.announce(text+" of "+oneLine(key)+" is left out of encryption: "+why+".", true)
}

// flushAllWaiting sends what waits and can go now.
func (b *Bridge) flushAllWaiting() {
	keys := make([]string, 0, len(b.omemoOut.waiting))
	for k := range b.omemoOut.waiting {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.flushWaiting(k)
	}
}

// omemoRecipients are the devices a message to key is encrypted for: the
// contact's and the account's other ones, with a session, that the user
// trusts (blindly or verified: omemoMayEncryptTo). none says why
// the contact has no device to encrypt for.
func (b *Bridge) omemoRecipients(key string) (rs []omemo.Recipient, none string) {
	l := b.omemoOut.lists[key]
	switch {
	case l == nil || !l.known && l.failed != "":
		reason := "unknown"
		if l != nil {
			reason = l.failed
		}
		return nil, "their OMEMO device list could not be read (" + reason + ")"
	case len(l.ids) == 0:
		return nil, "they publish no OMEMO device"
	}
	var why []string
	for _, id := range l.ids {
		k := sessionKey(key, id)
		s := b.omemo.sessions[k]
		switch {
		case s == nil:
			why = append(why, "device "+strconv.FormatUint(uint64(id), 10)+": "+cmp.Or(b.omemoOut.unusable[k], "no session"))
		case !b.omemoMayEncryptTo(key, id, s.RemoteIdentity()):
			why = append(why, "device "+strconv.FormatUint(uint64(id), 10)+": untrusted, see \"omemo fingerprints\"")
		default:
			rs = append(rs, omemo.Recipient{DeviceID: id, Session: s})
		}
	}
	if len(rs) == 0 {
		return nil, "none of their OMEMO devices can be used (" + strings.Join(why, "; ") + ")"
	}
	own := b.ownKey()
	if ol := b.omemoOut.lists[own]; ol != nil && key != own {
		for _, id := range ol.ids {
			if s := b.omemo.sessions[sessionKey(own, id)]; s != nil && id != b.omemo.dev.DeviceID && b.omemoMayEncryptTo(own, id, s.RemoteIdentity()) {
				rs = append(rs, omemo.Recipient{DeviceID: id, Session: s})
			}
		}
	}
	return rs, ""
}

// sendEncrypted encrypts out's body for c's devices and the account's
// other devices and sends it; without a device to encrypt for, it is
// not sent and the user is told why.
func (b *Bridge) sendEncrypted(c *contact, out xmpp.OutMessage) {
	notSent := func(why string) {
		b.queryNotice(c, "message NOT sent: it must go encrypted (OMEMO) and "+why+"; \"omemo off "+c.nick+"\" sends unencrypted: "+excerpt(out.Body))
	}
	if b.omemo.dev == nil {
		notSent("xircd has no OMEMO device (it needs bridge.state_dir)")
		return
	}
	rs, none := b.omemoRecipients(c.key())
	if none != "" {
		notSent(none)
		return
	}
	e, err := omemo.Encrypt(rand.Reader, b.omemo.dev.DeviceID, []byte(out.Body), rs)
	if err == nil {
		out.OMEMO, err = omemo.MarshalEncrypted(e)
		b.omemo.keepSent(b.ownKey(), e, out.Body)
	}
	if serr := b.omemo.saveSessions(); serr != nil {
		b.log.Error("saving the OMEMO sessions failed", "err", serr)
	}
	if err != nil {
		notSent("encrypting failed (" + oneLine(err.Error()) + ")")
		return
	}
	out.OOBURL = "" // a link beside the message would be in clear
	b.sendOut(&out, c)
}

// noteEncrypted remembers whether a contact's message was encrypted, for
// "auto". Chat states, reactions and retractions, which clients send
// unencrypted, do not count.
func (b *Bridge) noteEncrypted(m *xmpp.Message) {
	if m.Type == "groupchat" || m.Type == "error" || m.Carbon == xmpp.CarbonSent || m.Retract != nil || m.Reactions != nil {
		return
	}
	if m.OMEMO == nil && m.Body == "" {
		return
	}
	key := xmpp.BareJID(m.From)
	if b.contacts.get(key) == nil || b.isOwnJID(key) {
		return
	}
	enc := m.OMEMO != nil
	if b.omemoOut.encrypted[key] != enc {
		if enc {
			putIn(&b.omemoOut.encrypted, key, true)
		} else {
			delete(b.omemoOut.encrypted, key)
		}
		b.saveOMEMOOut()
	}
}

// omemoResume asks again, once connected, what messages wait for.
func (b *Bridge) omemoResume() {
	for _, l := range b.omemoOut.lists {
		l.asking = false
	}
	clear(b.omemoOut.bundles)
	b.flushAllWaiting()
}
