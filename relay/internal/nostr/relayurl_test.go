package nostr

import (
	"errors"
	"testing"
)

func TestNormalizeRelayURL(t *testing.T) {
	cases := []struct {
		rule, in, want string
	}{
		{"already normal", "wss://relay.example.com", "wss://relay.example.com"},
		{"scheme case-folded", "WSS://relay.example.com", "wss://relay.example.com"},
		{"host case-folded", "wss://Relay.EXAMPLE.com", "wss://relay.example.com"},
		{"path case kept", "wss://relay.example.com/Nostr", "wss://relay.example.com/Nostr"},
		{"localhost", "ws://localhost:3000", "ws://127.0.0.1:3000"},
		{"LOCALHOST", "ws://LOCALHOST:3000", "ws://127.0.0.1:3000"},
		{"bracketed ::1", "ws://[::1]:3000", "ws://127.0.0.1:3000"},
		{"bracketed ::1 no port", "ws://[::1]", "ws://127.0.0.1"},
		{"bare ::1", "ws://::1", "ws://127.0.0.1"},
		{"127.0.0.1 kept", "ws://127.0.0.1:3000", "ws://127.0.0.1:3000"},
		{"other IPv6 kept in brackets", "ws://[2001:DB8::1]:3000", "ws://[2001:db8::1]:3000"},
		{"other IPv6 default port", "wss://[2001:db8::1]:443", "wss://[2001:db8::1]"},
		{"ws default port 80", "ws://relay.example.com:80", "ws://relay.example.com"},
		{"wss default port 443", "wss://relay.example.com:443", "wss://relay.example.com"},
		{"http default port 80", "http://relay.example.com:80/", "http://relay.example.com"},
		{"https default port 443", "https://relay.example.com:443", "https://relay.example.com"},
		{"ws keeps 443", "ws://relay.example.com:443", "ws://relay.example.com:443"},
		{"wss keeps 80", "wss://relay.example.com:80", "wss://relay.example.com:80"},
		{"non-default port kept", "wss://relay.example.com:8443", "wss://relay.example.com:8443"},
		{"leading zeros in port", "ws://localhost:03000", "ws://127.0.0.1:3000"},
		{"empty port", "ws://relay.example.com:", "ws://relay.example.com"},
		{"trailing slash", "wss://relay.example.com/", "wss://relay.example.com"},
		{"trailing slashes", "wss://relay.example.com//", "wss://relay.example.com"},
		{"trailing slash after path", "wss://relay.example.com/nostr/", "wss://relay.example.com/nostr"},
		{"inner path kept", "wss://relay.example.com/a/b", "wss://relay.example.com/a/b"},
		{"escaped path kept", "wss://relay.example.com/a%20b/", "wss://relay.example.com/a%20b"},
		{"query kept", "wss://relay.example.com/?token=X", "wss://relay.example.com?token=X"},
		{"fragment dropped", "wss://relay.example.com/#top", "wss://relay.example.com"},
		{"everything at once", "WS://LocalHost:80/", "ws://127.0.0.1"},
		{"spec default RELAY_URL", "ws://localhost:3000", "ws://127.0.0.1:3000"},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			got, err := NormalizeRelayURL(c.in)
			if err != nil {
				t.Fatalf("NormalizeRelayURL(%q): %v", c.in, err)
			}
			if got != c.want {
				t.Fatalf("NormalizeRelayURL(%q) = %q, want %q", c.in, got, c.want)
			}
			again, err := NormalizeRelayURL(got)
			if err != nil || again != got {
				t.Fatalf("not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizeRelayURLRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"relay.example.com",
		"ftp://relay.example.com",
		"wss:relay.example.com",
		"wss://",
		"wss:///path",
		"wss://user:pw@relay.example.com",
		"wss://relay.example.com:0",
		"wss://relay.example.com:65536",
		"wss://relay.example.com:abc",
		"wss://2001:db8::1",
		" wss://relay.example.com",
		"wss://relay example.com",
		"wss://relay.example.com\x00",
	} {
		if got, err := NormalizeRelayURL(in); !errors.Is(err, ErrBadRelayURL) {
			t.Errorf("NormalizeRelayURL(%q) = %q, %v; want ErrBadRelayURL", in, got, err)
		}
	}
}
