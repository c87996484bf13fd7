//! The HTTP handlers of the evaluation: extract, call the service, answer. No SQL here.

use axum::extract::State;
use axum::response::Response;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path, Query};
use platform::ids::OrgId;
use utoipa_axum::routes;

use super::indicators::Indicators;
use super::{EvaluationView, IndicatorsView};
use crate::Evaluation;

pub(crate) fn router() -> ApiRouter<Evaluation> {
    ApiRouter::new()
        .routes(routes!(evaluation))
        .routes(routes!(evaluation_csv))
        .routes(routes!(get_indicators, put_indicators))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct EvaluationQuery {
    /// A term's name from `terms` (default: the current term).
    pub term: Option<String>,
}

/// 评价看板: one row per child unit with its measures in the term, the composite score, the
/// rank among siblings and the trend over the last four terms (staff who manage the
/// organization).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/evaluation", tag = "evaluation",
    params(("id" = OrgId, Path), EvaluationQuery),
    responses((status = 200, body = EvaluationView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn evaluation(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    Query(q): Query<EvaluationQuery>,
) -> ApiResult<Json<EvaluationView>> {
    Ok(Json(e.evaluation(&auth, id, q.term.as_deref()).await?))
}

/// The same evaluation as a CSV file for Excel (UTF-8 with BOM): one line per child unit, then
/// the organization as a whole.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/evaluation.csv", tag = "evaluation",
    params(("id" = OrgId, Path), EvaluationQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn evaluation_csv(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    Query(q): Query<EvaluationQuery>,
) -> ApiResult<Response> {
    let v = e.evaluation(&auth, id, q.term.as_deref()).await?;
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let line = |r: &super::UnitRow, rank: String| {
        let m = &r.measures;
        vec![
            r.name.clone(),
            m.members.to_string(),
            m.active.to_string(),
            pct(m.coverage),
            format!("{:.2}", m.avg_hours),
            format!("{:.2}", m.median_hours),
            pct(m.live_rate),
            pct(m.offline_rate),
            m.certificates.to_string(),
            m.avg_rating.map(|a| format!("{a:.2}")).unwrap_or_default(),
            format!("{:.1}", r.score),
            rank,
        ]
    };
    let mut rows: Vec<Vec<String>> = v.rows.iter().map(|r| line(r, r.rank.to_string())).collect();
    rows.push(line(&v.total, "合计".into()));
    Ok(platform::http::csv_download(
        &format!("评价看板-{}-{}.csv", v.org_name, v.term.name),
        &[
            "单位",
            "家庭数",
            "活跃家庭",
            "覆盖率",
            "人均学时",
            "学时中位数",
            "直播参与率",
            "线下参与率",
            "发证数",
            "平均评分",
            "综合得分",
            "排名",
        ],
        &rows,
    ))
}

/// The indicator system in force at the organization (its own, or inherited), with the formula.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/indicators", tag = "evaluation", params(("id" = OrgId, Path)),
    responses((status = 200, body = IndicatorsView), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn get_indicators(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
) -> ApiResult<Json<IndicatorsView>> {
    Ok(Json(e.indicators(&auth, id).await?))
}

/// Sets the organization's own indicators: which measures count, their targets and weights;
/// the units below inherit them unless they set their own.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/indicators", tag = "evaluation", params(("id" = OrgId, Path)),
    request_body = Indicators,
    responses((status = 200, body = IndicatorsView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn put_indicators(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    Json(input): Json<Indicators>,
) -> ApiResult<Json<IndicatorsView>> {
    Ok(Json(e.set_indicators(&auth, id, input).await?))
}
