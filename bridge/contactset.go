package bridge

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// contactSet is the contacts by key (contact.key), sorted by it and
// searched by halves: every user keeps one entry per roster item, and a
// slice of pointers takes a fraction of a map's room (as nickSpace does
// for the nicks).
type contactSet struct{ list []*contact }

// at returns where the contact with key is in list, or where it would go.
func (s *contactSet) at(key string) (int, bool) {
	return slices.BinarySearchFunc(s.list, key, compareKey)
}

// compareKey compares c's key with key as strings.Compare(c.key(), key)
// does, without the lower-cased copy's pass over the JID: servers send
// JIDs in lower case, and a search compares with a dozen contacts.
func compareKey(c *contact, key string) int {
	for i := 0; i < len(c.ids); i++ {
		b := c.ids[i]
		switch {
		case b == fieldSep[0]:
			return strings.Compare(c.ids[:i], key)
		case b >= utf8.RuneSelf || b == '/' || 'A' <= b && b <= 'Z':
			return strings.Compare(c.key(), key)
		case i == len(key) || b > key[i]:
			return 1
		case b < key[i]:
			return -1
		}
	}
	return strings.Compare(c.ids, key)
}

// get returns the contact with key, or nil.
func (s *contactSet) get(key string) *contact {
	if i, ok := s.at(key); ok {
		return s.list[i]
	}
	return nil
}

// put adds c under its key, replacing the contact that had it.
func (s *contactSet) put(c *contact) {
	if i, ok := s.at(c.key()); ok {
		s.list[i] = c
	} else {
		s.list = slices.Insert(s.list, i, c)
	}
}

// remove forgets the contact with key.
func (s *contactSet) remove(key string) {
	if i, ok := s.at(key); ok {
		s.list = slices.Delete(s.list, i, i+1)
	}
}

func (s *contactSet) len() int { return len(s.list) }

// all returns the contacts ordered by key; callers must not modify the
// slice, nor add or remove contacts while they go through it.
func (s *contactSet) all() []*contact { return s.list }

// withRoom returns s with room for n items in all.
func withRoom[T any](s []T, n int) []T {
	if n > cap(s) {
		return slices.Grow(s, n-len(s))
	}
	return s
}
