package main

import (
	"cmp"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"xircd/ircd"
	"xircd/xmpp"
)

// metrics are the multi-user mode's counters, served in the Prometheus
// text format on multiuser.metrics_listen.
type metrics struct {
	users            atomic.Int64
	xmppConnections  atomic.Int64
	xmppReconnects   atomic.Uint64
	messagesFromXMPP atomic.Uint64
	messagesToXMPP   atomic.Uint64
	loginsThrottled  atomic.Uint64
}

// handler serves /metrics; srv gives the IRC side's counters.
func (m *metrics) handler(srv func() ircd.Stats) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		st := srv()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		for _, v := range []struct {
			name, kind, help string
			value            any
		}{
			{"xircd_users", "gauge", "Users with a session.", m.users.Load()},
			{"xircd_irc_clients", "gauge", "Registered IRC clients.", st.Clients},
			{"xircd_xmpp_connections", "gauge", "XMPP streams online.", m.xmppConnections.Load()},
			{"xircd_xmpp_reconnects_total", "counter", "XMPP streams established again after a loss.", m.xmppReconnects.Load()},
			{"xircd_messages_from_xmpp_total", "counter", "XMPP messages received.", m.messagesFromXMPP.Load()},
			{"xircd_messages_to_xmpp_total", "counter", "XMPP messages sent.", m.messagesToXMPP.Load()},
			{"xircd_send_queue_drops_total", "counter", "IRC clients dropped because their send queue was full.", st.SendQueueDrops},
			{"xircd_logins_throttled_total", "counter", "Logins refused after too many failures.", m.loginsThrottled.Load()},
		} {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", v.name, v.help, v.name, v.kind, v.name, v.value)
		}
	})
	return mux
}

// userXMPP is a user's XMPP session as their bridge drives it: it counts
// messages and connections for the metrics as the session queues its
// events (observe), and reports the attempts of the first login.
type userXMPP struct {
	*xmpp.Session
	m *metrics
	// attempts gets how each connection attempt ended until the first
	// that connected; sends do not wait. nil once the first login is
	// over (startSession).
	attempts chan loginAttempt
	// Only observe touches these, one event at a time.
	online, connectedBefore bool
}

// loginAttempt is how a connection attempt ended: err nil when it
// connected; else the session tries again in retryIn (0: it does not).
type loginAttempt struct {
	err     error
	retryIn time.Duration
}

// newUserXMPP returns the user's XMPP session to be; its Session is set
// once made with observe as its xmpp.Config.OnEvent.
func newUserXMPP(m *metrics) *userXMPP {
	return &userXMPP{m: m, attempts: make(chan loginAttempt, 8)}
}

// attempted reports an attempt of the first login.
func (x *userXMPP) attempted(a loginAttempt) {
	select {
	case x.attempts <- a:
	default:
	}
}

// observe counts the session's events as they are queued; the failed
// attempts before the first login are not queued: the bridge comes with
// the first login, and only firstLogin needs them. The session's last
// event, a Disconnected, ends its connection.
func (x *userXMPP) observe(ev xmpp.Event) bool {
	switch ev := ev.(type) {
	case xmpp.Connected:
		if !x.connectedBefore {
			x.attempted(loginAttempt{})
		}
		if !x.online {
			x.m.xmppConnections.Add(1)
		}
		if x.connectedBefore {
			x.m.xmppReconnects.Add(1)
		}
		x.online, x.connectedBefore = true, true
	case xmpp.Disconnected:
		if !x.connectedBefore {
			x.attempted(loginAttempt{err: cmp.Or(ev.Err, xmpp.ErrClosed), retryIn: ev.RetryIn})
			return false
		}
		if x.online {
			x.m.xmppConnections.Add(-1)
		}
		x.online = false
	case xmpp.Message:
		x.m.messagesFromXMPP.Add(1)
	}
	return true
}

// SendMessage counts what is sent.
func (x *userXMPP) SendMessage(m xmpp.OutMessage) (string, error) {
	id, err := x.Session.SendMessage(m)
	if err == nil {
		x.m.messagesToXMPP.Add(1)
	}
	return id, err
}
