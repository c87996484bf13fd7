//! JSON request bodies: any bytes deserialize or are refused, never a panic, for the body types
//! that are public outside their crates. (The others are covered by the HTTP tests only.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<platform::accounts::RegisterRequest>(data);
    let _ = serde_json::from_slice::<platform::accounts::LoginRequest>(data);
    let _ = serde_json::from_slice::<platform::accounts::ChangePasswordRequest>(data);
    let _ = serde_json::from_slice::<platform::accounts::CreateUserRequest>(data);
    let _ = serde_json::from_slice::<platform::accounts::UpdateUserRequest>(data);
    let _ = serde_json::from_slice::<platform::orgs::CreateOrgRequest>(data);
    let _ = serde_json::from_slice::<platform::orgs::JoinRequest>(data);
    let _ = serde_json::from_slice::<platform::orgs::AddMemberRequest>(data);
    if let Ok(report) = serde_json::from_slice::<media::progress::ProgressReport>(data) {
        let _ = media::progress::validate(&report, 600_000);
    }
});
