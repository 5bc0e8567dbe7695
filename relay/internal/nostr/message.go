package nostr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// ErrInvalidMessage wraps every parse failure; its text (after the prefix)
// is what the relay puts in a NOTICE "invalid: ...".
var ErrInvalidMessage = errors.New("invalid")

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, a...)...)
}

// Message is one parsed client message: *EventMessage, *ReqMessage,
// *CountMessage, *CloseMessage or *AuthMessage.
type Message interface{ messageType() string }

// EventMessage is ["EVENT", <event>].
type EventMessage struct{ Event *Event }

// ReqMessage is ["REQ", <sub id>, <filter>...].
type ReqMessage struct {
	SubID   string
	Filters []Filter
}

// CountMessage is ["COUNT", <sub id>, <filter>...] (NIP-45).
type CountMessage struct {
	SubID   string
	Filters []Filter
}

// CloseMessage is ["CLOSE", <sub id>].
type CloseMessage struct{ SubID string }

// AuthMessage is ["AUTH", <event>] (NIP-42).
type AuthMessage struct{ Event *Event }

func (*EventMessage) messageType() string { return "EVENT" }
func (*ReqMessage) messageType() string   { return "REQ" }
func (*CountMessage) messageType() string { return "COUNT" }
func (*CloseMessage) messageType() string { return "CLOSE" }
func (*AuthMessage) messageType() string  { return "AUTH" }

// Type returns the message's label ("EVENT", "REQ", ...).
func Type(m Message) string { return m.messageType() }

// SubIDError is returned for a REQ, COUNT or CLOSE whose subscription id is
// usable but whose filters are not, so the relay can answer with CLOSED.
type SubIDError struct {
	// Type is the message type: "REQ" or "COUNT".
	Type  string
	SubID string
	Err   error
}

func (e *SubIDError) Error() string { return e.Err.Error() }
func (e *SubIDError) Unwrap() error { return e.Err }

// Request limits (spec §2); NIP-11 advertises them.
const (
	// MaxSubIDLength is the longest subscription id accepted.
	MaxSubIDLength = 256
	// MaxFilters is the most filters one REQ or COUNT may carry.
	MaxFilters = 10
	// MaxSubscriptions is the most subscriptions one connection may hold open.
	MaxSubscriptions = 1024
	// MaxLimit caps a filter's limit, and is the limit of a filter without one.
	MaxLimit = 1000
)

// ParseMessage parses one client frame strictly: valid UTF-8 JSON, an array
// whose first element is a known type, and fields of the right types.
func ParseMessage(data []byte) (Message, error) {
	if !utf8.Valid(data) {
		return nil, invalidf("message is not valid UTF-8")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil || parts == nil {
		return nil, invalidf("message is not a JSON array")
	}
	if len(parts) == 0 {
		return nil, invalidf("empty message")
	}
	var typp *string
	if err := json.Unmarshal(parts[0], &typp); err != nil || typp == nil {
		return nil, invalidf("message type must be a string")
	}
	typ := *typp
	switch typ {
	case "EVENT":
		if len(parts) != 2 {
			return nil, invalidf("EVENT takes exactly one event")
		}
		ev, err := ParseEvent(parts[1])
		if err != nil {
			return nil, err
		}
		return &EventMessage{Event: ev}, nil
	case "AUTH":
		if len(parts) != 2 {
			return nil, invalidf("AUTH takes exactly one event")
		}
		ev, err := ParseEvent(parts[1])
		if err != nil {
			return nil, err
		}
		return &AuthMessage{Event: ev}, nil
	case "CLOSE":
		if len(parts) != 2 {
			return nil, invalidf("CLOSE takes exactly one subscription id")
		}
		id, err := parseSubID(parts[1])
		if err != nil {
			return nil, err
		}
		return &CloseMessage{SubID: id}, nil
	case "REQ", "COUNT":
		if len(parts) < 2 {
			return nil, invalidf("%s needs a subscription id", typ)
		}
		id, err := parseSubID(parts[1])
		if err != nil {
			return nil, err
		}
		if len(parts) < 3 {
			return nil, &SubIDError{Type: typ, SubID: id, Err: invalidf("%s needs at least one filter", typ)}
		}
		// Refuse before parsing: a frame can hold thousands of filters.
		if len(parts)-2 > MaxFilters {
			return nil, &SubIDError{Type: typ, SubID: id, Err: invalidf("too many filters")}
		}
		filters := make([]Filter, 0, len(parts)-2)
		for _, raw := range parts[2:] {
			f, err := ParseFilter(raw)
			if err != nil {
				return nil, &SubIDError{Type: typ, SubID: id, Err: err}
			}
			filters = append(filters, f)
		}
		if typ == "REQ" {
			return &ReqMessage{SubID: id, Filters: filters}, nil
		}
		return &CountMessage{SubID: id, Filters: filters}, nil
	default:
		return nil, invalidf("unknown message type %q", truncate(typ, 32))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func parseSubID(raw json.RawMessage) (string, error) {
	var p *string
	if err := json.Unmarshal(raw, &p); err != nil || p == nil {
		return "", invalidf("subscription id must be a string")
	}
	id := *p
	if len(id) == 0 || len(id) > MaxSubIDLength {
		return "", invalidf("subscription id must be 1 to %d bytes", MaxSubIDLength)
	}
	return id, nil
}

// parseInt accepts a JSON integer literal in [min, max]; floats, exponents,
// strings and out-of-range numbers are errors.
func parseInt(raw json.RawMessage, min, max int64) (int64, error) {
	return parseIntLiteral(string(bytes.TrimSpace(raw)), min, max)
}

// parseIntLiteral is parseInt on the literal's text.
func parseIntLiteral(s string, min, max int64) (int64, error) {
	if s == "" || s == "null" {
		return 0, errors.New("is missing")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("must be an integer in range")
	}
	if n < min || n > max {
		return 0, errors.New("out of range")
	}
	return n, nil
}

// ParseFilter decodes one filter object strictly.
func ParseFilter(data []byte) (Filter, error) {
	if !utf8.Valid(data) {
		return Filter{}, invalidf("filter is not valid UTF-8")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return Filter{}, invalidf("filter must be a JSON object")
	}
	var f Filter
	for key, raw := range fields {
		switch {
		case key == "ids" || key == "authors":
			vals, ok := stringArray(raw)
			if !ok {
				return Filter{}, invalidf("filter %s must be an array of strings", key)
			}
			for _, v := range vals {
				if !IsHex(v, 64) {
					return Filter{}, invalidf("filter %s must hold 64 lowercase hex characters", key)
				}
			}
			if key == "ids" {
				f.IDs = vals
			} else {
				f.Authors = vals
			}
		case key == "kinds":
			var raws []json.RawMessage
			if err := json.Unmarshal(raw, &raws); err != nil || raws == nil {
				return Filter{}, invalidf("filter kinds must be an array of integers")
			}
			f.Kinds = make([]int, 0, len(raws))
			for _, r := range raws {
				k, err := parseInt(r, 0, 65535)
				if err != nil {
					return Filter{}, invalidf("filter kinds: kind %s", err)
				}
				f.Kinds = append(f.Kinds, int(k))
			}
		case key == "since" || key == "until":
			n, err := parseInt(raw, 0, math.MaxInt64)
			if err != nil {
				return Filter{}, invalidf("filter %s %s", key, err)
			}
			if key == "since" {
				f.Since = &n
			} else {
				f.Until = &n
			}
		case key == "limit":
			n, err := parseInt(raw, 0, math.MaxInt64)
			if err != nil {
				return Filter{}, invalidf("filter limit %s", err)
			}
			l := int(min(n, math.MaxInt32))
			f.Limit = &l
		case len(key) >= 2 && key[0] == '#':
			vals, ok := stringArray(raw)
			if !ok {
				return Filter{}, invalidf("filter %s must be an array of strings", truncate(key, 32))
			}
			if f.Tags == nil {
				f.Tags = make(map[string][]string)
			}
			f.Tags[key[1:]] = vals
		default:
			return Filter{}, invalidf("unknown filter field %q", truncate(key, 32))
		}
	}
	return f, nil
}

// stringArray decodes a JSON array of strings. Null, for the array or any
// element, is refused: encoding/json would silently read it as nil or "".
func stringArray(raw json.RawMessage) ([]string, bool) {
	var ptrs []*string
	if err := json.Unmarshal(raw, &ptrs); err != nil || ptrs == nil {
		return nil, false
	}
	vals := make([]string, len(ptrs))
	for i, p := range ptrs {
		if p == nil {
			return nil, false
		}
		vals[i] = *p
	}
	return vals, true
}
