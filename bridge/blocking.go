package bridge

import (
	"context"
	"errors"
	"strings"

	"xircd/xmpp"
)

// Blocking (XEP-0191): the control commands block, unblock and blocklist
// change and show the block list the user's XMPP server keeps; a change
// made by another client of the account is announced.

func (b *Bridge) cmdBlock(out func(string), args []string)   { b.blocking(out, "block", args[0]) }
func (b *Bridge) cmdUnblock(out func(string), args []string) { b.blocking(out, "unblock", args[0]) }

// blocking asks the server to block or unblock the contact or JID ref.
func (b *Bridge) blocking(out func(string), op, ref string) {
	if !b.connected {
		out("XMPP is not connected; try again once it is.")
		return
	}
	jid := ref
	if c := b.contactByRef(ref); c != nil {
		jid = c.jid()
	} else if !xmpp.ValidJID(ref) {
		out("No contact or JID \"" + ref + "\".")
		return
	}
	err := b.startRequest(request{kind: requestBlock, what: op + " " + jid}, func(ctx context.Context) (string, error) {
		if op == "block" {
			return b.x.Block(ctx, jid)
		}
		return b.x.Unblock(ctx, jid)
	})
	if err != nil {
		out("Could not " + op + " " + jid + ": " + oneLine(err.Error()))
	}
}

func (b *Bridge) cmdBlocklist(out func(string), args []string) {
	if !b.connected {
		out("XMPP is not connected; try again once it is.")
		return
	}
	if err := b.startRequest(request{kind: requestBlockList}, b.x.GetBlockList); err != nil {
		out("Could not fetch the block list: " + oneLine(err.Error()))
	}
}

// blockingRefusal says why the server refused a blocking request.
func blockingRefusal(err error) string {
	var se *xmpp.StanzaError
	if errors.As(err, &se) && (se.Condition == "service-unavailable" || se.Condition == "feature-not-implemented") {
		return "your XMPP server does not support blocking (XEP-0191)"
	}
	return oneLine(err.Error())
}

// onBlocked announces the outcome of block or unblock (r.what: "block JID").
func (b *Bridge) onBlocked(r request, err error) {
	op, jid, _ := strings.Cut(r.what, " ")
	if err != nil {
		b.announce("Could not "+op+" "+jid+": "+blockingRefusal(err)+".", true)
		return
	}
	b.announce(map[string]string{"block": "Blocked ", "unblock": "Unblocked "}[op]+jid+".", true)
}

func (b *Bridge) onBlockList(ev xmpp.BlockList) {
	if _, ok := b.answered(ev.ID); !ok {
		return
	}
	switch {
	case ev.Err != nil:
		b.announce("Could not fetch the block list: "+blockingRefusal(ev.Err)+".", true)
	case len(ev.JIDs) == 0:
		b.announce("Nobody is blocked.", true)
	default:
		b.announce("Blocked: "+oneLine(strings.Join(ev.JIDs, ", "))+".", true)
	}
}

// onBlockPush announces a change of the block list made elsewhere.
func (b *Bridge) onBlockPush(ev xmpp.BlockPush) {
	switch {
	case ev.Blocked:
		b.announce("Another client of yours blocked "+oneLine(strings.Join(ev.JIDs, ", "))+".", true)
	case len(ev.JIDs) == 0:
		b.announce("Another client of yours unblocked everyone.", true)
	default:
		b.announce("Another client of yours unblocked "+oneLine(strings.Join(ev.JIDs, ", "))+".", true)
	}
}
