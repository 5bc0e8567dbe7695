package nostr

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePrivateKeyHex(t *testing.T) {
	good := "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
	sk, err := ParsePrivateKeyHex(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := PrivateKeyHex(sk); got != good {
		t.Fatalf("PrivateKeyHex = %s, want %s", got, good)
	}
	upper, err := ParsePrivateKeyHex(strings.ToUpper(good))
	if err != nil {
		t.Fatalf("uppercase private key refused: %v", err)
	}
	if PrivateKeyHex(upper) != good {
		t.Fatal("uppercase private key decoded to a different key")
	}
	bad := map[string]string{
		"empty":          "",
		"short":          good[:62],
		"long":           good + "00",
		"non-hex":        "zz" + good[2:],
		"zero":           strings.Repeat("0", 64),
		"order n":        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
		"above order":    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142",
		"all ones":       strings.Repeat("f", 64),
		"nsec not hex":   "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5",
		"space inside":   good[:31] + " " + good[32:],
		"trailing space": good[:63] + " ",
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePrivateKeyHex(s); !errors.Is(err, ErrBadPrivateKey) {
				t.Fatalf("ParsePrivateKeyHex(%q) = %v, want ErrBadPrivateKey", s, err)
			}
		})
	}
	// n-1 is the largest valid key.
	if _, err := ParsePrivateKeyHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"); err != nil {
		t.Fatalf("n-1 refused: %v", err)
	}
}

func TestGenerateSignRoundTrip(t *testing.T) {
	a, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if PrivateKeyHex(a) == PrivateKeyHex(b) {
		t.Fatal("two generated keys are equal")
	}
	again, err := ParsePrivateKeyHex(PrivateKeyHex(a))
	if err != nil || PublicKeyHex(again) != PublicKeyHex(a) {
		t.Fatalf("hex round trip changed the key: %v", err)
	}
	pk := PublicKeyHex(a)
	if !IsHex(pk, 64) {
		t.Fatalf("PublicKeyHex = %q, want 64 lowercase hex", pk)
	}
	e := Event{CreatedAt: 1700000000, Kind: 1, Content: "signed"}
	if err := e.Sign(a); err != nil {
		t.Fatal(err)
	}
	if e.PubKey != pk || e.ID != e.ComputeID() || !IsHex(e.Sig, 128) {
		t.Fatalf("Sign left inconsistent fields: %+v", e)
	}
	if err := e.Check(); err != nil {
		t.Fatalf("signed event fails Check: %v", err)
	}
	if err := (&Event{}).Sign(nil); !errors.Is(err, ErrBadPrivateKey) {
		t.Fatalf("Sign(nil) = %v, want ErrBadPrivateKey", err)
	}
}

// TestPublicKeyHexKnown pins the x-only derivation: 1·G and 3·G.
func TestPublicKeyHexKnown(t *testing.T) {
	for sk, want := range map[string]string{
		"0000000000000000000000000000000000000000000000000000000000000001": "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
		"0000000000000000000000000000000000000000000000000000000000000003": "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
	} {
		k, err := ParsePrivateKeyHex(sk)
		if err != nil {
			t.Fatal(err)
		}
		if got := PublicKeyHex(k); got != want {
			t.Errorf("PublicKeyHex(%s) = %s, want %s", sk, got, want)
		}
	}
}
