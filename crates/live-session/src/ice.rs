//! The ICE servers handed to browsers: STUN, and TURN with time-limited credentials in the
//! TURN REST format (draft-uberti-behave-turn-rest) that coturn checks with `use-auth-secret`:
//! the username is `<expiry unix seconds>:<user id>` and the password is
//! `base64(HMAC-SHA1(shared secret, username))`, so the server keeps no TURN accounts.

use crate::LiveSettings;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use platform::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

/// ICE settings of the service.
#[derive(Debug, Clone, Default)]
pub struct IceConfig {
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    pub turn_secret: Option<platform::config::Secret>,
    pub credential_seconds: u64,
}

impl IceConfig {
    pub fn from_settings(s: &LiveSettings) -> Self {
        Self {
            stun_urls: s.stun_urls.clone(),
            turn_urls: s.turn_urls.clone(),
            turn_secret: s.turn_secret.clone(),
            credential_seconds: s.turn_credential_seconds.clamp(60, 7 * 86_400),
        }
    }
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IceServers {
    /// Pass as `new RTCPeerConnection({iceServers})`.
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working (ask again before).
    pub expires_at: Option<Timestamp>,
}

/// TURN REST credentials for `user_id` valid until `expires_unix`.
pub fn turn_credentials(secret: &str, user_id: &str, expires_unix: i64) -> (String, String) {
    let username = format!("{expires_unix}:{user_id}");
    // Invariant: HMAC accepts keys of any length.
    #[allow(clippy::expect_used)]
    let mut mac =
        <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    (username, STANDARD.encode(mac.finalize().into_bytes()))
}

/// The ICE servers for `user` at `now_unix`; TURN (a relay that costs bandwidth) only when
/// `turn` says the user may watch or host a lecture.
pub fn ice_servers(cfg: &IceConfig, user: &str, now_unix: i64, turn: bool) -> IceServers {
    let mut out = Vec::new();
    if !cfg.stun_urls.is_empty() {
        out.push(IceServer {
            urls: cfg.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    let mut expires_at = None;
    if let (true, false, Some(secret)) = (
        turn,
        cfg.turn_urls.is_empty(),
        cfg.turn_secret.as_ref().map(|s| s.expose()),
    ) {
        let exp = now_unix + cfg.credential_seconds as i64;
        let (username, credential) = turn_credentials(secret, user, exp);
        out.push(IceServer {
            urls: cfg.turn_urls.clone(),
            username: Some(username),
            credential: Some(credential),
        });
        expires_at = Some(Timestamp::from_unix_seconds(exp));
    }
    IceServers {
        ice_servers: out,
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_rest_credentials() {
        // HMAC-SHA1("secret", "1700000000:alice"), base64: computed independently with
        // `printf '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64`.
        let (u, c) = turn_credentials("secret", "alice", 1_700_000_000);
        assert_eq!(u, "1700000000:alice");
        assert_eq!(c, EXPECTED);
    }

    const EXPECTED: &str = "d8soP47RbdIKLDUOpnJPVQyq5Ts=";

    #[test]
    fn servers_for_a_user() {
        let cfg = IceConfig {
            stun_urls: vec!["stun:stun.example.org:3478".into()],
            turn_urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
            turn_secret: Some(platform::config::Secret::new("s3cret")),
            credential_seconds: 3600,
        };
        let s = ice_servers(&cfg, "u1", 1000, true);
        assert_eq!(s.ice_servers.len(), 2);
        assert_eq!(s.ice_servers[0].username, None);
        assert_eq!(s.ice_servers[1].username.as_deref(), Some("4600:u1"));
        assert_eq!(s.expires_at, Some(Timestamp::from_unix_seconds(4600)));
        // TURN without a secret is not handed out (it could not authenticate).
        let none = ice_servers(&IceConfig::default(), "u1", 1000, true);
        assert!(none.ice_servers.is_empty() && none.expires_at.is_none());
        // Without the right to a relay: STUN only.
        let stun = ice_servers(&cfg, "u1", 1000, false);
        assert_eq!(stun.ice_servers.len(), 1);
        assert!(stun.ice_servers[0].username.is_none() && stun.expires_at.is_none());
    }
}
