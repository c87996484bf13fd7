//! Listing and search: one query that picks a page of ids and scores first (the postings, the
//! filters and the visibility rule), then fetches the columns of those rows alone.

use platform::scope::Scope;
use platform::with_db;

use crate::courses::{CourseRow, SUMMARY_COLUMNS, push_visible};
use crate::search;
use crate::{AgeStage, Catalog, CatalogResult, CourseId, ListId, Status};

/// Where a page starts: after a (score, id) in a search, after an id in a listing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum After {
    Scored(i64, CourseId),
    Id(CourseId),
}

/// What a listing or search asks for, checked.
pub(crate) struct Filter<'a> {
    pub(crate) search: Option<&'a search::Query>,
    /// Courses for any of these stages (`None`: every stage).
    pub(crate) stages: Option<Vec<AgeStage>>,
    pub(crate) topic: Option<&'a str>,
    pub(crate) year: Option<i32>,
    pub(crate) list: Option<ListId>,
    /// Only courses that fit a list: (the list is public, its scope path).
    pub(crate) fits: Option<(bool, String)>,
    pub(crate) status: Option<Status>,
    pub(crate) after: Option<After>,
}

impl Catalog {
    /// Up to `limit` courses `scope` sees that match `f`, best first (by score in a search,
    /// newest first otherwise), each with its score.
    pub(crate) async fn find_rows(
        &self,
        f: &Filter<'_>,
        scope: &Scope,
        limit: i64,
    ) -> CatalogResult<Vec<(CourseRow, i64)>> {
        with_db!(&self.db, |pool| {
            // The inner query picks the page (ids and scores only); the outer one fetches the
            // columns of those rows alone.
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(SUMMARY_COLUMNS);
            qb.push(", p.score AS score FROM (SELECT c.id AS id, ");
            if let Some(query) = f.search {
                qb.push(
                    "s.score AS score FROM courses c JOIN (SELECT course_id, SUM(score) AS score, COUNT(*) AS n \
                     FROM search_terms WHERE term IN (",
                );
                let mut sep = qb.separated(", ");
                for t in &query.terms {
                    sep.push_bind(t.as_str());
                }
                qb.push(") GROUP BY course_id) s ON s.course_id = c.id WHERE s.n = ");
                qb.push_bind(query.terms.len() as i64);
                for phrase in query.phrases_needing_check() {
                    qb.push(" AND EXISTS (SELECT 1 FROM course_texts ct WHERE ct.course_id = c.id AND ct.text LIKE ");
                    qb.push_bind(format!("%{phrase}%"));
                    qb.push(")");
                }
            } else {
                qb.push("CAST(0 AS BIGINT) AS score FROM courses c WHERE 1 = 1");
            }
            qb.push(" AND ");
            push_visible(&mut qb, scope);
            if let Some(stages) = &f.stages {
                // Any of the stages; none matches nothing (a parent with no child added).
                qb.push(" AND EXISTS (SELECT 1 FROM course_age_stages a WHERE a.course_id = c.id AND a.age_stage IN (");
                let mut sep = qb.separated(", ");
                sep.push("NULL");
                for stage in stages {
                    sep.push_bind(stage.code());
                }
                qb.push("))");
            }
            if let Some(topic) = f.topic {
                qb.push(" AND EXISTS (SELECT 1 FROM course_topics t WHERE t.course_id = c.id AND t.topic = ");
                qb.push_bind(topic);
                qb.push(")");
            }
            if let Some(year) = f.year {
                qb.push(" AND c.year = ");
                qb.push_bind(year);
            }
            if let Some(list) = f.list {
                qb.push(" AND EXISTS (SELECT 1 FROM course_list_items li WHERE li.course_id = c.id AND li.list_id = ");
                qb.push_bind(list);
                qb.push(")");
            }
            if let Some((list_public, list_scope)) = &f.fits {
                qb.push(" AND c.status = 'published' AND (c.visibility = 'public'");
                if !list_public {
                    qb.push(" OR ");
                    platform::scope::push_within(&mut qb, list_scope.clone(), "c.scope_path");
                }
                qb.push(")");
            }
            if let Some(status) = f.status {
                qb.push(" AND c.status = ");
                qb.push_bind(status.as_str());
            }
            match f.after {
                Some(After::Scored(score, id)) => {
                    qb.push(" AND (s.score < ");
                    qb.push_bind(score);
                    qb.push(" OR (s.score = ");
                    qb.push_bind(score);
                    qb.push(" AND c.id < ");
                    qb.push_bind(id);
                    qb.push("))");
                }
                Some(After::Id(id)) => {
                    qb.push(" AND c.id < ");
                    qb.push_bind(id);
                }
                None => {}
            }
            qb.push(if f.search.is_some() {
                " ORDER BY s.score DESC, c.id DESC LIMIT "
            } else {
                " ORDER BY c.id DESC LIMIT "
            });
            qb.push_bind(limit);
            qb.push(") p JOIN courses c ON c.id = p.id ORDER BY p.score DESC, c.id DESC");
            let rows = qb.build().fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                use sqlx::{FromRow, Row};
                out.push((CourseRow::from_row(row)?, row.try_get::<i64, _>("score")?));
            }
            Ok(out)
        })
    }
}
