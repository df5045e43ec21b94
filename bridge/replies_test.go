package bridge

import (
	"strings"
	"testing"

	"xircd/xmpp"
)

// aliceSays is a chat message from Alice with the ids her client and
// the user's server gave it.
func aliceSays(id, body string) xmpp.Message {
	return xmpp.Message{From: "alice@example.org/phone", Type: "chat", ID: id, OriginID: id, StanzaID: "s-" + id, Body: body}
}

func TestReplyFromXMPP(t *testing.T) {
	h, tagged := online(t, "message-tags")
	plain := h.attach("me")
	plain.take()
	h.event(aliceSays("a1", "first words of a long day"))
	tagged.expect("@msgid=s-a1 :Alice!alice@example.org PRIVMSG me :first words of a long day")
	plain.take()

	// XEP-0461 with its XEP-0428 fallback: tag clients see the text and
	// the reference, plain ones the text after a quote of the original.
	reply := aliceSays("a2", "> Alice wrote:\n> first words\nsure")
	reply.Reply, reply.ReplyText = &xmpp.Reply{To: "alice@example.org/phone", ID: "a1"}, "sure"
	h.event(reply)
	tagged.expect("@+draft/reply=s-a1;msgid=s-a2 :Alice!alice@example.org PRIVMSG me sure")
	plain.expect(
		`:Alice!alice@example.org PRIVMSG me :> Alice: "first words of a long day"`,
		":Alice!alice@example.org PRIVMSG me sure",
	)

	// A reply to a message the gateway does not know: the whole text,
	// the sender's own quote included, without a reference.
	unknown := aliceSays("a3", "> old\nyes")
	unknown.Reply, unknown.ReplyText = &xmpp.Reply{ID: "nope"}, "yes"
	h.event(unknown)
	tagged.expect("@msgid=s-a3 :Alice!alice@example.org PRIVMSG me :> old", "@msgid=s-a3/2 :Alice!alice@example.org PRIVMSG me yes")
	plain.expect(":Alice!alice@example.org PRIVMSG me :> old", ":Alice!alice@example.org PRIVMSG me yes")
}

func TestCorrectionFromXMPP(t *testing.T) {
	h, tagged := online(t, "message-tags")
	plain := h.attach("me")
	plain.take()
	h.event(avail("bob@example.org/pc", "", "", 0))
	h.event(aliceSays("a1", "helo"))
	tagged.take()
	plain.take()

	fix := aliceSays("a2", "hello")
	fix.Replace = "a1"
	h.event(fix)
	tagged.expect("@+draft/reply=s-a1;msgid=s-a2 :Alice!alice@example.org PRIVMSG me :(corrected) hello")
	plain.expect(":Alice!alice@example.org PRIVMSG me :(corrected) hello")

	// Replies quote the corrected text.
	reply := aliceSays("a3", "ok")
	reply.Reply, reply.ReplyText = &xmpp.Reply{ID: "a1"}, "ok"
	h.event(reply)
	plain.expect(`:Alice!alice@example.org PRIVMSG me :> Alice: "hello"`, ":Alice!alice@example.org PRIVMSG me ok")
	tagged.take()

	// Only the sender corrects a message (XEP-0308): Alice's correction
	// of the user's message is an ordinary message.
	tagged.send("PRIVMSG Alice :my words")
	plain.take()
	forged := aliceSays("a5", "forged")
	forged.Replace = "id1"
	h.event(forged)
	tagged.expect("@msgid=s-a5 :Alice!alice@example.org PRIVMSG me forged")
	plain.expect(":Alice!alice@example.org PRIVMSG me forged")

	// A correction of an unknown message: marked, without a reference.
	lost := aliceSays("a4", "again")
	lost.Replace = "zz"
	h.event(lost)
	tagged.expect("@msgid=s-a4 :Alice!alice@example.org PRIVMSG me :(corrected) again")
}

func TestReactionsFromXMPP(t *testing.T) {
	h, tagged := online(t, "message-tags")
	plain := h.attach("me")
	plain.take()
	h.event(aliceSays("a1", "party?"))
	tagged.take()
	plain.take()

	react := func(id string, emojis ...string) xmpp.Message {
		return xmpp.Message{From: "alice@example.org/phone", Type: "chat", ID: id, StanzaID: "s-" + id, Reactions: &xmpp.Reactions{ID: "a1", Emojis: emojis}}
	}
	h.event(react("r1", "👍"))
	tagged.expect("@+draft/react=👍;+draft/reply=s-a1;msgid=s-r1 :Alice!alice@example.org TAGMSG me")
	plain.expect(`:Alice!alice@example.org NOTICE me :Alice reacted 👍 to Alice's message "party?"`)

	// The full set each time: only the change is shown.
	h.event(react("r2", "👍", "🎉"))
	tagged.expect("@+draft/react=🎉;+draft/reply=s-a1;msgid=s-r2 :Alice!alice@example.org TAGMSG me")
	plain.expect(`:Alice!alice@example.org NOTICE me :Alice reacted 🎉 to Alice's message "party?"`)
	h.event(react("r3", "👍", "🎉"))
	tagged.expect()
	h.event(react("r4"))
	tagged.expect(
		"@+draft/reply=s-a1;+draft/unreact=👍;msgid=s-r4 :Alice!alice@example.org TAGMSG me",
		"@+draft/reply=s-a1;+draft/unreact=🎉;msgid=s-r4/2 :Alice!alice@example.org TAGMSG me",
	)
	plain.expect(`:Alice!alice@example.org NOTICE me :Alice removed 👍 🎉 from Alice's message "party?"`)

	// To a message the gateway does not know: the readable line for all.
	unknown := react("r5", "❤")
	unknown.Reactions.ID = "gone"
	h.event(unknown)
	tagged.expect("@msgid=s-r5 :Alice!alice@example.org NOTICE me :Alice reacted ❤ to an earlier message")
}

func TestReplyAndReactionFromIRC(t *testing.T) {
	h, c := online(t, "message-tags", "echo-message")
	other := h.attach("me", "message-tags")
	other.take()
	h.event(aliceSays("a1", "lunch at noon?"))
	c.take()
	other.take()
	h.x.takeCalls()

	c.send("@+draft/reply=s-a1 PRIVMSG Alice :yes")
	h.expectCalls(`message id=id1 to=alice@example.org/phone type=chat state= body="yes" reply=alice@example.org/a1 quote="> Alice: \"lunch at noon?\"\n"`)
	c.take()
	// The unprefixed tag is taken too; the user's own message is
	// replied to with the user's JID.
	c.send("@+reply=id1 PRIVMSG Alice :and soup")
	h.expectCalls(`message id=id2 to=alice@example.org/phone type=chat state= body="and soup" reply=me@example.org/id1 quote="> me: \"yes\"\n"`)
	c.take()

	// In a chat, the reference is the stanza's id, even when its
	// origin-id differs (XEP-0461).
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ID: "a9", OriginID: "o9", StanzaID: "s9", Body: "ids differ"})
	c.take()
	c.send("@+draft/reply=s9 PRIVMSG Alice :ok")
	h.expectCalls(`message id=id3 to=alice@example.org/phone type=chat state= body="ok" reply=alice@example.org/a9 quote="> Alice: \"ids differ\"\n"`)
	c.take()

	c.send("@+draft/reply=nope PRIVMSG Alice :what?")
	c.expect(":irc.test FAIL PRIVMSG UNKNOWN_MSGID Alice nope :No such message here (it may be too old): nothing was sent")
	h.expectCalls()

	c.send("@+draft/react=👍;+draft/reply=s-a1 TAGMSG Alice")
	h.expectCalls(`message id=id5 to=alice@example.org/phone type=chat state= body="" reactions=a1["👍"]`)
	c.take()
	// The user's other clients see the reply and the reaction too.
	other.expectContains("@+draft/reply=s-a1;msgid=id1 :me!user@localhost PRIVMSG Alice yes", "@+draft/react=👍;+draft/reply=s-a1;msgid=id5 :me!user@localhost TAGMSG Alice")
	c.send("@+draft/react=🍜;+draft/reply=s-a1 TAGMSG Alice")
	h.expectCalls(`message id=id6 to=alice@example.org/phone type=chat state= body="" reactions=a1["👍" "🍜"]`)
	c.take()
	c.send("@+draft/unreact=👍;+draft/reply=s-a1 TAGMSG Alice")
	h.expectCalls(`message id=id7 to=alice@example.org/phone type=chat state= body="" reactions=a1["🍜"]`)
	c.take()

	c.send("@+draft/react=👍;+draft/reply=nope TAGMSG Alice")
	c.expect(":irc.test FAIL TAGMSG UNKNOWN_MSGID Alice nope :No such message here (it may be too old): nothing was sent")
	c.send("@+draft/react=👍 TAGMSG Alice")
	c.expect(":irc.test FAIL TAGMSG INVALID_PARAMS Alice :A reaction needs +draft/reply naming the message")
	h.expectCalls()
}

func TestSedCorrectionFromIRC(t *testing.T) {
	h := newHarness(t, Config{SedCorrections: true})
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	h.event(aliceSays("a1", "when?"))
	c := h.attach("me", "echo-message", "message-tags")
	c.take()
	c.send("PRIVMSG Alice :see you tomorow, tomorow")
	h.x.takeCalls()
	c.take()

	c.send("PRIVMSG Alice :s/tomorow/tomorrow/")
	h.expectCalls(`message id=id2 to=alice@example.org/phone type=chat state= body="see you tomorrow, tomorow" replace=id1`)
	c.expect("@+draft/reply=id1;msgid=id2 :me!user@localhost PRIVMSG Alice :(corrected) see you tomorrow, tomorow")
	// A further correction applies to the corrected text and still
	// names the original (XEP-0308).
	c.send("PRIVMSG Alice :s/tomorow/tomorrow/g")
	h.expectCalls(`message id=id3 to=alice@example.org/phone type=chat state= body="see you tomorrow, tomorrow" replace=id1`)
	c.take()

	// A substitution that does not apply is text, like any other.
	c.send("PRIVMSG Alice :s/nothere/x/")
	h.expectCalls(`message id=id4 to=alice@example.org/phone type=chat state= body="s/nothere/x/"`)
	c.take()
	c.send("PRIVMSG xircd :set sed_corrections off")
	c.take()
	c.send("PRIVMSG Alice :s/x/y/")
	h.expectCalls(`message id=id5 to=alice@example.org/phone type=chat state= body="s/x/y/"`)
}

func TestParseSubstitution(t *testing.T) {
	for _, tc := range []struct {
		in             string
		old, repl      string
		global, wantOK bool
	}{
		{"s/a/b/", "a", "b", false, true},
		{"s/a b/c d/g", "a b", "c d", true, true},
		{"s/a//", "a", "", false, true},
		{"s//b/", "", "", false, false},
		{"s/a/b", "", "", false, false},
		{"s/a/b/x", "", "", false, false},
		{"s/a/b/c/", "", "", false, false},
		{"hello", "", "", false, false},
	} {
		old, repl, global, ok := parseSubstitution(tc.in)
		if ok != tc.wantOK || ok && (old != tc.old || repl != tc.repl || global != tc.global) {
			t.Errorf("parseSubstitution(%q) = %q %q %v %v", tc.in, old, repl, global, ok)
		}
	}
}

func TestRoomRepliesAndReactions(t *testing.T) {
	h, c := joinedRoom(t, "message-tags", "echo-message")
	c.take()
	h.x.takeCalls()
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", ID: "b1", StanzaID: "rs1", Body: "who is in?"})
	c.take()

	reply := xmpp.Message{From: roomJID + "/alice", Type: "groupchat", ID: "x", StanzaID: "rs2", Body: "> bob: who\nme", ReplyText: "me", Reply: &xmpp.Reply{To: roomJID + "/bob", ID: "rs1"}}
	h.event(reply)
	c.expect("@+draft/reply=rs1;msgid=rs2 :Alice!alice@example.org PRIVMSG #room me")
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", ID: "b2", StanzaID: "rs3", Reactions: &xmpp.Reactions{ID: "rs2", Emojis: []string{"👍"}}})
	c.expect("@+draft/react=👍;+draft/reply=rs2;msgid=rs3 :bob!room@conference.example.org TAGMSG #room")

	// Only its sender corrects a message: bob's correction of alice's
	// is an ordinary message; alice's own is one.
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", ID: "b3", StanzaID: "rs6", Body: "forged", Replace: "x"})
	c.expect("@msgid=rs6 :bob!room@conference.example.org PRIVMSG #room forged")
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", ID: "x2", StanzaID: "rs7", Body: "me!", Replace: "x"})
	c.expect("@+draft/reply=rs2;msgid=rs7 :Alice!alice@example.org PRIVMSG #room :(corrected) me!")

	// From IRC: the room's stanza-id, as groupchat.
	c.send("@+draft/reply=rs1 PRIVMSG #room :count me in")
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="count me in" reply=room@conference.example.org/bob/rs1 quote="> bob: \"who is in?\"\n"`)
	c.take()
	c.send("@+draft/react=🎉;+draft/reply=rs2 TAGMSG #room")
	h.expectCalls(`message id=id2 to=room@conference.example.org type=groupchat state= body="" reactions=rs2["🎉"]`)
	c.take()
	// Its reflection is not shown again.
	h.event(xmpp.Message{From: roomJID + "/me", Type: "groupchat", ID: "id2", OriginID: "id2", StanzaID: "rs4", Reactions: &xmpp.Reactions{ID: "rs2", Emojis: []string{"🎉"}}})
	c.expect()

	// The user's own message is referred to by the stanza-id its
	// reflection reveals; before that it cannot be.
	c.send("PRIVMSG #room :helo all")
	h.x.takeCalls()
	c.take()
	c.send("@+draft/react=👋;+draft/reply=id3 TAGMSG #room")
	c.expect(":irc.test FAIL TAGMSG UNKNOWN_MSGID #room id3 :No such message here (it may be too old): nothing was sent")
	h.event(xmpp.Message{From: roomJID + "/me", Type: "groupchat", ID: "id3", OriginID: "id3", StanzaID: "rs5", Body: "helo all"})
	c.send("@+draft/react=👋;+draft/reply=id3 TAGMSG #room")
	h.expectCalls(`message id=id5 to=room@conference.example.org type=groupchat state= body="" reactions=rs5["👋"]`)
	c.take()
	c.send("PRIVMSG xircd :set sed_corrections on")
	c.take()
	c.send("PRIVMSG #room :s/helo/hello/")
	h.expectCalls(`message id=id6 to=room@conference.example.org type=groupchat state= body="hello all" replace=id3`)
}

// A huge body is kept only as far as it is quoted; replies to it quote
// its start.
func TestHugeBodyKeptBounded(t *testing.T) {
	h, c := online(t)
	huge := strings.Repeat("ab ", 100000)
	h.event(aliceSays("a1", huge))
	c.take()
	if k := h.b.msgs.byXMPP("alice@example.org", "a1"); k == nil || len(k.text()) > maxKnownText {
		t.Fatalf("kept %d bytes of a %d-byte body", len(k.text()), len(huge))
	}
	reply := aliceSays("a2", "> …\nwow")
	reply.Reply, reply.ReplyText = &xmpp.Reply{ID: "a1"}, "wow"
	h.event(reply)
	c.expect(`:Alice!alice@example.org PRIVMSG me :> Alice: "ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab …"`, ":Alice!alice@example.org PRIVMSG me wow")
}

// A reaction is no reply in the sense of XEP-0085: it does not tell that
// the contact's client takes no chat states.
func TestReactionKeepsChatStates(t *testing.T) {
	h, c := online(t)
	typing := aliceSays("a1", "hi")
	typing.ChatState = "active"
	h.event(typing)
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ID: "r1", Reactions: &xmpp.Reactions{ID: "a1", Emojis: []string{"👍"}}})
	c.take()
	h.x.takeCalls()
	c.send("PRIVMSG Alice :ok")
	h.expectCalls(`message id=id1 to=alice@example.org/phone type=chat state=active body="ok"`)
}
