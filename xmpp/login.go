package xmpp

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xdg-go/scram"

	"xircd/internal/fifo"
	"xircd/internal/readable"
)

// Namespaces of stream negotiation.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsSASLCB  = "urn:xmpp:sasl-cb:0"
	nsLimits  = "urn:xmpp:stream-limits:0"
)

// xmlFeatures is <stream:features/>, with what the session uses.
type xmlFeatures struct {
	StartTLS   *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms *struct {
		Names []string `xml:"mechanism"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms"`
	ChannelBindings *struct { // XEP-0440
		Types []struct {
			Type string `xml:"type,attr"`
		} `xml:"channel-binding"`
	} `xml:"urn:xmpp:sasl-cb:0 sasl-channel-binding"`
	Bind    *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Session *struct {
		Optional *struct{} `xml:"optional"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
	SM     *struct{} `xml:"urn:xmpp:sm:3 sm"`
	Limits *struct { // XEP-0478
		MaxBytes int `xml:"max-bytes"`
	} `xml:"urn:xmpp:stream-limits:0 limits"`
}

func (f *xmlFeatures) mechanisms() []string {
	if f.Mechanisms == nil {
		return nil
	}
	return f.Mechanisms.Names
}

// xmlSASL is any element of the SASL exchange: challenge, success or
// failure.
type xmlSASL struct {
	XMLName xml.Name
	Data    string   `xml:",chardata"`
	Text    string   `xml:"text"`
	Any     []xmlAny `xml:",any"`
}

// negotiation is one connection being set up: the transport, its
// decoder, and the features of the current stream.
type negotiation struct {
	s        *Session
	addr     string
	stage    string // ConnectError stage of the step under way
	conn     net.Conn
	in       *streamReader // what dec reads
	dec      *xml.Decoder
	tlsState *tls.ConnectionState // nil while unencrypted
	features xmlFeatures
	mech     string // SASL mechanism used
}

// connect dials, negotiates TLS, authenticates and binds a resource (or
// resumes the stream management session of res), bounded by ctx and
// ConnectTimeout: when ctx ends or Close cancels it, connect returns at
// once.
func (s *Session) connect(ctx context.Context, res *smResumption) (*conn, error) {
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	s.setCancelConnect(cancel)
	defer s.setCancelConnect(nil)
	n := &negotiation{s: s, addr: s.serverAddr(ctx), stage: "dial"}
	raw, err := s.dial(ctx, "tcp", n.addr)
	if err != nil {
		return nil, n.fail(ctx, err)
	}
	// Every blocking read or write of the negotiation ends when ctx does.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	c, err := n.run(ctx, raw, tc, res)
	if !stop() || err != nil {
		raw.Close()
		if err == nil {
			err = errors.New("interrupted")
		}
		return nil, n.fail(ctx, err)
	}
	raw.SetDeadline(time.Time{})
	c.lastRecv.Store(time.Now().UnixNano())
	return c, nil
}

// setCancelConnect records how Close cancels the connection attempt under
// way (nil: none is); when Close came first, the attempt is cancelled at
// once.
func (s *Session) setCancelConnect(cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelConnect = cancel
	if cancel != nil && s.isClosing() {
		cancel()
	}
}

// fail wraps err as the ConnectError of the stage under way; when ctx
// ended, that is the cause whatever the read or write said.
func (n *negotiation) fail(ctx context.Context, err error) error {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err
	}
	stage := n.stage
	if ctx.Err() != nil {
		if stage != "dial" {
			stage = "stream"
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out: %w", ctx.Err())
		} else {
			err = fmt.Errorf("cancelled: %w", ctx.Err())
		}
	}
	return &ConnectError{Server: n.addr, Stage: stage, Err: err}
}

func (n *negotiation) run(ctx context.Context, raw net.Conn, tc *tls.Config, res *smResumption) (*conn, error) {
	n.conn = raw
	mode := n.s.cfg.TLS
	if mode == TLSDirect {
		if err := n.startTLS(ctx, tc); err != nil {
			return nil, err
		}
	}
	if err := n.openStream(); err != nil {
		return nil, err
	}
	if mode == TLSStartTLS {
		if n.features.StartTLS == nil {
			n.stage = "tls"
			return nil, errors.New("the server does not offer StartTLS")
		}
		if err := n.write("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
			return nil, err
		}
		start, err := n.next()
		if err != nil {
			return nil, err
		}
		if start.Name != (xml.Name{Space: nsTLS, Local: "proceed"}) {
			n.stage = "tls"
			return nil, fmt.Errorf("the server refused StartTLS (<%s/>)", start.Name.Local)
		}
		if err := n.startTLS(ctx, tc); err != nil {
			return nil, err
		}
		if err := n.openStream(); err != nil {
			return nil, err
		}
	}
	if err := n.authenticate(); err != nil {
		return nil, err
	}
	if err := n.openStream(); err != nil {
		return nil, err
	}
	c := &conn{
		s:         n.s,
		netConn:   n.conn,
		watch:     readable.New(raw),
		in:        n.in,
		dec:       n.dec,
		mech:      n.mech,
		smOffered: n.features.SM != nil,
		done:      make(chan struct{}),
		pending:   map[string]*pendingIQ{},
		afterJoin: map[string][]outItem{},
		queued:    fifo.Queue[outItem]{KeepCap: keepQueuedCap},
	}
	if n.features.Limits != nil {
		c.maxBytes = n.features.Limits.MaxBytes
	}
	if res != nil && c.smOffered {
		h, err := n.resume(res)
		if err != nil {
			return nil, err
		}
		if h != nil {
			c.jid, c.resumedH, c.sm = res.jid, h, *res
			return c, nil
		}
	}
	jid, err := n.bind()
	if err != nil {
		return nil, err
	}
	c.jid = jid
	return c, nil
}

// write sends raw XML of the negotiation.
func (n *negotiation) write(s string) error {
	_, err := io.WriteString(n.conn, s)
	return err
}

// startTLS runs the TLS handshake over the current transport.
func (n *negotiation) startTLS(ctx context.Context, tc *tls.Config) error {
	n.stage = "tls"
	tlsConn := tls.Client(n.conn, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return err
	}
	cs := tlsConn.ConnectionState()
	n.conn, n.tlsState = tlsConn, &cs
	return nil
}

// openStream opens a new stream (at the start, after TLS, after SASL)
// and reads the server's features.
func (n *negotiation) openStream() error {
	n.stage = "stream"
	// The decoder reads a byte at a time; without a ByteReader it would
	// wrap the stream in a bufio.Reader of 4 KiB. The TLS connection
	// already holds a whole record, so a small buffer costs only more
	// calls that copy from it.
	n.in = &streamReader{conn: n.conn}
	n.dec = xml.NewDecoder(n.in)
	err := n.write(fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' xmlns='%s' xmlns:stream='%s' version='1.0' xml:lang='en'>",
		escapeAttr(n.s.domain), nsClient, nsStream))
	if err != nil {
		return err
	}
	for {
		tok, err := n.dec.Token()
		if err != nil {
			return fmt.Errorf("reading the stream header: %w", err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			if start.Name != (xml.Name{Space: nsStream, Local: "stream"}) {
				return fmt.Errorf("the server opened <%s xmlns='%s'>, not a stream", start.Name.Local, start.Name.Space)
			}
			break
		}
	}
	start, err := n.next()
	if err != nil {
		return err
	}
	if start.Name != (xml.Name{Space: nsStream, Local: "features"}) {
		return fmt.Errorf("expected stream features, got <%s/>", start.Name.Local)
	}
	n.features = xmlFeatures{}
	if err := n.dec.DecodeElement(&n.features, &start); err != nil {
		return fmt.Errorf("bad stream features: %w", err)
	}
	return nil
}

// next returns the next top-level element; a stream error or the end of
// the stream is an error.
func (n *negotiation) next() (xml.StartElement, error) {
	for {
		tok, err := n.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the server closed the connection")
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name == (xml.Name{Space: nsStream, Local: "error"}) {
				var se xmlStreamError
				if err := n.dec.DecodeElement(&se, &t); err != nil {
					return t, fmt.Errorf("bad stream error: %w", err)
				}
				return t, fmt.Errorf("stream error: %s", se.condition())
			}
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errors.New("the server closed the stream")
		}
	}
}

// saslMechanisms are the mechanisms we use, best first; a -PLUS variant
// is used only when the stream is encrypted and a channel binding can be
// derived from it.
var saslMechanisms = []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}

// authFailures are the SASL failure conditions that mean the credentials
// were refused (ErrAuth); the others are failures of the exchange.
var authFailures = []string{"not-authorized", "account-disabled", "credentials-expired", "invalid-authzid"}

// authenticate logs in with the best SASL mechanism both sides offer.
func (n *negotiation) authenticate() error {
	n.stage = "auth"
	offered := n.features.mechanisms()
	var binding scram.ChannelBinding
	if n.tlsState != nil {
		binding = n.channelBinding()
	}
	mech := ""
	for _, m := range saslMechanisms {
		if !slices.Contains(offered, m) {
			continue
		}
		if strings.HasSuffix(m, "-PLUS") && !binding.IsSupported() {
			continue
		}
		if m == "PLAIN" && n.tlsState == nil && n.s.cfg.TLS != TLSPlain {
			continue
		}
		mech = m
		break
	}
	if mech == "" {
		n.stage = "stream"
		return fmt.Errorf("no common SASL mechanism: the server offers %q, we support %q", offered, saslMechanisms)
	}
	n.mech = mech
	local := n.s.bare[:strings.IndexByte(n.s.bare, '@')]
	if mech == "PLAIN" {
		return n.saslExchange(mech, "\x00"+local+"\x00"+n.s.cfg.Password, nil)
	}
	hash := scram.SHA1
	if strings.HasPrefix(mech, "SCRAM-SHA-256") {
		hash = scram.SHA256
	}
	client, err := hash.NewClient(local, n.s.cfg.Password, "")
	if err != nil {
		return fmt.Errorf("SCRAM: %w", err)
	}
	var conv *scram.ClientConversation
	switch {
	case strings.HasSuffix(mech, "-PLUS"):
		conv = client.NewConversationWithChannelBinding(binding)
	case binding.IsSupported() && !slices.ContainsFunc(offered, func(m string) bool { return strings.HasSuffix(m, "-PLUS") }):
		// We could bind but the server offers no -PLUS: say so ("y"), so
		// that a server which does support it sees the downgrade.
		conv = client.NewConversationAdvertisingChannelBinding()
	default:
		conv = client.NewConversation()
	}
	first, err := conv.Step("")
	if err != nil {
		return fmt.Errorf("SCRAM: %w", err)
	}
	return n.saslExchange(mech, first, conv)
}

// channelBinding is the channel binding we can offer on this TLS
// connection: the server's choice among those we can derive when it lists
// them (XEP-0440), else tls-exporter on TLS 1.3 (RFC 9266) and tls-unique
// before.
func (n *negotiation) channelBinding() scram.ChannelBinding {
	cs := n.tlsState
	var types []string
	if f := n.features.ChannelBindings; f != nil {
		for _, t := range f.Types {
			types = append(types, t.Type)
		}
	} else if cs.Version >= tls.VersionTLS13 {
		types = []string{"tls-exporter"}
	} else {
		types = []string{"tls-unique"}
	}
	for _, t := range []string{"tls-exporter", "tls-server-end-point", "tls-unique"} {
		if !slices.Contains(types, t) {
			continue
		}
		var cb scram.ChannelBinding
		var err error
		switch t {
		case "tls-exporter":
			if cs.Version < tls.VersionTLS13 {
				continue // without TLS 1.3 it needs extended master secret, not guaranteed
			}
			cb, err = scram.NewTLSExporterBinding(cs)
		case "tls-server-end-point":
			cb, err = scram.NewTLSServerEndpointBinding(cs)
		case "tls-unique":
			cb = scram.NewTLSUniqueBinding(cs.TLSUnique)
		}
		if err == nil && cb.IsSupported() {
			return cb
		}
	}
	return scram.ChannelBinding{}
}

// saslExchange sends <auth/> with the initial response and answers the
// server's challenges with conv until success or failure.
func (n *negotiation) saslExchange(mech, initial string, conv *scram.ClientConversation) error {
	err := n.write(fmt.Sprintf("<auth xmlns='%s' mechanism='%s'>%s</auth>", nsSASL, mech, base64.StdEncoding.EncodeToString([]byte(initial))))
	if err != nil {
		return err
	}
	for {
		start, err := n.next()
		if err != nil {
			return err
		}
		var el xmlSASL
		if err := n.dec.DecodeElement(&el, &start); err != nil {
			return fmt.Errorf("bad SASL answer: %w", err)
		}
		if el.XMLName.Space != nsSASL {
			return fmt.Errorf("unexpected <%s xmlns='%s'/> during SASL", el.XMLName.Local, el.XMLName.Space)
		}
		switch el.XMLName.Local {
		case "failure":
			cond := "undefined-condition"
			for _, a := range el.Any {
				if a.XMLName.Local != "text" {
					cond = a.XMLName.Local
					break
				}
			}
			err := &SASLError{Mechanism: mech, Condition: cond, Text: CleanText(el.Text)}
			if !slices.Contains(authFailures, cond) {
				n.stage = "stream"
			}
			return err
		case "challenge", "success":
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Data))
			if err != nil {
				return fmt.Errorf("SASL %s is not base64: %w", el.XMLName.Local, err)
			}
			if conv == nil {
				if el.XMLName.Local == "success" {
					return nil
				}
				return fmt.Errorf("unexpected SASL challenge for %s", mech)
			}
			resp, err := conv.Step(string(data))
			if el.XMLName.Local == "success" {
				if err != nil || !conv.Valid() {
					n.stage = "stream"
					return fmt.Errorf("the server did not prove that it knows the password (%s): %v", mech, err)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("SCRAM: %w", err)
			}
			if err := n.write(fmt.Sprintf("<response xmlns='%s'>%s</response>", nsSASL, base64.StdEncoding.EncodeToString([]byte(resp)))); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected <%s/> during SASL", el.XMLName.Local)
		}
	}
}

// SASLError is a SASL failure sent by the server (RFC 6120 §6.5).
type SASLError struct {
	Mechanism string
	Condition string // e.g. "not-authorized"
	Text      string
}

func (e *SASLError) Error() string {
	s := e.Mechanism + ": " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// bind binds our resource (RFC 6120 §7) and returns the full JID.
func (n *negotiation) bind() (string, error) {
	n.stage = "stream"
	if n.features.Bind == nil {
		return "", errors.New("the server offers no resource binding")
	}
	var r struct {
		Type  string    `xml:"type,attr"`
		ID    string    `xml:"id,attr"`
		JID   string    `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
		Error *xmlError `xml:"error"`
	}
	err := n.iq("bind", fmt.Sprintf("<bind xmlns='%s'><resource>%s</resource></bind>", nsBind, escapeText(n.s.cfg.Resource)), &r)
	if err != nil {
		return "", err
	}
	if r.Type != "result" {
		return "", fmt.Errorf("resource binding refused: %w", r.Error.errorOf())
	}
	jid := strings.TrimSpace(r.JID)
	if !ValidJID(jid) || !strings.EqualFold(BareJID(jid), n.s.bare) {
		return "", fmt.Errorf("the server bound an unexpected JID %q", jid)
	}
	if f := n.features.Session; f != nil && f.Optional == nil {
		// RFC 3921 session establishment, for old servers that need it.
		var sr struct {
			Type  string    `xml:"type,attr"`
			Error *xmlError `xml:"error"`
		}
		if err := n.iq("session", fmt.Sprintf("<session xmlns='%s'/>", nsSession), &sr); err != nil {
			return "", err
		}
		if sr.Type != "result" {
			return "", fmt.Errorf("session establishment refused: %w", sr.Error.errorOf())
		}
	}
	return jid, nil
}

// iq sends an IQ set during the negotiation and decodes its answer into v.
func (n *negotiation) iq(id, payload string, v any) error {
	if err := n.write(fmt.Sprintf("<iq type='set' id='%s'>%s</iq>", id, payload)); err != nil {
		return err
	}
	for {
		start, err := n.next()
		if err != nil {
			return err
		}
		if start.Name.Local == "iq" && attr(start, "id") == id {
			if err := n.dec.DecodeElement(v, &start); err != nil {
				return fmt.Errorf("bad answer to %s: %w", id, err)
			}
			return nil
		}
		if err := n.dec.Skip(); err != nil {
			return err
		}
	}
}

// resume asks the server to resume the stream management session of res
// (XEP-0198 §5). It returns the server's count of our stanzas when the
// stream was resumed, nil when the server refused (then we bind anew).
func (n *negotiation) resume(res *smResumption) (*uint32, error) {
	n.stage = "stream"
	err := n.write(fmt.Sprintf("<resume xmlns='%s' h='%d' previd='%s'/>", nsSM, res.inbound, escapeAttr(res.id)))
	if err != nil {
		return nil, err
	}
	start, err := n.next()
	if err != nil {
		return nil, err
	}
	if err := n.dec.Skip(); err != nil {
		return nil, err
	}
	if start.Name.Space != nsSM {
		return nil, fmt.Errorf("unexpected <%s/> in answer to <resume/>", start.Name.Local)
	}
	h, hErr := strconv.ParseUint(attr(start, "h"), 10, 32)
	switch start.Name.Local {
	case "resumed":
		if hErr != nil {
			return nil, fmt.Errorf("<resumed/> without a valid h: %w", hErr)
		}
		v := uint32(h)
		return &v, nil
	case "failed":
		if hErr == nil {
			// The server says what it got of the old stream (XEP-0198
			// 1.6): that much need not be sent again.
			n.s.sent.ack(uint32(h))
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected <%s/> in answer to <resume/>", start.Name.Local)
}

func attr(start xml.StartElement, name string) string {
	for _, a := range start.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}
