package omemo

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The elements below are XEP-0384 version 0.3's examples, with its
// BASE64ENCODED placeholders filled with real keys and messages.

func TestDeviceListXML(t *testing.T) {
	example := `<list xmlns='eu.siacs.conversations.axolotl'>
          <device id='12345' />
          <device id='4223' />
          <device id='31415' />
        </list>`
	ids, err := UnmarshalDeviceList([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{12345, 4223, 31415}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("device ids %v, want %v", ids, want)
	}
	data, err := MarshalDeviceList(ids)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := UnmarshalDeviceList(data); err != nil || !reflect.DeepEqual(again, ids) {
		t.Fatalf("round trip: %v, %v (%s)", again, err, data)
	}
	if BundleNode(31415) != "eu.siacs.conversations.axolotl.bundles:31415" {
		t.Fatalf("bundle node %q", BundleNode(31415))
	}
	for _, bad := range []string{
		`<list xmlns='eu.siacs.conversations.axolotl'><device id='x'/></list>`,
		`<list xmlns='eu.siacs.conversations.axolotl'><device id='0'/></list>`,
		`<list xmlns='eu.siacs.conversations.axolotl'><device id='4294967296'/></list>`,
		`<list xmlns='urn:xmpp:omemo:2'><device id='1'/></list>`,
		`<list xmlns='eu.siacs.conversations.axolotl'>`,
	} {
		if _, err := UnmarshalDeviceList([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestBundleXML(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	b := bob.Bundle()
	example := fmt.Sprintf(`<bundle xmlns='eu.siacs.conversations.axolotl'>
          <signedPreKeyPublic signedPreKeyId='%d'>
            %s
          </signedPreKeyPublic>
          <signedPreKeySignature>
            %s
          </signedPreKeySignature>
          <identityKey>
            %s
          </identityKey>
          <prekeys>
            <preKeyPublic preKeyId='%d'>
              %s
            </preKeyPublic>
            <preKeyPublic preKeyId='%d'>
              %s
            </preKeyPublic>
          </prekeys>
        </bundle>`, b.SignedPreKeyID, b64(b.SignedPreKey.Serialize()), b64(b.SignedPreKeySignature),
		b64(b.IdentityKey.Serialize()), b.PreKeys[0].ID, b64(b.PreKeys[0].Key.Serialize()),
		b.PreKeys[1].ID, b64(b.PreKeys[1].Key.Serialize()))
	parsed, err := UnmarshalBundle(bob.DeviceID, []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	want := b
	want.PreKeys = b.PreKeys[:2]
	if !reflect.DeepEqual(parsed, want) {
		t.Fatalf("parsed bundle %+v\nwant %+v", parsed, want)
	}
	s, err := InitiateSession(rand.Reader, alice, parsed)
	if err != nil {
		t.Fatal(err)
	}
	msg, _, _ := s.Encrypt([]byte("through the XML bundle"))
	if _, plain, err := bob.DecryptPreKeyMessage(rand.Reader, nil, msg); err != nil || string(plain) != "through the XML bundle" {
		t.Fatalf("%q, %v", plain, err)
	}

	data, err := MarshalBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := UnmarshalBundle(bob.DeviceID, data); err != nil || !reflect.DeepEqual(again, b) {
		t.Fatalf("round trip: %v", err)
	}
	for name, bad := range map[string]string{
		"no pre-keys":   strings.Replace(string(data), "<prekeys>", "<none>", 1),
		"key type":      strings.Replace(example, b64(b.IdentityKey.Serialize()), b64(b.IdentityKey[:]), 1),
		"base64":        strings.Replace(example, b64(b.SignedPreKeySignature), "!!", 1),
		"id":            strings.Replace(example, fmt.Sprintf("preKeyId='%d'", b.PreKeys[0].ID), "preKeyId='one'", 1),
		"not a bundle":  `<list xmlns='eu.siacs.conversations.axolotl'/>`,
		"truncated XML": example[:len(example)/2],
	} {
		if _, err := UnmarshalBundle(1, []byte(bad)); err == nil {
			t.Errorf("bundle with bad %s accepted", name)
		}
	}
}

func TestEncryptedXML(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	s, err := InitiateSession(rand.Reader, alice, bob.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	e, err := Encrypt(rand.Reader, alice.DeviceID, []byte("hello through XML"), []Recipient{{DeviceID: bob.DeviceID, Session: s}})
	if err != nil {
		t.Fatal(err)
	}
	example := fmt.Sprintf(`<encrypted xmlns='eu.siacs.conversations.axolotl'>
    <header sid='%d'>
      <key prekey='true' rid='%d'>%s</key>
      <key rid='12321'>%s</key>
      <!-- ... -->
      <iv>%s</iv>
    </header>
    <payload>%s</payload>
  </encrypted>`, alice.DeviceID, bob.DeviceID, b64(e.Keys[0].Data), b64([]byte("another device")), b64(e.IV), b64(e.Payload))
	parsed, err := UnmarshalEncrypted([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.SenderDeviceID != alice.DeviceID || len(parsed.Keys) != 2 || parsed.Keys[1].PreKey || parsed.Keys[1].DeviceID != 12321 {
		t.Fatalf("parsed %+v", parsed)
	}
	k, ok := parsed.KeyFor(bob.DeviceID)
	if !ok || !k.PreKey {
		t.Fatalf("key for Bob: %+v, %v", k, ok)
	}
	_, keyMaterial, err := bob.DecryptPreKeyMessage(rand.Reader, nil, k.Data)
	if err != nil {
		t.Fatal(err)
	}
	body, err := DecryptPayload(keyMaterial, parsed.IV, parsed.Payload)
	if err != nil || string(body) != "hello through XML" {
		t.Fatalf("%q, %v", body, err)
	}

	data, err := MarshalEncrypted(e)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := UnmarshalEncrypted(data); err != nil || !reflect.DeepEqual(again, e) {
		t.Fatalf("round trip: %+v, %v\n%s", again, err, data)
	}
	keyTransport := e
	keyTransport.Payload = nil
	data, _ = MarshalEncrypted(keyTransport)
	if strings.Contains(string(data), "payload") {
		t.Fatalf("key transport element has a payload: %s", data)
	}
	if again, err := UnmarshalEncrypted(data); err != nil || again.Payload != nil {
		t.Fatalf("key transport: %+v, %v", again, err)
	}
	for name, bad := range map[string]string{
		"sender":  strings.Replace(example, fmt.Sprintf("sid='%d'", alice.DeviceID), "sid=''", 1),
		"IV":      strings.Replace(example, "<iv>"+b64(e.IV)+"</iv>", "", 1),
		"rid":     strings.Replace(example, "rid='12321'", "rid='-1'", 1),
		"prekey":  strings.Replace(example, "prekey='true'", "prekey='maybe'", 1),
		"key":     strings.Replace(example, b64([]byte("another device")), "%%%", 1),
		"payload": strings.Replace(example, b64(e.Payload), "%%%", 1),
	} {
		if _, err := UnmarshalEncrypted([]byte(bad)); err == nil {
			t.Errorf("element with bad %s accepted", name)
		}
	}
}

// MarshalBundle writes what encoding/xml made of the bundle before, byte
// for byte: the digest of the published bundle kept on disk stays valid.
func TestMarshalBundleAsEncodingXML(t *testing.T) {
	full := newDevice(t).Bundle()
	full.SignedPreKeyID = 1<<32 - 1
	full.PreKeys[0].ID = 1<<32 - 1
	empty := full
	empty.PreKeys = nil
	for name, b := range map[string]Bundle{"with pre-keys": full, "without pre-keys": empty} {
		x := xmlBundle{
			SignedPreKeyPublic:    xmlKey{ID: strconv.FormatUint(uint64(b.SignedPreKeyID), 10), Data: encode64(b.SignedPreKey.Serialize())},
			SignedPreKeySignature: encode64(b.SignedPreKeySignature),
			IdentityKey:           encode64(b.IdentityKey.Serialize()),
		}
		for _, pk := range b.PreKeys {
			x.PreKeys = append(x.PreKeys, xmlBundleKey{ID: strconv.FormatUint(uint64(pk.ID), 10), Data: encode64(pk.Key.Serialize())})
		}
		want, err := xml.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MarshalBundle(b)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: MarshalBundle gave %s, %v\nwant %s", name, got, err, want)
		}
	}
}
