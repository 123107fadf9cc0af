package backend

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The expected tokens below were computed outside this code base (Python's
// hmac module and `openssl dgst -sha256 -mac HMAC`, which agree) from the
// original's definition: "<kid>:" + hex(HMAC-SHA256(secret, kid ":" msg)).
// The first five inputs are the original's cross-language corpus cases
// (ff-client/examples/gen_cross_lang_corpus.rs).

func TestHMACDigestVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		secretHex string
		kid       string
		msgHex    string
		want      string
	}{
		{"Short", "7365637265742d31", "kid-a", "68656c6c6f",
			"kid-a:d0a1581fa55bac26afe8c11b8e5653a6ad2e10c6e09fa44e3c770eeb72d83d4b"},
		{"RotatingKey", "73757065722d7365637265742d726f746174696e672d6b65792d7631", "vllm-demo-2026-05",
			"657865633d6162633a77616974706f696e743d77702d3432",
			"vllm-demo-2026-05:dd0d4d13715ffab543c1ea9ba0a711311f13a36a740c14d08f7ab4983d3111ef"},
		{"EmptyMessage", "6b", "k0", "",
			"k0:b6063576168fc22293d5724cebbbd78beb2ca5cd4d7e34b21e61a132042a5266"},
		{"BlockSizedSecret", strings.Repeat("aa", 64), "block-sized-secret", "6d657373616765",
			"block-sized-secret:fe800115905f7369d1c2c18fe85c6ae10decd1b0392e4a238ed89e17f84c5fdc"},
		{"BinaryMessage", "6b", "binary", "0001feff",
			"binary:f98fd661ff642ba9895b6b9297fbc29cb95ceb8782267955cc647576e9bb022a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secret, _ := hex.DecodeString(tt.secretHex)
			msg, _ := hex.DecodeString(tt.msgHex)
			got := tt.kid + ":" + hex.EncodeToString(hmacDigest(secret, tt.kid, msg))
			if got != tt.want {
				t.Fatalf("token = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSignTokenVectors pins the waitpoint token format of spec 04 §5.0:
// the message is "<kid>:<execution id>:<waitpoint id>" with the full
// "{fp:N}:<uuid>" execution id.
func TestSignTokenVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		secretHex string
		kid       string
		exec      ExecutionID
		wp        WaitpointID
		want      WaitpointToken
	}{
		{"SpecExample", strings.Repeat("ab", 32), "kid-test",
			"{fp:0}:11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
			"kid-test:b8e5f7fdc688e6942bf7a412b873ca2d4281ba7f3c951822892a34542d901b2f"},
		{"OtherPartition", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "k1",
			"{fp:42}:00000000-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-8fff-ffffffffffff",
			"k1:b185eed343fa087fb2f46f3e6c0191dfc964253aa06ac478c5eef0f003557544"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secret, _ := hex.DecodeString(tt.secretHex)
			got := signToken(secret, tt.kid, tt.exec, tt.wp)
			if got.Raw() != tt.want.Raw() {
				t.Fatalf("token = %s, want %s", got.Raw(), tt.want.Raw())
			}
			if err := verifyToken(got, tt.want.Raw(), tt.exec, tt.wp, keyStore(map[string][]byte{tt.kid: secret})); err != nil {
				t.Fatalf("verify own token: %v", err)
			}
		})
	}
}

// keyStore is a verifyToken key lookup over a fixed map.
func keyStore(keys map[string][]byte) func(string) ([]byte, bool, error) {
	return func(kid string) ([]byte, bool, error) {
		s, ok := keys[kid]
		return s, ok, nil
	}
}

func TestVerifyTokenErrors(t *testing.T) {
	t.Parallel()
	const exec ExecutionID = "{fp:0}:11111111-2222-4333-8444-555555555555"
	const wp WaitpointID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	k1, k2 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32))
	keys := keyStore(map[string][]byte{"k1": k1, "k2": k2})
	minted := signToken(k1, "k1", exec, wp)
	_, digest, _ := minted.split()
	tests := []struct {
		name      string
		presented WaitpointToken
		want      error
	}{
		{"Empty", "", ErrInvalidToken},
		{"NoColon", "k1" + WaitpointToken(digest), ErrInvalidToken},
		{"EmptyKid", ":" + WaitpointToken(digest), ErrInvalidToken},
		{"EmptyDigest", "k1:", ErrInvalidToken},
		{"UnknownKid", "k9:" + WaitpointToken(digest), ErrInvalidKid},
		{"UpperCaseDigest", "k1:" + WaitpointToken(strings.ToUpper(digest)), ErrInvalidToken},
		{"ShortDigest", "k1:" + WaitpointToken(digest[:62]), ErrInvalidToken},
		{"NotHex", "k1:" + WaitpointToken(strings.Repeat("zz", 32)), ErrInvalidToken},
		{"FlippedBit", "k1:" + WaitpointToken(flipHexDigit(digest)), ErrInvalidToken},
		{"OtherWaitpoint", signToken(k1, "k1", exec, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeef"), ErrInvalidToken},
		{"OtherKnownKid", signToken(k2, "k2", exec, wp), ErrInvalidToken},
		{"Minted", minted, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := verifyToken(tt.presented, minted.Raw(), exec, wp, keys)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("verify = %v, want %v (a validation error)", err, tt.want)
			}
		})
	}
}

// flipHexDigit changes the last digit of a hex string to another hex digit.
func flipHexDigit(s string) string {
	last := s[len(s)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return s[:len(s)-1] + string(repl)
}

// FuzzVerifyToken checks that no presented token but the minted one
// verifies, that every rejection is ErrInvalidKid or ErrInvalidToken, and
// that verification never panics. The seed corpus runs in `make test`;
// `go test ./backend -run '^$' -fuzz FuzzVerifyToken` explores further.
func FuzzVerifyToken(f *testing.F) {
	const exec ExecutionID = "{fp:0}:11111111-2222-4333-8444-555555555555"
	const wp WaitpointID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	secret := []byte(strings.Repeat("s", 32))
	other := []byte(strings.Repeat("o", 32))
	keys := keyStore(map[string][]byte{"kid": secret, "old": other})
	minted := signToken(secret, "kid", exec, wp)
	for _, seed := range []string{
		minted.Raw(),
		signToken(other, "old", exec, wp).Raw(),
		signToken(secret, "kid", exec, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeef").Raw(),
		strings.ToUpper(minted.Raw()),
		minted.Raw() + "00",
		minted.Raw()[:len(minted.Raw())-1],
		"kid:" + strings.Repeat("0", 64),
		"unknown:" + strings.Repeat("0", 64),
		"kid", ":", "", "kid::", "kid:zz", "\x00:\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, presented string) {
		err := verifyToken(WaitpointToken(presented), minted.Raw(), exec, wp, keys)
		if presented == minted.Raw() {
			if err != nil {
				t.Fatalf("the minted token was rejected: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("forged token %q verified", presented)
		}
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrInvalidKid) {
			t.Fatalf("forged token %q: err = %v, want ErrInvalidToken or ErrInvalidKid", presented, err)
		}
	})
}
