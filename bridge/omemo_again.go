package bridge

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"xircd/xmpp/omemo"
)

// OMEMO messages met again. A message xircd decrypted comes back: in the
// archive (catch-up, CHATHISTORY), in a room's history after a rejoin, as
// an offline copy. Its message key is used up (the ratchet deletes it), so
// it cannot be decrypted twice. xircd keeps the text of the messages it
// decrypted, in memory only (never on disk: plaintext must not outlive the
// process), bounded by maxOMEMOKept and maxOMEMOKeptBytes, and finds them
// by a digest of their ciphertext, which is the same wherever the message
// comes back (ids are not: a room's history may carry none, an offline
// copy no archive id). What it no longer keeps is told as read live and
// not kept. A copy that comes live and undelayed is a replay: refused
// with a notice.

// Bounds of the decrypted texts kept for messages met again.
const (
	maxOMEMOKept      = 500
	maxOMEMOKeptBytes = 256 << 10
)

// omemoKept is the text of recently decrypted OMEMO messages, by
// omemoDigest, oldest first out.
type omemoKept struct {
	texts map[string]string
	order []string
	bytes int
}

// put keeps text for digest, forgetting the oldest texts beyond the
// bounds. A text larger than all of them is not kept.
func (k *omemoKept) put(digest, text string) {
	if k.texts == nil {
		k.texts = map[string]string{}
	}
	if _, ok := k.texts[digest]; ok || len(text) > maxOMEMOKeptBytes {
		return
	}
	for len(k.order) > 0 && (len(k.order) >= maxOMEMOKept || k.bytes+len(text) > maxOMEMOKeptBytes) {
		k.bytes -= len(k.texts[k.order[0]])
		delete(k.texts, k.order[0])
		k.order = k.order[1:]
	}
	k.texts[digest] = text
	k.order = append(k.order, digest)
	k.bytes += len(text)
}

func (k *omemoKept) get(digest string) (string, bool) {
	text, ok := k.texts[digest]
	return text, ok
}

// omemoDigest identifies the message e that from sent, with k the key for
// xircd's device: every part that makes it (a different payload under the
// same key is another message).
func omemoDigest(from string, e omemo.Encrypted, k omemo.RecipientKey) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(from), binary.BigEndian.AppendUint32(nil, e.SenderDeviceID), e.IV, e.Payload, k.Data} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(part))))
		h.Write(part)
	}
	return string(h.Sum(nil))
}

// keepSent keeps the text of e, which xircd's device encrypted for others
// and own (the account's bare JID) sent: OMEMO gives the sender no key to
// decrypt it again from the archive.
func (st *omemoState) keepSent(own string, e omemo.Encrypted, text string) {
	st.kept.put(omemoDigest(own, e, omemo.RecipientKey{}), text)
}

// errSentNotKept: a message xircd's device sent, whose text it no longer
// keeps.
var errSentNotKept = errors.New("sent by xircd's device, text not kept")

// sentAgain is a message xircd's own device sent, met again (in the
// archive): its kept text, as keepSent kept it.
func (st *omemoState) sentAgain(from omemoFrom, e omemo.Encrypted) (decrypted, error) {
	if text, ok := st.kept.get(omemoDigest(from.speaker, e, omemo.RecipientKey{})); ok {
		return decrypted{text: text, known: true}, nil
	}
	return decrypted{}, errSentNotKept
}

// Bodies of OMEMO messages met again that xircd does not show as text.
const (
	// omemoReplayText: the same ciphertext again, live: a replay.
	omemoReplayText = "/me sent an OMEMO-encrypted message xircd had already received: a replay, not shown again"
	// omemoNotKeptText: in history, a message decrypted earlier whose
	// text xircd no longer keeps.
	omemoNotKeptText = "/me sent an OMEMO-encrypted message (read live on this device, not kept: xircd does not store decrypted text)"
	// omemoSentNotKeptText: in history, a message xircd's own device
	// encrypted, whose text it no longer keeps.
	omemoSentNotKeptText = "/me sent an OMEMO-encrypted message from this device (not kept: xircd does not store decrypted text, and OMEMO gives the sender no key to read it again)"
)
