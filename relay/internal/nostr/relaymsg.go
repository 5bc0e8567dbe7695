package nostr

import "strconv"

// The relay's outgoing frames, built by hand so that each is encoded once
// and the event bytes match the canonical escaping.

// EventFrame returns ["EVENT",<sub id>,<event>].
func EventFrame(subID string, e *Event) []byte {
	b := make([]byte, 0, 400+len(subID)+e.stringsSize())
	b = append(b, `["EVENT",`...)
	b = AppendString(b, subID)
	b = append(b, ',')
	b = e.AppendJSON(b)
	return append(b, ']')
}

// OKFrame returns ["OK",<event id>,<ok>,<message>].
func OKFrame(eventID string, ok bool, msg string) []byte {
	b := append([]byte(`["OK",`), nil...)
	b = AppendString(b, eventID)
	b = append(b, ',')
	b = strconv.AppendBool(b, ok)
	b = append(b, ',')
	b = AppendString(b, msg)
	return append(b, ']')
}

// EOSEFrame returns ["EOSE",<sub id>].
func EOSEFrame(subID string) []byte {
	b := append([]byte(`["EOSE",`), nil...)
	b = AppendString(b, subID)
	return append(b, ']')
}

// ClosedFrame returns ["CLOSED",<sub id>,<message>].
func ClosedFrame(subID, msg string) []byte {
	b := append([]byte(`["CLOSED",`), nil...)
	b = AppendString(b, subID)
	b = append(b, ',')
	b = AppendString(b, msg)
	return append(b, ']')
}

// NoticeFrame returns ["NOTICE",<message>].
func NoticeFrame(msg string) []byte {
	b := append([]byte(`["NOTICE",`), nil...)
	b = AppendString(b, msg)
	return append(b, ']')
}

// AuthFrame returns ["AUTH",<challenge>].
func AuthFrame(challenge string) []byte {
	b := append([]byte(`["AUTH",`), nil...)
	b = AppendString(b, challenge)
	return append(b, ']')
}

// CountFrame returns ["COUNT",<sub id>,{"count":n}].
func CountFrame(subID string, n int64) []byte {
	b := append([]byte(`["COUNT",`), nil...)
	b = AppendString(b, subID)
	b = append(b, `,{"count":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, `}]`...)
}
