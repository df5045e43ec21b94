package xmpp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// XEP-0363 HTTP File Upload: finding the server's upload service and
// asking it for a slot (a URL to PUT a file to, and the URL to get it).

const (
	nsHTTPUpload = "urn:xmpp:http:upload:0"
	nsXData      = "jabber:x:data"
)

// maxUploadCandidates bounds the items of the server asked whether they are
// an upload service.
const maxUploadCandidates = 20

// UploadService is the answer to FindUploadService: the server's XEP-0363
// service, JID "" when it has none. MaxSize is the largest file it takes
// in bytes, 0 when it names no limit.
type UploadService struct {
	ID      string
	JID     string
	MaxSize int64
	Err     error
}

// UploadSlot is the answer to RequestUploadSlot: PUT the file to PutURL with
// Header, then it can be fetched at GetURL.
type UploadSlot struct {
	ID     string
	PutURL string
	GetURL string
	// Header are the headers the PUT must carry (only those XEP-0363
	// allows: Authorization, Cookie, Expires).
	Header map[string]string
	Err    error
}

func (UploadService) isEvent() {}
func (UploadSlot) isEvent()    {}

// FindUploadService looks for the XEP-0363 service among the items of the
// account's server (XEP-0030). Its answer is an UploadService.
func (s *Session) FindUploadService(ctx context.Context) (string, error) {
	_, domain, _ := strings.Cut(s.bare, "@")
	return s.startRequest(func(c *conn, id string) Event {
		res, err := c.iq(ctx, domain, "get", "<query xmlns='"+nsDiscoItem+"'/>")
		if err := iqError(res, err); err != nil {
			return UploadService{ID: id, Err: err}
		}
		var items struct {
			Query struct {
				Items []struct {
					JID string `xml:"jid,attr"`
				} `xml:"item"`
			} `xml:"http://jabber.org/protocol/disco#items query"`
		}
		if err := unmarshalInner(res.Payload, &items); err != nil {
			return UploadService{ID: id, Err: fmt.Errorf("xmpp: disco#items answer: %w", err)}
		}
		// The server itself may offer it too.
		candidates := []string{domain}
		for _, it := range items.Query.Items {
			if len(candidates) == maxUploadCandidates {
				break
			}
			if ValidJID(it.JID) && !strings.ContainsAny(it.JID, "@/") {
				candidates = append(candidates, it.JID)
			}
		}
		for _, jid := range candidates {
			res, err := c.iq(ctx, jid, "get", "<query xmlns='"+nsDiscoInfo+"'/>")
			if iqError(res, err) != nil {
				if ctx.Err() != nil {
					return UploadService{ID: id, Err: ctx.Err()}
				}
				continue
			}
			if max, ok := parseUploadInfo(res.Payload); ok {
				return UploadService{ID: id, JID: jid, MaxSize: max}
			}
		}
		return UploadService{ID: id}
	})
}

// parseUploadInfo reads a disco#info answer: whether it offers XEP-0363,
// and the max-file-size of its form.
func parseUploadInfo(payload []byte) (maxSize int64, ok bool) {
	var info struct {
		Query struct {
			Features []struct {
				Var string `xml:"var,attr"`
			} `xml:"feature"`
			Forms []struct {
				Fields []struct {
					Var    string   `xml:"var,attr"`
					Values []string `xml:"value"`
				} `xml:"field"`
			} `xml:"jabber:x:data x"`
		} `xml:"http://jabber.org/protocol/disco#info query"`
	}
	if unmarshalInner(payload, &info) != nil {
		return 0, false
	}
	for _, f := range info.Query.Features {
		ok = ok || f.Var == nsHTTPUpload
	}
	if !ok {
		return 0, false
	}
	for _, form := range info.Query.Forms {
		isUpload := false
		var size string
		for _, field := range form.Fields {
			if len(field.Values) == 0 {
				continue
			}
			switch field.Var {
			case "FORM_TYPE":
				isUpload = strings.TrimSpace(field.Values[0]) == nsHTTPUpload
			case "max-file-size":
				size = strings.TrimSpace(field.Values[0])
			}
		}
		if n, err := strconv.ParseInt(size, 10, 64); isUpload && err == nil && n > 0 {
			return n, true
		}
	}
	return 0, true
}

// uploadHeaders are the slot headers a client may send with its PUT
// (XEP-0363 §5: others are to be left out).
var uploadHeaders = map[string]string{"authorization": "Authorization", "cookie": "Cookie", "expires": "Expires"}

// RequestUploadSlot asks service for a slot for a file of size bytes.
// Its answer is an UploadSlot.
func (s *Session) RequestUploadSlot(ctx context.Context, service, filename string, size int64, contentType string) (string, error) {
	if !ValidJID(service) {
		return "", fmt.Errorf("xmpp: invalid upload service %q", service)
	}
	if filename == "" || size <= 0 {
		return "", fmt.Errorf("xmpp: an upload slot needs a file name and a size")
	}
	payload := fmt.Sprintf("<request xmlns='%s' filename='%s' size='%d'", nsHTTPUpload, escapeAttr(filename), size)
	if contentType != "" {
		payload += " content-type='" + escapeAttr(contentType) + "'"
	}
	payload += "/>"
	return s.startRequest(func(c *conn, id string) Event {
		res, err := c.iq(ctx, service, "get", payload)
		if err := iqError(res, err); err != nil {
			return UploadSlot{ID: id, Err: err}
		}
		var slot struct {
			Slot struct {
				Put struct {
					URL     string `xml:"url,attr"`
					Headers []struct {
						Name  string `xml:"name,attr"`
						Value string `xml:",chardata"`
					} `xml:"header"`
				} `xml:"put"`
				Get struct {
					URL string `xml:"url,attr"`
				} `xml:"get"`
			} `xml:"urn:xmpp:http:upload:0 slot"`
		}
		if err := unmarshalInner(res.Payload, &slot); err != nil {
			return UploadSlot{ID: id, Err: fmt.Errorf("xmpp: upload slot answer: %w", err)}
		}
		out := UploadSlot{ID: id, PutURL: slot.Slot.Put.URL, GetURL: slot.Slot.Get.URL, Header: map[string]string{}}
		if !strings.HasPrefix(out.PutURL, "http") || !strings.HasPrefix(out.GetURL, "http") {
			return UploadSlot{ID: id, Err: fmt.Errorf("xmpp: upload slot without put and get URLs")}
		}
		for _, h := range slot.Slot.Put.Headers {
			if name, ok := uploadHeaders[strings.ToLower(h.Name)]; ok {
				out.Header[name] = strings.Map(func(r rune) rune {
					if r < ' ' {
						return -1
					}
					return r
				}, h.Value)
			}
		}
		return out
	})
}
