package bridge

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"xircd/xmpp/omemo"
)

// The OMEMO trust store: for each JID (contacts, and the user's own
// account for its other devices) the identity key of each device xircd
// has met and whether it is trusted. The policy is blind trust before
// verification (BTBV), as Conversations has it: until the user trusts a
// fingerprint of a JID, each new device of it is blindly trusted; once
// they have, new devices start untrusted. A device whose identity key
// changes is untrusted, whatever the policy, until the user trusts the
// new key: a changed key is what an attacker who took over the account
// would show.

// omemoTrustFileName is the trust store's file in state_dir.
const omemoTrustFileName = "omemo-trust.json"

// Bounds of the trust store. A JID with more devices loses the device
// met first among those the user has not trusted; when every device is
// trusted, the new one is not kept and is untrusted. When the store holds
// maxTrustJIDs, a new JID takes the place of the one met first among
// those with no trusted fingerprint; when every JID has one, the new JID
// is not kept and its devices are used as blind trust would (nothing was
// verified for it).
const (
	maxTrustDevices = 64
	maxTrustJIDs    = 5000
)

// trustState is a device's standing.
type trustState string

const (
	trustBlind     trustState = "blind"     // met before the user verified any of its JID's fingerprints
	trustVerified  trustState = "trusted"   // trusted by the user
	trustUntrusted trustState = "untrusted" // met after a verification, its key changed, or untrusted by the user
)

// usable reports whether xircd encrypts to a device in state s and shows
// its messages without a warning.
func (s trustState) usable() bool { return s == trustBlind || s == trustVerified }

// trustChange is what observe learnt about a device.
type trustChange int

const (
	trustKnown      trustChange = iota // met before with this key
	trustNewDevice                     // first met now
	trustKeyChanged                    // met before with another identity key
	trustNotKept                       // not kept: the store is full (see maxTrustDevices)
)

// trustedDevice is one device of a JID as the store keeps it.
type trustedDevice struct {
	Identity   omemo.PublicKey `json:"identity"`
	State      trustState      `json:"state"`
	KeyChanged bool            `json:"key_changed,omitempty"` // untrusted because its key changed
	Met        uint64          `json:"met"`                   // when first met, in the store's order
}

// trustedJID is what the store keeps of one JID.
type trustedJID struct {
	// Verified: the user has trusted a fingerprint of this JID, so new
	// devices start untrusted. Untrusting that fingerprint later does not
	// bring back blind trust: an explicit distrust is no reason to accept
	// the next device unseen.
	Verified bool                      `json:"verified,omitempty"`
	Devices  map[uint32]*trustedDevice `json:"devices"`
	Met      uint64                    `json:"met"`
}

// trustStore is the trust store, kept in dir (none: in memory only).
type trustStore struct {
	dir  string
	JIDs map[string]*trustedJID `json:"jids"`
	Seq  uint64                 `json:"seq"` // the last Met given
}

// errUnknownFingerprint: no device of that JID has the fingerprint.
var errUnknownFingerprint = errors.New("unknown fingerprint")

// loadTrustStore reads the store kept in dir. A missing file is an empty
// store; a damaged one is an empty store too, with the reason (the next
// save replaces the file).
func loadTrustStore(dir string) (*trustStore, error) {
	ts := &trustStore{JIDs: map[string]*trustedJID{}}
	if dir == "" {
		return ts, nil
	}
	ts.dir = dir
	data, err := os.ReadFile(ts.path())
	if errors.Is(err, fs.ErrNotExist) {
		return ts, nil
	}
	if err == nil {
		var read trustStore
		if err = json.Unmarshal(data, &read); err == nil {
			err = read.check()
		}
		if err == nil {
			ts.JIDs, ts.Seq = read.JIDs, read.Seq
			return ts, nil
		}
	}
	return ts, err
}

// check rejects a decoded store that the code could not have written.
func (ts *trustStore) check() error {
	if ts.JIDs == nil {
		return errors.New("no jids")
	}
	if len(ts.JIDs) > maxTrustJIDs {
		return fmt.Errorf("%d JIDs, more than %d", len(ts.JIDs), maxTrustJIDs)
	}
	for jid, j := range ts.JIDs {
		if j == nil || j.Devices == nil || len(j.Devices) > maxTrustDevices {
			return fmt.Errorf("%s: no devices or too many", jid)
		}
		for id, d := range j.Devices {
			if d == nil || id == 0 {
				return fmt.Errorf("%s: a device without id or key", jid)
			}
			switch d.State {
			case trustBlind, trustVerified, trustUntrusted:
			default:
				return fmt.Errorf("%s: device %d has the state %q", jid, id, d.State)
			}
		}
	}
	return nil
}

// path is the store's file.
func (ts *trustStore) path() string { return filepath.Join(ts.dir, omemoTrustFileName) }

// save writes the store (mode 0600, as every file of state_dir).
func (ts *trustStore) save() error {
	if ts.dir == "" {
		return nil
	}
	data, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(ts.path(), append(data, '\n'))
}

// observe records that jid's device id has the identity key and returns
// its standing and what changed (the store then needs saving, unless
// trustKnown).
func (ts *trustStore) observe(jid string, id uint32, identity omemo.PublicKey) (trustState, trustChange) {
	j := ts.JIDs[jid]
	if j == nil {
		if len(ts.JIDs) >= maxTrustJIDs && !ts.evictJID() {
			return trustBlind, trustNotKept
		}
		ts.Seq++
		j = &trustedJID{Devices: map[uint32]*trustedDevice{}, Met: ts.Seq}
		ts.JIDs[jid] = j
	}
	if d := j.Devices[id]; d != nil {
		if d.Identity == identity {
			return d.State, trustKnown
		}
		*d = trustedDevice{Identity: identity, State: trustUntrusted, KeyChanged: true, Met: d.Met}
		return d.State, trustKeyChanged
	}
	if len(j.Devices) >= maxTrustDevices && !j.evictDevice() {
		return trustUntrusted, trustNotKept
	}
	state := trustBlind
	if j.Verified {
		state = trustUntrusted
	}
	ts.Seq++
	j.Devices[id] = &trustedDevice{Identity: identity, State: state, Met: ts.Seq}
	return state, trustNewDevice
}

// device is what the store keeps of jid's device id.
func (ts *trustStore) device(jid string, id uint32) (trustedDevice, bool) {
	if j := ts.JIDs[jid]; j != nil && j.Devices[id] != nil {
		return *j.Devices[id], true
	}
	return trustedDevice{}, false
}

// refused reports whether the store refuses jid's device id with the
// identity key: it is untrusted, or known with another key. It records
// nothing (observe does).
func (ts *trustStore) refused(jid string, id uint32, identity omemo.PublicKey) bool {
	d, ok := ts.device(jid, id)
	return ok && (d.Identity != identity || !d.State.usable())
}

// evictJID drops the JID met first among those without a verified
// fingerprint, reporting whether there was one.
func (ts *trustStore) evictJID() bool {
	var oldest string
	for jid, j := range ts.JIDs {
		if !j.Verified && (oldest == "" || j.Met < ts.JIDs[oldest].Met) {
			oldest = jid
		}
	}
	if oldest == "" {
		return false
	}
	delete(ts.JIDs, oldest)
	return true
}

// evictDevice drops the device met first among those the user has not
// trusted, reporting whether there was one.
func (j *trustedJID) evictDevice() bool {
	var oldest uint32
	for id, d := range j.Devices {
		if d.State != trustVerified && (oldest == 0 || d.Met < j.Devices[oldest].Met) {
			oldest = id
		}
	}
	if oldest == 0 {
		return false
	}
	delete(j.Devices, oldest)
	return true
}

// setTrust gives the devices of jid with the fingerprint fp (as
// parseFingerprint returns it) the state trusted or untrusted, and
// returns their ids. Trusting one makes the JID verified: its new
// devices start untrusted.
func (ts *trustStore) setTrust(jid, fp string, state trustState) ([]uint32, error) {
	j := ts.JIDs[jid]
	if j == nil {
		return nil, errUnknownFingerprint
	}
	var ids []uint32
	for id, d := range j.Devices {
		if omemo.Fingerprint(d.Identity) == fp {
			d.State, d.KeyChanged = state, false
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, errUnknownFingerprint
	}
	if state == trustVerified {
		j.Verified = true
	}
	slices.Sort(ids)
	return ids, nil
}

// knownDevice is a device of a JID, for listing.
type knownDevice struct {
	id uint32
	trustedDevice
}

// devices lists jid's devices by id, and whether the user verified a
// fingerprint of jid.
func (ts *trustStore) devices(jid string) (devs []knownDevice, verified bool) {
	j := ts.JIDs[jid]
	if j == nil {
		return nil, false
	}
	for id, d := range j.Devices {
		devs = append(devs, knownDevice{id, *d})
	}
	slices.SortFunc(devs, func(a, b knownDevice) int { return int(int64(a.id) - int64(b.id)) })
	return devs, j.Verified
}

// parseFingerprint reads a fingerprint as the user types it: 64
// hexadecimal digits, in any case, with spaces, dashes or colons anywhere
// (clients show it in groups: profanity joins them with dashes).
func parseFingerprint(s string) (string, bool) {
	fp := strings.ToLower(strings.Map(func(r rune) rune {
		if r == '-' || r == ':' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
	if len(fp) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(fp); err != nil {
		return "", false
	}
	return fp, true
}

// groupedFingerprint is the fingerprint of an identity key in groups of
// eight digits, as OMEMO clients show it.
func groupedFingerprint(identity omemo.PublicKey) string {
	fp := omemo.Fingerprint(identity)
	var groups []string
	for i := 0; i < len(fp); i += 8 {
		groups = append(groups, fp[i:min(i+8, len(fp))])
	}
	return strings.Join(groups, " ")
}
