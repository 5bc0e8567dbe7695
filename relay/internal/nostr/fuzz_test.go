package nostr

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// messageSeeds cover every message type, the error paths and the escaping
// corner cases; testdata/fuzz/FuzzParseMessage holds more, including anything
// the fuzzer has found.
var messageSeeds = []string{
	`["EVENT",` + eventJSON(nil) + `]`,
	`["AUTH",` + eventJSON(map[string]string{"kind": "22242", "tags": `[["relay","ws://localhost:3000"],["challenge","abc"]]`}) + `]`,
	`["EVENT",` + eventJSON(map[string]string{"content": `"\u0000\"\\\/\b\f\n\r\t\ud83d\ude00\ud800"`, "tags": `[["e",""],["t","日本"]]`}) + `]`,
	`["REQ","sub",{"ids":["` + hexID + `"],"authors":["` + hexPK + `"],"kinds":[1,9],"#h":["c"],"since":1,"until":2,"limit":10}]`,
	`["REQ","s",{},{"kinds":[]},{"#e":[]}]`,
	`["COUNT","c",{"#p":["` + hexPK + `"]}]`,
	`["CLOSE","sub"]`,
	`["REQ","s"]`,
	`["REQ","",{}]`,
	`["EVENT",{"ID":"x"}]`,
	`[]`,
	`{}`,
	`["EVENT",` + eventJSON(map[string]string{"created_at": "1e400"}) + `]`,
	`["REQ","s",{"limit":18446744073709551616}]`,
	"[\"CLOSE\",\"\xff\"]",
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with non-nil message", err)
			}
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
			}
			return
		}
		// A parsed message re-encodes to JSON that parses to the same thing.
		enc := encodeClientMessage(m)
		m2, err := ParseMessage(enc)
		if err != nil {
			t.Fatalf("input %q parsed, but its re-encoding %q fails: %v", data, enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message:\n %#v\n %#v", m, m2)
		}
		switch m := m.(type) {
		case *EventMessage:
			checkEventInvariants(t, m.Event)
		case *AuthMessage:
			checkEventInvariants(t, m.Event)
		case *ReqMessage:
			checkSubID(t, m.SubID)
		case *CountMessage:
			checkSubID(t, m.SubID)
		case *CloseMessage:
			checkSubID(t, m.SubID)
		}
	})
}

func checkSubID(t *testing.T, id string) {
	if len(id) == 0 || len(id) > MaxSubIDLength || !utf8.ValidString(id) {
		t.Fatalf("accepted subscription id %q", id)
	}
}

// checkEventInvariants: the canonical serialisation is JSON that decodes, with
// a standard decoder, to exactly the event's fields; the strings are valid
// UTF-8; and Check neither panics nor accepts an event whose id is wrong.
func checkEventInvariants(t *testing.T, e *Event) {
	if !e.validUTF8() || !IsHex(e.ID, 64) || !IsHex(e.PubKey, 64) || !IsHex(e.Sig, 128) || e.CreatedAt < 0 || e.Kind < 0 || e.Kind > 65535 {
		t.Fatalf("accepted malformed event %+v", e)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(e.Serialize(), &parts); err != nil || len(parts) != 6 {
		t.Fatalf("Serialize() = %q is not a 6-element JSON array: %v", e.Serialize(), err)
	}
	var pk, content string
	var tags [][]string
	if json.Unmarshal(parts[1], &pk) != nil || pk != e.PubKey ||
		string(parts[2]) != strconv.FormatInt(e.CreatedAt, 10) ||
		string(parts[3]) != strconv.Itoa(e.Kind) ||
		json.Unmarshal(parts[4], &tags) != nil || !tagsEqual(tags, e.Tags) ||
		json.Unmarshal(parts[5], &content) != nil || content != e.Content {
		t.Fatalf("Serialize() = %q does not decode to the event %+v", e.Serialize(), e)
	}
	if err := e.Check(); err == nil && e.ComputeID() != e.ID {
		t.Fatalf("Check accepted an event whose id is wrong")
	}
}

func encodeClientMessage(m Message) []byte {
	b := []byte(`[`)
	b = AppendString(b, Type(m))
	switch m := m.(type) {
	case *EventMessage:
		b = m.Event.AppendJSON(append(b, ','))
	case *AuthMessage:
		b = m.Event.AppendJSON(append(b, ','))
	case *CloseMessage:
		b = AppendString(append(b, ','), m.SubID)
	case *ReqMessage:
		b = AppendString(append(b, ','), m.SubID)
		for i := range m.Filters {
			b = appendFilter(append(b, ','), &m.Filters[i])
		}
	case *CountMessage:
		b = AppendString(append(b, ','), m.SubID)
		for i := range m.Filters {
			b = appendFilter(append(b, ','), &m.Filters[i])
		}
	}
	return append(b, ']')
}

func appendFilter(b []byte, f *Filter) []byte {
	b = append(b, '{')
	field := func(name string) {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = AppendString(b, name)
		b = append(b, ':')
	}
	strs := func(vals []string) {
		b = append(b, '[')
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, v)
		}
		b = append(b, ']')
	}
	if f.IDs != nil {
		field("ids")
		strs(f.IDs)
	}
	if f.Authors != nil {
		field("authors")
		strs(f.Authors)
	}
	if f.Kinds != nil {
		field("kinds")
		b = append(b, '[')
		for i, k := range f.Kinds {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(k), 10)
		}
		b = append(b, ']')
	}
	names := make([]string, 0, len(f.Tags))
	for name := range f.Tags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		field("#" + name)
		strs(f.Tags[name])
	}
	if f.Since != nil {
		field("since")
		b = strconv.AppendInt(b, *f.Since, 10)
	}
	if f.Until != nil {
		field("until")
		b = strconv.AppendInt(b, *f.Until, 10)
	}
	if f.Limit != nil {
		field("limit")
		b = strconv.AppendInt(b, int64(*f.Limit), 10)
	}
	return append(b, '}')
}

// byteSource turns fuzz input into choices from small alphabets, so that
// events and filters collide often enough for matches to be interesting.
type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) pick(n int) int {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return int(c) % n
}

var (
	fuzzIDs      = []string{strings.Repeat("0", 64), strings.Repeat("a", 64), strings.Repeat("f", 64)}
	fuzzKinds    = []int{0, 1, 9, 22242, 30000}
	fuzzTimes    = []int64{0, 999, 1000, 1001, math.MaxInt64}
	fuzzTagNames = []string{"e", "p", "h", "t", "emoji", ""}
	fuzzValues   = []string{"", "a", "b", "chan-1", "A"}
)

func (s *byteSource) strings(alphabet []string) []string {
	switch s.pick(3) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := []string{}
	for n := 1 + s.pick(3); n > 0; n-- {
		out = append(out, alphabet[s.pick(len(alphabet))])
	}
	return out
}

func (s *byteSource) event() *Event {
	e := &Event{
		ID:        fuzzIDs[s.pick(len(fuzzIDs))],
		PubKey:    fuzzIDs[s.pick(len(fuzzIDs))],
		Kind:      fuzzKinds[s.pick(len(fuzzKinds))],
		CreatedAt: fuzzTimes[s.pick(len(fuzzTimes))],
	}
	for n := s.pick(5); n > 0; n-- {
		tag := []string{fuzzTagNames[s.pick(len(fuzzTagNames))]}
		for m := s.pick(4); m > 0; m-- {
			tag = append(tag, fuzzValues[s.pick(len(fuzzValues))])
		}
		e.Tags = append(e.Tags, tag)
	}
	return e
}

func (s *byteSource) filter() Filter {
	var f Filter
	f.IDs = s.strings(fuzzIDs)
	f.Authors = s.strings(fuzzIDs)
	if ks := s.strings([]string{"0", "1", "2", "3", "4"}); ks != nil {
		f.Kinds = []int{}
		for _, k := range ks {
			i, _ := strconv.Atoi(k)
			f.Kinds = append(f.Kinds, fuzzKinds[i])
		}
	}
	if s.pick(2) == 1 {
		v := fuzzTimes[s.pick(len(fuzzTimes))]
		f.Since = &v
	}
	if s.pick(2) == 1 {
		v := fuzzTimes[s.pick(len(fuzzTimes))]
		f.Until = &v
	}
	if n := s.pick(4); n > 0 {
		f.Tags = map[string][]string{}
		for ; n > 0; n-- {
			f.Tags[fuzzTagNames[s.pick(len(fuzzTagNames)-1)]] = s.strings(fuzzValues)
		}
	}
	return f
}

// referenceMatch is NIP-01 matching written as a store would: the event is
// reduced to a set of index keys and every filter condition is a lookup.
func referenceMatch(f *Filter, e *Event) bool {
	index := map[string]bool{
		"id:" + e.ID:                   true,
		"author:" + e.PubKey:           true,
		"kind:" + strconv.Itoa(e.Kind): true,
	}
	for _, t := range e.Tags {
		if len(t) >= 2 {
			index["tag:"+t[0]+"\x00"+t[1]] = true
		}
	}
	anyOf := func(prefix string, vals []string) bool {
		for _, v := range vals {
			if index[prefix+v] {
				return true
			}
		}
		return false
	}
	if f.IDs != nil && !anyOf("id:", f.IDs) {
		return false
	}
	if f.Authors != nil && !anyOf("author:", f.Authors) {
		return false
	}
	if f.Kinds != nil {
		ks := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			ks[i] = strconv.Itoa(k)
		}
		if !anyOf("kind:", ks) {
			return false
		}
	}
	if (f.Since != nil && e.CreatedAt < *f.Since) || (f.Until != nil && e.CreatedAt > *f.Until) {
		return false
	}
	for name, vals := range f.Tags {
		if !anyOf("tag:"+name+"\x00", vals) {
			return false
		}
	}
	return true
}

func FuzzFilterMatch(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 2, 0, 2, 2, 2, 0, 0, 2, 0, 0})
	f.Add([]byte{1, 1, 2, 2, 3, 2, 0, 2, 1, 1, 2, 2, 1, 1, 2, 1, 2, 1, 1, 3, 2, 2})
	f.Add([]byte("matching channel events by h tag"))
	f.Add([]byte{2, 2, 2, 2, 4, 4, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2, 1, 2, 3, 2, 2, 2, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &byteSource{b: data}
		e := src.event()
		filter := src.filter()
		got := filter.Matches(e)
		if want := referenceMatch(&filter, e); got != want {
			t.Fatalf("Matches = %v, reference = %v\nfilter %+v\nevent %+v", got, want, filter, e)
		}
		// The same filter sent over the wire matches the same way.
		parsed, err := ParseFilter(appendFilter(nil, &filter))
		if err != nil {
			t.Fatalf("filter %+v does not survive encoding: %v", filter, err)
		}
		if parsed.Matches(e) != got {
			t.Fatalf("reparsed filter disagrees: %+v", parsed)
		}
		if MatchesAny([]Filter{filter}, e) != got || MatchesAny([]Filter{{IDs: []string{}}, filter}, e) != got {
			t.Fatal("MatchesAny disagrees with Matches")
		}
	})
}
