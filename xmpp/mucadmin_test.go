package xmpp

import (
	"reflect"
	"testing"
)

func TestParseRoomItems(t *testing.T) {
	payload := []byte(`<query xmlns='http://jabber.org/protocol/disco#items'>` +
		`<item jid='lobby@conference.example.org' name='The &amp; lobby'/>` +
		`<item jid='conference.example.org'/>` + // the service itself, no room
		`<item jid='room@conference.example.org/nick'/>` + // an occupant, no room
		`<item jid='bad jid@conference.example.org'/>` +
		`<item jid='dev@conference.example.org' name='Dev 🚀'/></query>`)
	got := parseRoomItems(payload)
	want := []RoomItem{
		{JID: "lobby@conference.example.org", Name: "The & lobby"},
		{JID: "dev@conference.example.org", Name: "Dev 🚀"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseRoomItems = %+v, want %+v", got, want)
	}
}

func TestSetRoleRejectsUnknownRole(t *testing.T) {
	s, err := New(Config{JID: "me@example.org", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRole(t.Context(), "room@conference.example.org", "bob", "owner", ""); err == nil {
		t.Error("SetRole accepted the role \"owner\" (an affiliation)")
	}
}
