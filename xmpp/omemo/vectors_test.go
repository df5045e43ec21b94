package omemo

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"filippo.io/edwards25519"
)

func fromHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publicFromHex(t *testing.T, s string) PublicKey {
	t.Helper()
	k, err := ParsePublicKey(fromHex(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyPairFromHex builds a key pair from a private key of a test vector,
// as it is given (X25519 clamps when it uses it).
func keyPairFromHex(t *testing.T, private, public string) KeyPair {
	t.Helper()
	var kp KeyPair
	copy(kp.Private[:], fromHex(t, private))
	kp.Public = publicFromHex(t, public)
	return kp
}

// RFC 7748, section 6.1.
func TestX25519RFC7748(t *testing.T) {
	alice, err := GenerateKeyPair(bytes.NewReader(fromHex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(alice.Public[:]), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"; got != want {
		t.Fatalf("Alice's public key %s, want %s", got, want)
	}
	var bob PublicKey
	copy(bob[:], fromHex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
	shared, err := alice.agree(bob)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(shared), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"; got != want {
		t.Fatalf("shared secret %s, want %s", got, want)
	}
}

// RFC 5869, test case 3 (no salt, which HKDF treats as HashLen zero bytes,
// the salt libsignal uses).
func TestHKDFRFC5869(t *testing.T) {
	okm, err := hkdfKey(bytes.Repeat([]byte{0x0b}, 22), "", 42)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(okm), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"; got != want {
		t.Fatalf("OKM %s, want %s", got, want)
	}
}

// A signature made by libsignal's Curve25519 signer (its Curve25519Test):
// the sign bit of the Edwards key is in the last byte.
func TestVerifyLibsignalSignature(t *testing.T) {
	identity := publicFromHex(t, "05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64")
	ephemeral := fromHex(t, "05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a")
	sig := fromHex(t, "5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfbede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88")
	if !VerifySignature(identity, ephemeral, sig) {
		t.Fatal("libsignal's signature does not verify")
	}
	ephemeral[5] ^= 1
	if VerifySignature(identity, ephemeral, sig) {
		t.Fatal("signature verifies for another message")
	}
}

func TestXEdDSASignVerify(t *testing.T) {
	for i := 0; i < 20; i++ {
		kp, err := GenerateKeyPair(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		msg := kp.Public.Serialize()
		sig, err := kp.Sign(rand.Reader, msg)
		if err != nil {
			t.Fatal(err)
		}
		// The Edwards key a verifier derives from the Montgomery key maps
		// back to it, and the signature is a plain Ed25519 signature by it.
		edKey, err := edwardsKey(kp.Public, 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := new(edwards25519.Point).SetBytes(edKey)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.BytesMontgomery(), kp.Public[:]) {
			t.Fatal("Edwards key does not map back to the Montgomery key")
		}
		if sig[63]&0x80 != 0 {
			t.Fatal("XEdDSA signature has the sign bit set")
		}
		if !ed25519.Verify(edKey, msg, sig) {
			t.Fatal("signature does not verify as Ed25519")
		}
		if !VerifySignature(kp.Public, msg, sig) {
			t.Fatal("signature does not verify")
		}
		bad := append([]byte(nil), sig...)
		bad[i] ^= 0x10
		if VerifySignature(kp.Public, msg, bad) {
			t.Fatal("damaged signature verifies")
		}
		other, _ := GenerateKeyPair(rand.Reader)
		if VerifySignature(other.Public, msg, sig) {
			t.Fatal("signature verifies under another key")
		}
	}
}

// libsignal's ChainKeyTest (version 3).
func TestChainKeyVector(t *testing.T) {
	ck := chainKey{Key: secret(fromHex(t, "8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f"))}
	keys, err := deriveMessageKeys(ck.seed())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(keys.cipherKey), "bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217"; got != want {
		t.Errorf("cipher key %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(keys.macKey), "c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b"; got != want {
		t.Errorf("MAC key %s, want %s", got, want)
	}
	next := ck.next()
	if got, want := hex.EncodeToString(next.Key[:]), "28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d"; got != want || next.Index != 1 {
		t.Errorf("next chain key %s (index %d), want %s (index 1)", got, next.Index, want)
	}
}

// libsignal's RatchetingSessionTest (version 3, no one-time pre-key): the
// chain key both sides derive from X3DH.
func TestX3DHVectors(t *testing.T) {
	const (
		aliceIdentityPublic = "05b4a8455660ada65b401007f615e654041746432e3339c6875149bceefcb42b4a"
		aliceBasePublic     = "05472d1fb1a9862c3af6beaca8920277e2b26f4a79213ec7c906aeb35e03cf8950"
		bobIdentityPublic   = "05f1f43874f6966956c2dd473f8fa15adeb71d1cb991b2341692324cefb1c5e626"
		bobSignedPublic     = "05ac248a8f263be6863576eb0362e28c828f0107a3379d34bab1586bf8c770cd67"
	)
	t.Run("responder", func(t *testing.T) {
		identity := keyPairFromHex(t, "4875cc69ddf8ea0719ec947d61081135868d5fd801f02c0225e516df2156605e", bobIdentityPublic)
		signed := keyPairFromHex(t, "583900131fb727998b7803fe6ac22cc591f342e4e42a8c8d5d78194209b8d253", bobSignedPublic)
		_, chain, err := x3dhResponder(identity, signed, nil, publicFromHex(t, aliceIdentityPublic), publicFromHex(t, aliceBasePublic))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hex.EncodeToString(chain[:]), "9797caca53c989bbe229a40ca7727010eb2604fc14945d77958a0aeda088b44d"; got != want {
			t.Fatalf("sender chain %s, want %s", got, want)
		}
	})
	t.Run("initiator", func(t *testing.T) {
		identity := keyPairFromHex(t, "9040f0d4e09cf38f6dc7c13779c908c015a1da4fa78737a080eb0a6f4f5f8f58", aliceIdentityPublic)
		base := keyPairFromHex(t, "11ae7c64d1e61cd596b76a0db5012673391cae66edbfcf073b4da80516a47449", aliceBasePublic)
		_, chain, err := x3dhInitiator(identity, base, publicFromHex(t, bobIdentityPublic), publicFromHex(t, bobSignedPublic), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hex.EncodeToString(chain[:]), "ab9be50e5cb22a925446ab90ee5670545f4fd32902459ec274b6ad0ae5d6031a"; got != want {
			t.Fatalf("receiver chain %s, want %s", got, want)
		}
	})
}
