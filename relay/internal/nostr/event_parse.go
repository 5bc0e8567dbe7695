package nostr

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"unicode/utf8"
)

// Bits for the fields of an event object, to spot missing and repeated keys.
const (
	fieldID = 1 << iota
	fieldPubKey
	fieldCreatedAt
	fieldKind
	fieldTags
	fieldContent
	fieldSig
	allEventFields = fieldID | fieldPubKey | fieldCreatedAt | fieldKind | fieldTags | fieldContent | fieldSig
)

var eventFieldNames = [...]struct {
	bit  int
	name string
}{
	{fieldID, "id"}, {fieldPubKey, "pubkey"}, {fieldCreatedAt, "created_at"}, {fieldKind, "kind"},
	{fieldTags, "tags"}, {fieldContent, "content"}, {fieldSig, "sig"},
}

// ParseEvent decodes an event object strictly: every field present exactly
// once with its JSON type, keys spelled exactly (encoding/json would otherwise
// match "ID" or "Kind" case-insensitively), no unknown fields, no null where
// a string belongs, integers in range, hex fields well formed, valid UTF-8.
// It does not check the id or signature (see Event.Check).
func ParseEvent(data []byte) (*Event, error) {
	if !utf8.Valid(data) {
		return nil, invalidf("malformed event: invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if !nextDelim(dec, '{') {
		return nil, invalidf("malformed event: not a JSON object")
	}
	var ev Event
	seen := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("malformed event: %s", describeJSONError(err))
		}
		key, _ := tok.(string)
		bit := 0
		for _, f := range eventFieldNames {
			if f.name == key {
				bit = f.bit
			}
		}
		if bit == 0 {
			return nil, invalidf("malformed event: unknown field %q", truncate(key, 32))
		}
		if seen&bit != 0 {
			return nil, invalidf("malformed event: duplicate field %q", key)
		}
		seen |= bit
		switch bit {
		case fieldID:
			ev.ID, err = nextString(dec)
		case fieldPubKey:
			ev.PubKey, err = nextString(dec)
		case fieldSig:
			ev.Sig, err = nextString(dec)
		case fieldContent:
			ev.Content, err = nextString(dec)
		case fieldCreatedAt:
			ev.CreatedAt, err = nextInt(dec, 0, math.MaxInt64)
		case fieldKind:
			var k int64
			k, err = nextInt(dec, 0, 65535)
			ev.Kind = int(k)
		case fieldTags:
			ev.Tags, err = nextTags(dec)
		}
		if err != nil {
			return nil, invalidf("malformed event: %s %s", key, err)
		}
	}
	if !nextDelim(dec, '}') {
		return nil, invalidf("malformed event: not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("malformed event: trailing data")
	}
	if seen != allEventFields {
		for _, f := range eventFieldNames {
			if seen&f.bit == 0 {
				return nil, invalidf("malformed event: missing field %s", f.name)
			}
		}
	}
	if !IsHex(ev.ID, 64) {
		return nil, invalidf("malformed event: id must be 64 lowercase hex characters")
	}
	if !IsHex(ev.PubKey, 64) {
		return nil, invalidf("malformed event: pubkey must be 64 lowercase hex characters")
	}
	if !IsHex(ev.Sig, 128) {
		return nil, invalidf("malformed event: sig must be 128 lowercase hex characters")
	}
	for _, t := range ev.Tags {
		if len(t) == 0 {
			return nil, invalidf("malformed event: empty tag")
		}
	}
	if !ev.validUTF8() {
		return nil, invalidf("malformed event: invalid UTF-8")
	}
	return &ev, nil
}

var (
	errNotString  = errors.New("must be a string")
	errNotTags    = errors.New("must be an array of arrays of strings")
	errNotInteger = errors.New("must be an integer in range")
)

func nextDelim(dec *json.Decoder, d json.Delim) bool {
	tok, err := dec.Token()
	return err == nil && tok == d
}

func nextString(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if s, ok := tok.(string); ok && err == nil {
		return s, nil
	}
	return "", errNotString
}

func nextInt(dec *json.Decoder, min, max int64) (int64, error) {
	tok, err := dec.Token()
	n, ok := tok.(json.Number)
	if err != nil || !ok {
		return 0, errNotInteger
	}
	return parseIntLiteral(string(n), min, max)
}

// nextTags reads [[string,...],...]; null anywhere is refused because
// encoding/json would turn it into "" and change the event's hash.
func nextTags(dec *json.Decoder) ([][]string, error) {
	if !nextDelim(dec, '[') {
		return nil, errNotTags
	}
	tags := [][]string{}
	for dec.More() {
		if !nextDelim(dec, '[') {
			return nil, errNotTags
		}
		var tag []string
		for dec.More() {
			tok, err := dec.Token()
			s, ok := tok.(string)
			if err != nil || !ok {
				return nil, errNotTags
			}
			tag = append(tag, s)
		}
		if !nextDelim(dec, ']') {
			return nil, errNotTags
		}
		if tag == nil {
			tag = []string{}
		}
		tags = append(tags, tag)
	}
	if !nextDelim(dec, ']') {
		return nil, errNotTags
	}
	return tags, nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "bad JSON syntax"
	}
	return truncate(err.Error(), 80)
}
