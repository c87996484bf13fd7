//! The adapters through which one domain asks another without depending on it: media asks the
//! catalog who may watch or manage an asset, the catalog asks media who may use one in a lesson,
//! and live hands finished replays to the catalog. Where one domain's error crosses into
//! another, it goes as the problem it would have been at the edge (`ApiError`), so a refusal or
//! an outage keeps its status, code and cause.

use platform::{ApiError, Db};

/// Media asks the catalog whether a user may watch an asset: the composition lives here, since
/// neither domain crate may depend on the other.
#[derive(Debug)]
pub(super) struct CatalogAccess(pub(super) catalog::Catalog);

#[async_trait::async_trait]
impl media::AssetAccess for CatalogAccess {
    async fn may_watch(&self, user: &platform::auth::AuthUser, asset: media::AssetId) -> media::MediaResult<bool> {
        Ok(self
            .0
            .lesson_asset_visible(user, &asset.to_string())
            .await
            .map_err(ApiError::from)?)
    }

    async fn may_manage(&self, user: &platform::auth::AuthUser, asset: media::AssetId) -> media::MediaResult<bool> {
        Ok(self
            .0
            .lesson_asset_managed(user, &asset.to_string())
            .await
            .map_err(ApiError::from)?)
    }
}

/// Who may put an asset into a lesson: its uploader, admins, and curators managing a course
/// that already uses it (the catalog's side of the rule, composed here with media's).
#[derive(Debug)]
pub(super) struct MediaRights {
    pub(super) media: media::Media,
    pub(super) catalog: catalog::Catalog,
}

#[async_trait::async_trait]
impl catalog::AssetRights for MediaRights {
    async fn may_use(&self, user: &platform::auth::AuthUser, asset: &str) -> catalog::CatalogResult<bool> {
        let Ok(id) = asset.parse::<media::AssetId>() else {
            return Ok(false);
        };
        Ok(self.media.uploader(id).await.map_err(ApiError::from)? == Some(user.id)
            || self.catalog.lesson_asset_managed(user, asset).await?)
    }
}

/// Publishes live replays as lessons (the catalog side of `live_session::ReplayPublisher`).
#[derive(Debug)]
pub(super) struct CatalogReplays {
    pub(super) catalog: catalog::Catalog,
    pub(super) db: Db,
}

#[async_trait::async_trait]
impl live_session::ReplayPublisher for CatalogReplays {
    async fn attach(&self, r: &live_session::Replay) -> anyhow::Result<(uuid::Uuid, uuid::Uuid)> {
        let fallback_owner = platform::orgs::memberships(&self.db, r.expert_id)
            .await?
            .first()
            .map(|o| o.id);
        let course = catalog::replays::ReplayCourse {
            course_id: r.replay_course_id.map(catalog::CourseId),
            title: r.series_title.clone(),
            summary: r.description.clone(),
            lecturer: r.lecturer.clone(),
            scope_org_id: r.scope_org_id,
            fallback_owner,
            age_stages: r.age_stages.clone(),
        };
        let title = format!("{} 直播回放", live_session::recurrence::china_time(r.starts_at));
        let (course, lesson) = self
            .catalog
            .attach_replay(&course, &title, &r.asset_id.to_string(), r.duration_s)
            .await?;
        Ok((course.0, lesson.0))
    }
}
