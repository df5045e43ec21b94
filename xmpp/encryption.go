package xmpp

import "strings"

// End-to-end encrypted messages the session cannot read: OMEMO (both the
// namespace current clients interoperate on and OMEMO 2), OpenPGP for
// XMPP (XEP-0373), legacy OpenPGP (XEP-0027), and whatever a XEP-0380
// <encryption/> element names. Their body, when there is one, is only a
// fallback that says nothing of what was sent.
const nsEME = "urn:xmpp:eme:0"

// encryptionNames are the encryption methods known by their payload's (or
// a XEP-0380 element's) namespace.
var encryptionNames = map[string]string{
	"eu.siacs.conversations.axolotl": "OMEMO",
	"urn:xmpp:omemo:1":               "OMEMO",
	"urn:xmpp:omemo:2":               "OMEMO",
	"urn:xmpp:openpgp:0":             "OpenPGP",
	"jabber:x:encrypted":             "legacy OpenPGP",
	"urn:xmpp:otr:0":                 "OTR",
}

type xmlEME struct {
	Namespace string `xml:"namespace,attr"`
	Name      string `xml:"name,attr"`
}

// encryption names the method m is encrypted with, "" when it is not.
func (m *xmlMessage) encryption() string {
	if e := m.EME; e != nil {
		if name, ok := encryptionNames[e.Namespace]; ok {
			return name
		}
		if name := CleanText(strings.TrimSpace(e.Name)); name != "" {
			return name
		}
		if ns := CleanText(strings.TrimSpace(e.Namespace)); ns != "" {
			return ns
		}
		return "an unknown method"
	}
	if m.OMEMO != nil {
		return "OMEMO"
	}
	for _, o := range m.Other {
		if name, ok := encryptionNames[o.XMLName.Space]; ok && (o.XMLName.Local == "encrypted" || o.XMLName.Local == "openpgp" || o.XMLName.Local == "x") {
			return name
		}
	}
	return ""
}
