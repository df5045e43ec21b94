package bridge

import (
	"slices"
	"strings"
)

// contactSet is the contacts by key (contact.key), sorted by it and
// searched by halves: every user keeps one entry per roster item, and a
// slice of pointers takes a fraction of a map's room (as nickSpace does
// for the nicks).
type contactSet struct{ list []*contact }

// at returns where the contact with key is in list, or where it would go.
func (s *contactSet) at(key string) (int, bool) {
	return slices.BinarySearchFunc(s.list, key, func(c *contact, key string) int { return strings.Compare(c.key(), key) })
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
