package backend

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// Waitpoint tokens (spec 04 §5.0, decision 15). A token is
// "<kid>:<hex HMAC-SHA256>", keyed by the kid's secret, over the UTF-8
// bytes of "<kid>:<execution id>:<waitpoint id>". This is the original's
// wire format byte for byte, so tokens are interchangeable with it.

// hmacSecretHexLen is the length of a seed/rotate secret: 256 bits in hex.
const hmacSecretHexLen = 64

// tokenDigestHexLen is the length of a token's digest part.
const tokenDigestHexLen = 2 * sha256.Size

// hmacDigest is the original's primitive: HMAC-SHA256 keyed by secret
// over kid ":" message.
func hmacDigest(secret []byte, kid string, message []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(kid))
	mac.Write([]byte{':'})
	mac.Write(message)
	return mac.Sum(nil)
}

// tokenDigest is the digest of waitpoint wp of execution exec under kid:
// the signed message is "<execution id>:<waitpoint id>".
func tokenDigest(secret []byte, kid string, exec ExecutionID, wp WaitpointID) []byte {
	return hmacDigest(secret, kid, []byte(string(exec)+":"+string(wp)))
}

// signToken mints the token of waitpoint wp of execution exec under kid.
// Signing is deterministic: re-minting yields the same token.
func signToken(secret []byte, kid string, exec ExecutionID, wp WaitpointID) WaitpointToken {
	return WaitpointToken(kid + ":" + hex.EncodeToString(tokenDigest(secret, kid, exec, wp)))
}

// verifyToken checks a presented token against the one minted for the
// waitpoint (stored). secretOf looks a kid up in the key store (found is
// false for an unknown kid). Only two errors come out (API.md
// WaitpointToken): ErrInvalidKid for an unknown kid, ErrInvalidToken for
// everything else. Both comparisons are constant-time.
func verifyToken(presented WaitpointToken, stored string, exec ExecutionID, wp WaitpointID,
	secretOf func(kid string) (secret []byte, found bool, err error)) error {
	kid, digestHex, ok := presented.split()
	if !ok {
		return errValidation(SubKindInvalidToken, "waitpoint_token verify: token malformed; expected kid:hex shape")
	}
	secret, found, err := secretOf(kid)
	if err != nil {
		return err
	}
	if !found {
		return errValidation(SubKindInvalidKid, "waitpoint_token verify: kid %q is not in the key store", kid)
	}
	if !isLowerHex(digestHex, tokenDigestHexLen) {
		return errValidation(SubKindInvalidToken, "waitpoint_token verify: digest is not %d lowercase hex digits", tokenDigestHexLen)
	}
	digest, err := hex.DecodeString(digestHex)
	if err != nil {
		return errValidation(SubKindInvalidToken, "waitpoint_token verify: digest is not hex")
	}
	if !hmac.Equal(digest, tokenDigest(secret, kid, exec, wp)) {
		return errValidation(SubKindInvalidToken, "waitpoint_token verify: HMAC signature mismatch")
	}
	// A valid signature under another known kid (say, the waitpoint was
	// minted before a rotation and re-signed under the new kid by a
	// client) is still not the token this waitpoint was issued.
	if subtle.ConstantTimeCompare([]byte(presented), []byte(stored)) != 1 {
		return errValidation(SubKindInvalidToken, "waitpoint_token verify: waitpoint_token does not match minted token")
	}
	return nil
}

// isLowerHex reports whether s is exactly n lowercase hex digits.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// tokenFingerprint is the listing form of a stored token: its kid and the
// first 16 hex digits of its digest (both "" for a malformed token).
func tokenFingerprint(token string) (kid, fingerprint string) {
	kid, digest, ok := WaitpointToken(token).split()
	if !ok {
		return "", ""
	}
	return kid, digest[:min(16, len(digest))]
}

// validateKeyArgs checks a kid and a 64-hex-digit secret (seed and rotate)
// and returns the secret's bytes.
func validateKeyArgs(op, kid, secretHex string) ([]byte, error) {
	if kid == "" {
		return nil, errInvalidInput("%s: kid must be non-empty", op)
	}
	if strings.Contains(kid, ":") {
		return nil, errInvalidInput("%s: kid must not contain ':' (tokens are split at the first colon): %q", op, kid)
	}
	if len(secretHex) != hmacSecretHexLen {
		return nil, errInvalidInput("%s: secret_hex must be 64 hex characters (256-bit secret)", op)
	}
	secret, err := hex.DecodeString(secretHex)
	if err != nil {
		return nil, errInvalidInput("%s: secret_hex must be 64 hex characters (256-bit secret)", op)
	}
	return secret, nil
}

// signingKey is the active kid and its secret, which every new token is
// minted under. None seeded is ErrInvalidInput (spec 04 §5.0).
func (w *writeTx) signingKey(ctx context.Context, op string) (string, []byte, error) {
	k, err := w.q.GetActiveHMACKey(ctx)
	if isNoRows(err) {
		return "", nil, errInvalidInput("ff_waitpoint_hmac empty — seed a kid before %s", op)
	}
	if err != nil {
		return "", nil, err
	}
	return k.Kid, k.Secret, nil
}

// keySecret looks a kid up whatever its active flag: tokens minted before
// a rotation verify under their own kid for as long as their waitpoint
// exists.
func (w *writeTx) keySecret(ctx context.Context, kid string) ([]byte, bool, error) {
	k, err := w.q.GetHMACKey(ctx, kid)
	if isNoRows(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return k.Secret, true, nil
}

// SeedWaitpointHMACSecret installs the first signing key. Seeding an
// existing kid returns SeedAlreadySeeded (never an error); a different
// active kid, an empty kid or one containing ':', or a secret that is not
// 64 hex digits is ErrInvalidInput.
func (b *SQLiteBackend) SeedWaitpointHMACSecret(ctx context.Context, args SeedWaitpointHMACSecretArgs) (SeedOutcome, error) {
	db, err := b.live("seed_waitpoint_hmac_secret")
	if err != nil {
		return SeedOutcome{}, err
	}
	secret, err := validateKeyArgs("seed_waitpoint_hmac_secret", args.Kid, args.SecretHex)
	if err != nil {
		return SeedOutcome{}, err
	}
	var out SeedOutcome
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		existing, err := w.q.GetHMACKey(ctx, args.Kid)
		if err == nil {
			// Idempotent on every boot, also for a kid rotated out since:
			// seeding never changes which kid is active.
			out = SeedOutcome{Kind: SeedAlreadySeeded, Kid: args.Kid, SameSecret: hmac.Equal(existing.Secret, secret)}
			return nil
		}
		if !isNoRows(err) {
			return err
		}
		active, err := w.q.GetActiveHMACKey(ctx)
		if err == nil {
			return errInvalidInput("seed_waitpoint_hmac_secret: a different kid %q is already active; use rotate_waitpoint_hmac_secret_all to change kid", active.Kid)
		}
		if !isNoRows(err) {
			return err
		}
		out = SeedOutcome{Kind: SeedSeeded, Kid: args.Kid}
		return w.q.InsertHMACKey(ctx, dbgen.InsertHMACKeyParams{Kid: args.Kid, Secret: secret, RotatedAtMs: w.now})
	})
	if err != nil {
		return SeedOutcome{}, err
	}
	return out, nil
}

// RotateWaitpointHMACSecretAll installs and activates a new signing key.
// The SQLite backend keeps one key store, so the result has exactly one
// entry (partition 0) holding the outcome or ErrRotationConflict; the
// method's own error is for invalid input and storage faults. No kid is
// ever deleted: tokens minted under an earlier kid keep verifying.
func (b *SQLiteBackend) RotateWaitpointHMACSecretAll(ctx context.Context, args RotateWaitpointHMACSecretAllArgs) (RotateWaitpointHMACSecretAllResult, error) {
	db, err := b.live("rotate_waitpoint_hmac_secret_all")
	if err != nil {
		return RotateWaitpointHMACSecretAllResult{}, err
	}
	secret, err := validateKeyArgs("rotate_waitpoint_hmac_secret_all", args.NewKid, args.NewSecretHex)
	if err != nil {
		return RotateWaitpointHMACSecretAllResult{}, err
	}
	var entry RotateWaitpointHMACSecretAllEntry
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		entry = RotateWaitpointHMACSecretAllEntry{Partition: 0}
		existing, err := w.q.GetHMACKey(ctx, args.NewKid)
		if err == nil {
			if hmac.Equal(existing.Secret, secret) {
				// Not re-activated: a no-op changes nothing (original).
				entry.Outcome = RotateWaitpointHMACSecretOutcome{Kind: RotateNoop, Kid: args.NewKid}
				return nil
			}
			entry.Err = &Error{Kind: KindConflict, SubKind: SubKindRotationConflict, Kid: args.NewKid,
				Detail: "kid " + args.NewKid + " already installed with a different secret"}
			return nil
		}
		if !isNoRows(err) {
			return err
		}
		previous := ""
		active, err := w.q.GetActiveHMACKey(ctx)
		switch {
		case err == nil:
			previous = active.Kid
		case !isNoRows(err):
			return err
		}
		if err := w.q.DeactivateHMACKeys(ctx); err != nil {
			return err
		}
		if err := w.q.InsertHMACKey(ctx, dbgen.InsertHMACKeyParams{Kid: args.NewKid, Secret: secret, RotatedAtMs: w.now}); err != nil {
			return err
		}
		entry.Outcome = RotateWaitpointHMACSecretOutcome{Kind: RotateRotated, Kid: args.NewKid, PreviousKid: previous}
		return nil
	})
	if err != nil {
		return RotateWaitpointHMACSecretAllResult{}, err
	}
	return RotateWaitpointHMACSecretAllResult{Entries: []RotateWaitpointHMACSecretAllEntry{entry}}, nil
}
