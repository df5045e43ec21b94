package bridge

import (
	"strings"
	"testing"

	"xircd/xmpp"
)

func TestMultiLineBodyIsOneBatchForMultilineClients(t *testing.T) {
	h, multi := online(t, "batch", "draft/multiline", "message-tags")
	plain := h.attach("me")
	plain.take()
	long := strings.Repeat("word ", 120) // two pieces on IRC
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ID: "x1", Body: "first line\n" + long})
	ref := multilineBatchRef("m1")
	got := multi.take()
	const from = ":Alice!alice@example.org "
	if len(got) != 5 ||
		got[0] != "@msgid=m1 "+from+"BATCH +"+ref+" draft/multiline me" ||
		got[1] != "@batch="+ref+" "+from+"PRIVMSG me :first line" ||
		!strings.HasPrefix(got[2], "@batch="+ref+" "+from+"PRIVMSG me :word ") ||
		!strings.HasPrefix(got[3], "@batch="+ref+";draft/multiline-concat "+from+"PRIVMSG me :word ") ||
		got[4] != from+"BATCH -"+ref {
		t.Fatalf("multiline client got:\n\t%s", strings.Join(got, "\n\t"))
	}
	text := strings.SplitN(got[2], " PRIVMSG me :", 2)[1] + strings.SplitN(got[3], " PRIVMSG me :", 2)[1]
	if text != long {
		t.Errorf("the concatenated pieces are %q, want %q", text, long)
	}
	lines := plain.take()
	if len(lines) != 3 || lines[0] != from+"PRIVMSG me :first line" {
		t.Errorf("plain client got:\n\t%s", strings.Join(lines, "\n\t"))
	}

	// One line stays one PRIVMSG for everyone.
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ID: "x2", Body: "just one"})
	multi.expect("@msgid=m2 " + from + "PRIVMSG me :just one")
	plain.expect(from + "PRIVMSG me :just one")
}

func TestMultilineBatchIsOneXMPPMessage(t *testing.T) {
	h, c := online(t, "batch", "draft/multiline", "message-tags", "echo-message", "labeled-response")
	plain := h.attach("me")
	plain.take()
	ref := multilineBatchRef("id1")
	c.write("@label=a BATCH +x draft/multiline Alice",
		"@batch=x PRIVMSG Alice :hello",
		"@batch=x;draft/multiline-concat PRIVMSG Alice : world",
		"@batch=x PRIVMSG Alice :",
		"@batch=x PRIVMSG Alice :\x02bold\x02 end",
		"BATCH -x")
	c.sync()
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="hello world\n\nbold end"`)
	const from = ":me!user@localhost "
	// The echo is the labeled answer to the batch (nested in the
	// labeled-response batch, which is valid for any answer).
	c.expect(
		"@label=a :irc.test BATCH +L1 labeled-response",
		"@batch=L1;msgid=id1 "+from+"BATCH +"+ref+" draft/multiline Alice",
		"@batch="+ref+" "+from+"PRIVMSG Alice :hello world",
		"@batch="+ref+" "+from+"PRIVMSG Alice :",
		"@batch="+ref+" "+from+"PRIVMSG Alice :\x02bold\x02 end",
		"@batch=L1 "+from+"BATCH -"+ref,
		":irc.test BATCH -L1",
	)
	plain.expect(from+"PRIVMSG Alice :hello world", from+"PRIVMSG Alice :\x02bold\x02 end")
}

func TestMultilineBatchToTheServiceRunsEachLine(t *testing.T) {
	h, c := online(t, "batch", "draft/multiline")
	c.send("PRIVMSG xircd :help")
	once := len(c.take())
	c.write("BATCH +x draft/multiline xircd", "@batch=x PRIVMSG xircd :help", "@batch=x PRIVMSG xircd :help", "BATCH -x")
	if got := c.take(); once == 0 || len(got) != 2*once {
		t.Errorf("help answered with %d lines, two helps in a batch with:\n\t%s", once, strings.Join(got, "\n\t"))
	}
	h.expectCalls()
}

func TestMultilineInRooms(t *testing.T) {
	h, c := joinedRoom(t, "batch", "draft/multiline")
	c.take()
	h.x.takeCalls()
	c.write("BATCH +r draft/multiline #room", "@batch=r PRIVMSG #room :one", "@batch=r PRIVMSG #room :two", "BATCH -r")
	c.sync()
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="one\ntwo"`)

	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", StanzaID: "s1", Body: "three\nfour"})
	ref := multilineBatchRef("s1")
	const from = ":bob!room@conference.example.org "
	c.expect(
		from+"BATCH +"+ref+" draft/multiline #room",
		"@batch="+ref+" "+from+"PRIVMSG #room three",
		"@batch="+ref+" "+from+"PRIVMSG #room four",
		from+"BATCH -"+ref,
	)
}
