//! Live's settings (`[live]`), owned here: their fields and defaults, and [`LiveSettings::validate`],
//! the one place their ranges are checked. The server loads them from files and the
//! environment; `Live::new` takes them only validated.

use platform::config::Secret;
use serde::{Deserialize, Serialize};

/// Live sessions: WebRTC media, attendance, the live state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSettings {
    /// An occurrence whose publisher is gone this long ends by itself.
    pub publisher_grace_seconds: u64,
    /// Open attendance intervals are written at least this often (at most 10).
    pub attendance_flush_seconds: u64,
    /// Tickets for the live events stream and embedded WHEP players live this long.
    pub ticket_seconds: u64,
    /// Local UDP addresses WebRTC media binds to (one socket per connection on an ephemeral
    /// port of each; their addresses are the ICE host candidates). `0.0.0.0:0` stands for every
    /// non-loopback interface; tests use `127.0.0.1:0`.
    pub media_addrs: Vec<String>,
    /// A viewer waits this long for the publisher's first media before WHEP answers 503.
    pub publisher_media_wait_seconds: u64,
    /// Longest chat message or question, in characters.
    pub message_max_chars: usize,
    /// Words masked with ＊ in chat messages and questions.
    pub word_filter: Vec<String>,
    /// Mask contact details (WeChat ids, QQ numbers, phone numbers, links) in chat messages and
    /// questions: parents of minors are a target for strangers' "add me" lures. On by default.
    pub contact_filter: bool,
    /// WebRTC viewers per occurrence on a node (0: no limit); more watch through live HLS.
    pub webrtc_viewer_limit: usize,
    /// A WebRTC viewer whose media has not connected this many seconds after its answer frees
    /// its slot (an offer that never finishes ICE holds nothing for long).
    pub viewer_connect_seconds: u64,
    /// WHEP offers one user may make per minute (reconnects included).
    pub whep_offers_per_minute: u32,
    /// One UDP port for all WebRTC media (ICE UDP mux), so a firewall needs one rule; 0 binds
    /// a socket per connection on `media_addrs` instead.
    pub udp_port: u16,
    /// The address clients reach the UDP port at (the host candidate), e.g. the public IP;
    /// by default the first non-loopback address (or 127.0.0.1 when `media_addrs` is loopback).
    pub udp_public_ip: Option<String>,
    /// STUN servers handed to clients (`stun:host:port`).
    pub stun_urls: Vec<String>,
    /// TURN servers handed to clients with time-limited credentials (`turn:host:3478?transport=udp`).
    pub turn_urls: Vec<String>,
    /// The TURN REST shared secret (coturn's `static-auth-secret`).
    pub turn_secret: Option<Secret>,
    /// How long TURN credentials are valid.
    pub turn_credential_seconds: u64,
    /// Record lectures and publish the replay (needs ffmpeg).
    pub recording: bool,
    /// Target length of live HLS segments (and of the pieces a crash may lose).
    pub hls_segment_seconds: u64,
    /// Reminders go out this many minutes before each enrolled lecture.
    pub reminder_minutes: Vec<u32>,
    /// How often due reminders are looked for.
    pub reminder_check_seconds: u64,
    /// Reminders and "replay ready" notices are posted here as JSON (SMS or WeChat gateways);
    /// without it they are written to the log.
    pub notify_webhook_url: Option<String>,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            publisher_grace_seconds: 600,
            attendance_flush_seconds: 5,
            ticket_seconds: 600,
            media_addrs: vec!["0.0.0.0:0".into()],
            publisher_media_wait_seconds: 5,
            message_max_chars: 300,
            word_filter: Vec::new(),
            contact_filter: true,
            webrtc_viewer_limit: 300,
            viewer_connect_seconds: 10,
            whep_offers_per_minute: 20,
            udp_port: 0,
            udp_public_ip: None,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_credential_seconds: 12 * 3600,
            recording: true,
            hls_segment_seconds: 2,
            reminder_minutes: vec![24 * 60, 30],
            reminder_check_seconds: 30,
            notify_webhook_url: None,
        }
    }
}

impl LiveSettings {
    /// The settings, checked: each value inside the range the service works in, else which key
    /// is wrong and what it may be.
    pub fn validate(self) -> Result<Self, String> {
        let within = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(format!("live.{key} must be between {min} and {max} (it is {value})"))
            }
        };
        within("attendance_flush_seconds", self.attendance_flush_seconds, 1, 10)?;
        within("hls_segment_seconds", self.hls_segment_seconds, 1, 10)?;
        within("reminder_check_seconds", self.reminder_check_seconds, 1, 3600)?;
        within("message_max_chars", self.message_max_chars as u64, 1, 5000)?;
        for (key, value) in [
            ("viewer_connect_seconds", self.viewer_connect_seconds),
            ("whep_offers_per_minute", u64::from(self.whep_offers_per_minute)),
        ] {
            if value == 0 {
                return Err(format!("live.{key} must be at least 1"));
            }
        }
        if self.media_addrs.is_empty() {
            return Err("live.media_addrs needs at least one address such as 0.0.0.0:0".into());
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_out_of_range_values_name_their_key() {
        assert!(LiveSettings::default().validate().is_ok());
        let e = LiveSettings {
            attendance_flush_seconds: 20,
            ..LiveSettings::default()
        }
        .validate()
        .err();
        assert_eq!(
            e.as_deref(),
            Some("live.attendance_flush_seconds must be between 1 and 10 (it is 20)")
        );
        let e = LiveSettings {
            media_addrs: Vec::new(),
            ..LiveSettings::default()
        }
        .validate()
        .err();
        assert!(e.is_some_and(|e| e.starts_with("live.media_addrs")));
    }
}
