package nostr

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadRelayURL wraps every NormalizeRelayURL failure.
var ErrBadRelayURL = errors.New("invalid relay URL")

// NormalizeRelayURL returns the form of a relay URL that NIP-42 "relay" tags
// are compared in (spec §3), so that a client writing wss://Relay.Example.com:443/
// matches an operator's wss://relay.example.com:
//   - scheme and host are lowercased;
//   - localhost, ::1 and [::1] become 127.0.0.1 (local clients spell it many ways);
//   - the default port is dropped (80 for ws and http, 443 for wss and https);
//   - trailing slashes are removed; the rest of the path and any query are kept
//     as written; a fragment is dropped since it never reaches the server.
//
// Only ws, wss, http and https URLs with a host are accepted; user info is refused.
func NormalizeRelayURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadRelayURL, truncate(s, 64), err)
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "ws", "http":
		defaultPort = "80"
	case "wss", "https":
		defaultPort = "443"
	default:
		return "", fmt.Errorf("%w: %q: scheme must be ws, wss, http or https", ErrBadRelayURL, truncate(s, 64))
	}
	if u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("%w: %q: no host", ErrBadRelayURL, truncate(s, 64))
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: %q: user info is not allowed", ErrBadRelayURL, truncate(s, 64))
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if u.Host == "::1" {
		// net/url reads an unbracketed ::1 as host ":" and port 1; the spec
		// names this spelling, so take it as the loopback address.
		host, port = "::1", ""
	}
	if host == "" {
		return "", fmt.Errorf("%w: %q: no host", ErrBadRelayURL, truncate(s, 64))
	}
	switch {
	case host == "localhost" || host == "::1":
		host = "127.0.0.1"
	case strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "["):
		return "", fmt.Errorf("%w: %q: an IPv6 host must be in brackets", ErrBadRelayURL, truncate(s, 64))
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: %q: bad port", ErrBadRelayURL, truncate(s, 64))
		}
		port = strconv.Itoa(n)
		if port == defaultPort {
			port = ""
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(scheme)
	b.WriteString("://")
	if port != "" {
		b.WriteString(net.JoinHostPort(host, port))
	} else if strings.Contains(host, ":") {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	b.WriteString(strings.TrimRight(u.EscapedPath(), "/"))
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	return b.String(), nil
}
