// Package omemo implements the cryptography of OMEMO as current clients
// interoperate on it: XEP-0384 version 0.3, namespace
// eu.siacs.conversations.axolotl, which is the Signal protocol (version 3)
// under an XMPP encoding. It holds no sockets and knows no XMPP session.
//
// What it implements:
//
//   - Keys (Device): a Curve25519 identity key, a signed pre-key whose
//     XEdDSA signature covers the serialized public key (0x05 and 32
//     bytes), PreKeyCount one-time pre-keys, a device id and a registration
//     id; kept in a JSON store file of mode 0600 (MarshalDevice,
//     UnmarshalDevice, and UnmarshalDeviceOf to read it again).
//     RotateSignedPreKey replaces the signed pre-key and keeps the replaced
//     ones for SignedPreKeyGrace (bounded in number), so that a pre-key
//     message built on a bundle fetched before a rotation still decrypts.
//   - X3DH as libsignal does it: 32 0xFF bytes before the agreements, HKDF
//     info "WhisperText"; the initiator starts from a Bundle
//     (InitiateSession), the responder from a PreKeyWhisperMessage
//     (Device.DecryptPreKeyMessage).
//   - The Double Ratchet (Session): root steps with HKDF info
//     "WhisperRatchet", chain keys by HMAC-SHA256 with 0x01 and 0x02,
//     message keys with "WhisperMessageKeys" (AES-256-CBC key, HMAC key, IV),
//     keys of skipped messages bounded, state marshalled as JSON. A message
//     that fails to decrypt leaves the session unchanged.
//   - The wire format: WhisperMessage and PreKeyWhisperMessage as libsignal's
//     protobuf, encoded and decoded by hand, with the version byte 0x33 and
//     the 8-byte MAC over both identity keys and the message.
//   - The OMEMO payload (Encrypt, DecryptPayload): the body is encrypted once
//     with AES-128-GCM and the key and tag (32 bytes) go to each recipient
//     device through its session.
//   - The XML of the device list, the bundle and the <encrypted/> element
//     (MarshalDeviceList, MarshalBundle, MarshalEncrypted and their
//     Unmarshal counterparts) and the PEP node names.
//
// What it leaves to the caller:
//
//   - Trust. InitiateSession checks only that a bundle's signed pre-key is
//     signed by the bundle's identity key; Session.RemoteIdentity is the key
//     a session was made with. Whether that key is trusted (blind trust on
//     first use, or only after the user compared fingerprints) is the
//     caller's decision, made before encrypting to a device and before
//     showing what it sent.
//   - Publishing and fetching (PEP), putting elements into stanzas, and
//     the <store/> hint and fallback body an encrypted message carries.
//   - Storage of sessions (one per peer device), saving the Device after a
//     pre-key message consumed a one-time pre-key (and whether its pre-keys
//     stay in memory meanwhile: only a pre-key message that starts a
//     session needs them, ContinuesSession tells), republishing the bundle
//     (RefillPreKeys), and when to rotate the signed pre-key
//     (Device.RotationDue, every SignedPreKeyRotation). A pre-key message
//     naming a signed pre-key deleted after its grace period fails with
//     ErrUnknownSignedPreKey.
//
// Randomness comes from the io.Reader each function takes (crypto/rand.Reader
// in production).
package omemo
