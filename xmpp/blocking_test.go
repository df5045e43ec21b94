package xmpp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// Blocking against Prosody's mod_blocklist: block, the list, a push when
// another client of the account blocks, unblock.
func TestBlocking(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{ExtraModules: []string{"blocklist"}})
	register(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	ctx := context.Background()
	bob := "bob@" + srv.Domain
	id, err := s.Block(ctx, bob)
	if done := answer[xmpp.RequestDone](t, s, id, err); done.Err != nil || done.Op != "block" {
		t.Fatalf("block: %+v", done)
	}
	id, err = s.GetBlockList(ctx)
	if list := answer[xmpp.BlockList](t, s, id, err); list.Err != nil || !slices.Equal(list.JIDs, []string{bob}) {
		t.Fatalf("block list = %+v, want [%s]", list, bob)
	}
	other := newPeer(t, srv, "alice", "phone")
	other.send(t, "<iq type='get' id='bl'><blocklist xmlns='urn:xmpp:blocking'/></iq>") // marks it a blocking client
	recvPeer(t, other, func(goxmpp.IQ) bool { return true })
	other.send(t, "<iq type='set' id='b2'><block xmlns='urn:xmpp:blocking'><item jid='eve@%s'/></block></iq>", srv.Domain)
	push := waitFor(t, s, func(p xmpp.BlockPush) bool { return p.Blocked })
	if !slices.Equal(push.JIDs, []string{"eve@" + srv.Domain}) {
		t.Errorf("push = %+v, want eve blocked", push)
	}
	id, err = s.Unblock(ctx, bob)
	if done := answer[xmpp.RequestDone](t, s, id, err); done.Err != nil || done.Op != "unblock" {
		t.Fatalf("unblock: %+v", done)
	}
	if _, err := s.Block(ctx, "not a jid"); err == nil {
		t.Error("Block of an invalid JID succeeded")
	}
}

// A server without XEP-0191 refuses the block list with an error.
func TestBlockingUnsupported(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	id, err := s.GetBlockList(context.Background())
	list := answer[xmpp.BlockList](t, s, id, err)
	var se *xmpp.StanzaError
	if list.Err == nil || !errors.As(list.Err, &se) {
		t.Fatalf("block list without mod_blocklist = %+v, want a stanza error", list)
	}
}

// A retraction reaches the contact as XEP-0424 shows it, and a receipt
// as XEP-0184 does; a contact's retraction, receipt request and receipt
// arrive parsed.
func TestRetractionAndReceipts(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")
	if err := s.SendRetraction(bob.jid, "chat", "orig-1"); err != nil {
		t.Fatal(err)
	}
	raw := recvPeer(t, bob, func(c goxmpp.Chat) bool { return strings.Contains(c.Text, "retracted") })
	if !hasElem(raw.OtherElem, "urn:xmpp:message-retract:1", "retract", "orig-1") || !hasElem(raw.OtherElem, "urn:xmpp:fallback:0", "fallback", "") {
		t.Errorf("retraction as bob sees it: %+v", raw.OtherElem)
	}
	if err := s.SendReceipt(bob.jid, "m-7"); err != nil {
		t.Fatal(err)
	}
	recvPeer(t, bob, func(c goxmpp.Chat) bool { return hasElem(c.OtherElem, "urn:xmpp:receipts", "received", "m-7") })
	bob.send(t, "<message to='alice@localhost' type='chat' id='b1'><body>ack me</body><request xmlns='urn:xmpp:receipts'/></message>")
	if m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body == "ack me" }); !m.ReceiptRequest {
		t.Errorf("receipt request not seen: %+v", m)
	}
	bob.send(t, "<message to='alice@localhost' type='chat' id='r9'><retract id='b1' xmlns='urn:xmpp:message-retract:1'/><body>/me retracted</body></message>")
	if m := waitFor(t, s, func(m xmpp.Message) bool { return m.ID == "r9" }); m.Retract == nil || m.Retract.ID != "b1" {
		t.Errorf("retraction = %+v", m)
	}
}

// hasElem reports whether es holds the element space:local with id (""
// for any).
func hasElem(es []goxmpp.XMLElement, space, local, id string) bool {
	for _, e := range es {
		if e.XMLName.Space != space || e.XMLName.Local != local {
			continue
		}
		if id == "" {
			return true
		}
		for _, a := range e.Attr {
			if a.Name.Local == "id" && a.Value == id {
				return true
			}
		}
	}
	return false
}
