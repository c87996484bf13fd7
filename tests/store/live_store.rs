//! The live-session stores through the service: a series planned into occurrences and
//! re-planned by an edit under its version, seats and the waitlist with promotion on cancel,
//! attendance intervals written in batches and read back as a union, reminders claimed once,
//! and an offline activity's check-ins and the credit they give.

use std::sync::Mutex;

use live_session::checkin::Purpose;
use live_session::{
    ActivityKind, EnrolRequest, Live, LiveError, LiveSettings, NewActivity, NewSeries, Notice, Notifier, SeriesPatch,
};
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::ids::OrgId;

use super::*;

const DAY_MS: i64 = 86_400_000;

/// Notices kept in memory instead of sent.
#[derive(Debug, Default)]
struct Kept(Mutex<Vec<Notice>>);

#[async_trait::async_trait]
impl Notifier for Kept {
    async fn send(&self, notice: &Notice) -> anyhow::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(notice.clone());
        Ok(())
    }
}

fn live(t: &TestDb) -> Live {
    Live::new(
        t.db.clone(),
        t.clock.clone(),
        LiveSettings::default(),
        None,
        b"store-test-secret",
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .0
}

/// A school with an expert and `parents` parents in it.
async fn school(t: &TestDb, parents: usize) -> (OrgId, AuthUser, Vec<AuthUser>) {
    let province = t.org("重庆市", OrgKind::Province, None).await;
    let school = t.org("新凤小学", OrgKind::School, Some(province)).await;
    let expert = t.user("13800000001", Role::Expert, Some(school)).await;
    let mut out = Vec::new();
    for i in 0..parents {
        out.push(
            t.user(&format!("1390000{:04}", i + 1), Role::Parent, Some(school))
                .await,
        );
    }
    (school, expert, out)
}

fn weekly(school: OrgId, starts_at: Timestamp, count: u32, capacity: i32) -> NewSeries {
    NewSeries {
        title: "家庭教育周周讲".into(),
        description: String::new(),
        lecturer: None,
        expert_id: None,
        rrule: format!("FREQ=WEEKLY;COUNT={count}"),
        exceptions: Vec::new(),
        starts_at,
        duration_minutes: 60,
        capacity,
        scope_org_id: Some(school),
        attendance_threshold: None,
        age_stages: Vec::new(),
    }
}

fn patch(version: i32) -> SeriesPatch {
    SeriesPatch {
        version,
        title: None,
        description: None,
        lecturer: None,
        rrule: None,
        exceptions: None,
        starts_at: None,
        duration_minutes: None,
        capacity: None,
        attendance_threshold: None,
        age_stages: None,
    }
}

on_both! {
    async fn a_series_is_planned_and_an_edit_replans_only_the_future(t: &TestDb) {
        let (school, expert, _) = school(t, 0).await;
        let live = live(t);
        let start = Timestamp(t.clock.now().0 + 7 * DAY_MS);
        let s = live.create_series(&expert, weekly(school, start, 4, 30)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.version, 1);
        let starts: Vec<i64> = s.occurrences.iter().map(|o| o.starts_at.0).collect();
        assert_eq!(starts, (0..4).map(|w| start.0 + w * 7 * DAY_MS).collect::<Vec<_>>());
        assert!(s.occurrences.iter().all(|o| o.state.as_str() == "scheduled"));

        // Three weeks instead of four: the last is cancelled, the rest keep their rows.
        let edit = SeriesPatch { rrule: Some("FREQ=WEEKLY;COUNT=3".into()), ..patch(1) };
        let e = live.edit_series(&expert, s.id, edit).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.version, 2);
        let states: Vec<&str> = e.occurrences.iter().map(|o| o.state.as_str()).collect();
        assert_eq!(states, ["scheduled", "scheduled", "scheduled", "cancelled"]);
        assert_eq!(
            e.occurrences.iter().map(|o| o.id).collect::<Vec<_>>(),
            s.occurrences.iter().map(|o| o.id).collect::<Vec<_>>()
        );

        // A stale version changes nothing.
        let stale = SeriesPatch { title: Some("改名".into()), ..patch(1) };
        assert!(matches!(live.edit_series(&expert, s.id, stale).await, Err(LiveError::SeriesVersionConflict)));

        // Stopping cancels what is left to come.
        let stopped = live.stop_series(&expert, s.id).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(stopped.occurrences.iter().all(|o| o.state.as_str() == "cancelled"));
        assert_eq!(stopped.title, "家庭教育周周讲");
    }

    async fn seats_fill_in_order_and_a_cancellation_promotes_the_first_in_line(t: &TestDb) {
        let (school, expert, parents) = school(t, 3).await;
        let live = live(t);
        let start = Timestamp(t.clock.now().0 + DAY_MS);
        let s = live.create_series(&expert, weekly(school, start, 1, 2)).await.unwrap_or_else(|e| panic!("{e}"));
        let occ = s.occurrences[0].id;
        let mut states = Vec::new();
        for p in &parents {
            let r = live.enrol(p, occ, EnrolRequest::default()).await.unwrap_or_else(|e| panic!("{e}"));
            states.push((r.state.as_str(), r.waitlist_position));
        }
        assert_eq!(states, [("enrolled", None), ("enrolled", None), ("waitlisted", Some(1))]);

        // Enrolling again reports where one stands.
        let again = live.enrol(&parents[2], occ, EnrolRequest::default()).await;
        assert!(matches!(again, Err(LiveError::AlreadyEnrolled { waitlist_position: Some(1), .. })), "{again:?}");

        // The first parent cancels: the waitlisted one takes the seat.
        live.cancel_enrolment(&parents[0], occ).await.unwrap_or_else(|e| panic!("{e}"));
        let promoted = live.enrol(&parents[2], occ, EnrolRequest::default()).await;
        assert!(
            matches!(&promoted, Err(LiveError::AlreadyEnrolled { waitlist_position: None, state }) if state.as_str() == "enrolled"),
            "{promoted:?}"
        );
        // Nothing left to cancel for the one who already did.
        assert!(matches!(live.cancel_enrolment(&parents[0], occ).await, Err(LiveError::EnrolmentNotFound)));
    }

    async fn attendance_is_written_in_batches_and_read_as_a_union(t: &TestDb) {
        let (school, expert, parents) = school(t, 2).await;
        let live = live(t);
        let start = Timestamp(t.clock.now().0 + DAY_MS);
        let s = live.create_series(&expert, weekly(school, start, 1, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        let occ = s.occurrences[0].id;
        let (a, b) = (parents[0].id, parents[1].id);
        let base = t.clock.now().0;
        let at = |s: i64| Timestamp(base + s * 1000);
        let rec = live.attendance();
        // Parent a on two devices, overlapping (10–40 s and 30–70 s): 60 s, not 70.
        let (s1, s2, s3) = (live_session::sfu::SessionId::new(), live_session::sfu::SessionId::new(), live_session::sfu::SessionId::new());
        rec.join(occ, a, s1, at(10));
        rec.join(occ, a, s2, at(30));
        rec.join(occ, b, s3, at(20));
        let first = rec.flush(at(35)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((first.joins, first.leaves, first.open), (3, 0, 3));
        rec.leave(s1, at(40));
        rec.leave(s2, at(70));
        rec.leave(s3, at(50));
        let second = rec.flush(at(80)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((second.joins, second.leaves), (0, 3));

        let ms = rec.attended_ms(occ).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ms.get(&a).copied(), Some(60_000));
        assert_eq!(ms.get(&b).copied(), Some(30_000));
        // The lecture never went live: watching a scheduled room earns no study time.
        assert!(rec.user_credits(a).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert_eq!(rec.credited_between(a, at(0), at(100)).await.unwrap_or_else(|e| panic!("{e}")), 0);
    }

    async fn check_ins_give_credit_once_and_only_with_a_check_out_where_asked(t: &TestDb) {
        let (school, _, parents) = school(t, 2).await;
        let curator = t.user("13700000001", Role::Curator, Some(school)).await;
        let live = live(t);
        let now = t.clock.now();
        let a = live
            .create_activity(&curator, NewActivity {
                title: "亲子自然观察".into(),
                kind: ActivityKind::ParentChild,
                description: None,
                place: "学校礼堂".into(),
                latitude: None,
                longitude: None,
                starts_at: Timestamp(now.0 + 10 * 60_000),
                ends_at: Timestamp(now.0 + 130 * 60_000),
                capacity: 10,
                scope_org_id: Some(school),
                host_org_id: school,
                credit_minutes: 90,
                requires_check_out: Some(true),
                requires_enrolment: Some(true),
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for p in &parents {
            live.enrol(p, a.id, EnrolRequest::default()).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let (p1, p2) = (parents[0].id, parents[1].id);
        let hand = |member, purpose| live.check_in_by_hand(&curator, a.id, member, purpose);
        assert!(!hand(p1, Purpose::In).await.unwrap_or_else(|e| panic!("{e}")), "not before 签退");
        assert!(!hand(p1, Purpose::In).await.unwrap_or_else(|e| panic!("{e}")), "again is the same");
        assert!(hand(p1, Purpose::Out).await.unwrap_or_else(|e| panic!("{e}")));
        hand(p2, Purpose::In).await.unwrap_or_else(|e| panic!("{e}"));
        let totals = live
            .offline()
            .totals_for(&[p1, p2], Timestamp(now.0 - DAY_MS), Timestamp(now.0 + DAY_MS))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(totals.get(&p1), Some(&(90 * 60_000)));
        assert_eq!(totals.get(&p2), None, "checked in but not out");
        // Counted at the activity's start: a window that ends before it holds nothing.
        let before = live.offline().credited_between(p1, Timestamp(0), now).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(before, 0);
        let mine = live.offline().user_credits(p1).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((mine.len(), mine[0].credited_ms), (1, 90 * 60_000));
    }

    async fn a_reminder_is_claimed_and_sent_once(t: &TestDb) {
        let (school, expert, parents) = school(t, 2).await;
        let kept = Arc::new(Kept::default());
        let live = live(t).with_notifier(kept.clone());
        // Starts in 20 minutes: the 30-minute reminder is due, the day-before one is past.
        let start = Timestamp(t.clock.now().0 + 20 * 60_000);
        let s = live.create_series(&expert, weekly(school, start, 1, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        let occ = s.occurrences[0].id;
        live.enrol(&parents[0], occ, EnrolRequest::default()).await.unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(live.sweep_reminders().await.unwrap_or_else(|e| panic!("{e}")), 1);
        assert_eq!(live.sweep_reminders().await.unwrap_or_else(|e| panic!("{e}")), 0, "claimed once");
        let sent = kept.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].kind.as_str(), sent[0].occurrence_id, sent[0].user_id), ("reminder", occ, parents[0].id));
        assert_eq!(sent[0].minutes_before, 30);
        assert_eq!(sent[0].title, "家庭教育周周讲");
    }
}
