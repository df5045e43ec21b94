package bridge

import (
	"net/url"
	"strings"

	"xircd/xmpp"
)

// Files: an XEP-0066 link (XEP-0363 uploads from Conversations or Dino
// come as the URL for body plus the link) shows on IRC as the URL with its
// description; the user's message that is one https URL goes out with the
// link too, so that XMPP clients show the file inline.

// withLinks puts m's XEP-0066 links in its body (linkText).
func withLinks(m *xmpp.Message) {
	m.Body = linkText(m.Body, m.OOB)
}

// linkText is body with the links shown: "URL (description)" in place of
// a body that is just the URL, after a body that does not mention it, and
// only the description after a body that already has the URL.
func linkText(body string, links []xmpp.OOB) string {
	for _, l := range links {
		desc := ""
		if l.Desc != "" && l.Desc != l.URL {
			desc = " (" + l.Desc + ")"
		}
		switch {
		case strings.TrimSpace(body) == l.URL || body == "":
			body = l.URL + desc
		case strings.Contains(body, l.URL):
			if desc != "" && !strings.Contains(body, l.Desc) {
				body += desc
			}
		default:
			body += "\n" + l.URL + desc
		}
	}
	return body
}

// fileLink is body when it is exactly one https URL (the link an XMPP
// client shows inline), else "".
func fileLink(body string) string {
	if body == "" || strings.ContainsAny(body, " \t\n") {
		return ""
	}
	u, err := url.Parse(body)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ""
	}
	return body
}
