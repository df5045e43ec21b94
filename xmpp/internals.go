package xmpp

import (
	"encoding/xml"
	"errors"
	"net"
	"reflect"
	"unsafe"

	goxmpp "github.com/xmppo/go-xmpp"
)

// streamOf returns the connection and XML decoder of a logged-in go-xmpp
// client. go-xmpp does the hard part of connecting (StartTLS or direct TLS,
// SASL SCRAM, resource binding) well, but its Recv drops what a gateway
// needs: the id and error of messages, presence priority, entity caps and
// MUC status codes. So after login the session reads stanzas itself from
// the same decoder (which may already hold buffered input) and writes to
// the same connection. The field names are checked here and by a unit
// test, so a go-xmpp upgrade that changes them fails loudly instead of misbehaving.
func streamOf(c *goxmpp.Client) (net.Conn, *xml.Decoder, error) {
	v := reflect.ValueOf(c).Elem()
	fc, fp := v.FieldByName("conn"), v.FieldByName("p")
	if !fc.IsValid() || fc.Type() != reflect.TypeFor[net.Conn]() ||
		!fp.IsValid() || fp.Type() != reflect.TypeFor[*xml.Decoder]() {
		return nil, nil, errors.New("xmpp: unsupported go-xmpp version (client internals changed)")
	}
	conn := *(*net.Conn)(unsafe.Pointer(fc.UnsafeAddr()))
	dec := *(**xml.Decoder)(unsafe.Pointer(fp.UnsafeAddr()))
	if conn == nil || dec == nil {
		return nil, nil, errors.New("xmpp: go-xmpp client has no stream")
	}
	return conn, dec, nil
}
