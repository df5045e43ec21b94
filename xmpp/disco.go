package xmpp

import (
	"context"
	"fmt"
)

// Features that entities advertise and the gateway looks for.
const (
	// FeatureMAM: the entity keeps a message archive (XEP-0313); on the
	// account's bare JID it is the user's archive, on a room the room's.
	FeatureMAM = nsMAM
	// FeatureMAMExtended: the archive takes the before-id, after-id and
	// ids fields of ArchiveQuery.
	FeatureMAMExtended = nsMAM + "#extended"
)

// maxDiscoFeatures bounds the features kept from one answer.
const maxDiscoFeatures = 200

// DiscoFeatures asks jid ("" for the account's bare JID) for the features
// it offers (XEP-0030 disco#info). Its answer is a DiscoInfo.
func (s *Session) DiscoFeatures(ctx context.Context, jid string) (string, error) {
	if jid == "" {
		jid = s.bare
	}
	if !ValidJID(jid) {
		return "", fmt.Errorf("xmpp: invalid JID %q", jid)
	}
	return s.startRequest(func(c *conn, id string) Event {
		res, err := c.iq(ctx, jid, "get", "<query xmlns='"+nsDiscoInfo+"'/>")
		if err := iqError(res, err); err != nil {
			return DiscoInfo{ID: id, JID: jid, Err: err}
		}
		var info struct {
			Query struct {
				Features []struct {
					Var string `xml:"var,attr"`
				} `xml:"feature"`
			} `xml:"http://jabber.org/protocol/disco#info query"`
		}
		if err := unmarshalInner(res.Payload, &info); err != nil {
			return DiscoInfo{ID: id, JID: jid, Err: fmt.Errorf("xmpp: disco#info answer: %w", err)}
		}
		ev := DiscoInfo{ID: id, JID: jid}
		for _, f := range info.Query.Features {
			if len(ev.Features) == maxDiscoFeatures {
				break
			}
			ev.Features = append(ev.Features, f.Var)
		}
		return ev
	})
}
