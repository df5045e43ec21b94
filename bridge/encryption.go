package bridge

import (
	"strings"

	"xircd/xmpp"
)

// readable makes m what the gateway can show: an end-to-end encrypted
// message, which xircd cannot decrypt, says so in place of its body (a
// fallback such as "I sent you an OMEMO encrypted message" would mislead),
// as an action of its sender: "* alice sent an OMEMO-encrypted message, …".
// A retraction keeps no body: it is shown as a deletion (redact.go).
func readable(m *xmpp.Message) {
	switch {
	case m.Retract != nil:
		m.Body = ""
	case m.Encryption != "":
		m.Body = encryptedText(m.Encryption)
	}
}

// showable makes m, a message as received (archived: from an archive
// query), what the gateway shows: decrypted, with its links, readable.
func (b *Bridge) showable(m *xmpp.Message, archived bool) {
	b.decryptOMEMO(m, archived)
	withLinks(m)
	readable(m)
}

// encryptedText is the body shown for a message encrypted with method.
func encryptedText(method string) string { return unreadableText(method, "") }

// unreadableText is the body shown for a message encrypted with method
// that xircd cannot read: why it could not, or "yet" for a method it does
// not decrypt.
func unreadableText(method, why string) string {
	article := "a "
	if method != "" && strings.ContainsRune("AEIOUaeio", rune(method[0])) {
		article = "an "
	}
	reason := "yet"
	if why != "" {
		reason = "(" + oneLine(why) + ")"
	}
	return "/me sent " + article + oneLine(method) + "-encrypted message, which xircd cannot read " + reason + "; read it on another client"
}
