//! Signed URLs and links: the one home for HMAC signatures the service hands out (playback URLs,
//! live HLS URLs, event-stream tickets, calendar feed links).
//!
//! A [`Signer`] holds a key derived from the service secret and a purpose label, so that no two
//! uses share a key and none is the token key itself. It signs a message (the parts a link
//! binds, joined by `/`), optionally with an expiry in Unix seconds appended, and verifies in
//! constant time. Signatures are URL-safe base64 without padding.
//!
//! TURN credentials (`live_session::ice`) are not ours to shape: coturn's REST scheme fixes
//! HMAC-SHA1 over `expiry:user` with the shared secret, so they stay there.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Signer {
    key: Arc<[u8]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer whose key is SHA-256 of `purpose`, a NUL byte and `secret`.
    pub fn new(secret: &[u8], purpose: &str) -> Self {
        let mut h = Sha256::new();
        h.update(purpose.as_bytes());
        h.update(b"\0");
        h.update(secret);
        Self {
            key: h.finalize().to_vec().into(),
        }
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        // Invariant: HMAC accepts keys of any length.
        #[allow(clippy::expect_used)]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(message.as_bytes());
        mac
    }

    /// The whole HMAC-SHA256 signature of `message`.
    pub fn sign(&self, message: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(message).finalize().into_bytes())
    }

    /// The first `bytes` bytes of the signature, for links people copy (at least 16).
    pub fn sign_short(&self, message: &str, bytes: usize) -> String {
        let tag = self.mac(message).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..bytes.clamp(16, tag.len())])
    }

    /// Whether `sig` is the whole signature of `message`.
    pub fn verify(&self, message: &str, sig: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(sig)
            .is_ok_and(|given| self.mac(message).verify_slice(&given).is_ok())
    }

    /// Whether `sig` is the `bytes`-byte signature of `message` ([`sign_short`](Self::sign_short)).
    pub fn verify_short(&self, message: &str, bytes: usize, sig: &str) -> bool {
        URL_SAFE_NO_PAD.decode(sig).is_ok_and(|given| {
            given.len() == bytes.clamp(16, 32) && self.mac(message).verify_truncated_left(&given).is_ok()
        })
    }

    /// The signature of `message` valid until `expires_s` (Unix seconds): it signs
    /// `{message}/{expires_s}`.
    pub fn sign_until(&self, message: &str, expires_s: i64) -> String {
        self.sign(&format!("{message}/{expires_s}"))
    }

    /// Whether `sig` signs `message` until `expires_s` and that is not before `now_s`.
    pub fn verify_until(&self, message: &str, expires_s: i64, now_s: i64, sig: &str) -> bool {
        expires_s >= now_s && self.verify(&format!("{message}/{expires_s}"), sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_message_key_and_expiry() {
        let s = Signer::new(b"secret", "test v1");
        let sig = s.sign_until("asset/user", 100);
        assert!(s.verify_until("asset/user", 100, 99, &sig));
        assert!(s.verify_until("asset/user", 100, 100, &sig));
        assert!(!s.verify_until("asset/user", 100, 101, &sig), "expired");
        assert!(!s.verify_until("asset/user", 101, 0, &sig), "another expiry");
        assert!(!s.verify_until("asset/other", 100, 0, &sig), "another message");
        assert!(!Signer::new(b"other", "test v1").verify_until("asset/user", 100, 0, &sig));
        assert!(
            !Signer::new(b"secret", "test v2").verify_until("asset/user", 100, 0, &sig),
            "another purpose"
        );
        assert!(!s.verify("asset/user/100", "garbage!"));
        assert!(!s.verify("asset/user/100", ""));
    }

    #[test]
    fn short_signatures_need_their_whole_length() {
        let s = Signer::new(b"secret", "test v1");
        let sig = s.sign_short("calendar/u", 18);
        assert_eq!(sig.len(), 24);
        assert!(s.verify_short("calendar/u", 18, &sig));
        assert!(
            !s.verify_short("calendar/u", 18, &sig[..20]),
            "a prefix of the signature is not one"
        );
        assert!(!s.verify_short("calendar/v", 18, &sig));
        let full = s.sign("calendar/u");
        assert!(!s.verify_short("calendar/u", 18, &full));
        assert!(full.starts_with(&sig[..22]));
    }

    #[test]
    fn the_key_is_the_one_the_live_and_media_links_always_used() {
        // Links already handed out (calendar feeds are long-lived) must keep working: the key is
        // SHA-256(purpose || NUL || secret), as before this type existed.
        let mut h = Sha256::new();
        h.update(b"parentschool live v1\0");
        h.update(b"secret");
        let old_key = h.finalize().to_vec();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&old_key).unwrap_or_else(|_| unreachable!());
        mac.update(b"calendar/u");
        let old = URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18]);
        assert_eq!(
            Signer::new(b"secret", "parentschool live v1").sign_short("calendar/u", 18),
            old
        );
    }
}
