package bridge

import "xircd/xmpp"

// XEP-0184 delivery receipts: a contact who asks for one gets it when its
// message reached an IRC client: at once when a client is attached, else
// when the backlog or a catch-up replays it. Only contacts who may see the
// user's presence get receipts: to anyone else a receipt would tell when
// the user is at the keyboard.

// maxReceipts bounds the receipts owed for messages no client has seen.
const maxReceipts = 500

// receipt is a receipt owed: to whom, for which message id.
type receipt struct{ to, id string }

// seesPresence reports whether c may see the user's presence (the
// subscription is "from" or "both"): only then is c told what the user
// read or received.
func (c *contact) seesPresence() bool {
	return c.inRoster && c.sub&subFrom != 0
}

// receiptFor answers m's receipt request, m being shown as msgid from c:
// now when a client saw it, else once one does.
func (b *Bridge) receiptFor(c *contact, m *xmpp.Message, msgid string) {
	if !m.ReceiptRequest || m.Carbon != xmpp.NotCarbon || m.ID == "" || !c.seesPresence() {
		return
	}
	rc := receipt{to: m.From, id: m.ID}
	if len(b.sessions) > 0 && b.only == nil {
		b.sendReceipt(rc)
		return
	}
	b.receipts.put(msgid, rc)
}

// receiptsOwed sends the receipts of the messages kept, which a client is
// about to be shown.
func (b *Bridge) receiptsOwed(kept []shown) {
	for _, k := range kept {
		if rc, ok := b.receipts.get(k.msgid); ok {
			b.receipts.remove(k.msgid)
			b.sendReceipt(rc)
		}
	}
}

func (b *Bridge) sendReceipt(rc receipt) {
	if err := b.x.SendReceipt(rc.to, rc.id); err != nil {
		b.log.Debug("receipt not sent", "to", rc.to, "err", err)
	}
}
