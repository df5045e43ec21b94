package ircd

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

// namesClient is the little of a Downstream that NamesReplies reads.
type namesClient struct{ Downstream }

func (namesClient) Nick() string       { return "me" }
func (namesClient) ServerName() string { return "irc.test" }

func TestNamesRepliesPacksLines(t *testing.T) {
	var names []string
	for i := 0; i < 100; i++ {
		names = append(names, fmt.Sprintf("+nick%02d", i))
	}
	got := NamesReplies(namesClient{}, "#chan", names)
	var listed []string
	for _, m := range got[:len(got)-1] {
		if m.Command != irc.RPL_NAMREPLY || m.Params[0] != "me" || m.Params[2] != "#chan" {
			t.Fatalf("not a 353 for me on #chan: %s", m)
		}
		if n := len(m.Params[3]); n > namesLineLen-len("me#chan") {
			t.Errorf("names line of %d bytes", n)
		}
		listed = append(listed, strings.Fields(m.Params[3])...)
	}
	if len(got) < 3 {
		t.Errorf("100 names in %d lines, want them spread over several", len(got)-1)
	}
	if strings.Join(listed, " ") != strings.Join(names, " ") {
		t.Errorf("names listed %q, want %q", listed, names)
	}
	if end := got[len(got)-1]; end.String() != ":irc.test 366 me #chan :End of /NAMES list" {
		t.Errorf("last reply %q", end)
	}
}

func TestCompareFolded(t *testing.T) {
	words := []string{"", "a", "A", "b", "B", "ab", "aB", "Ab", "a[", "A{", "[", "{", "Z", "z", "_", "^", "~", "zz", "éa", "Éa", "a\xff"}
	for _, a := range words {
		for _, b := range words {
			if got, want := CompareFolded(a, b), strings.Compare(Casefold(a), Casefold(b)); got != want {
				t.Errorf("CompareFolded(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}
