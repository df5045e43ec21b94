package xmpp

import (
	"math"
	"testing"
)

func msgItem(body string) outItem {
	return outItem{text: "<message/>", msg: &OutMessage{Body: body}}
}

func bodiesOf(items []outItem) []string {
	var out []string
	for _, it := range items {
		if it.msg != nil {
			out = append(out, it.msg.Body)
		} else {
			out = append(out, it.text)
		}
	}
	return out
}

func TestSentLog(t *testing.T) {
	t.Run("without stream management only messages are kept, a ping confirms them", func(t *testing.T) {
		var l sentLog
		l.wrote(outItem{text: "<presence/>"})
		l.wrote(msgItem("a"))
		l.wrote(outItem{text: "<a/>", nonza: true})
		l.wrote(msgItem("b"))
		mark, need := l.needProof(true)
		if !need || mark != 2 {
			t.Fatalf("needProof = %d, %v; want 2, true", mark, need)
		}
		if _, need := l.needProof(true); need {
			t.Error("asked again with nothing new")
		}
		l.wrote(msgItem("c"))
		l.ack(mark)
		if got := bodiesOf(l.restart()); len(got) != 1 || got[0] != "c" {
			t.Errorf("unconfirmed after the ping's answer = %q, want [c]", got)
		}
	})
	t.Run("with stream management every stanza counts and h acknowledges", func(t *testing.T) {
		var l sentLog
		l.startSM()
		for _, it := range []outItem{{text: "<iq/>"}, msgItem("a"), {text: "<r/>", nonza: true}, {text: "<presence/>"}, msgItem("b")} {
			l.wrote(it)
		}
		if _, need := l.needProof(false); need {
			t.Error("asked for an ack after 4 stanzas without the timer")
		}
		l.ack(2)
		l.ack(1) // old news
		l.ack(9) // more than we sent: ignored
		if got := bodiesOf(l.resume(3)); len(got) != 1 || got[0] != "b" {
			t.Errorf("to send again after resuming at h=3: %q, want [b]", got)
		}
		l.wrote(msgItem("c"))
		if got := bodiesOf(l.restart()); len(got) != 1 || got[0] != "c" {
			t.Errorf("to send again on a fresh login: %q, want [c]", got)
		}
	})
	t.Run("a log whose every item is confirmed keeps no array", func(t *testing.T) {
		var l sentLog
		l.startSM()
		for range 3 {
			l.wrote(outItem{text: "<presence/>"})
		}
		l.ack(2)
		if cap(l.unacked) == 0 {
			t.Fatal("the unconfirmed item was dropped")
		}
		l.ack(3)
		if cap(l.unacked) != 0 {
			t.Errorf("all confirmed, the log still holds an array of %d items", cap(l.unacked))
		}
	})
	t.Run("ackEvery stanzas ask without the timer", func(t *testing.T) {
		var l sentLog
		l.startSM()
		for range ackEvery {
			l.wrote(outItem{text: "<presence/>"})
		}
		if mark, need := l.needProof(false); !need || mark != ackEvery {
			t.Errorf("needProof = %d, %v; want %d, true", mark, need, ackEvery)
		}
	})
	t.Run("h wraps around at 2^32", func(t *testing.T) {
		var l sentLog
		l.startSM()
		l.resume(math.MaxUint32 - 1)
		l.wrote(msgItem("a"))
		l.wrote(msgItem("b"))
		l.wrote(msgItem("c"))
		l.ack(0) // MaxUint32-1 + 2
		if got := bodiesOf(l.resume(0)); len(got) != 1 || got[0] != "c" {
			t.Errorf("after h wrapped to 0: %q, want [c]", got)
		}
	})
	t.Run("refused stream management keeps the messages", func(t *testing.T) {
		var l sentLog
		l.startSM()
		l.wrote(outItem{text: "<iq/>"})
		l.wrote(msgItem("a"))
		l.stopSM()
		if l.managed() {
			t.Error("still managed")
		}
		mark, need := l.needProof(true)
		if !need || mark != 1 {
			t.Fatalf("needProof = %d, %v; want 1, true", mark, need)
		}
		l.ack(mark)
		if got := l.restart(); len(got) != 0 {
			t.Errorf("left after the confirmation: %q", bodiesOf(got))
		}
	})
}
