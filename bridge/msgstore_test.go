package bridge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// A record gives back every field it was packed with, whichever are
// equal, empty or long, and keeps one copy of equal values.
func TestKnownMessagePacking(t *testing.T) {
	long := strings.Repeat("x", 20000) // a 3-byte length
	for _, f := range []msgFields{
		{},
		{msgid: "m"},
		{msgid: "s1", archiveID: "s1", ref: "u1", id: "u1", origin: "u1", stanzaID: "s1", conv: "a@x", sender: "a@x", nick: "A", text: "hi"},
		{msgid: "o1", ref: "o1", id: "o1", origin: "o1", conv: "a@x", sender: ownSender, text: strings.Repeat("é", 100)},
		{msgid: "1", archiveID: "2", ref: "3", id: "4", origin: "5", stanzaID: "6", conv: "r@x", sender: "r@x/bob", nick: "bob", text: "t", room: true},
		{msgid: long, id: long + "y", sender: "b@x", conv: "a@x", text: long},
		{msgid: "m", text: "", sender: "a@x"}, // a sender equal to conv only when conv is
		{msgid: "m", conv: "r@x", sender: "r@x/"},
		{msgid: "m", conv: "r@x", sender: "r@xx/bob"},
		{msgid: "bob", conv: "r@x", sender: "r@x/bob", room: true},
	} {
		k := packed(f)
		if got := k.fields(); got != f {
			t.Errorf("packed %+.40v, got %+.40v", f, got)
		}
		distinct := map[string]bool{}
		for i, p := range f.values() {
			v := *p
			if nick, ok := strings.CutPrefix(v, f.conv+"/"); ok && nick != "" && msgField(i) == fSender {
				v = nick // an occupant's
			}
			if v != "" && v != f.conv && v != ownSender {
				distinct[v] = true
			}
		}
		size := len(f.text) + uvarintLen(len(f.text))
		for v := range distinct {
			size += len(v) + uvarintLen(len(v))
		}
		if len(k.strs) != size {
			t.Errorf("%+.40v packed into %d bytes, want %d", f, len(k.strs), size)
		}
	}
}

// A record is 48 bytes, a size class of its own; a store makes its maps
// when it first needs them (most users' stay empty).
func TestMessageStoreSizes(t *testing.T) {
	if size := unsafe.Sizeof(knownMessage{}); size > 48 {
		t.Errorf("a record takes %d bytes", size)
	}
	ms := newMessageStore(maxMsgRefs)
	if ms.byMsgid.byHash != nil || ms.index.byHash != nil || ms.seenIDs.byHash != nil || ms.order.buf != nil {
		t.Error("an empty store made its maps")
	}
}

// Setting a field to a value the record has costs nothing; another value
// packs the record anew; clearing one leaves the others as they were.
func TestKnownMessageSet(t *testing.T) {
	f := msgFields{msgid: "s1", ref: "u1", id: "u1", origin: "u1", stanzaID: "s1", conv: "a@x", sender: "a@x", nick: "A", text: "hello"}
	k := packed(f)
	strs := unsafe.StringData(k.strs)
	k.set(fArchiveID, "s1")
	k.set(fRef, "")
	if unsafe.StringData(k.strs) != strs {
		t.Error("a value the record has was packed again")
	}
	f.archiveID, f.ref = "s1", ""
	if got := k.fields(); got != f {
		t.Errorf("after set: %+v, want %+v", got, f)
	}
	k.set(fRef, "new")
	f.ref = "new"
	if got := k.fields(); got != f || unsafe.StringData(k.strs) == strs {
		t.Errorf("after a new value: %+v, want %+v", got, f)
	}
	// The id's value is no longer any field's: the others still read.
	k.set(fID, "")
	k.set(fOrigin, "")
	f.id, f.origin = "", ""
	if got := k.fields(); got != f {
		t.Errorf("after clearing: %+v, want %+v", got, f)
	}
	k.setText("bye")
	f.text = "bye"
	if got := k.fields(); got != f {
		t.Errorf("after setText: %+v, want %+v", got, f)
	}
}

// TestMessageStoreCollisions runs TestMessageStore's checks with every
// key of a kind hashing alike.
func TestMessageStoreCollisions(t *testing.T) {
	for _, hash := range []func(string) uint64{
		func(string) uint64 { return 7 },
		func(s string) uint64 { return uint64(len(s) % 2) },
	} {
		ms := newMessageStore(3)
		collide(ms, hash)
		a := ms.keep(msgFields{msgid: "s1", id: "u1", origin: "o1", stanzaID: "s1", conv: "alice@example.org", text: "one"})
		ms.keep(msgFields{msgid: "o2", id: "o2", origin: "o2", conv: "alice@example.org", sender: ownSender, text: "two"})
		for _, tc := range []struct{ conv, id, want string }{
			{"alice@example.org", "u1", "one"},
			{"alice@example.org", "o1", "one"},
			{"alice@example.org", "s1", "one"},
			{"alice@example.org", "o2", "two"},
			{"bob@example.org", "u1", ""},
			{"alice@example.org", "nope", ""},
		} {
			got := ""
			if k := ms.byXMPP(tc.conv, tc.id); k != nil {
				got = k.text()
			}
			if got != tc.want {
				t.Errorf("byXMPP(%s, %s) = %q, want %q", tc.conv, tc.id, got, tc.want)
			}
		}
		ms.keep(msgFields{msgid: "s3", id: "u1", stanzaID: "s3", conv: "alice@example.org", text: "three"})
		if k := ms.byXMPP("alice@example.org", "o1"); k != a {
			t.Errorf("o1 went with u1, taken by a later message: %v", k)
		}
		ms.record("s4")
		if ms.get("s1") != nil || ms.get("o2") == nil || ms.byXMPP("alice@example.org", "o1") != nil {
			t.Error("the oldest message is not forgotten")
		}
		if k := ms.byXMPP("alice@example.org", "u1"); k == nil || k.text() != "three" {
			t.Errorf("u1 went with the message forgotten: %v", k)
		}
		for _, id := range []string{"s5", "s6", "s7"} {
			ms.record(id)
		}
		if ms.byMsgid.len() != 3 || ms.index.len() != 0 {
			t.Errorf("after all went: %d records, %d indexed", ms.byMsgid.len(), ms.index.len())
		}
	}
}

// collide makes ms hash its keys with hash.
func collide(ms *messageStore, hash func(string) uint64) {
	ms.byMsgid.with = hash
	ms.index.with = func(k xmppKey) uint64 { return hash(k.id) }
}

// The store answers as plain maps of the keys would, however the keys'
// hashes collide: random records, kept, taken ids and forgotten messages
// over few conversations and ids, against a model.
func TestMessageStoreModel(t *testing.T) {
	type model struct {
		order []string        // msgids, oldest first
		kept  map[string]bool // by msgid
		ids   map[string][3]string
		conv  map[string]string
		index map[xmppKey]string // the msgid
	}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 1))
		ms := newMessageStore(6)
		if seed%3 > 0 {
			collide(ms, func(s string) uint64 { return uint64(len(s)) % (seed % 3) })
		}
		m := model{kept: map[string]bool{}, ids: map[string][3]string{}, conv: map[string]string{}, index: map[xmppKey]string{}}
		id := func() string { return []string{"", "a", "b", "cc", "dd", "m1", "m2"}[rng.IntN(7)] }
		unindex := func(msgid string) {
			for _, x := range m.ids[msgid] {
				if key := (xmppKey{m.conv[msgid], x}); m.kept[msgid] && m.index[key] == msgid {
					delete(m.index, key)
				}
			}
		}
		for step := range 300 {
			msgid := fmt.Sprint("m", rng.IntN(12))
			switch op := rng.IntN(4); {
			case op < 2: // kept
				f := msgFields{msgid: msgid, id: id(), origin: id(), stanzaID: id(), conv: []string{"c1", "c2"}[rng.IntN(2)]}
				ms.keep(f)
				if _, ok := m.kept[msgid]; !ok {
					m.order = append(m.order, msgid)
				}
				unindex(msgid)
				m.kept[msgid], m.ids[msgid], m.conv[msgid] = true, [3]string{f.id, f.origin, f.stanzaID}, f.conv
				for _, x := range m.ids[msgid] {
					if x != "" && x != msgid {
						m.index[xmppKey{f.conv, x}] = msgid
					}
				}
			case op == 2: // only shown
				ms.record(msgid)
				if _, ok := m.kept[msgid]; !ok {
					m.order = append(m.order, msgid)
					m.kept[msgid] = false
				}
			default: // retracted
				if k := ms.kept(msgid); k != nil {
					ms.forget(k)
					unindex(msgid)
					m.kept[msgid] = false
				}
			}
			if len(m.order) > 6 {
				old := m.order[0]
				unindex(old)
				m.order = m.order[1:]
				delete(m.kept, old)
			}
			for i := range 12 {
				msgid := fmt.Sprint("m", i)
				k := ms.get(msgid)
				if _, ok := m.kept[msgid]; (k != nil) != ok || k != nil && (k.msgid() != msgid || k.kept() != m.kept[msgid]) {
					t.Fatalf("seed %d step %d: get(%s) = %v, model %v", seed, step, msgid, k, m.kept)
				}
			}
			for _, conv := range []string{"c1", "c2"} {
				for _, x := range []string{"a", "b", "cc", "dd", "m1", "m2"} {
					want := m.index[xmppKey{conv, x}]
					if ids := m.ids[x]; want == "" && m.kept[x] && m.conv[x] == conv && slices.Contains(ids[:], x) {
						want = x // an id that is also a msgid
					}
					got := ""
					if k := ms.byXMPP(conv, x); k != nil {
						got = k.msgid()
					}
					if got != want {
						t.Fatalf("seed %d step %d: byXMPP(%s, %s) = %q, want %q", seed, step, conv, x, got, want)
					}
				}
			}
		}
		// Nothing of what went stays.
		for i := range 6 {
			ms.record(fmt.Sprint("n", i))
		}
		shared := 0
		for _, n := range ms.byMsgid.shared {
			shared += n
		}
		if x, y := ms.index, ms.byMsgid; x.len()+len(x.shared) > 0 || y.len() != 6 || shared != len(y.over) {
			t.Errorf("seed %d: left %d keys and %d shared hashes indexed, %d records (%d of them shared, counted %d)", seed, x.len(), len(x.shared), y.len(), len(y.over), shared)
		}
	}
}

// A stanza id shown to the user is known as long as its message's record
// is, whether or not it is the msgid, and through a later keep of the
// record.
func TestMessageStoreSeen(t *testing.T) {
	for _, hash := range []func(string) uint64{nil, func(string) uint64 { return 7 }} {
		ms := newMessageStore(3)
		if hash != nil {
			collide(ms, hash)
			ms.seenIDs.with = hash
		}
		ms.markSeen("s1", "s1") // someone else's: its msgid is its stanza id
		ms.keep(msgFields{msgid: "o2", id: "o2", origin: "o2", stanzaID: "s2", conv: "a@x"})
		ms.markSeen("o2", "s2") // the user's carbon: the msgid is its origin-id
		ms.keep(msgFields{msgid: "o2", id: "o2", origin: "o2", stanzaID: "s2", conv: "a@x", text: "again"})
		for _, tc := range []struct {
			id   string
			want bool
		}{{"s1", true}, {"s2", true}, {"o2", false}, {"s3", false}} {
			if got := ms.seen(tc.id); got != tc.want {
				t.Errorf("seen(%s) = %v, want %v", tc.id, got, tc.want)
			}
		}
		ms.record("x1")
		ms.record("x2")
		if ms.seen("s1") || !ms.seen("s2") {
			t.Error("s1 is not forgotten with its record, or s2 is")
		}
		ms.record("x3")
		if ms.seen("s2") || ms.seenIDs.len() != 0 {
			t.Errorf("s2 is not forgotten with its record: %d left", ms.seenIDs.len())
		}
	}
}
