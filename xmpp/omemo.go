package xmpp

import (
	"context"
	"fmt"

	"xircd/xmpp/omemo"
)

// OMEMO's PEP nodes (XEP-0384 version 0.3, the namespace current clients
// interoperate on): the account's device list and each device's bundle,
// published in the item "current" and readable by anyone (access model
// open), as clients publish them so that contacts can start sessions.
// The keys themselves are package omemo's.

type xmlInner struct {
	Inner []byte `xml:",innerxml"`
}

// omemoElement is the message's OMEMO 0.3 <encrypted/> element, nil when
// there is none. Its children are in its namespace (the stanza's prefixes,
// which clients do not use there, are not kept).
func (m *xmlMessage) omemoElement() []byte {
	if m.OMEMO == nil {
		return nil
	}
	return []byte("<encrypted xmlns='" + omemo.Namespace + "'>" + string(m.OMEMO.Inner) + "</encrypted>")
}

// OMEMODeviceList is the answer to OMEMODevices: the device ids of the
// account JID. An account that never published one has none.
type OMEMODeviceList struct {
	ID      string
	JID     string
	Devices []uint32
	Err     error
}

func (OMEMODeviceList) isEvent() {}

// OMEMODevices asks for the OMEMO device list of jid ("" for the
// account). Its answer is an OMEMODeviceList.
func (s *Session) OMEMODevices(ctx context.Context, jid string) (string, error) {
	if jid != "" && !ValidJID(jid) {
		return "", fmt.Errorf("xmpp: invalid JID %q", jid)
	}
	return s.startRequest(func(c *conn, id string) Event {
		list := OMEMODeviceList{ID: id, JID: jid}
		if jid == "" {
			list.JID = s.bare
		}
		item, err := c.latestPEPItem(ctx, jid, omemo.DeviceListNode)
		if list.Err = err; err != nil || item == nil {
			return list // an account that never published a list has none
		}
		list.Devices, list.Err = omemo.UnmarshalDeviceList(item)
		return list
	})
}

// PublishOMEMODevices publishes the account's OMEMO device list: every
// device of the account, the caller's own among them (it replaces the
// list, so the caller merges what it fetched). Answer: RequestDone{Op:
// "publish-omemo-devicelist"}.
func (s *Session) PublishOMEMODevices(ctx context.Context, ids []uint32) (string, error) {
	list, err := omemo.MarshalDeviceList(ids)
	if err != nil {
		return "", err
	}
	return s.publishOpen(ctx, "publish-omemo-devicelist", omemo.DeviceListNode, list)
}

// PublishOMEMOBundle publishes a device's bundle in its node. Answer:
// RequestDone{Op: "publish-omemo-bundle"}.
func (s *Session) PublishOMEMOBundle(ctx context.Context, b omemo.Bundle) (string, error) {
	bundle, err := omemo.MarshalBundle(b)
	if err != nil {
		return "", err
	}
	return s.publishOpen(ctx, "publish-omemo-bundle", omemo.BundleNode(b.DeviceID), bundle)
}

// publishOpen publishes payload as the item "current" of the account's
// PEP node, readable by anyone (access model open, as clients publish
// OMEMO nodes). A node another client configured otherwise refuses it,
// and the refusal is the answer's error.
func (s *Session) publishOpen(ctx context.Context, op, node string, payload []byte) (string, error) {
	return s.requestDone(ctx, op, "", "set", "<pubsub xmlns='"+nsPubSub+"'>"+
		"<publish node='"+escapeAttr(node)+"'><item id='current'>"+string(payload)+"</item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE' type='hidden'><value>"+nsPubSubOption+"</value></field>"+
		"<field var='pubsub#access_model'><value>open</value></field>"+
		"</x></publish-options></pubsub>")
}

// latestPEPItem fetches the newest item of jid's PEP node ("" for the
// account's own): nil when the node does not exist or has no item.
func (c *conn) latestPEPItem(ctx context.Context, jid, node string) ([]byte, error) {
	res, err := c.iq(ctx, jid, "get", "<pubsub xmlns='"+nsPubSub+"'><items node='"+escapeAttr(node)+"' max_items='1'/></pubsub>")
	if err == nil && res.Err != nil && res.Err.Condition == "item-not-found" {
		return nil, nil
	}
	if err := iqError(res, err); err != nil {
		return nil, err
	}
	var r struct {
		Items []struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"http://jabber.org/protocol/pubsub pubsub>items>item"`
	}
	if err := unmarshalInner(res.Payload, &r); err != nil || len(r.Items) == 0 {
		return nil, err
	}
	return r.Items[len(r.Items)-1].Inner, nil
}
