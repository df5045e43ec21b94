package xmpp

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// scriptedServer is the server end of a net.Pipe, driven by a test
// script: it reads the client's elements and writes canned answers.
type scriptedServer struct {
	t    *testing.T
	conn net.Conn
	dec  *xml.Decoder
}

// newScripted returns a session whose connection is a pipe to a scripted
// server run by script in its own goroutine.
func newScripted(t *testing.T, script func(*scriptedServer)) *Session {
	t.Helper()
	return newScriptedWith(t, Config{}, script)
}

// newScriptedWith is newScripted with cfg's timeouts.
func newScriptedWith(t *testing.T, cfg Config, script func(*scriptedServer)) *Session {
	t.Helper()
	cfg.JID, cfg.Password, cfg.Server, cfg.TLS, cfg.ConnectTimeout = "alice@example.org", "pw", "127.0.0.1", TLSPlain, 5*time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			script(&scriptedServer{t: t, conn: server})
		}()
		return client, nil
	}
	return s
}

func (ss *scriptedServer) write(s string) {
	ss.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(ss.conn, s)
}

// open reads the client's stream header and answers with features.
func (ss *scriptedServer) open(features string) {
	ss.dec = xml.NewDecoder(ss.conn)
	for {
		tok, err := ss.dec.Token()
		if err != nil {
			return // the client hung up: its error is what the test checks
		}
		if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "stream" {
			break
		}
	}
	ss.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='s1' version='1.0'>")
	ss.write("<stream:features>" + features + "</stream:features>")
}

// next returns the client's next element, decoded as a generic element.
func (ss *scriptedServer) next() *xmlAny {
	ss.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		tok, err := ss.dec.Token()
		if err != nil {
			return nil
		}
		if st, ok := tok.(xml.StartElement); ok {
			var el xmlAny
			if err := ss.dec.DecodeElement(&el, &st); err != nil {
				return nil
			}
			return &el
		}
	}
}

const (
	plainOnly = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
	bindOnly  = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
)

// login plays the server through PLAIN and a stream restart up to the
// bind request, which it returns.
func (ss *scriptedServer) login(afterAuth string) *xmlAny {
	ss.open(plainOnly)
	if el := ss.next(); el == nil || el.XMLName.Local != "auth" {
		return nil
	}
	ss.write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	ss.open(afterAuth)
	return ss.next()
}

func idOf(el *xmlAny) string {
	for _, a := range el.Attrs {
		if a.Name.Local == "id" {
			return a.Value
		}
	}
	return ""
}

func checkErr(t *testing.T, s *Session, stage string, is error, says string) {
	t.Helper()
	err := s.Check(context.Background())
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage != stage {
		t.Fatalf("Check = %v, want a ConnectError at stage %q", err, stage)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("Check = %v, want it to wrap %v", err, is)
	}
	if !strings.Contains(err.Error(), says) {
		t.Errorf("Check = %v, want it to say %q", err, says)
	}
}

func TestNegotiationNoCommonMechanism(t *testing.T) {
	s := newScripted(t, func(ss *scriptedServer) {
		ss.open("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>DIGEST-MD5</mechanism><mechanism>X-OAUTH2</mechanism></mechanisms>")
		ss.next()
	})
	checkErr(t, s, "stream", nil, "no common SASL mechanism")
}

func TestNegotiationSASLFailure(t *testing.T) {
	s := newScripted(t, func(ss *scriptedServer) {
		ss.open(plainOnly)
		ss.next()
		ss.write("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>Unable to authorize you</text></failure>")
		ss.next()
	})
	checkErr(t, s, "auth", ErrAuth, "not-authorized")
}

func TestNegotiationSASLAbortedIsNotAuth(t *testing.T) {
	s := newScripted(t, func(ss *scriptedServer) {
		ss.open(plainOnly)
		ss.next()
		ss.write("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><temporary-auth-failure/></failure>")
		ss.next()
	})
	err := s.Check(context.Background())
	if err == nil || errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "temporary-auth-failure") {
		t.Fatalf("Check = %v, want temporary-auth-failure, not ErrAuth", err)
	}
}

func TestNegotiationBindError(t *testing.T) {
	s := newScripted(t, func(ss *scriptedServer) {
		bind := ss.login(bindOnly)
		ss.write("<iq type='error' id='" + idOf(bind) + "'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
		ss.next()
	})
	checkErr(t, s, "stream", nil, "not-allowed")
}

func TestNegotiationMalformedXML(t *testing.T) {
	s := newScripted(t, func(ss *scriptedServer) {
		ss.open(plainOnly)
		ss.next()
		ss.write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></failure>")
		ss.next()
	})
	checkErr(t, s, "auth", nil, "")
}

func TestNegotiationStreamErrorDuringLogin(t *testing.T) {
	s := newScripted(t, func(ss *scriptedServer) {
		ss.open(plainOnly)
		ss.next()
		ss.write("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
	})
	checkErr(t, s, "auth", nil, "host-unknown")
}

func TestNegotiationStartTLSRequiredButMissing(t *testing.T) {
	s, err := New(Config{JID: "alice@example.org", Password: "pw", Server: "127.0.0.1", ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			ss := &scriptedServer{t: t, conn: server}
			ss.open(plainOnly)
			ss.next()
		}()
		return client, nil
	}
	checkErr(t, s, "tls", ErrTLS, "StartTLS")
}

// The SCRAM exchange against the library's own server side, and a
// server whose final signature is wrong.
func TestNegotiationSCRAM(t *testing.T) {
	for _, tc := range []struct {
		name     string
		badProof bool
	}{{"good", false}, {"forged server signature", true}} {
		t.Run(tc.name, func(t *testing.T) {
			kf := scram.KeyFactors{Salt: "QSXCR+Q6sek8bf92", Iters: 4096}
			cl, _ := scram.SHA256.NewClient("alice", "pw", "")
			creds := cl.GetStoredCredentials(kf)
			srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
			if err != nil {
				t.Fatal(err)
			}
			s := newScripted(t, func(ss *scriptedServer) {
				ss.open("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>SCRAM-SHA-256</mechanism></mechanisms>")
				conv := srv.NewConversation()
				auth := ss.next()
				if auth == nil || auth.Attrs[1].Value != "SCRAM-SHA-256" {
					t.Errorf("auth = %+v, want SCRAM-SHA-256", auth)
					return
				}
				el := auth
				for !conv.Done() {
					in, _ := base64.StdEncoding.DecodeString(string(el.Inner))
					out, err := conv.Step(string(in))
					if err != nil {
						t.Errorf("server step: %v", err)
						return
					}
					if conv.Done() {
						if tc.badProof {
							out = "v=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
						}
						ss.write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(out)) + "</success>")
						break
					}
					ss.write("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(out)) + "</challenge>")
					el = ss.next()
				}
				if tc.badProof {
					return
				}
				ss.open(bindOnly)
				bind := ss.next()
				if bind == nil {
					return
				}
				ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
				ss.next()
			})
			err = s.Check(context.Background())
			if tc.badProof {
				if err == nil || errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "prove") {
					t.Fatalf("Check = %v, want the server's proof refused", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check = %v", err)
			}
		})
	}
}

// The first stanza after binding is the roster request: contacts'
// presences must find the roster there.
func TestRosterRequestIsFirstStanza(t *testing.T) {
	first := make(chan *xmlAny, 1)
	s := newScripted(t, func(ss *scriptedServer) {
		bind := ss.login(bindOnly + "<sm xmlns='urn:xmpp:sm:3'/>")
		ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
		var got []*xmlAny
		for range 4 {
			got = append(got, ss.next())
		}
		first <- got[0]
		names := []string{}
		for _, el := range got {
			if el == nil {
				t.Errorf("server: stream ended early")
				return
			}
			names = append(names, el.XMLName.Local)
		}
		if strings.Join(names, " ") != "iq enable iq presence" {
			t.Errorf("after bind the client sent %v, want the roster iq, enable, carbons iq, presence", names)
		}
		if p := got[3]; strings.Contains(string(p.Inner), "<show></show>") || strings.Contains(string(p.Inner), "<show/>") {
			t.Errorf("initial presence has an empty show: %s", p.Inner)
		}
	})
	s.Start()
	defer s.Close()
	go func() {
		for range s.Events() {
		}
	}()
	select {
	case el := <-first:
		if el == nil || el.XMLName.Local != "iq" || !strings.Contains(string(el.Inner), "jabber:iq:roster") {
			t.Fatalf("first stanza after bind = %+v, want the roster request", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stanza after bind")
	}
}

// A stream that is quiet right after the login is kept alive with a
// ping, not declared dead: silence counts from the login.
func TestQuietStreamAfterLoginIsPinged(t *testing.T) {
	pinged := make(chan bool, 1)
	s := newScriptedWith(t, Config{PingInterval: 200 * time.Millisecond, DeadTimeout: time.Minute}, func(ss *scriptedServer) {
		bind := ss.login(bindOnly)
		ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
		for {
			el := ss.next()
			if el == nil {
				pinged <- false
				return
			}
			if strings.Contains(string(el.Inner), "urn:xmpp:ping") {
				pinged <- true
				return
			}
		}
	})
	s.Start()
	defer s.Close()
	for {
		select {
		case ok := <-pinged:
			if !ok {
				t.Fatal("the session hung up instead of pinging")
			}
			return
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if d, ok := ev.(Disconnected); ok {
				t.Fatalf("the session gave up on a quiet stream: %v", d.Err)
			}
		}
	}
}
