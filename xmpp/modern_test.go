package xmpp

import "testing"

// Retractions (XEP-0424 :1 and the older :0), moderations (XEP-0425),
// encrypted payloads and receipts are parsed as the XEPs' examples show.
func TestModernMessageParsing(t *testing.T) {
	tests := []struct {
		name       string
		xml        string
		retract    *Retraction
		encryption string
		request    bool
		receipt    string
	}{
		{name: "retraction",
			xml: `<message type='chat' to='lord@capulet.example' id='retract-message-1'>
  <retract id='origin-id-1' xmlns='urn:xmpp:message-retract:1'/>
  <fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>
  <body>/me retracted a previous message, but it's unsupported by your client.</body>
  <store xmlns="urn:xmpp:hints"/></message>`,
			retract: &Retraction{ID: "origin-id-1"}},
		{name: "retraction :0",
			xml: `<message type='chat' to='lord@capulet.example' id='retract-message-1'>
  <apply-to id="origin-id-1" xmlns="urn:xmpp:fasten:0"><retract xmlns='urn:xmpp:message-retract:0'/></apply-to>
  <body>/me retracted a previous message, but it's unsupported by your client.</body></message>`,
			retract: &Retraction{ID: "origin-id-1"}},
		{name: "moderation",
			xml: `<message type='groupchat' from='room@muc.example' id='retraction-id-1'>
  <retract id='stanza-id-1' xmlns='urn:xmpp:message-retract:1'>
    <moderated by='room@muc.example/macbeth' xmlns='urn:xmpp:message-moderate:1'>
      <occupant-id xmlns="urn:xmpp:occupant-id:0" id="dd72603deec90a38ba552f7c68cbcc61bca202cd" />
    </moderated>
    <reason>This message contains inappropriate content for this forum</reason>
  </retract></message>`,
			retract: &Retraction{ID: "stanza-id-1", Moderated: true, By: "room@muc.example/macbeth", Reason: "This message contains inappropriate content for this forum"}},
		{name: "moderation :0",
			xml: `<message type='groupchat' from='room@muc.example' id='retraction-id-1'>
  <apply-to id="stanza-id-1" xmlns="urn:xmpp:fasten:0">
    <moderated by='room@muc.example/macbeth' xmlns='urn:xmpp:message-moderate:0'>
      <retract xmlns='urn:xmpp:message-retract:0' /><reason>spam</reason></moderated></apply-to></message>`,
			retract: &Retraction{ID: "stanza-id-1", Moderated: true, By: "room@muc.example/macbeth", Reason: "spam"}},
		{name: "apply-to without retraction", xml: `<message><apply-to id="x" xmlns="urn:xmpp:fasten:0"><other xmlns='urn:example'/></apply-to><body>hi</body></message>`},
		{name: "omemo",
			xml: `<message to='juliet@capulet.lit' type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'><iv>BASE64</iv></header><payload>BASE64</payload></encrypted>
  <encryption xmlns='urn:xmpp:eme:0' namespace='eu.siacs.conversations.axolotl' name='OMEMO'/>
  <body>I sent you an OMEMO encrypted message but your client doesn't seem to support that.</body><store xmlns='urn:xmpp:hints'/></message>`,
			encryption: "OMEMO"},
		{name: "omemo 2 without body", xml: `<message type='chat'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/><payload>x</payload></encrypted></message>`, encryption: "OMEMO"},
		{name: "openpgp", xml: `<message type='chat'><openpgp xmlns='urn:xmpp:openpgp:0'>BASE64</openpgp><body>This message is encrypted.</body></message>`, encryption: "OpenPGP"},
		{name: "legacy openpgp", xml: `<message type='chat'><body>This message is encrypted.</body><x xmlns='jabber:x:encrypted'>qANQR1DBwU4DX7jmYZnncm...</x></message>`, encryption: "legacy OpenPGP"},
		{name: "eme by name", xml: `<message type='chat'><encryption xmlns='urn:xmpp:eme:0' namespace='urn:example:new' name='NewCrypt'/><body>?</body></message>`, encryption: "NewCrypt"},
		{name: "eme by namespace", xml: `<message type='chat'><encryption xmlns='urn:xmpp:eme:0' namespace='urn:example:new'/><body>?</body></message>`, encryption: "urn:example:new"},
		{name: "receipt request", xml: `<message type='chat' id='richard2-4.1.247'><body>My lord, dispatch; read o'er these articles.</body><request xmlns='urn:xmpp:receipts'/></message>`, request: true},
		{name: "receipt", xml: `<message id='bi29sg183b4v'><received xmlns='urn:xmpp:receipts' id='richard2-4.1.247'/></message>`, receipt: "richard2-4.1.247"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeMessage(t, tt.xml).toMessage("me@example", nil)
			switch {
			case (m.Retract == nil) != (tt.retract == nil):
				t.Errorf("retraction = %+v, want %+v", m.Retract, tt.retract)
			case m.Retract != nil && *m.Retract != *tt.retract:
				t.Errorf("retraction = %+v, want %+v", *m.Retract, *tt.retract)
			}
			if m.Encryption != tt.encryption || m.ReceiptRequest != tt.request || m.ReceiptFor != tt.receipt {
				t.Errorf("encryption, request, receipt = %q %v %q, want %q %v %q",
					m.Encryption, m.ReceiptRequest, m.ReceiptFor, tt.encryption, tt.request, tt.receipt)
			}
		})
	}
}
