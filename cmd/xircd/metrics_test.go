package main

import (
	"errors"
	"testing"
	"time"

	"xircd/xmpp"
)

// A user's session's events, as the session queues them, make the
// metrics and the first login's attempts; the attempts before the first
// login do not reach the bridge.
func TestUserXMPPObserve(t *testing.T) {
	refused := errors.New("timed out")
	steps := []struct {
		ev          xmpp.Event
		kept        bool
		attempt     *loginAttempt // reported to firstLogin
		connections int64
		reconnects  uint64
		messages    uint64
	}{
		{ev: xmpp.Disconnected{Err: refused, RetryIn: time.Second}, attempt: &loginAttempt{err: refused, retryIn: time.Second}},
		{ev: xmpp.Connected{JID: "me@example.org/x"}, kept: true, attempt: &loginAttempt{}, connections: 1},
		{ev: xmpp.Roster{}, kept: true, connections: 1},
		{ev: xmpp.Message{Body: "hi"}, kept: true, connections: 1, messages: 1},
		{ev: xmpp.Disconnected{Err: refused, RetryIn: time.Second}, kept: true, messages: 1},
		{ev: xmpp.Disconnected{Err: refused, RetryIn: 2 * time.Second}, kept: true, messages: 1},
		{ev: xmpp.Connected{JID: "me@example.org/x", Resumed: true}, kept: true, connections: 1, reconnects: 1, messages: 1},
		{ev: xmpp.Message{Body: "again"}, kept: true, connections: 1, reconnects: 1, messages: 2},
		{ev: xmpp.Disconnected{}, kept: true, reconnects: 1, messages: 2}, // the session's end
	}
	m := &metrics{}
	x := newUserXMPP(m)
	for i, st := range steps {
		if kept := x.observe(st.ev); kept != st.kept {
			t.Errorf("step %d, %T: kept %v, want %v", i, st.ev, kept, st.kept)
		}
		select {
		case a := <-x.attempts:
			if st.attempt == nil || a != *st.attempt {
				t.Errorf("step %d, %T: attempt %+v reported, want %+v", i, st.ev, a, st.attempt)
			}
		default:
			if st.attempt != nil {
				t.Errorf("step %d, %T: no attempt reported, want %+v", i, st.ev, *st.attempt)
			}
		}
		if got := m.xmppConnections.Load(); got != st.connections {
			t.Errorf("step %d, %T: %d connections, want %d", i, st.ev, got, st.connections)
		}
		if got := m.xmppReconnects.Load(); got != st.reconnects {
			t.Errorf("step %d, %T: %d reconnects, want %d", i, st.ev, got, st.reconnects)
		}
		if got := m.messagesFromXMPP.Load(); got != st.messages {
			t.Errorf("step %d, %T: %d messages from XMPP, want %d", i, st.ev, got, st.messages)
		}
	}
}

// A first login that never connects ends with the session's close, which
// firstLogin hears of; no connection was counted.
func TestUserXMPPObserveClosedBeforeLogin(t *testing.T) {
	m := &metrics{}
	x := newUserXMPP(m)
	if x.observe(xmpp.Disconnected{}) {
		t.Error("the end of a session that never connected reaches the bridge, which does not exist")
	}
	if a := <-x.attempts; !errors.Is(a.err, xmpp.ErrClosed) || a.retryIn != 0 {
		t.Errorf("attempt %+v, want ErrClosed and no retry", a)
	}
	if n := m.xmppConnections.Load(); n != 0 {
		t.Errorf("%d connections", n)
	}
}
