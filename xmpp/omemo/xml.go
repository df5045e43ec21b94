package omemo

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Namespace is OMEMO 0.3's namespace, the one current clients
// interoperate on.
const Namespace = "eu.siacs.conversations.axolotl"

// DeviceListNode is the PEP node of an account's device list.
const DeviceListNode = Namespace + ".devicelist"

// BundleNode is the PEP node of one device's bundle.
func BundleNode(deviceID uint32) string {
	return Namespace + ".bundles:" + strconv.FormatUint(uint64(deviceID), 10)
}

// <list xmlns='eu.siacs.conversations.axolotl'><device id='…'/>…</list>
type xmlDeviceList struct {
	XMLName xml.Name    `xml:"eu.siacs.conversations.axolotl list"`
	Devices []xmlDevice `xml:"device"`
}

type xmlDevice struct {
	ID string `xml:"id,attr"`
}

// MarshalDeviceList returns the <list/> element of a device list.
func MarshalDeviceList(ids []uint32) ([]byte, error) {
	var l xmlDeviceList
	for _, id := range ids {
		l.Devices = append(l.Devices, xmlDevice{ID: strconv.FormatUint(uint64(id), 10)})
	}
	return xml.Marshal(l)
}

// UnmarshalDeviceList reads a <list/> element. A device id that is not a
// positive 32-bit number is an error.
func UnmarshalDeviceList(data []byte) ([]uint32, error) {
	var l xmlDeviceList
	if err := xml.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("omemo: device list: %w", err)
	}
	ids := make([]uint32, 0, len(l.Devices))
	for _, d := range l.Devices {
		id, err := parseDeviceID(d.ID)
		if err != nil {
			return nil, fmt.Errorf("omemo: device list: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func parseDeviceID(s string) (uint32, error) {
	id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("invalid device id %q", s)
	}
	return uint32(id), nil
}

// <bundle xmlns='eu.siacs.conversations.axolotl'>
//
//	<signedPreKeyPublic signedPreKeyId='1'>…</signedPreKeyPublic>
//	<signedPreKeySignature>…</signedPreKeySignature>
//	<identityKey>…</identityKey>
//	<prekeys><preKeyPublic preKeyId='1'>…</preKeyPublic>…</prekeys>
//
// </bundle>
type xmlBundle struct {
	XMLName               xml.Name       `xml:"eu.siacs.conversations.axolotl bundle"`
	SignedPreKeyPublic    xmlKey         `xml:"signedPreKeyPublic"`
	SignedPreKeySignature string         `xml:"signedPreKeySignature"`
	IdentityKey           string         `xml:"identityKey"`
	PreKeys               []xmlBundleKey `xml:"prekeys>preKeyPublic"`
}

type xmlKey struct {
	ID   string `xml:"signedPreKeyId,attr"`
	Data string `xml:",chardata"`
}

type xmlBundleKey struct {
	ID   string `xml:"preKeyId,attr"`
	Data string `xml:",chardata"`
}

// MarshalBundle returns the <bundle/> element of a bundle, byte for byte
// what encoding/xml makes of xmlBundle (a digest of it is kept on disk),
// written directly: it is encoded at every save of the device and every
// publication, and encoding/xml allocates some ten times the element.
// Ids and base64 need no escaping.
func MarshalBundle(b Bundle) ([]byte, error) {
	const perPreKey = len(`<preKeyPublic preKeyId="4294967295"></preKeyPublic>`) + 44
	buf := make([]byte, 0, 512+len(b.SignedPreKeySignature)*4/3+len(b.PreKeys)*perPreKey)
	key := func(k PublicKey) {
		var serialized [1 + len(k)]byte
		serialized[0] = keyTypeDJB
		copy(serialized[1:], k[:])
		buf = base64.StdEncoding.AppendEncode(buf, serialized[:])
	}
	buf = append(buf, `<bundle xmlns="`+Namespace+`"><signedPreKeyPublic signedPreKeyId="`...)
	buf = strconv.AppendUint(buf, uint64(b.SignedPreKeyID), 10)
	buf = append(buf, `">`...)
	key(b.SignedPreKey)
	buf = append(buf, `</signedPreKeyPublic><signedPreKeySignature>`...)
	buf = base64.StdEncoding.AppendEncode(buf, b.SignedPreKeySignature)
	buf = append(buf, `</signedPreKeySignature><identityKey>`...)
	key(b.IdentityKey)
	buf = append(buf, `</identityKey><prekeys>`...)
	for _, pk := range b.PreKeys {
		buf = append(buf, `<preKeyPublic preKeyId="`...)
		buf = strconv.AppendUint(buf, uint64(pk.ID), 10)
		buf = append(buf, `">`...)
		key(pk.Key)
		buf = append(buf, `</preKeyPublic>`...)
	}
	return append(buf, `</prekeys></bundle>`...), nil
}

// UnmarshalBundle reads the <bundle/> element of the device deviceID. It
// does not check the signature: InitiateSession does.
func UnmarshalBundle(deviceID uint32, data []byte) (Bundle, error) {
	var x xmlBundle
	if err := xml.Unmarshal(data, &x); err != nil {
		return Bundle{}, fmt.Errorf("omemo: bundle: %w", err)
	}
	b := Bundle{DeviceID: deviceID}
	var err error
	if b.SignedPreKeyID, err = parseID(x.SignedPreKeyPublic.ID); err != nil {
		return Bundle{}, fmt.Errorf("omemo: bundle: signed pre-key id: %w", err)
	}
	if b.SignedPreKey, err = decodeKey64(x.SignedPreKeyPublic.Data); err != nil {
		return Bundle{}, fmt.Errorf("omemo: bundle: signed pre-key: %w", err)
	}
	if b.SignedPreKeySignature, err = decode64(x.SignedPreKeySignature); err != nil {
		return Bundle{}, fmt.Errorf("omemo: bundle: signature: %w", err)
	}
	if b.IdentityKey, err = decodeKey64(x.IdentityKey); err != nil {
		return Bundle{}, fmt.Errorf("omemo: bundle: identity key: %w", err)
	}
	for _, pk := range x.PreKeys {
		id, err := parseID(pk.ID)
		if err != nil {
			return Bundle{}, fmt.Errorf("omemo: bundle: pre-key id: %w", err)
		}
		key, err := decodeKey64(pk.Data)
		if err != nil {
			return Bundle{}, fmt.Errorf("omemo: bundle: pre-key %d: %w", id, err)
		}
		b.PreKeys = append(b.PreKeys, BundlePreKey{ID: id, Key: key})
	}
	if len(b.PreKeys) == 0 {
		return Bundle{}, fmt.Errorf("omemo: bundle has no pre-keys")
	}
	return b, nil
}

// <encrypted xmlns='eu.siacs.conversations.axolotl'>
//
//	<header sid='…'><key rid='…' prekey='true'>…</key>…<iv>…</iv></header>
//	<payload>…</payload>
//
// </encrypted>
type xmlEncrypted struct {
	XMLName xml.Name  `xml:"eu.siacs.conversations.axolotl encrypted"`
	Header  xmlHeader `xml:"header"`
	Payload *string   `xml:"payload"`
}

type xmlHeader struct {
	SID  string         `xml:"sid,attr"`
	Keys []xmlHeaderKey `xml:"key"`
	IV   string         `xml:"iv"`
}

type xmlHeaderKey struct {
	RID    string `xml:"rid,attr"`
	PreKey string `xml:"prekey,attr,omitempty"`
	Data   string `xml:",chardata"`
}

// MarshalEncrypted returns the <encrypted/> element of a message; without
// a payload it is a key transport element.
func MarshalEncrypted(e Encrypted) ([]byte, error) {
	x := xmlEncrypted{Header: xmlHeader{SID: strconv.FormatUint(uint64(e.SenderDeviceID), 10), IV: encode64(e.IV)}}
	for _, k := range e.Keys {
		hk := xmlHeaderKey{RID: strconv.FormatUint(uint64(k.DeviceID), 10), Data: encode64(k.Data)}
		if k.PreKey {
			hk.PreKey = "true"
		}
		x.Header.Keys = append(x.Header.Keys, hk)
	}
	if len(e.Payload) > 0 {
		p := encode64(e.Payload)
		x.Payload = &p
	}
	return xml.Marshal(x)
}

// UnmarshalEncrypted reads an <encrypted/> element.
func UnmarshalEncrypted(data []byte) (Encrypted, error) {
	var x xmlEncrypted
	if err := xml.Unmarshal(data, &x); err != nil {
		return Encrypted{}, fmt.Errorf("omemo: encrypted message: %w", err)
	}
	var e Encrypted
	var err error
	if e.SenderDeviceID, err = parseDeviceID(x.Header.SID); err != nil {
		return Encrypted{}, fmt.Errorf("omemo: encrypted message: sender: %w", err)
	}
	if e.IV, err = decode64(x.Header.IV); err != nil || len(e.IV) == 0 {
		return Encrypted{}, fmt.Errorf("omemo: encrypted message: missing or invalid IV")
	}
	for _, k := range x.Header.Keys {
		rk := RecipientKey{}
		if rk.DeviceID, err = parseDeviceID(k.RID); err != nil {
			return Encrypted{}, fmt.Errorf("omemo: encrypted message: recipient: %w", err)
		}
		switch strings.TrimSpace(k.PreKey) {
		case "true", "1":
			rk.PreKey = true
		case "", "false", "0":
		default:
			return Encrypted{}, fmt.Errorf("omemo: encrypted message: prekey=%q", k.PreKey)
		}
		if rk.Data, err = decode64(k.Data); err != nil {
			return Encrypted{}, fmt.Errorf("omemo: encrypted message: key for %d: %w", rk.DeviceID, err)
		}
		e.Keys = append(e.Keys, rk)
	}
	if x.Payload != nil {
		if e.Payload, err = decode64(*x.Payload); err != nil {
			return Encrypted{}, fmt.Errorf("omemo: encrypted message: payload: %w", err)
		}
	}
	return e, nil
}

func encode64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// decode64 reads base64 as clients send it, tolerating the line breaks some
// insert.
func decode64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

func decodeKey64(s string) (PublicKey, error) {
	raw, err := decode64(s)
	if err != nil {
		return PublicKey{}, err
	}
	return ParsePublicKey(raw)
}

// parseID reads a pre-key id (0 is allowed: libsignal's ids start there).
func parseID(s string) (uint32, error) {
	id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid id %q", s)
	}
	return uint32(id), nil
}
