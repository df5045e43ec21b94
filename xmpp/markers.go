package xmpp

import (
	"context"
	"fmt"
	"strings"

	"xircd/xmpp/omemo"
)

// Read state: XEP-0490 Message Displayed Synchronization (the account's
// PEP node of displayed markers, one item per chat) and XEP-0333 chat
// markers (the <displayed/> a contact who asked for it gets).
const (
	nsMDS          = "urn:xmpp:mds:displayed:0"
	nsChatMarkers  = "urn:xmpp:chat-markers:0"
	nsPubSubEvent  = "http://jabber.org/protocol/pubsub#event"
	nsPubSubOption = "http://jabber.org/protocol/pubsub#publish-options"
)

// Displayed is the account's displayed marker of one chat (XEP-0490): as
// a PEP notification (ID is "") or one entry of a DisplayedList.
type Displayed struct {
	ID       string // the request it answers; "" for a notification
	Chat     string // the chat's JID: a contact's or room's bare JID
	StanzaID string // stanza-id of the last displayed message
	By       string // who gave the stanza-id: the account, or the room
}

// DisplayedList is the answer to DisplayedMarkers: every chat's marker.
type DisplayedList struct {
	ID      string
	Markers []Displayed
	Err     error
}

func (Displayed) isEvent()     {}
func (DisplayedList) isEvent() {}

type xmlDisplayedItem struct {
	ID string `xml:"id,attr"`
	// Payload is the item's content as it came, for the other nodes
	// (OMEMO device lists).
	Payload   []byte `xml:",innerxml"`
	Displayed *struct {
		StanzaID xmlSID `xml:"urn:xmpp:sid:0 stanza-id"`
	} `xml:"urn:xmpp:mds:displayed:0 displayed"`
}

func (it xmlDisplayedItem) toDisplayed() (Displayed, bool) {
	if it.Displayed == nil || it.Displayed.StanzaID.ID == "" || !ValidJID(it.ID) {
		return Displayed{}, false
	}
	return Displayed{Chat: it.ID, StanzaID: it.Displayed.StanzaID.ID, By: it.Displayed.StanzaID.By}, true
}

type xmlPubSubEvent struct {
	Items struct {
		Node  string             `xml:"node,attr"`
		Items []xmlDisplayedItem `xml:"item"`
	} `xml:"items"`
}

// pepEvent emits the displayed markers of a PEP notification, or the
// OMEMO device list it carries; it reports whether m was a PEP
// notification. Only the account itself may send markers: anyone else
// could move the user's read state.
func (c *conn) pepEvent(m *xmlMessage) bool {
	if m.PubSubEvent == nil {
		return false
	}
	if m.PubSubEvent.Items.Node == omemo.DeviceListNode {
		c.omemoDeviceListEvent(m)
		return true
	}
	if m.From != "" && !strings.EqualFold(m.From, c.s.bare) {
		c.s.log.Warn("xmpp: ignoring a PEP notification from a foreign sender", "from", m.From)
		return true
	}
	if m.PubSubEvent.Items.Node != nsMDS {
		return true
	}
	for _, it := range m.PubSubEvent.Items.Items {
		if d, ok := it.toDisplayed(); ok {
			c.s.emit(d)
		}
	}
	return true
}

// DisplayedMarkers asks for the account's displayed markers of every chat
// (XEP-0490). Its answer is a DisplayedList; a server without the node
// answers an empty list.
func (s *Session) DisplayedMarkers(ctx context.Context) (string, error) {
	return s.startRequest(func(c *conn, id string) Event {
		res, err := c.iq(ctx, "", "get", "<pubsub xmlns='"+nsPubSub+"'><items node='"+nsMDS+"'/></pubsub>")
		list := DisplayedList{ID: id}
		if err == nil && res.Err != nil && res.Err.Condition == "item-not-found" {
			return list // nothing was ever published
		}
		if list.Err = iqError(res, err); list.Err != nil {
			return list
		}
		var r struct {
			Items []xmlDisplayedItem `xml:"http://jabber.org/protocol/pubsub pubsub>items>item"`
		}
		if list.Err = unmarshalInner(res.Payload, &r); list.Err != nil {
			return list
		}
		for _, it := range r.Items {
			if d, ok := it.toDisplayed(); ok {
				list.Markers = append(list.Markers, d)
			}
		}
		return list
	})
}

// PublishDisplayed publishes the displayed marker of a chat (XEP-0490):
// chat is the contact's or room's bare JID, stanzaID the stanza-id given
// by `by` (the account for chats, the room for group chats) of the last
// message displayed. The node is private (whitelist) and keeps one item
// per chat, as the XEP requires. Its answer is a
// RequestDone{Op: "publish-displayed"}.
func (s *Session) PublishDisplayed(ctx context.Context, chat, stanzaID, by string) (string, error) {
	if !ValidJID(chat) || stanzaID == "" || !ValidJID(by) {
		return "", fmt.Errorf("xmpp: invalid displayed marker for %q", chat)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<pubsub xmlns='%s'><publish node='%s'><item id='%s'>", nsPubSub, nsMDS, escapeAttr(chat))
	fmt.Fprintf(&b, "<displayed xmlns='%s'><stanza-id xmlns='%s' id='%s' by='%s'/></displayed></item></publish>",
		nsMDS, nsSID, escapeAttr(stanzaID), escapeAttr(by))
	fmt.Fprintf(&b, "<publish-options><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE' type='hidden'><value>%s</value></field>"+
		"<field var='pubsub#persist_items'><value>true</value></field>"+
		"<field var='pubsub#max_items'><value>max</value></field>"+
		"<field var='pubsub#send_last_published_item'><value>never</value></field>"+
		"<field var='pubsub#access_model'><value>whitelist</value></field>"+
		"</x></publish-options></pubsub>", nsPubSubOption)
	return s.requestDone(ctx, "publish-displayed", "", "set", b.String())
}

// SendDisplayed tells a contact that the user has displayed its messages
// up to the one with the given id (XEP-0333 chat marker).
func (s *Session) SendDisplayed(to, id string) error {
	if !ValidJID(to) || id == "" {
		return fmt.Errorf("xmpp: invalid chat marker to %q", to)
	}
	return s.send(fmt.Sprintf("<message to='%s' type='chat' id='%s'><displayed xmlns='%s' id='%s'/><store xmlns='urn:xmpp:hints'/></message>",
		escapeAttr(to), newID(), nsChatMarkers, escapeAttr(id)))
}
