package nostr

import (
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/nbd-wtf/go-nostr/nip19"
)

// NIP-19's own example pair.
const (
	nip19Hex  = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
	nip19Npub = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
	nip19Nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
)

func TestParsePubkeyAccepts(t *testing.T) {
	cases := map[string]string{
		nip19Hex:                   nip19Hex,
		nip19Npub:                  nip19Hex,
		strings.ToUpper(nip19Npub): nip19Hex, // BIP-173 allows all-uppercase
		testPubkey:                 testPubkey,
		strings.Repeat("0", 64):    strings.Repeat("0", 64),
	}
	for in, want := range cases {
		got, err := ParsePubkey(in)
		if err != nil {
			t.Errorf("ParsePubkey(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("ParsePubkey(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParsePubkeyRejects(t *testing.T) {
	// A bech32m string with the npub prefix and the same payload.
	cases := []struct {
		name, in, mention string
	}{
		{"empty", "", "empty"},
		{"uppercase hex", strings.ToUpper(nip19Hex), "lowercase"},
		{"mixed case hex", "7E" + nip19Hex[2:], "lowercase"},
		{"short hex", nip19Hex[:63], "64 hex"},
		{"long hex", nip19Hex + "0", "64 hex"},
		{"non-hex", "g" + nip19Hex[1:], "not hex"},
		{"0x prefix", "0x" + nip19Hex[2:], "not hex"},
		{"nsec", nip19Nsec, "nsec"},
		{"note", "note1" + nip19Npub[5:], "not an npub"},
		{"nprofile", "nprofile1qqsrhuxx8l9ex335q7he0f09aej04zpazpl0ne2cgukyawd24mayt8gpp4mhxue69uhhytnc9e3k7mgpz4mhxue69uhkg6nzv9ejuumpv34kytnrdaksjlyr9p", "not an npub"},
		{"bad checksum", nip19Npub[:len(nip19Npub)-1] + "q", "checksum"},
		{"mixed case npub", "npub1" + strings.ToUpper(nip19Npub[5:10]) + nip19Npub[10:], "bad npub"},
		{"truncated npub", nip19Npub[:40], "bad npub"},
		{"npub wrong length payload", mustNpubOfBytes(t, make([]byte, 31)), "31 bytes"},
		{"bech32m npub", bech32mNpub(t), "bech32m"},
		{"whitespace", " " + nip19Hex, "64 hex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePubkey(c.in)
			if !errors.Is(err, ErrBadPubkey) {
				t.Fatalf("ParsePubkey(%q) = %q, %v; want ErrBadPubkey", c.in, got, err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not say %q", err, c.mention)
			}
		})
	}
}

func TestEncodeNpub(t *testing.T) {
	got, err := EncodeNpub(nip19Hex)
	if err != nil {
		t.Fatal(err)
	}
	if got != nip19Npub {
		t.Fatalf("EncodeNpub = %s, want %s", got, nip19Npub)
	}
	for _, bad := range []string{"", strings.ToUpper(nip19Hex), nip19Hex[:62], nip19Npub} {
		if _, err := EncodeNpub(bad); !errors.Is(err, ErrBadPubkey) {
			t.Errorf("EncodeNpub(%q) = %v, want ErrBadPubkey", bad, err)
		}
	}
	// Cross-check against go-nostr's independent NIP-19 code, both ways.
	for i := 0; i < 20; i++ {
		sk, err := GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		pk := PublicKeyHex(sk)
		ours, err := EncodeNpub(pk)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := nip19.EncodePublicKey(pk)
		if err != nil {
			t.Fatal(err)
		}
		if ours != theirs {
			t.Fatalf("npub of %s: ours %s, go-nostr %s", pk, ours, theirs)
		}
		back, err := ParsePubkey(theirs)
		if err != nil || back != pk {
			t.Fatalf("ParsePubkey(%s) = %s, %v; want %s", theirs, back, err, pk)
		}
	}
}

func mustNpubOfBytes(t *testing.T, raw []byte) string {
	t.Helper()
	data, err := bech32.ConvertBits(raw, 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bech32.Encode("npub", data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bech32mNpub(t *testing.T) string {
	t.Helper()
	raw := mustHex(t, nip19Hex)
	data, err := bech32.ConvertBits(raw, 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bech32.EncodeM("npub", data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
