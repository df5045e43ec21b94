package omemo

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Signal wire format, version 3: a version byte (current version in the
// high nibble, current in the low), a protobuf message, and for a
// WhisperMessage an 8-byte truncated HMAC-SHA256.
const (
	messageVersion     = 3
	versionByte        = messageVersion<<4 | messageVersion
	macLength          = 8
	maxWireMessageSize = 64 << 10
)

var errTruncated = errors.New("omemo: message truncated")

// whisperMessage is libsignal's WhisperMessage (SignalMessage):
//
//	bytes  ratchetKey      = 1;
//	uint32 counter         = 2;
//	uint32 previousCounter = 3;
//	bytes  ciphertext      = 4;
type whisperMessage struct {
	ratchetKey      PublicKey
	counter         uint32
	previousCounter uint32
	ciphertext      []byte
}

// preKeyWhisperMessage is libsignal's PreKeyWhisperMessage:
//
//	uint32 preKeyId       = 1;
//	bytes  baseKey        = 2;
//	bytes  identityKey    = 3;
//	bytes  message        = 4; // a serialized WhisperMessage
//	uint32 registrationId = 5;
//	uint32 signedPreKeyId = 6;
type preKeyWhisperMessage struct {
	registrationID uint32
	hasPreKeyID    bool
	preKeyID       uint32
	signedPreKeyID uint32
	baseKey        PublicKey
	identityKey    PublicKey
	message        []byte
}

func appendVarint(b []byte, field int, v uint32) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3)
	return binary.AppendUvarint(b, uint64(v))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// encode returns the version byte and the protobuf body, without the MAC.
func (m whisperMessage) encode() []byte {
	b := []byte{versionByte}
	b = appendBytes(b, 1, m.ratchetKey.Serialize())
	b = appendVarint(b, 2, m.counter)
	b = appendVarint(b, 3, m.previousCounter)
	return appendBytes(b, 4, m.ciphertext)
}

func (m preKeyWhisperMessage) encode() []byte {
	b := []byte{versionByte}
	b = appendVarint(b, 5, m.registrationID)
	if m.hasPreKeyID {
		b = appendVarint(b, 1, m.preKeyID)
	}
	b = appendVarint(b, 6, m.signedPreKeyID)
	b = appendBytes(b, 2, m.baseKey.Serialize())
	b = appendBytes(b, 3, m.identityKey.Serialize())
	return appendBytes(b, 4, m.message)
}

// protoField is one decoded protobuf field: a varint or a byte string.
type protoField struct {
	num    int
	varint uint64
	bytes  []byte
	isLen  bool
}

// parseProto splits a protobuf message into fields, checking every length
// against the input. Fixed-width fields are skipped; groups are refused.
func parseProto(b []byte, visit func(protoField) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		f := protoField{num: int(key >> 3)}
		if f.num == 0 || key>>3 > 1<<29 {
			return fmt.Errorf("omemo: invalid protobuf field number")
		}
		switch key & 7 {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b, f.varint = b[n:], v
		case 1:
			if len(b) < 8 {
				return errTruncated
			}
			b = b[8:]
			continue
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errTruncated
			}
			f.bytes, f.isLen = b[n:n+int(l)], true
			b = b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errTruncated
			}
			b = b[4:]
			continue
		default:
			return fmt.Errorf("omemo: unsupported protobuf wire type %d", key&7)
		}
		if err := visit(f); err != nil {
			return err
		}
	}
	return nil
}

func (f protoField) uint32() (uint32, error) {
	if f.isLen || f.varint > 1<<32-1 {
		return 0, fmt.Errorf("omemo: protobuf field %d: want a 32-bit integer", f.num)
	}
	return uint32(f.varint), nil
}

func (f protoField) key() (PublicKey, error) {
	if !f.isLen {
		return PublicKey{}, fmt.Errorf("omemo: protobuf field %d: want a key", f.num)
	}
	return ParsePublicKey(f.bytes)
}

func checkVersion(b []byte) error {
	if len(b) == 0 {
		return errTruncated
	}
	if b[0]>>4 != messageVersion {
		return fmt.Errorf("omemo: unsupported message version %d", b[0]>>4)
	}
	if len(b) > maxWireMessageSize {
		return fmt.Errorf("omemo: message of %d bytes too large", len(b))
	}
	return nil
}

// decodeWhisperMessage splits a serialized WhisperMessage into its fields,
// the bytes the MAC covers, and the MAC. It does not check the MAC.
func decodeWhisperMessage(b []byte) (m whisperMessage, macced, mac []byte, err error) {
	if err := checkVersion(b); err != nil {
		return m, nil, nil, err
	}
	if len(b) < 1+macLength {
		return m, nil, nil, errTruncated
	}
	macced, mac = b[:len(b)-macLength], b[len(b)-macLength:]
	var seen [5]bool
	err = parseProto(macced[1:], func(f protoField) error {
		var err error
		switch f.num {
		case 1:
			m.ratchetKey, err = f.key()
		case 2:
			m.counter, err = f.uint32()
		case 3:
			m.previousCounter, err = f.uint32()
		case 4:
			if !f.isLen {
				return fmt.Errorf("omemo: ciphertext is not a byte string")
			}
			m.ciphertext = f.bytes
		default:
			return nil
		}
		seen[f.num] = true
		return err
	})
	if err != nil {
		return m, nil, nil, err
	}
	if !seen[1] || !seen[2] || !seen[4] {
		return m, nil, nil, fmt.Errorf("omemo: WhisperMessage lacks a required field")
	}
	return m, macced, mac, nil
}

func decodePreKeyWhisperMessage(b []byte) (m preKeyWhisperMessage, err error) {
	if err := checkVersion(b); err != nil {
		return m, err
	}
	var seen [7]bool
	err = parseProto(b[1:], func(f protoField) error {
		var err error
		switch f.num {
		case 1:
			m.preKeyID, err = f.uint32()
			m.hasPreKeyID = true
		case 2:
			m.baseKey, err = f.key()
		case 3:
			m.identityKey, err = f.key()
		case 4:
			if !f.isLen {
				return fmt.Errorf("omemo: inner message is not a byte string")
			}
			m.message = f.bytes
		case 5:
			m.registrationID, err = f.uint32()
		case 6:
			m.signedPreKeyID, err = f.uint32()
		default:
			return nil
		}
		seen[f.num] = true
		return err
	})
	if err != nil {
		return m, err
	}
	if !seen[2] || !seen[3] || !seen[4] || !seen[6] {
		return m, fmt.Errorf("omemo: PreKeyWhisperMessage lacks a required field")
	}
	return m, nil
}
