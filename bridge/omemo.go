package bridge

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// OMEMO (XEP-0384 0.3): xircd is one OMEMO device of the user's account.
// Its keys live in state_dir (omemoFileName, mode 0600); without a
// state_dir it has no device, since a new one at every start would fill
// the account's device list. After each login (not a resumption) it
// fetches the account's device list, adds itself when missing, keeping
// every other device, and publishes its bundle unless the server has it
// (omemo_published.go).

// omemoFileName is the file in state_dir holding xircd's OMEMO device,
// omemoSessionsFileName its sessions with other devices.
const (
	omemoFileName         = "omemo.json"
	omemoSessionsFileName = "omemo-sessions.json"
)

// omemoState is xircd's OMEMO device and its sessions, by sessionKey.
type omemoState struct {
	// dev is the device without its one-time pre-keys and the signed
	// pre-keys a rotation replaced: those are needed only when a pre-key
	// message starts a session or the bundle is published, and are read
	// from the store then (keys), some 10 KiB a user keeps out of memory
	// meanwhile. nil: no device (no state_dir, or it cannot be saved).
	dev *omemo.Device
	// bundle is the digest of the device's bundle (bundleDigest).
	bundle   string
	dir      string      // state_dir, where the store and the sessions are kept
	files    *fileWriter // writes and reads the store
	sessions map[string]*omemo.Session
	kept     omemoKept // texts of decrypted messages, in memory only (omemo_again.go)
	problem  string    // what went wrong loading the device, told once connected
	later    bool      // the device is to be made by the login's work (omemo_later.go)
	// bundlePublishing: a bundle publication awaits its answer;
	// bundleStale: the bundle changed since it was sent (publishBundle);
	// bundleSent: the digest of the bundle sent (omemo_published.go).
	bundlePublishing, bundleStale bool
	bundleSent                    string
	// rotation: the signed pre-key's next rotation (omemo_rotate.go).
	rotation omemoRotation
}

// sessionKey names the session with one device of jid (a bare JID).
func sessionKey(jid string, device uint32) string {
	return jid + " " + strconv.FormatUint(uint64(device), 10)
}

// loadOMEMO loads the device kept in dir or makes and saves a new one,
// whose signed pre-key counts as made at made (zero: from the next login,
// rotateSignedPreKey). A damaged store is replaced by a new device:
// contacts' clients then see a new device of the account, which beats
// having none, and the user is told.
func loadOMEMO(dir string, files *fileWriter, made time.Time) omemoState {
	if dir == "" {
		return omemoState{}
	}
	st := omemoState{
		dir:   dir,
		files: files,
	}
	dev, err := st.keys()
	if err == nil {
		st.keep(dev)
		st.loadSessions()
		return st
	}
	if !errors.Is(err, fs.ErrNotExist) {
		st.problem = "The OMEMO key store could not be read (" + oneLine(err.Error()) + "); xircd made a new OMEMO device. "
	}
	if dev, err = omemo.NewDevice(rand.Reader); err == nil {
		dev.SignedPreKeyMade = made
		err = st.saveNow(dev)
	}
	if err != nil {
		st.problem += "xircd has no OMEMO device: " + oneLine(err.Error()) + "."
		return st
	}
	return st
}

// path is the device's store.
func (st *omemoState) path() string { return filepath.Join(st.dir, omemoFileName) }

// keys reads the whole device from its store, as last written. Once the
// device is loaded, what the store holds is xircd's own writing: it is
// only checked to be the same device, not key by key again, which costs
// ten times the decoding.
func (st *omemoState) keys() (*omemo.Device, error) {
	data, err := st.files.read(st.path())
	if err != nil {
		return nil, fmt.Errorf("omemo: loading keys: %w", err)
	}
	var dev *omemo.Device
	if st.dev == nil {
		dev, err = omemo.UnmarshalDevice(data)
	} else {
		dev, err = omemo.UnmarshalDeviceOf(data, st.dev)
	}
	if err != nil {
		return nil, fmt.Errorf("omemo: loading keys from %s: %w", st.path(), err)
	}
	return dev, nil
}

// keep makes dev, the whole device as saved, the device: in memory
// without the keys its store keeps for when they are needed (keys).
func (st *omemoState) keep(dev *omemo.Device) {
	st.bundle = bundleDigest(dev.Bundle())
	resident := *dev
	resident.PreKeys, resident.PreviousSignedPreKeys = nil, nil
	st.dev = &resident
}

// save has the whole device dev written to its store soon (fileWriter)
// and keeps it.
func (st *omemoState) save(dev *omemo.Device) error {
	data, err := omemo.MarshalDevice(dev)
	if err != nil {
		return err
	}
	st.files.write(st.path(), data)
	st.keep(dev)
	return nil
}

// saveNow writes the whole device dev to its store at once and keeps it
// only once it is saved.
func (st *omemoState) saveNow(dev *omemo.Device) error {
	data, err := omemo.MarshalDevice(dev)
	if err == nil {
		err = st.files.writeNow(st.path(), data)
	}
	if err != nil {
		return fmt.Errorf("omemo: saving keys: %w", err)
	}
	st.keep(dev)
	return nil
}

// loadSessions reads the sessions of a device loaded from its store. A
// damaged file is told and left for the next save to replace: each
// contact's device starts a new session with its next pre-key message.
func (st *omemoState) loadSessions() {
	data, err := os.ReadFile(filepath.Join(st.dir, omemoSessionsFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = json.Unmarshal(data, &st.sessions)
	}
	if err != nil {
		st.sessions = map[string]*omemo.Session{}
		st.problem = "The OMEMO sessions could not be read (" + oneLine(err.Error()) + "); messages from devices xircd had sessions with cannot be read until they start new ones."
	}
}

// saveSessions writes the sessions (mode 0600: they hold message keys).
func (st *omemoState) saveSessions() error {
	data, err := json.Marshal(st.sessions)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(st.dir, omemoSessionsFileName), data)
}

// errNotForUs: the message has no key for xircd's device.
var errNotForUs = errors.New("not encrypted for this device")

// decrypted is what decrypt made of a message.
type decrypted struct {
	text string
	// known: the message was decrypted before; text is what it said.
	known bool
	// preKeyUsed: a one-time pre-key was used; the device was refilled
	// and saved, and its bundle must be republished.
	preKeyUsed bool
	sender     uint32 // the sender's device, whose trust marks the text (omemoSenderMark)
}

// decrypt decrypts an OMEMO <encrypted/> element that from sent, or finds
// its text kept from an earlier decryption (omemo_again.go). Any device
// of anyone may start a session (a PreKeyWhisperMessage) that admit lets
// start (omemo_limits.go; trust is the caller's: omemoSenderMark); a
// message of a session xircd does not have fails. A key transport element
// (no payload) only advances the session: its text is "". An archived
// pre-key message starts a session where there is none, but never
// replaces one: it may be older than the session in use.
func (st *omemoState) decrypt(from omemoFrom, element []byte, archived bool, admit func(jid string) error) (decrypted, error) {
	var d decrypted
	e, err := omemo.UnmarshalEncrypted(element)
	if err != nil {
		return d, err
	}
	d.sender = e.SenderDeviceID
	if from.own && e.SenderDeviceID == st.dev.DeviceID {
		return st.sentAgain(from, e)
	}
	k, ok := e.KeyFor(st.dev.DeviceID)
	if !ok {
		return d, errNotForUs
	}
	digest := omemoDigest(from.speaker, e, k)
	if text, ok := st.kept.get(digest); ok {
		return decrypted{text: text, known: true, sender: e.SenderDeviceID}, nil
	}
	if from.jid == "" {
		return d, errors.New(from.why)
	}
	key := sessionKey(from.jid, e.SenderDeviceID)
	session := st.sessions[key]
	var keyMaterial []byte
	switch {
	case k.PreKey:
		if session == nil {
			if err := admit(from.jid); err != nil {
				return d, err
			}
		}
		var started *omemo.Session
		started, keyMaterial, d.preKeyUsed, err = st.decryptPreKey(session, k.Data)
		if session == nil || !archived {
			session = started
		}
	case session == nil:
		err = fmt.Errorf("no session with device %d (it must start one with a pre-key message)", e.SenderDeviceID)
	default:
		keyMaterial, err = session.Decrypt(rand.Reader, k.Data)
	}
	if len(e.Payload) == 0 && errors.Is(err, omemo.ErrDuplicateMessage) {
		return d, nil // a key transport again: still nothing to show
	}
	if err != nil {
		return d, err
	}
	// The session advanced and a pre-key may be used up (decryptPreKey
	// saved the keys), whatever the payload holds: both are saved first.
	putIn(&st.sessions, key, session)
	if err := st.saveSessions(); err != nil {
		return decrypted{preKeyUsed: d.preKeyUsed}, fmt.Errorf("saving the OMEMO sessions: %w", err)
	}
	if len(e.Payload) == 0 {
		return d, nil
	}
	plain, err := omemo.DecryptPayload(keyMaterial, e.IV, e.Payload)
	if err != nil {
		return decrypted{preKeyUsed: d.preKeyUsed}, err
	}
	d.text = string(plain)
	st.kept.put(digest, d.text)
	return d, nil
}

// decryptPreKey decrypts a pre-key message with existing, the session it
// may belong to (nil: none). One that starts a session reads the device's
// keys from its store; when it uses up a one-time pre-key (preKeyUsed),
// the device gets a new one and is saved, and its bundle must be
// republished.
func (st *omemoState) decryptPreKey(existing *omemo.Session, msg []byte) (started *omemo.Session, keyMaterial []byte, preKeyUsed bool, err error) {
	continues, err := omemo.ContinuesSession(existing, msg)
	if err != nil {
		return nil, nil, false, err
	}
	if continues {
		started, keyMaterial, err = st.dev.DecryptPreKeyMessage(rand.Reader, existing, msg)
		return started, keyMaterial, false, err
	}
	dev, err := st.keys()
	if err != nil {
		return nil, nil, false, err
	}
	preKeys := len(dev.PreKeys)
	if started, keyMaterial, err = dev.DecryptPreKeyMessage(rand.Reader, existing, msg); err != nil || len(dev.PreKeys) == preKeys {
		return started, keyMaterial, false, err
	}
	err = dev.RefillPreKeys(rand.Reader) // the used one is gone all the same
	if saveErr := st.save(dev); saveErr != nil {
		return nil, nil, true, fmt.Errorf("saving the OMEMO keys: %w", saveErr)
	}
	if err != nil {
		return nil, nil, true, err
	}
	return started, keyMaterial, true, nil
}

// encryptedMark marks a decrypted message's text, so that plain clients
// show that it came encrypted: "🔒 text", "/me 🔒 waves" for an action.
const encryptedMark = "🔒 "

// decryptOMEMO replaces the body of m, an OMEMO message, by its decrypted text,
// marked, or by a notice saying why xircd cannot read it; archived: m
// comes from an archive query. xircd without a device keeps the generic
// notice (readable). A message met again delayed (archive, room history,
// offline copy) shows the text it had, or says it is not kept; the same
// message again live is a replay (omemo_again.go).
func (b *Bridge) decryptOMEMO(m *xmpp.Message, archived bool) {
	if m.OMEMO == nil || b.omemo.dev == nil || m.Type == "error" || b.omemoUnwanted(m) {
		return
	}
	m.Encryption = ""
	from := b.omemoSender(m)
	d, err := b.omemo.decrypt(from, m.OMEMO, archived, b.admitOMEMOSession)
	if d.preKeyUsed {
		b.publishBundle()
	}
	mark := encryptedMark
	if err == nil {
		// A key transport shows nothing, but its device is met all the
		// same: one that starts untrusted is told now, whatever comes
		// first, its bundle or its first text.
		mark = b.omemoSenderMark(from.jid, d.sender)
	}
	again := !m.Delay.IsZero()
	switch {
	case d.known && !again, errors.Is(err, omemo.ErrDuplicateMessage) && !again:
		b.log.Info("OMEMO message replayed", "from", m.From)
		m.Body = omemoReplayText
	case errors.Is(err, omemo.ErrDuplicateMessage):
		m.Body = omemoNotKeptText
	case errors.Is(err, errSentNotKept):
		m.Body = omemoSentNotKeptText
	case err != nil:
		b.log.Info("OMEMO message not decrypted", "from", m.From, "err", err)
		m.Body = unreadableText("OMEMO", err.Error())
	case strings.HasPrefix(d.text, "/me "):
		m.Body = "/me " + mark + d.text[len("/me "):]
	case d.text != "":
		m.Body = mark + d.text
	default:
		m.Body = "" // key transport: nothing to show
	}
}

// cmdFingerprint shows xircd's OMEMO device id and fingerprint, in
// groups of eight as clients show fingerprints.
func (b *Bridge) cmdFingerprint(out func(string), args []string) {
	if b.omemo.dev == nil {
		out("xircd has no OMEMO device: it needs a state directory (bridge.state_dir) to keep its keys.")
		return
	}
	out(fmt.Sprintf("xircd's OMEMO device %d has the fingerprint %s", b.omemo.dev.DeviceID, groupedFingerprint(b.omemo.dev.Identity.Public)))
}

// omemoConnected tells what went wrong loading the device, once, and
// makes sure the account lists the device: the device list is fetched
// (as Config.LoginWork schedules it), and its answer (onOMEMODevices)
// publishes what is missing.
func (b *Bridge) omemoConnected() {
	if b.omemo.problem != "" {
		b.announce(b.omemo.problem, true)
		b.omemo.problem = ""
	}
	b.omemoTrustConnected()
	if b.omemo.dev == nil && !b.omemo.later {
		return
	}
	if b.omemo.dev != nil {
		b.omemoResume()
	}
	b.afterLogin(b.omemoDevices)
}

// omemoDevices rotates the signed pre-key when due, then fetches the
// account's device list (onOMEMODevices).
func (b *Bridge) omemoDevices() {
	if !b.omemoDevice() {
		return
	}
	b.rotateSignedPreKey() // before the bundle goes out after the device list
	err := b.startRequest(request{kind: requestOMEMODevices}, func(ctx context.Context) (string, error) {
		return b.x.OMEMODevices(ctx, "")
	})
	if err != nil {
		b.log.Info("OMEMO device list not fetched", "err", err)
	}
}

// onOMEMODevices takes a device list: the account's, fetched after login
// (xircd adds its device when it is missing, then publishes its bundle),
// or one pushed or fetched for sending (onDeviceList).
func (b *Bridge) onOMEMODevices(ev xmpp.OMEMODeviceList) {
	login := false
	if ev.ID != "" {
		r, ok := b.answered(ev.ID)
		if !ok {
			return
		}
		login = r.kind == requestOMEMODevices
	}
	if login && ev.Err != nil {
		b.announce("OMEMO: the account's device list could not be read ("+oneLine(ev.Err.Error())+"); contacts cannot encrypt to xircd.", true)
		return
	}
	b.onDeviceList(ev)
	if login {
		b.publishBundleAfterLogin(slices.Contains(ev.Devices, b.omemo.dev.DeviceID))
	}
}

// keepOwnDeviceListed publishes the account's device list with xircd's
// device added when devices, the list as published, lacks it.
func (b *Bridge) keepOwnDeviceListed(devices []uint32) {
	own := b.omemo.dev.DeviceID
	if !slices.Contains(devices, own) {
		ids := append(slices.Clone(devices), own)
		b.omemoPublish(func(ctx context.Context) (string, error) { return b.x.PublishOMEMODevices(ctx, ids) })
	}
}

// publishBundle publishes the device's bundle. While one publication is
// under way, the next waits for its answer and then goes once, with the
// bundle as it is then: a burst of pre-key messages costs two
// publications, not one each.
func (b *Bridge) publishBundle() {
	if b.omemo.bundlePublishing {
		b.omemo.bundleStale = true
		return
	}
	dev, err := b.omemo.keys()
	if err != nil {
		b.announce("OMEMO: the bundle was not published ("+oneLine(err.Error())+"); contacts cannot encrypt to xircd.", true)
		return
	}
	bundle := dev.Bundle()
	// The digest kept with the device is the bundle's (keep): the
	// bundle is not encoded an extra time for it.
	b.omemo.bundleSent = b.omemo.bundle
	err = b.startRequest(request{kind: requestOMEMOBundle}, func(ctx context.Context) (string, error) {
		return b.x.PublishOMEMOBundle(ctx, bundle)
	})
	if err != nil {
		b.log.Info("OMEMO bundle not published", "err", err)
		return
	}
	b.omemo.bundlePublishing = true
}

// onBundlePublished tells a refused publication and sends the bundle
// again if it changed meanwhile.
func (b *Bridge) onBundlePublished(ev xmpp.RequestDone) {
	b.omemo.bundlePublishing = false
	b.onOMEMOPublished(ev)
	if ev.Err == nil {
		b.bundlePublished(b.omemo.bundleSent)
	}
	if b.omemo.bundleStale {
		b.omemo.bundleStale = false
		b.publishBundle()
	}
}

func (b *Bridge) omemoPublish(send func(ctx context.Context) (string, error)) {
	if err := b.startRequest(request{kind: requestOMEMOPublish}, send); err != nil {
		b.log.Info("OMEMO publication not sent", "err", err)
	}
}

// onOMEMOPublished tells a refused publication: contacts cannot encrypt
// to xircd.
func (b *Bridge) onOMEMOPublished(ev xmpp.RequestDone) {
	if ev.Err != nil {
		b.announce("OMEMO: the XMPP server refused "+ev.Op+" ("+oneLine(ev.Err.Error())+"); contacts cannot encrypt to xircd.", true)
	}
}
