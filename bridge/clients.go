package bridge

import (
	"slices"

	"gopkg.in/irc.v4"
)

// clients are the attached IRC sessions, in the order they attached, and
// the one place that fans a message out to them. Every client is in every
// group chat the clients were shown; each one joins and parts the control
// channel on its own.
type clients []*session

// attach adds s.
func (cs *clients) attach(s *session) { *cs = append(*cs, s) }

// detach removes s.
func (cs *clients) detach(s *session) {
	*cs = slices.DeleteFunc(*cs, func(o *session) bool { return o == s })
}

// send sends m to every client.
func (cs clients) send(m *irc.Message) {
	for _, s := range cs {
		s.send(m)
	}
}

// sendIn sends m to the clients that see ch.
func (cs clients) sendIn(ch channel, m *irc.Message) {
	for _, s := range cs {
		if ch.sees(s) {
			s.send(m)
		}
	}
}

// sendEach sends every client the message build makes for it, for
// messages that carry the client's own nick.
func (cs clients) sendEach(build func(s *session) *irc.Message) {
	for _, s := range cs {
		s.send(build(s))
	}
}

// sendEachIn sends every client that sees ch the message build makes
// for it.
func (cs clients) sendEachIn(ch channel, build func(s *session) *irc.Message) {
	for _, s := range cs {
		if ch.sees(s) {
			s.send(build(s))
		}
	}
}
