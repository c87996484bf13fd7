//! 签到 codes of offline activities: what the host's screen shows as a QR code. A code is an
//! HMAC of the activity, the purpose (check in or check out) and a 30-second time step, written
//! `{step}.{tag}`; the screen shows a new one every step, and a code is accepted during its own
//! step and the [`GRACE_STEPS`] after it: a parent who has to sign in first still makes it,
//! while a photo sent to someone at home stops working within two minutes. Pure: the time
//! comes in as an argument.

use platform::signing::Signer;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::OccurrenceId;

/// How often the code on the host's screen changes.
pub const STEP_SECONDS: i64 = 30;
/// Steps after its own that a code is still taken (time to sign in on a phone).
pub const GRACE_STEPS: i64 = 3;
/// Bytes of HMAC in a code (the least [`Signer::sign_short`] gives).
const TAG_BYTES: usize = 16;

/// What a code records: arriving (签到) or leaving (签退).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    In,
    Out,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in" => Some(Self::In),
            "out" => Some(Self::Out),
            _ => None,
        }
    }
}

impl TryFrom<String> for Purpose {
    type Error = platform::validate::UnknownValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or(platform::validate::UnknownValue(s))
    }
}

/// The code for `activity` and `purpose` at `now_s` (Unix seconds), and when the next replaces it.
pub fn code_at(signer: &Signer, activity: OccurrenceId, purpose: Purpose, now_s: i64) -> (String, i64) {
    let step = now_s.div_euclid(STEP_SECONDS);
    let tag = signer.sign_short(&message(activity, purpose, step), TAG_BYTES);
    (format!("{step}.{tag}"), (step + 1) * STEP_SECONDS)
}

/// What a presented code is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// A true code of this activity and purpose, but from an earlier step (or a later one: a
    /// clock far ahead).
    Expired,
    /// Not a code of this activity and purpose: another activity's, the other purpose's, forged
    /// or garbled.
    Foreign,
}

/// Checks `code` for `activity` and `purpose` at `now_s`.
pub fn verdict(signer: &Signer, activity: OccurrenceId, purpose: Purpose, now_s: i64, code: &str) -> Verdict {
    let Some((step, tag)) = code.trim().split_once('.') else {
        return Verdict::Foreign;
    };
    let Ok(step) = step.parse::<i64>() else {
        return Verdict::Foreign;
    };
    if !signer.verify_short(&message(activity, purpose, step), TAG_BYTES, tag) {
        return Verdict::Foreign;
    }
    let now = now_s.div_euclid(STEP_SECONDS);
    if (now - GRACE_STEPS..=now).contains(&step) {
        Verdict::Valid
    } else {
        Verdict::Expired
    }
}

fn message(activity: OccurrenceId, purpose: Purpose, step: i64) -> String {
    format!("check-in/{activity}/{}/{step}", purpose.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_for_its_step_and_a_grace_and_nowhere_else() {
        let signer = Signer::new(b"secret", "parentschool activities v1");
        let (a, b) = (OccurrenceId::new(), OccurrenceId::new());
        let t = 1_800_000_000 - 1_800_000_000 % STEP_SECONDS;
        let (code, until) = code_at(&signer, a, Purpose::In, t + 5);
        assert_eq!(until, t + STEP_SECONDS);
        assert_eq!(
            code_at(&signer, a, Purpose::In, t + 29).0,
            code,
            "the same code all the step"
        );
        assert_ne!(code_at(&signer, a, Purpose::In, t + 30).0, code, "a new one every step");
        for now in [t, t + 29, t + 30, t + 119] {
            assert_eq!(verdict(&signer, a, Purpose::In, now, &code), Verdict::Valid, "{now}");
        }
        for now in [t + 120, t + 3600, t - 31] {
            assert_eq!(verdict(&signer, a, Purpose::In, now, &code), Verdict::Expired, "{now}");
        }
        assert_eq!(
            verdict(&signer, b, Purpose::In, t, &code),
            Verdict::Foreign,
            "another activity's"
        );
        assert_eq!(
            verdict(&signer, a, Purpose::Out, t, &code),
            Verdict::Foreign,
            "the other purpose's"
        );
        let other_key = Signer::new(b"other", "parentschool activities v1");
        assert_eq!(verdict(&other_key, a, Purpose::In, t, &code), Verdict::Foreign);
        for junk in [
            "",
            ".",
            "abc",
            "12.",
            "x.y",
            &code.replace('.', ""),
            &format!("{}x", code),
        ] {
            assert_eq!(verdict(&signer, a, Purpose::In, t, junk), Verdict::Foreign, "{junk:?}");
        }
        // The step is signed: moving it on does not make an old tag new.
        let (step, tag) = code.split_once('.').unwrap_or_default();
        let moved = format!("{}.{tag}", step.parse::<i64>().unwrap_or(0) + 4);
        assert_eq!(verdict(&signer, a, Purpose::In, t + 120, &moved), Verdict::Foreign);
    }
}
