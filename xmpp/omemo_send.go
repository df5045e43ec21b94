package xmpp

import (
	"context"
	"errors"
	"fmt"

	"xircd/xmpp/omemo"
)

// Sending OMEMO: a contact's device bundles (to start sessions), device
// lists pushed by PEP (the session advertises DeviceListNode+"+notify",
// so the server sends each contact's list and every change of it), and
// messages carrying an <encrypted/> element (OutMessage.OMEMO).

// omemoDeviceListNotify asks the server for contacts' OMEMO device lists
// and their changes (XEP-0163 filtered notifications).
const omemoDeviceListNotify = omemo.DeviceListNode + "+notify"

// OMEMOFallback is the body of an OMEMO message, for clients that cannot
// decrypt it; Conversations words it so, and other clients recognise it.
const OMEMOFallback = "I sent you an OMEMO encrypted message but your client doesn't seem to support that. Find more information on https://conversations.im/omemo"

// ErrNoOMEMOBundle is the error of an OMEMOBundle answer for a device
// that published no bundle: a device left in a list after its client was
// removed, typically.
var ErrNoOMEMOBundle = errors.New("no OMEMO bundle published")

// OMEMOBundle is the answer to OMEMOBundle: the bundle of JID's device
// DeviceID. Its signature is not checked yet (omemo.InitiateSession
// does).
type OMEMOBundle struct {
	ID       string
	JID      string
	DeviceID uint32
	Bundle   omemo.Bundle
	Err      error
}

func (OMEMOBundle) isEvent() {}

// OMEMOBundle asks for the bundle of jid's OMEMO device ("" for the
// account's own devices). Its answer is an OMEMOBundle; a device without
// one answers ErrNoOMEMOBundle.
func (s *Session) OMEMOBundle(ctx context.Context, jid string, device uint32) (string, error) {
	if jid != "" && !ValidJID(jid) {
		return "", fmt.Errorf("xmpp: invalid JID %q", jid)
	}
	if device == 0 {
		return "", errors.New("xmpp: OMEMO device id 0")
	}
	return s.startRequest(func(c *conn, id string) Event {
		ev := OMEMOBundle{ID: id, JID: jid, DeviceID: device}
		if jid == "" {
			ev.JID = s.bare
		}
		noBundle := fmt.Errorf("%w by %s for device %d", ErrNoOMEMOBundle, ev.JID, device)
		item, err := c.latestPEPItem(ctx, jid, omemo.BundleNode(device))
		if ev.Err = err; err != nil {
			return ev
		}
		if item == nil {
			ev.Err = noBundle
			return ev
		}
		ev.Bundle, ev.Err = omemo.UnmarshalBundle(device, item)
		return ev
	})
}

// omemoDeviceListEvent emits the device list a PEP notification carries
// as an OMEMODeviceList without request id: a contact's (its server sends
// it because the session asked with +notify) or the account's own.
func (c *conn) omemoDeviceListEvent(m *xmlMessage) {
	jid := BareJID(m.From)
	if m.From == "" {
		jid = c.s.bare
	}
	items := m.PubSubEvent.Items.Items
	if len(items) == 0 {
		return // a retraction or purge: the next list tells
	}
	ids, err := omemo.UnmarshalDeviceList(items[len(items)-1].Payload)
	if err != nil {
		c.s.log.Warn("xmpp: ignoring an unreadable OMEMO device list", "from", jid, "err", err)
		return
	}
	c.s.emit(OMEMODeviceList{JID: jid, Devices: ids})
}
