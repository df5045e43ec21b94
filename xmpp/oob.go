package xmpp

import "fmt"

// XEP-0066 out-of-band data: a link to a file (an XEP-0363 upload, as
// Conversations and Dino send it, has the URL as the body too).

const nsOOB = "jabber:x:oob"

// maxOOB bounds the links kept from one message.
const maxOOB = 8

// OOB is an XEP-0066 link of a message.
type OOB struct {
	URL  string
	Desc string // "" when none was given
}

type xmlOOB struct {
	URL  string `xml:"url"`
	Desc string `xml:"desc"`
}

// oobLinks is the links of a message, cleaned, at most maxOOB.
func oobLinks(xs []xmlOOB) []OOB {
	var out []OOB
	for _, x := range xs {
		if len(out) == maxOOB {
			break
		}
		if url := CleanText(x.URL); url != "" {
			out = append(out, OOB{URL: url, Desc: CleanText(x.Desc)})
		}
	}
	return out
}

// oobElement is the XEP-0066 element for url.
func oobElement(url string) string {
	return fmt.Sprintf("<x xmlns='%s'><url>%s</url></x>", nsOOB, escapeText(url))
}
