package nostr

import (
	"errors"
	"fmt"
	"time"
)

// ErrAuthInvalid wraps every reason CheckAuthEvent refuses an AUTH event.
var ErrAuthInvalid = errors.New("invalid auth event")

// AuthMaxSkew is how far an AUTH event's created_at may be from the relay's
// clock (spec §3). It is tighter than for ordinary events because an AUTH
// event is made on the spot in answer to a fresh challenge.
const AuthMaxSkew = 60 * time.Second

// CheckAuthEvent validates a NIP-42 AUTH event against the challenge issued on
// this connection and the relay's own URL (RELAY_URL), at time now. The error
// wraps ErrAuthInvalid and says what is wrong; the relay logs it and answers
// the client only "auth-required: verification failed". Cheap checks run
// before the signature so junk costs little.
func CheckAuthEvent(e *Event, challenge, relayURL string, now time.Time) error {
	if e == nil {
		return fmt.Errorf("%w: no event", ErrAuthInvalid)
	}
	if e.Kind != KindAuth {
		return fmt.Errorf("%w: kind %d, want %d", ErrAuthInvalid, e.Kind, KindAuth)
	}
	if challenge == "" {
		return fmt.Errorf("%w: no challenge was issued", ErrAuthInvalid)
	}
	if n := e.CountTags("challenge"); n != 1 {
		return fmt.Errorf("%w: %d challenge tags, want exactly 1", ErrAuthInvalid, n)
	}
	if got, _ := e.Tag("challenge"); got != challenge {
		return fmt.Errorf("%w: challenge does not match the one issued", ErrAuthInvalid)
	}
	if n := e.CountTags("relay"); n != 1 {
		return fmt.Errorf("%w: %d relay tags, want exactly 1", ErrAuthInvalid, n)
	}
	want, err := NormalizeRelayURL(relayURL)
	if err != nil {
		return fmt.Errorf("%w: the relay's own URL is misconfigured: %w", ErrAuthInvalid, err)
	}
	tag, _ := e.Tag("relay")
	got, err := NormalizeRelayURL(tag)
	if err != nil {
		return fmt.Errorf("%w: relay tag: %w", ErrAuthInvalid, err)
	}
	if got != want {
		return fmt.Errorf("%w: relay tag %q does not name this relay (%q)", ErrAuthInvalid, truncate(got, 128), want)
	}
	skew := int64(AuthMaxSkew / time.Second)
	t := now.Unix()
	if e.CreatedAt < t-skew || e.CreatedAt > t+skew {
		return fmt.Errorf("%w: created_at %d is more than %d s from now (%d)", ErrAuthInvalid, e.CreatedAt, skew, t)
	}
	if err := e.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrAuthInvalid, err)
	}
	return nil
}
