package xmpp

import "fmt"

// XEP-0184 message delivery receipts.
const nsReceipts = "urn:xmpp:receipts"

// SendReceipt tells to that its message id was delivered (XEP-0184).
func (s *Session) SendReceipt(to, id string) error {
	if !ValidJID(to) || id == "" {
		return fmt.Errorf("xmpp: invalid receipt to %q", to)
	}
	return s.send(fmt.Sprintf("<message to='%s' id='%s'><received xmlns='%s' id='%s'/></message>",
		escapeAttr(to), newID(), nsReceipts, escapeAttr(id)))
}
