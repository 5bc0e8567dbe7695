package nostr

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// Field values that pass ParseEvent's shape checks (ParseEvent does not verify).
var (
	hexID  = strings.Repeat("ab", 32)
	hexPK  = strings.Repeat("cd", 32)
	hexSig = strings.Repeat("ef", 64)
)

// eventJSON builds an event object, replacing or removing fields by name:
// a value of "-" removes the field.
func eventJSON(over map[string]string) string {
	fields := []struct{ k, v string }{
		{"id", `"` + hexID + `"`},
		{"pubkey", `"` + hexPK + `"`},
		{"created_at", "1700000000"},
		{"kind", "1"},
		{"tags", `[["e","x"]]`},
		{"content", `"hi"`},
		{"sig", `"` + hexSig + `"`},
	}
	var parts []string
	for _, f := range fields {
		v := f.v
		if o, ok := over[f.k]; ok {
			v = o
		}
		if v == "-" {
			continue
		}
		parts = append(parts, `"`+f.k+`":`+v)
	}
	for k, v := range over {
		if strings.HasPrefix(k, "+") {
			parts = append(parts, `"`+k[1:]+`":`+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestParseEventAccepts(t *testing.T) {
	cases := []struct {
		name string
		over map[string]string
		want func(e *Event) bool
	}{
		{"baseline", nil, func(e *Event) bool {
			return e.ID == hexID && e.PubKey == hexPK && e.CreatedAt == 1700000000 && e.Kind == 1 &&
				reflect.DeepEqual(e.Tags, [][]string{{"e", "x"}}) && e.Content == "hi" && e.Sig == hexSig
		}},
		{"empty tags", map[string]string{"tags": "[]"}, func(e *Event) bool { return e.Tags != nil && len(e.Tags) == 0 }},
		{"tags with empty strings", map[string]string{"tags": `[[""],["e",""]]`}, func(e *Event) bool {
			return reflect.DeepEqual(e.Tags, [][]string{{""}, {"e", ""}})
		}},
		{"max created_at", map[string]string{"created_at": "9223372036854775807"}, func(e *Event) bool { return e.CreatedAt == math.MaxInt64 }},
		{"zero created_at", map[string]string{"created_at": "0"}, func(e *Event) bool { return e.CreatedAt == 0 }},
		{"kind 65535", map[string]string{"kind": "65535"}, func(e *Event) bool { return e.Kind == 65535 }},
		{"escaped content", map[string]string{"content": `"a\"b\\c\n\u00e9\ud83d\ude00\/"`}, func(e *Event) bool { return e.Content == "a\"b\\c\né😀/" }},
		{"raw unicode", map[string]string{"content": "\"日本 😀 \u2028\""}, func(e *Event) bool { return e.Content == "日本 😀 \u2028" }},
		{"whitespace", map[string]string{"kind": " 1 ", "tags": "[ [ \"e\" , \"x\" ] ]"}, func(e *Event) bool { return e.Kind == 1 && len(e.Tags) == 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(eventJSON(c.over)))
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if !c.want(e) {
				t.Fatalf("parsed %+v", e)
			}
		})
	}
}

func TestParseEventRejects(t *testing.T) {
	cases := []struct {
		name, in, mention string
	}{
		{"not JSON", `{"id":`, "malformed event"},
		{"array", `[]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"string", `"event"`, "not a JSON object"},
		{"trailing data", eventJSON(nil) + `{}`, "trailing data"},
		{"trailing garbage", eventJSON(nil) + `x`, "trailing data"},
		{"missing id", eventJSON(map[string]string{"id": "-"}), "missing field id"},
		{"missing pubkey", eventJSON(map[string]string{"pubkey": "-"}), "missing field pubkey"},
		{"missing created_at", eventJSON(map[string]string{"created_at": "-"}), "missing field created_at"},
		{"missing kind", eventJSON(map[string]string{"kind": "-"}), "missing field kind"},
		{"missing tags", eventJSON(map[string]string{"tags": "-"}), "missing field tags"},
		{"missing content", eventJSON(map[string]string{"content": "-"}), "missing field content"},
		{"missing sig", eventJSON(map[string]string{"sig": "-"}), "missing field sig"},
		{"unknown field", eventJSON(map[string]string{"+extra": "1"}), "unknown field"},
		{"wrong-case field", eventJSON(map[string]string{"kind": "-", "+Kind": "1"}), "unknown field \"Kind\""},
		{"uppercase ID key", eventJSON(map[string]string{"id": "-", "+ID": `"` + hexID + `"`}), "unknown field"},
		{"duplicate field", eventJSON(map[string]string{"+content": `"again"`}), "duplicate field"},
		{"null id", eventJSON(map[string]string{"id": "null"}), "id must be a string"},
		{"null content", eventJSON(map[string]string{"content": "null"}), "content must be a string"},
		{"numeric content", eventJSON(map[string]string{"content": "1"}), "content must be a string"},
		{"object content", eventJSON(map[string]string{"content": "{}"}), "content must be a string"},
		{"string kind", eventJSON(map[string]string{"kind": `"1"`}), "kind must be an integer"},
		{"null kind", eventJSON(map[string]string{"kind": "null"}), "kind must be an integer"},
		{"float kind", eventJSON(map[string]string{"kind": "1.5"}), "kind must be an integer"},
		{"float kind 1.0", eventJSON(map[string]string{"kind": "1.0"}), "kind must be an integer"},
		{"exponent kind", eventJSON(map[string]string{"kind": "1e2"}), "kind must be an integer"},
		{"negative kind", eventJSON(map[string]string{"kind": "-1"}), "kind out of range"},
		{"kind 65536", eventJSON(map[string]string{"kind": "65536"}), "kind out of range"},
		{"created_at 1e400", eventJSON(map[string]string{"created_at": "1e400"}), "created_at must be an integer"},
		{"created_at 2^64", eventJSON(map[string]string{"created_at": "18446744073709551616"}), "created_at must be an integer"},
		{"created_at 2^63", eventJSON(map[string]string{"created_at": "9223372036854775808"}), "created_at must be an integer"},
		{"negative created_at", eventJSON(map[string]string{"created_at": "-1"}), "created_at out of range"},
		{"float created_at", eventJSON(map[string]string{"created_at": "1700000000.5"}), "created_at must be an integer"},
		{"bool created_at", eventJSON(map[string]string{"created_at": "true"}), "created_at must be an integer"},
		{"tags not array", eventJSON(map[string]string{"tags": `{}`}), "tags must be"},
		{"tags null", eventJSON(map[string]string{"tags": `null`}), "tags must be"},
		{"tag not array", eventJSON(map[string]string{"tags": `["e"]`}), "tags must be"},
		{"tag null", eventJSON(map[string]string{"tags": `[null]`}), "tags must be"},
		{"tag element null", eventJSON(map[string]string{"tags": `[["e",null]]`}), "tags must be"},
		{"tag element number", eventJSON(map[string]string{"tags": `[["e",1]]`}), "tags must be"},
		{"tag element nested", eventJSON(map[string]string{"tags": `[["e",["x"]]]`}), "tags must be"},
		{"empty tag", eventJSON(map[string]string{"tags": `[[]]`}), "empty tag"},
		{"uppercase id", eventJSON(map[string]string{"id": `"` + strings.ToUpper(hexID) + `"`}), "id must be 64 lowercase hex"},
		{"short id", eventJSON(map[string]string{"id": `"` + hexID[:62] + `"`}), "id must be 64 lowercase hex"},
		{"non-hex pubkey", eventJSON(map[string]string{"pubkey": `"` + strings.Repeat("zz", 32) + `"`}), "pubkey must be 64 lowercase hex"},
		{"short sig", eventJSON(map[string]string{"sig": `"` + hexSig[:126] + `"`}), "sig must be 128 lowercase hex"},
		{"long sig", eventJSON(map[string]string{"sig": `"` + hexSig + `00"`}), "sig must be 128 lowercase hex"},
		{"invalid UTF-8 in content", eventJSON(map[string]string{"content": "\"\xff\xfe\""}), "invalid UTF-8"},
		{"invalid UTF-8 in tag", eventJSON(map[string]string{"tags": "[[\"e\",\"\xc3\"]]"}), "invalid UTF-8"},
		{"bad escape", eventJSON(map[string]string{"content": `"\x"`}), "malformed event"},
		{"raw control char", eventJSON(map[string]string{"content": "\"a\nb\""}), "malformed event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(c.in))
			if err == nil {
				t.Fatalf("ParseEvent(%q) accepted: %+v", c.in, e)
			}
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	ev := eventJSON(nil)
	type check func(t *testing.T, m Message)
	ok := []struct {
		name, in string
		check    check
	}{
		{"EVENT", `["EVENT",` + ev + `]`, func(t *testing.T, m Message) {
			if em, ok := m.(*EventMessage); !ok || em.Event.ID != hexID || Type(m) != "EVENT" {
				t.Fatalf("got %#v", m)
			}
		}},
		{"AUTH", `["AUTH",` + ev + `]`, func(t *testing.T, m Message) {
			if am, ok := m.(*AuthMessage); !ok || am.Event.PubKey != hexPK || Type(m) != "AUTH" {
				t.Fatalf("got %#v", m)
			}
		}},
		{"CLOSE", `["CLOSE","sub"]`, func(t *testing.T, m Message) {
			if cm, ok := m.(*CloseMessage); !ok || cm.SubID != "sub" || Type(m) != "CLOSE" {
				t.Fatalf("got %#v", m)
			}
		}},
		{"REQ one filter", `["REQ","s1",{"kinds":[9],"#h":["c1"],"limit":0}]`, func(t *testing.T, m Message) {
			rm, ok := m.(*ReqMessage)
			if !ok || rm.SubID != "s1" || len(rm.Filters) != 1 || Type(m) != "REQ" {
				t.Fatalf("got %#v", m)
			}
			f := rm.Filters[0]
			if !reflect.DeepEqual(f.Kinds, []int{9}) || !reflect.DeepEqual(f.Tags, map[string][]string{"h": {"c1"}}) || f.Limit == nil || *f.Limit != 0 {
				t.Fatalf("filter %+v", f)
			}
		}},
		{"REQ several filters", `["REQ","s",{},{"ids":["` + hexID + `"]}]`, func(t *testing.T, m Message) {
			if rm := m.(*ReqMessage); len(rm.Filters) != 2 || rm.Filters[1].IDs[0] != hexID {
				t.Fatalf("got %#v", m)
			}
		}},
		{"COUNT", `["COUNT","c",{"authors":["` + hexPK + `"]}]`, func(t *testing.T, m Message) {
			if cm, ok := m.(*CountMessage); !ok || cm.SubID != "c" || cm.Filters[0].Authors[0] != hexPK || Type(m) != "COUNT" {
				t.Fatalf("got %#v", m)
			}
		}},
		{"sub id 256 bytes", `["CLOSE","` + strings.Repeat("s", 256) + `"]`, func(t *testing.T, m Message) {
			if len(m.(*CloseMessage).SubID) != 256 {
				t.Fatal("sub id truncated")
			}
		}},
		{"sub id with escapes", `["CLOSE","a\"b\u00e9"]`, func(t *testing.T, m Message) {
			if m.(*CloseMessage).SubID != "a\"bé" {
				t.Fatalf("sub id %q", m.(*CloseMessage).SubID)
			}
		}},
		{"whitespace around", " \n[ \"CLOSE\" , \"x\" ]\t", func(t *testing.T, m Message) {
			if m.(*CloseMessage).SubID != "x" {
				t.Fatal("wrong sub id")
			}
		}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(c.in))
			if err != nil {
				t.Fatalf("ParseMessage(%q): %v", c.in, err)
			}
			c.check(t, m)
		})
	}

	bad := []struct {
		name, in, mention string
		subID             string // non-empty when a *SubIDError is expected
	}{
		{"malformed JSON", `["EVENT",`, "not a JSON array", ""},
		{"empty input", ``, "not a JSON array", ""},
		{"object", `{"type":"EVENT"}`, "not a JSON array", ""},
		{"null", `null`, "not a JSON array", ""},
		{"string", `"EVENT"`, "not a JSON array", ""},
		{"number", `1`, "not a JSON array", ""},
		{"two documents", `["CLOSE","a"]["CLOSE","b"]`, "not a JSON array", ""},
		{"empty array", `[]`, "empty message", ""},
		{"type not string", `[1,"x"]`, "type must be a string", ""},
		{"type null", `[null,"x"]`, "type must be a string", ""},
		{"unknown type", `["PUBLISH","x"]`, "unknown message type", ""},
		{"lowercase type", `["event",{}]`, "unknown message type", ""},
		{"long unknown type is truncated", `["` + strings.Repeat("X", 1000) + `"]`, "unknown message type", ""},
		{"EVENT without event", `["EVENT"]`, "exactly one event", ""},
		{"EVENT with two events", `["EVENT",` + ev + `,` + ev + `]`, "exactly one event", ""},
		{"EVENT not object", `["EVENT","x"]`, "not a JSON object", ""},
		{"EVENT bad field", `["EVENT",` + eventJSON(map[string]string{"kind": "1.5"}) + `]`, "kind must be an integer", ""},
		{"AUTH without event", `["AUTH"]`, "exactly one event", ""},
		{"AUTH with challenge string", `["AUTH","challenge"]`, "not a JSON object", ""},
		{"CLOSE without id", `["CLOSE"]`, "exactly one subscription id", ""},
		{"CLOSE extra", `["CLOSE","a","b"]`, "exactly one subscription id", ""},
		{"CLOSE numeric id", `["CLOSE",1]`, "subscription id must be a string", ""},
		{"CLOSE null id", `["CLOSE",null]`, "subscription id must be a string", ""},
		{"CLOSE empty id", `["CLOSE",""]`, "1 to 256 bytes", ""},
		{"CLOSE 257-byte id", `["CLOSE","` + strings.Repeat("s", 257) + `"]`, "1 to 256 bytes", ""},
		{"REQ without id", `["REQ"]`, "needs a subscription id", ""},
		{"REQ empty id", `["REQ","",{}]`, "1 to 256 bytes", ""},
		{"REQ 257-byte id", `["REQ","` + strings.Repeat("é", 128) + `s",{}]`, "1 to 256 bytes", ""},
		{"REQ object id", `["REQ",{},{}]`, "subscription id must be a string", ""},
		{"REQ without filters", `["REQ","s"]`, "at least one filter", "s"},
		{"COUNT without filters", `["COUNT","c"]`, "at least one filter", "c"},
		{"REQ filter not object", `["REQ","s",[]]`, "filter must be a JSON object", "s"},
		{"REQ null filter", `["REQ","s",null]`, "filter must be a JSON object", "s"},
		{"REQ second filter bad", `["REQ","s",{},{"kinds":"1"}]`, "kinds must be an array", "s"},
		{"invalid UTF-8", "[\"CLOSE\",\"\xff\"]", "not valid UTF-8", ""},
		{"invalid UTF-8 in type", "[\"\xc3(\"]", "not valid UTF-8", ""},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(c.in))
			if err == nil {
				t.Fatalf("ParseMessage(%q) accepted: %#v", c.in, m)
			}
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error is %d bytes long; client input must not be echoed unbounded", len(err.Error()))
			}
			var se *SubIDError
			if errors.As(err, &se) != (c.subID != "") {
				t.Fatalf("SubIDError = %v, want one: %v", errors.As(err, &se), c.subID != "")
			}
			if c.subID != "" && se.SubID != c.subID {
				t.Fatalf("SubIDError.SubID = %q, want %q", se.SubID, c.subID)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	i64 := func(n int64) *int64 { return &n }
	intp := func(n int) *int { return &n }
	ok := []struct {
		name, in string
		want     Filter
	}{
		{"empty", `{}`, Filter{}},
		{"ids and authors", `{"ids":["` + hexID + `"],"authors":["` + hexPK + `"]}`, Filter{IDs: []string{hexID}, Authors: []string{hexPK}}},
		{"empty arrays stay non-nil", `{"ids":[],"authors":[],"kinds":[],"#e":[]}`, Filter{IDs: []string{}, Authors: []string{}, Kinds: []int{}, Tags: map[string][]string{"e": {}}}},
		{"kinds", `{"kinds":[0,1,65535]}`, Filter{Kinds: []int{0, 1, 65535}}},
		{"since until", `{"since":0,"until":9223372036854775807}`, Filter{Since: i64(0), Until: i64(math.MaxInt64)}},
		{"limit 0", `{"limit":0}`, Filter{Limit: intp(0)}},
		{"limit huge is capped", `{"limit":9223372036854775807}`, Filter{Limit: intp(math.MaxInt32)}},
		{"single-letter tags", `{"#e":["a"],"#p":["b","c"],"#h":["chan"]}`, Filter{Tags: map[string][]string{"e": {"a"}, "p": {"b", "c"}, "h": {"chan"}}}},
		{"#x tag", `{"#x":["deadbeef"]}`, Filter{Tags: map[string][]string{"x": {"deadbeef"}}}},
		{"multi-letter tag", `{"#emoji":["x"]}`, Filter{Tags: map[string][]string{"emoji": {"x"}}}},
		{"tag values any strings", `{"#t":["","UPPER","日本"]}`, Filter{Tags: map[string][]string{"t": {"", "UPPER", "日本"}}}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFilter([]byte(c.in))
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", c.in, err)
			}
			if !reflect.DeepEqual(f, c.want) {
				t.Fatalf("ParseFilter(%q) = %+v, want %+v", c.in, f, c.want)
			}
		})
	}
	if f, _ := ParseFilter([]byte(`{"#e":["a"],"#emoji":["x"]}`)); f.SingleLetterTags() {
		t.Error("SingleLetterTags true with #emoji")
	}
	if f, _ := ParseFilter([]byte(`{"#e":["a"],"#h":["x"]}`)); !f.SingleLetterTags() {
		t.Error("SingleLetterTags false with #e and #h")
	}

	bad := []struct{ name, in, mention string }{
		{"not JSON", `{`, "must be a JSON object"},
		{"array", `[]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"unknown field", `{"search":"x"}`, "unknown filter field"},
		{"bare #", `{"#":["x"]}`, "unknown filter field"},
		{"ids not array", `{"ids":"x"}`, "ids must be an array"},
		{"ids null", `{"ids":null}`, "ids must be an array"},
		{"ids null element", `{"ids":[null]}`, "ids must be an array"},
		{"ids uppercase", `{"ids":["` + strings.ToUpper(hexID) + `"]}`, "64 lowercase hex"},
		{"ids prefix", `{"ids":["abcd"]}`, "64 lowercase hex"},
		{"authors non-hex", `{"authors":["` + strings.Repeat("g", 64) + `"]}`, "64 lowercase hex"},
		{"kinds not array", `{"kinds":1}`, "kinds must be an array"},
		{"kinds string", `{"kinds":["1"]}`, "kind must be an integer"},
		{"kinds float", `{"kinds":[1.5]}`, "kind must be an integer"},
		{"kinds negative", `{"kinds":[-1]}`, "out of range"},
		{"kinds too big", `{"kinds":[65536]}`, "out of range"},
		{"kinds 1e400", `{"kinds":[1e400]}`, "must be an integer"},
		{"since float", `{"since":1.5}`, "since must be an integer"},
		{"since negative", `{"since":-5}`, "since out of range"},
		{"until 2^64", `{"until":18446744073709551616}`, "until must be an integer"},
		{"until string", `{"until":"1"}`, "until must be an integer"},
		{"since null", `{"since":null}`, "since is missing"},
		{"limit negative", `{"limit":-1}`, "limit out of range"},
		{"limit float", `{"limit":10.0}`, "limit must be an integer"},
		{"limit 1e400", `{"limit":1e400}`, "must be an integer"},
		{"tag not array", `{"#e":"x"}`, "#e must be an array"},
		{"tag numbers", `{"#e":[1]}`, "#e must be an array"},
		{"tag null element", `{"#e":["a",null]}`, "#e must be an array"},
		{"invalid UTF-8", "{\"#e\":[\"\xff\"]}", "not valid UTF-8"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFilter([]byte(c.in))
			if err == nil {
				t.Fatalf("ParseFilter(%q) accepted: %+v", c.in, f)
			}
			if !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("ParseFilter(%q) = %v, want ErrInvalidMessage mentioning %q", c.in, err, c.mention)
			}
		})
	}
}
