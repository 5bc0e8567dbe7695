package nostr

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	gonostr "github.com/nbd-wtf/go-nostr"
)

const testPubkey = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

// TestAppendStringEscapes pins NIP-01's escaping rules one character class at a time.
func TestAppendStringEscapes(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "hello", `"hello"`},
		{"quote", `a"b`, `"a\"b"`},
		{"backslash", `a\b`, `"a\\b"`},
		{"newline", "a\nb", `"a\nb"`},
		{"carriage return", "a\rb", `"a\rb"`},
		{"tab", "a\tb", `"a\tb"`},
		{"backspace", "a\bb", `"a\bb"`},
		{"form feed", "a\fb", `"a\fb"`},
		{"NUL", "\x00", `"\u0000"`},
		{"SOH", "\x01", `"\u0001"`},
		{"BEL", "\x07", `"\u0007"`},
		{"VT", "\x0b", `"\u000b"`},
		{"SO SI", "\x0e\x0f", `"\u000e\u000f"`},
		{"DLE", "\x10", `"\u0010"`},
		{"0x19 0x1a", "\x19\x1a", `"\u0019\u001a"`},
		{"ESC", "\x1b", `"\u001b"`},
		{"unit separator", "\x1f", `"\u001f"`},
		{"space is raw", " ", `" "`},
		{"slash not escaped", "a/b</script>", `"a/b</script>"`},
		{"html chars raw", "<>&'", `"<>&'"`},
		{"DEL raw", "\x7f", "\"\x7f\""},
		{"latin-1 raw", "café", `"café"`},
		{"CJK raw", "日本語の文字", `"日本語の文字"`},
		{"emoji raw", "😀👍🏽", `"😀👍🏽"`},
		{"ZWJ sequence raw", "👩‍💻", `"👩‍💻"`},
		{"line separator raw", "a\u2028b", "\"a\u2028b\""},
		{"paragraph separator raw", "a\u2029b", "\"a\u2029b\""},
		{"BOM raw", "\ufeff", "\"\ufeff\""},
		{"replacement char raw", "\ufffd", "\"\ufffd\""},
		{"mixed", "\"\\\n/\x00é", `"\"\\\n/\u0000é"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(AppendString(nil, c.in))
			if got != c.want {
				t.Fatalf("AppendString(%q) = %q, want %q", c.in, got, c.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatalf("output %q is not a JSON string: %v", got, err)
			}
			if back != c.in {
				t.Fatalf("round trip through encoding/json: %q, want %q", back, c.in)
			}
		})
	}
}

// TestAppendStringAllControlChars checks every byte below 0x20 against the
// NIP-01 rule, independently of the table above.
func TestAppendStringAllControlChars(t *testing.T) {
	named := map[byte]string{'\b': `\b`, '\t': `\t`, '\n': `\n`, '\f': `\f`, '\r': `\r`}
	for c := 0; c < 0x20; c++ {
		want, ok := named[byte(c)]
		if !ok {
			want = `\u00` + hex.EncodeToString([]byte{byte(c)})
		}
		got := string(AppendString(nil, string([]byte{byte(c)})))
		if got != `"`+want+`"` {
			t.Errorf("byte %#02x: got %s, want %q", c, got, want)
		}
	}
	for c := 0x20; c < 0x80; c++ {
		got := string(AppendString(nil, string([]byte{byte(c)})))
		want := `"` + string(rune(c)) + `"`
		if c == '"' || c == '\\' {
			want = `"\` + string(rune(c)) + `"`
		}
		if got != want {
			t.Errorf("byte %#02x: got %q, want %q", c, got, want)
		}
	}
}

func TestSerializeVectors(t *testing.T) {
	cases := []struct {
		name string
		ev   Event
		want string
	}{
		{
			name: "nil tags",
			ev:   Event{PubKey: testPubkey, CreatedAt: 1700000000, Kind: 1, Content: "hi"},
			want: `[0,"` + testPubkey + `",1700000000,1,[],"hi"]`,
		},
		{
			name: "empty tags",
			ev:   Event{PubKey: testPubkey, CreatedAt: 0, Kind: 0, Tags: [][]string{}, Content: ""},
			want: `[0,"` + testPubkey + `",0,0,[],""]`,
		},
		{
			name: "tags with empty strings",
			ev:   Event{PubKey: testPubkey, CreatedAt: 1, Kind: 9, Tags: [][]string{{"e", ""}, {""}, {"p", "", ""}}, Content: "x"},
			want: `[0,"` + testPubkey + `",1,9,[["e",""],[""],["p","",""]],"x"]`,
		},
		{
			name: "large created_at and kind",
			ev:   Event{PubKey: testPubkey, CreatedAt: math.MaxInt64, Kind: 65535, Content: "big"},
			want: `[0,"` + testPubkey + `",9223372036854775807,65535,[],"big"]`,
		},
		{
			name: "escapes in tags and content",
			ev: Event{PubKey: testPubkey, CreatedAt: 1700000001, Kind: 9,
				Tags:    [][]string{{"h", "a\"b"}, {"t", "x\\y/z", "\n"}},
				Content: "line1\nline2\ttab \"q\" \x01 \x7f é 😀 \u2028"},
			want: `[0,"` + testPubkey + `",1700000001,9,[["h","a\"b"],["t","x\\y/z","\n"]],"line1\nline2\ttab \"q\" \u0001 ` + "\x7f é 😀 \u2028" + `"]`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(c.ev.Serialize())
			if got != c.want {
				t.Fatalf("Serialize:\n got %s\nwant %s", got, c.want)
			}
			sum := sha256.Sum256([]byte(c.want))
			if id := c.ev.ComputeID(); id != hex.EncodeToString(sum[:]) {
				t.Fatalf("ComputeID = %s, want sha256 of the expected form %x", id, sum)
			}
			// The canonical form must be JSON that decodes back to the fields.
			var arr []any
			if err := json.Unmarshal([]byte(got), &arr); err != nil {
				t.Fatalf("serialisation is not JSON: %v", err)
			}
			if arr[5].(string) != c.ev.Content {
				t.Fatalf("content decoded as %q, want %q", arr[5], c.ev.Content)
			}
		})
	}
}

// trickyContents are strings whose serialisation differs between careless
// encoders: encoding/json alone gets several wrong (<, >, &, U+2028, invalid UTF-8).
var trickyContents = []string{
	"",
	"plain text",
	`"quoted" and \backslashed\`,
	"\n\r\t\b\f",
	"\x00\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
	"</script><b>&amp;</b>",
	"a/b//c",
	"\x7f DEL",
	"café naïve Ωmega",
	"中文字符 日本語 한국어",
	"😀🎉 👩‍👩‍👧‍👦 🇺🇳",
	"\u2028\u2029",
	"\ufeffBOM",
	strings.Repeat("long \"line\"\n", 200),
	`{"json":"inside","n":[1,2]}`,
	"\\u0041 is not unescaped",
}

func trickyTags(content string) [][]string {
	return [][]string{
		{"h", "6f1c9f4a-1e7d-4a53-9b2f-0f3c1a2b3c4d"},
		{"e", "", "wss://relay.example.com/"},
		{"t", content},
		{"p", testPubkey, "", "mention"},
		{"x"},
	}
}

// TestCrossCheckGoNostr compares serialisation and ids with the independent
// go-nostr implementation, and signatures in both directions.
func TestCrossCheckGoNostr(t *testing.T) {
	sk, err := ParsePrivateKeyHex("0000000000000000000000000000000000000000000000000000000000000003")
	if err != nil {
		t.Fatal(err)
	}
	skHex := PrivateKeyHex(sk)
	for i, content := range trickyContents {
		for _, tags := range [][][]string{nil, {}, trickyTags(content)} {
			ours := Event{PubKey: PublicKeyHex(sk), CreatedAt: 1700000000 + int64(i), Kind: 9, Tags: tags, Content: content}
			theirs := gonostr.Event{PubKey: ours.PubKey, CreatedAt: gonostr.Timestamp(ours.CreatedAt), Kind: ours.Kind, Tags: toGoNostrTags(tags), Content: content}

			if a, b := string(ours.Serialize()), string(theirs.Serialize()); a != b {
				t.Fatalf("content %d: serialisation differs:\n ours   %q\n theirs %q", i, a, b)
			}
			if a, b := ours.ComputeID(), theirs.GetID(); a != b {
				t.Fatalf("content %d: id differs: ours %s theirs %s", i, a, b)
			}

			// Signed by go-nostr, checked by us.
			if err := theirs.Sign(skHex); err != nil {
				t.Fatal(err)
			}
			fromThem := Event{ID: theirs.ID, PubKey: theirs.PubKey, CreatedAt: int64(theirs.CreatedAt), Kind: theirs.Kind, Tags: fromGoNostrTags(theirs.Tags), Content: theirs.Content, Sig: theirs.Sig}
			if err := fromThem.Check(); err != nil {
				t.Fatalf("content %d: go-nostr-signed event fails our Check: %v", i, err)
			}

			// Signed by us, checked by go-nostr.
			if err := ours.Sign(sk); err != nil {
				t.Fatal(err)
			}
			if ours.ID != theirs.ID {
				t.Fatalf("content %d: signed ids differ: %s vs %s", i, ours.ID, theirs.ID)
			}
			check := gonostr.Event{ID: ours.ID, PubKey: ours.PubKey, CreatedAt: gonostr.Timestamp(ours.CreatedAt), Kind: ours.Kind, Tags: toGoNostrTags(ours.Tags), Content: ours.Content, Sig: ours.Sig}
			if !check.CheckID() {
				t.Fatalf("content %d: go-nostr rejects our id", i)
			}
			if ok, err := check.CheckSignature(); !ok || err != nil {
				t.Fatalf("content %d: go-nostr rejects our signature: %v", i, err)
			}

			// Our wire JSON decodes in go-nostr to the same event, and in our parser too.
			wire := ours.AppendJSON(nil)
			var decoded gonostr.Event
			if err := json.Unmarshal(wire, &decoded); err != nil {
				t.Fatalf("content %d: go-nostr cannot decode our JSON %q: %v", i, wire, err)
			}
			if decoded.Content != content || decoded.ID != ours.ID || decoded.Sig != ours.Sig || !tagsEqual(fromGoNostrTags(decoded.Tags), ours.Tags) {
				t.Fatalf("content %d: go-nostr decoded our JSON to a different event", i)
			}
			parsed, err := ParseEvent(wire)
			if err != nil {
				t.Fatalf("content %d: ParseEvent of our own JSON: %v", i, err)
			}
			if err := parsed.Check(); err != nil {
				t.Fatalf("content %d: reparsed event fails Check: %v", i, err)
			}
		}
	}
}

// TestTamperedEventFailsCheck makes sure Check is not vacuous: every field
// covered by the id, and the id and signature themselves, are load-bearing.
func TestTamperedEventFailsCheck(t *testing.T) {
	sk, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	base := Event{CreatedAt: 1700000000, Kind: 9, Tags: [][]string{{"h", "chan"}}, Content: "hello"}
	if err := base.Sign(sk); err != nil {
		t.Fatal(err)
	}
	if err := base.Check(); err != nil {
		t.Fatalf("fresh event fails Check: %v", err)
	}
	other, _ := GeneratePrivateKey()
	flip := func(s string) string {
		b := []byte(s)
		if b[10] == '0' {
			b[10] = '1'
		} else {
			b[10] = '0'
		}
		return string(b)
	}
	mutations := map[string]struct {
		mut  func(e *Event)
		want error
	}{
		"content":        {func(e *Event) { e.Content += "!" }, ErrBadID},
		"created_at":     {func(e *Event) { e.CreatedAt++ }, ErrBadID},
		"kind":           {func(e *Event) { e.Kind = 1 }, ErrBadID},
		"tag value":      {func(e *Event) { e.Tags[0][1] = "other" }, ErrBadID},
		"extra tag":      {func(e *Event) { e.Tags = append(e.Tags, []string{"t", "x"}) }, ErrBadID},
		"pubkey":         {func(e *Event) { e.PubKey = PublicKeyHex(other) }, ErrBadID},
		"id":             {func(e *Event) { e.ID = flip(e.ID) }, ErrBadID},
		"sig":            {func(e *Event) { e.Sig = flip(e.Sig) }, ErrBadSignature},
		"uppercase id":   {func(e *Event) { e.ID = strings.ToUpper(e.ID) }, ErrBadHex},
		"short sig":      {func(e *Event) { e.Sig = e.Sig[:126] }, ErrBadHex},
		"non-hex pubkey": {func(e *Event) { e.PubKey = "z" + e.PubKey[1:] }, ErrBadHex},
		"resigned by other": {func(e *Event) {
			id := e.ID
			_ = e.Sign(other)
			e.ID, e.PubKey = id, PublicKeyHex(sk)
		}, ErrBadSignature},
	}
	for name, m := range mutations {
		t.Run(name, func(t *testing.T) {
			e := base
			e.Tags = [][]string{slices.Clone(base.Tags[0])}
			m.mut(&e)
			err := e.Check()
			if err == nil {
				t.Fatal("tampered event passes Check")
			}
			if !errors.Is(err, m.want) {
				t.Fatalf("Check = %v, want %v", err, m.want)
			}
		})
	}
}

func toGoNostrTags(tags [][]string) gonostr.Tags {
	if tags == nil {
		return nil
	}
	out := make(gonostr.Tags, len(tags))
	for i, t := range tags {
		out[i] = gonostr.Tag(slices.Clone(t))
	}
	return out
}

func fromGoNostrTags(tags gonostr.Tags) [][]string {
	if tags == nil {
		return nil
	}
	out := make([][]string, len(tags))
	for i, t := range tags {
		out[i] = slices.Clone([]string(t))
	}
	return out
}

func tagsEqual(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// FuzzSerializeGoNostr: for any content and tag value, our canonical form is
// byte-identical to go-nostr's, and valid UTF-8 strings survive a decode.
func FuzzSerializeGoNostr(f *testing.F) {
	for _, s := range trickyContents {
		f.Add(s, "v")
	}
	f.Add("\xff\xfe invalid", "\xc3")
	f.Fuzz(func(t *testing.T, content, value string) {
		ours := Event{PubKey: testPubkey, CreatedAt: 1, Kind: 1, Tags: [][]string{{"t", value}}, Content: content}
		theirs := gonostr.Event{PubKey: testPubkey, CreatedAt: 1, Kind: 1, Tags: gonostr.Tags{{"t", value}}, Content: content}
		if a, b := ours.Serialize(), theirs.Serialize(); string(a) != string(b) {
			t.Fatalf("serialisation differs:\n ours   %q\n theirs %q", a, b)
		}
		if !utf8.ValidString(content) {
			return
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, content), &back); err != nil || back != content {
			t.Fatalf("AppendString(%q) decodes to %q, %v", content, back, err)
		}
	})
}
