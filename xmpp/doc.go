// Package xmpp is the XMPP client session of the gateway: it connects, keeps
// the stream alive, reconnects, and turns stanzas into typed events and typed
// requests into stanzas. It is the only package that imports go-xmpp and it
// knows nothing of IRC.
package xmpp
