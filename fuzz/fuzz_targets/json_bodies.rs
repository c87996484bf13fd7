//! JSON request bodies: any bytes deserialize or are refused, never a panic, for every body type
//! a route takes (the list is the `Json(..): Json<T>` extractors in the crates' handlers).
#![no_main]
use libfuzzer_sys::fuzz_target;

fn try_parse<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice::<T>(data).ok()
}

fuzz_target!(|data: &[u8]| {
    // platform: accounts and organizations
    try_parse::<platform::accounts::RegisterRequest>(data);
    try_parse::<platform::accounts::LoginRequest>(data);
    try_parse::<platform::accounts::RefreshRequest>(data);
    try_parse::<platform::accounts::ChangePasswordRequest>(data);
    try_parse::<platform::accounts::DeleteAccountRequest>(data);
    try_parse::<platform::accounts::CreateUserRequest>(data);
    try_parse::<platform::accounts::UpdateUserRequest>(data);
    try_parse::<platform::orgs::CreateOrgRequest>(data);
    try_parse::<platform::orgs::JoinRequest>(data);
    try_parse::<platform::orgs::AddMemberRequest>(data);
    // catalog: courses, topics, lists
    try_parse::<catalog::CourseInput>(data);
    try_parse::<catalog::NewTopic>(data);
    try_parse::<catalog::TransitionRequest>(data);
    try_parse::<catalog::ListInput>(data);
    try_parse::<catalog::ListItemsRequest>(data);
    // media: uploads and progress
    try_parse::<media::NewUpload>(data);
    try_parse::<media::CompleteRequest>(data);
    if let Some(report) = try_parse::<media::progress::ProgressReport>(data) {
        let _ = media::progress::validate(&report, 600_000);
    }
    // live: series, enrolment, chat, HLS heartbeats
    try_parse::<live_session::NewSeries>(data);
    try_parse::<live_session::SeriesPatch>(data);
    try_parse::<live_session::EnrolRequest>(data);
    try_parse::<live_session::messages::NewMessage>(data);
    try_parse::<live_session::messages::MessagePatch>(data);
    try_parse::<live_session::hls::HeartbeatRequest>(data);
});
