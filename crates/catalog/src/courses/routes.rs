//! The courses' HTTP handlers and their routes.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::auth::{AuthUser, MaybeAuth};
use platform::error::{ApiError, ApiResult, msg};
use platform::http::{ApiRouter, Json, Page, Path, Query, RawBody, cached_json};
use platform::validate::{self, Role};
use utoipa_axum::routes;

use super::*;
use crate::Catalog;
use crate::CatalogError;
use crate::search;

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(list_courses, create_course))
        .routes(routes!(get_course, update_course))
        .routes(routes!(transition))
        .routes(routes!(reviews))
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(age_stages))
        .routes(routes!(get_cover))
        .merge(
            ApiRouter::new()
                .routes(routes!(put_cover))
                .layer(axum::extract::DefaultBodyLimit::max(covers::MAX_COVER_BYTES)),
        )
}

/// List or search courses.
#[utoipa::path(get, path = "/api/v1/courses", tag = "catalog", params(CourseQuery),
    responses((status = 200, body = Page<CourseSummary>), (status = 304), (status = 422)))]
async fn list_courses(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> ApiResult<Response> {
    let page = cat.find_courses(viewer.as_ref(), &q).await?;
    Ok(cached_json(&headers, &page, viewer.is_some()))
}

/// Create a course (experts, curators, admins); it starts as a draft.
#[utoipa::path(post, path = "/api/v1/courses", tag = "catalog", request_body = CourseInput,
    responses((status = 201, body = CourseView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn create_course(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Json(input): Json<CourseInput>,
) -> ApiResult<(StatusCode, Json<CourseView>)> {
    auth.require_role(&[Role::Expert, Role::Curator, Role::Admin])?;
    if input.version.is_some() {
        return Err(ApiError::invalid_field(
            "version",
            msg("新建课程不需要版本号。", "version is only for updates."),
        ));
    }
    let actor = Actor::User(auth);
    let prepared = cat.prepare(&actor, input, None).await?;
    let id = CourseId::new();
    cat.persist(id, &prepared, Some(auth.id), None, Status::Draft).await?;
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    Ok((StatusCode::CREATED, Json(cat.course_view(&actor, row).await?)))
}

/// One course with its lessons.
#[utoipa::path(get, path = "/api/v1/courses/{id}", tag = "catalog", params(("id" = CourseId, Path)),
    responses((status = 200, body = CourseView), (status = 304), (status = 404)))]
async fn get_course(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Path(id): Path<CourseId>,
) -> ApiResult<Response> {
    if !cat.visible(viewer.as_ref(), id).await? {
        return Err(CatalogError::CourseNotFound.into());
    }
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    let view = match viewer {
        Some(u) => cat.course_view(&Actor::User(u), row).await?,
        None => CourseView {
            lessons: cat.lessons(row.id).await?,
            editable: false,
            course: row.summary(),
        },
    };
    Ok(cached_json(&headers, &view, viewer.is_some()))
}

/// Edit a course (send `version` to guard against concurrent edits).
#[utoipa::path(patch, path = "/api/v1/courses/{id}", tag = "catalog", params(("id" = CourseId, Path)), request_body = CourseInput,
    responses((status = 200, body = CourseView), (status = 403), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn update_course(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    Json(input): Json<CourseInput>,
) -> ApiResult<Json<CourseView>> {
    let actor = Actor::User(auth);
    if !cat.visible(Some(&auth), id).await? {
        return Err(CatalogError::CourseNotFound.into());
    }
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    if !cat.may_edit(&actor, &row).await? {
        return Err(CatalogError::CourseNotEditable { drafts_only: true }.into());
    }
    let expected = input.version;
    let prepared = cat.prepare(&actor, input, Some(&row)).await?;
    cat.persist(
        id,
        &prepared,
        row.author_id,
        Some((row.version, expected)),
        row.status(),
    )
    .await?;
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    Ok(Json(cat.course_view(&actor, row).await?))
}

/// Move a course through review: submit (in_review), publish, archive, or back to draft with a reason.
#[utoipa::path(post, path = "/api/v1/courses/{id}/transitions", tag = "catalog", params(("id" = CourseId, Path)),
    request_body = TransitionRequest,
    responses((status = 200, body = CourseView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn transition(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    Json(req): Json<TransitionRequest>,
) -> ApiResult<Json<CourseView>> {
    if !cat.visible(Some(&auth), id).await? {
        return Err(CatalogError::CourseNotFound.into());
    }
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    let actor = Actor::User(auth);
    cat.transition(&actor, &row, req.to, &req.comment).await?;
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    Ok(Json(cat.course_view(&actor, row).await?))
}

/// The review trail of a course (curators in scope and its author).
#[utoipa::path(get, path = "/api/v1/courses/{id}/reviews", tag = "catalog", params(("id" = CourseId, Path)),
    responses((status = 200, body = Vec<ReviewEvent>), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn reviews(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<Vec<ReviewEvent>>> {
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    if row.author_id != Some(auth.id) && !cat.manages_path(&auth, &row.owner_path).await? {
        return Err(if cat.visible(Some(&auth), id).await? {
            CatalogError::ReviewTrailOutOfScope
        } else {
            CatalogError::CourseNotFound
        }
        .into());
    }
    Ok(Json(cat.review_trail(id).await?))
}

/// The topic vocabulary.
#[utoipa::path(get, path = "/api/v1/topics", tag = "catalog", responses((status = 200, body = Vec<Topic>)))]
async fn list_topics(State(cat): State<Catalog>, headers: HeaderMap) -> ApiResult<Response> {
    let topics: Vec<Topic> = cat.topics().await?.into_iter().map(|name| Topic { name }).collect();
    Ok(cached_json(&headers, &topics, false))
}

/// Add a topic (curators and admins).
#[utoipa::path(post, path = "/api/v1/topics", tag = "catalog", request_body = NewTopic,
    responses((status = 201, body = Topic), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn create_topic(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Json(req): Json<NewTopic>,
) -> ApiResult<(StatusCode, Json<Topic>)> {
    auth.require_role(&[Role::Curator, Role::Admin])?;
    let name = validate::name(&req.name, 12).map_err(|m| ApiError::invalid_field("name", m))?;
    if search::parse_query(&name).is_err() {
        return Err(ApiError::invalid_field(
            "name",
            msg("主题名需要包含文字。", "A topic name needs letters."),
        ));
    }
    cat.add_topic(&name).await?;
    Ok((StatusCode::CREATED, Json(Topic { name })))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct AgeStageView {
    code: &'static str,
    label: &'static str,
}

/// The age stages with their Chinese labels.
#[utoipa::path(get, path = "/api/v1/age-stages", tag = "catalog", responses((status = 200, body = Vec<AgeStageView>)))]
async fn age_stages(headers: HeaderMap) -> Response {
    let stages: Vec<AgeStageView> = AgeStage::ALL
        .iter()
        .map(|s| AgeStageView {
            code: s.code(),
            label: s.label(),
        })
        .collect();
    cached_json(&headers, &stages, false)
}

/// Upload the cover image (JPEG, PNG or WebP, at most 5 MB) as the raw request body.
#[utoipa::path(put, path = "/api/v1/courses/{id}/cover", tag = "catalog", params(("id" = CourseId, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 200, body = CourseView), (status = 413), (status = 422)), security(("bearer" = [])))]
async fn put_cover(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    RawBody(body): RawBody,
) -> ApiResult<Json<CourseView>> {
    let actor = Actor::User(auth);
    if !cat.visible(Some(&auth), id).await? {
        return Err(CatalogError::CourseNotFound.into());
    }
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    if !cat.may_edit(&actor, &row).await? {
        return Err(CatalogError::CourseNotEditable { drafts_only: false }.into());
    }
    cat.set_cover(id, body).await?;
    let row = cat.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
    Ok(Json(cat.course_view(&actor, row).await?))
}

/// A cover image (content-addressed, so cached for a year).
#[utoipa::path(get, path = "/api/v1/courses/{id}/cover/{file}", tag = "catalog",
    params(("id" = CourseId, Path), ("file" = String, Path)), responses((status = 200, content_type = "image/jpeg"), (status = 404)))]
async fn get_cover(State(cat): State<Catalog>, Path((id, file)): Path<(CourseId, String)>) -> ApiResult<Response> {
    let not_found = || ApiError::from(CatalogError::CoverNotFound);
    let key = format!("covers/{id}/{file}");
    let current = cat.cover_key(id).await?;
    if current.as_deref() != Some(key.as_str()) {
        return Err(not_found());
    }
    let bytes = cat.store.get_bytes(&key).await.map_err(|_| not_found())?;
    let mime = image_kind(&bytes).map_or("application/octet-stream", |(_, m)| m);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}
