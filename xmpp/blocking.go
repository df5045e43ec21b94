package xmpp

import (
	"context"
	"fmt"
	"strings"
)

// XEP-0191 blocking: the account's block list on its server.
const nsBlocking = "urn:xmpp:blocking"

// BlockList is the answer to GetBlockList: the JIDs the account blocks.
type BlockList struct {
	ID   string
	JIDs []string
	Err  error
}

// BlockPush is a change of the block list made elsewhere (another client
// of the account), pushed by the server: Blocked tells whether JIDs were
// blocked or unblocked; an unblock without JIDs unblocked everyone.
type BlockPush struct {
	Blocked bool
	JIDs    []string
}

func (BlockList) isEvent() {}
func (BlockPush) isEvent() {}

type xmlBlockItems struct {
	Items []struct {
		JID string `xml:"jid,attr"`
	} `xml:"item"`
}

func (x xmlBlockItems) jids() []string {
	var out []string
	for _, it := range x.Items {
		if ValidJID(it.JID) {
			out = append(out, it.JID)
		}
	}
	return out
}

// GetBlockList asks the server for the account's block list. Its answer is
// a BlockList; a server without XEP-0191 answers with an error
// (service-unavailable or feature-not-implemented).
func (s *Session) GetBlockList(ctx context.Context) (string, error) {
	return s.startRequest(func(c *conn, id string) Event {
		res, err := c.iq(ctx, "", "get", "<blocklist xmlns='"+nsBlocking+"'/>")
		list := BlockList{ID: id}
		if list.Err = iqError(res, err); list.Err != nil {
			return list
		}
		var r struct {
			List xmlBlockItems `xml:"urn:xmpp:blocking blocklist"`
		}
		if list.Err = unmarshalInner(res.Payload, &r); list.Err == nil {
			list.JIDs = r.List.jids()
		}
		return list
	})
}

// Block blocks jid, Unblock unblocks it (XEP-0191). Their answer is a
// RequestDone{Op: "block"} or {Op: "unblock"}.
func (s *Session) Block(ctx context.Context, jid string) (string, error) {
	return s.blocking(ctx, "block", jid)
}

// Unblock: see Block.
func (s *Session) Unblock(ctx context.Context, jid string) (string, error) {
	return s.blocking(ctx, "unblock", jid)
}

func (s *Session) blocking(ctx context.Context, op, jid string) (string, error) {
	if !ValidJID(jid) {
		return "", fmt.Errorf("xmpp: invalid JID %q", jid)
	}
	return s.requestDone(ctx, op, "", "set",
		fmt.Sprintf("<%s xmlns='%s'><item jid='%s'/></%s>", op, nsBlocking, escapeAttr(jid), op))
}

// blockPush handles a block or unblock push from the account's server; it
// reports whether iq was one.
func (c *conn) blockPush(iq *xmlIQ) bool {
	name := iq.payloadName()
	if iq.Type != "set" || name.Space != nsBlocking || (name.Local != "block" && name.Local != "unblock") {
		return false
	}
	if !c.fromAccount(iq.From) {
		c.s.log.Warn("xmpp: block list push from a foreign sender refused", "from", iq.From)
		c.replyError(iq, "cancel", "service-unavailable")
		return true
	}
	var r xmlBlockItems
	if err := unmarshalInner([]byte(strings.TrimSpace(string(iq.Any[0].Inner))), &r); err != nil {
		c.replyError(iq, "modify", "bad-request")
		return true
	}
	c.reply(iq, "")
	c.s.emit(BlockPush{Blocked: name.Local == "block", JIDs: r.jids()})
	return true
}
