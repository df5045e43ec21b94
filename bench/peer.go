package main

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// peer is a contact logged in over a raw XML stream that answers every chat
// message with the same body. A full client session per contact would cost
// the benchmark more CPU than the system under test, so this speaks just
// enough XMPP: PLAIN auth without TLS (loopback only), bind, one presence,
// then echo.
type peer struct {
	user   string
	show   string // "" | "away" | "dnd" | "xa"
	status string
	conn   net.Conn
	wmu    sync.Mutex
}

// presenceMix gives contact i a realistic show/status: seven in ten
// available, one each away, dnd and xa with a status text.
func presenceMix(i int) (show, status string) {
	switch i % 10 {
	case 7:
		return "away", "in a meeting until 3"
	case 8:
		return "dnd", "focus time"
	case 9:
		return "xa", "on holiday"
	}
	return "", ""
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

const streamOpen = "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

// login connects, authenticates, binds and sends initial presence; then the
// echo loop runs until the connection closes.
func (p *peer) login(addr, domain, pass string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	p.conn = c
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReaderSize(c, 8192)
	if _, err := fmt.Fprintf(c, streamOpen, domain); err != nil {
		return err
	}
	d := xml.NewDecoder(r)
	if err := skipUntilEnd(d, "features"); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + p.user + "\x00" + pass))
	fmt.Fprintf(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", cred)
	name, err := nextTop(d)
	if err != nil {
		return err
	}
	if name != "success" {
		return fmt.Errorf("auth: got <%s>", name)
	}
	// Stream restart: a fresh decoder on the same buffered reader.
	fmt.Fprintf(c, streamOpen, domain)
	d = xml.NewDecoder(r)
	if err := skipUntilEnd(d, "features"); err != nil {
		return fmt.Errorf("features after auth: %w", err)
	}
	fmt.Fprintf(c, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>echo</resource></bind></iq>")
	if err := skipUntilEnd(d, "iq"); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	pres := "<presence>"
	if p.show != "" {
		pres += "<show>" + p.show + "</show>"
	}
	if p.status != "" {
		pres += "<status>" + xmlEscape(p.status) + "</status>"
	}
	pres += "</presence>"
	if _, err := io.WriteString(c, pres); err != nil {
		return err
	}
	c.SetDeadline(time.Time{})
	go p.echo(d)
	return nil
}

// skipUntilEnd reads tokens until the end of a top-level (depth 1) element
// with the given local name.
func skipUntilEnd(d *xml.Decoder, local string) error {
	depth := 0
	for {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.StartElement:
			if t.Name.Local != "stream" {
				depth++
			}
		case xml.EndElement:
			if t.Name.Local == "stream" {
				return errors.New("stream closed")
			}
			depth--
			if depth == 0 && t.Name.Local == local {
				return nil
			}
			if depth == 0 && t.Name.Local == "failure" {
				return errors.New("failure")
			}
		}
	}
}

// nextTop returns the local name of the next top-level element, skipped.
func nextTop(d *xml.Decoder) (string, error) {
	for {
		t, err := d.Token()
		if err != nil {
			return "", err
		}
		if se, ok := t.(xml.StartElement); ok && se.Name.Local != "stream" {
			return se.Name.Local, d.Skip()
		}
	}
}

type stanza struct {
	XMLName xml.Name
	From    string `xml:"from,attr"`
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	Body    string `xml:"body"`
}

func (p *peer) write(s string) {
	p.wmu.Lock()
	io.WriteString(p.conn, s)
	p.wmu.Unlock()
}

func (p *peer) echo(d *xml.Decoder) {
	for {
		t, err := d.Token()
		if err != nil {
			return
		}
		se, ok := t.(xml.StartElement)
		if !ok || se.Name.Local == "stream" {
			continue
		}
		var st stanza
		if err := d.DecodeElement(&st, &se); err != nil {
			return
		}
		switch st.XMLName.Local {
		case "message":
			if st.Body == "" || st.Type == "error" || st.From == "" {
				continue
			}
			typ := st.Type
			if typ == "" {
				typ = "chat"
			}
			p.write(fmt.Sprintf("<message to='%s' type='%s'><body>%s</body></message>",
				xmlEscape(st.From), xmlEscape(typ), xmlEscape(st.Body)))
		case "iq":
			// Answer queries (disco, version, ping from the user's client)
			// at once so that nobody waits for a timeout.
			if st.Type == "get" || st.Type == "set" {
				p.write(fmt.Sprintf("<iq to='%s' id='%s' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
					xmlEscape(st.From), xmlEscape(st.ID)))
			}
		}
	}
}

func (p *peer) close() {
	if p.conn != nil {
		p.write("</stream:stream>")
		p.conn.Close()
	}
}

// loginPeers logs every peer in with bounded concurrency.
func loginPeers(peers []*peer, addr, domain, pass string, parallel int) error {
	sem := make(chan struct{}, parallel)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for attempt := 0; attempt < 3; attempt++ {
				if err = p.login(addr, domain, pass, 30*time.Second); err == nil {
					return
				}
				if p.conn != nil {
					p.conn.Close()
				}
				time.Sleep(200 * time.Millisecond)
			}
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("peer %s: %w", p.user, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return first
}
