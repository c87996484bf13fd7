//! The queries of courses, one named method each, so services and handlers never touch a pool:
//! rows, lessons, the assets lessons use, topics, covers, import keys (here); writing a course in
//! one transaction (`persist`); the review workflow (`review`); listing and search (`find`).

mod find;
mod persist;
mod review;

pub(crate) use find::{After, Filter};

use platform::{db_execute, with_db};

use super::*;
use crate::Catalog;
use crate::{CatalogError, CatalogResult};

impl Catalog {
    pub(crate) async fn course_row(&self, id: CourseId) -> CatalogResult<Option<CourseRow>> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM courses c WHERE c.id = $1");
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, CourseRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Whether `viewer` may see the course (same rule as [`push_visible`]).
    pub(crate) async fn visible(&self, viewer: Option<&AuthUser>, id: CourseId) -> CatalogResult<bool> {
        let scope = Scope::load(&self.db, viewer).await?;
        let n: i64 = with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM courses c WHERE c.id = ");
            qb.push_bind(id);
            qb.push(" AND ");
            push_visible(&mut qb, &scope);
            qb.build_query_scalar::<i64>().fetch_one(pool).await
        })?;
        Ok(n > 0)
    }

    /// Appends a lesson to a course (the CLI's `media upload`); returns its position.
    pub async fn append_lesson(
        &self,
        course: CourseId,
        title: &str,
        asset_id: &str,
        duration_s: i32,
    ) -> CatalogResult<i32> {
        let row = self.course_row(course).await?.ok_or(CatalogError::CourseNotFound)?;
        let mut lessons: Vec<LessonInput> = self
            .lessons(course)
            .await?
            .into_iter()
            .map(|l| LessonInput {
                id: Some(l.id),
                title: l.title,
                asset_id: l.asset_id,
                duration_s: l.duration_s,
            })
            .collect();
        lessons.push(LessonInput {
            id: None,
            title: title.to_owned(),
            asset_id: Some(asset_id.to_owned()),
            duration_s,
        });
        let position = lessons.len() as i32;
        let input = CourseInput {
            lessons: Some(lessons),
            ..CourseInput::default()
        };
        let prepared = self.prepare(&Actor::Importer, input, Some(&row)).await?;
        self.persist(
            course,
            &prepared,
            row.author_id,
            Some((row.version, None)),
            row.status(),
        )
        .await?;
        Ok(position)
    }

    /// The lessons (with their courses) that use any of `assets`, in course and lesson order.
    pub async fn lessons_for_assets(&self, assets: &[String]) -> CatalogResult<Vec<LessonRef>> {
        if assets.is_empty() {
            return Ok(Vec::new());
        }
        Ok(with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT l.asset_id AS asset_id, l.id AS lesson_id, l.title AS lesson_title, l.position \
                 AS position, \
                 c.id AS course_id, c.title AS course_title, CAST(c.lesson_count AS BIGINT) AS course_lesson_count \
                 FROM lessons l CROSS JOIN courses c \
                 WHERE c.id = l.course_id AND l.asset_id IN (",
            );
            let mut sep = qb.separated(", ");
            for a in assets {
                sep.push_bind(a.as_str());
            }
            qb.push(") ORDER BY c.id, l.position");
            qb.build_query_as::<LessonRef>().fetch_all(pool).await
        })?)
    }

    /// Whether `viewer` may watch media asset `asset`: admins, and those who may see a course with a
    /// lesson using it.
    pub async fn lesson_asset_visible(&self, viewer: &AuthUser, asset: &str) -> CatalogResult<bool> {
        let scope = Scope::load(&self.db, Some(viewer)).await?;
        if scope.is_admin() {
            return Ok(true);
        }
        let n: i64 = with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT COUNT(*) FROM lessons l CROSS JOIN courses c WHERE c.id = l.course_id AND l.asset_id = ",
            );
            qb.push_bind(asset);
            qb.push(" AND ");
            push_visible(&mut qb, &scope);
            qb.build_query_scalar::<i64>().fetch_one(pool).await
        })?;
        Ok(n > 0)
    }

    /// Whether `user` may manage an asset through the courses using it: admins, and curators
    /// whose subtree owns such a course (the rule of [`may_edit`](Self::may_edit)).
    pub async fn lesson_asset_managed(&self, user: &AuthUser, asset: &str) -> CatalogResult<bool> {
        let scope = Scope::load(&self.db, Some(user)).await?;
        if scope.is_admin() {
            return Ok(true);
        }
        let owners: Vec<String> = with_db!(&self.db, |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT c.owner_path FROM lessons l JOIN courses c ON c.id = l.course_id WHERE \
                 l.asset_id = $1",
            )
            .bind(asset)
            .fetch_all(pool)
            .await
        })?;
        Ok(owners.iter().any(|path| scope.manages(path)))
    }

    pub(crate) async fn lessons(&self, id: CourseId) -> CatalogResult<Vec<LessonView>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: LessonId,
            position: i32,
            title: String,
            asset_id: Option<String>,
            duration_s: i32,
            quiz: i64,
        }
        let rows: Vec<Row> = with_db!(&self.db, |pool| sqlx::query_as::<_, Row>(
            "SELECT id, position, title, asset_id, duration_s, CAST(CASE WHEN EXISTS (SELECT 1 FROM \
             lesson_quizzes q WHERE q.lesson_id = l.id) THEN 1 ELSE 0 END AS BIGINT) AS quiz \
             FROM lessons l WHERE course_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| LessonView {
                id: r.id,
                position: r.position,
                title: r.title,
                asset_id: r.asset_id,
                duration_s: r.duration_s,
                quiz: r.quiz > 0,
            })
            .collect())
    }

    /// Known topic names, in display order.
    pub async fn topics(&self) -> CatalogResult<Vec<String>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, String>(
            "SELECT name FROM topics ORDER BY position, name"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Adds a topic at the end of the vocabulary; 409 `topic_exists` for a known name.
    pub(crate) async fn add_topic(&self, name: &str) -> CatalogResult<()> {
        db_execute!(
            &self.db,
            "INSERT INTO topics (name, position, created_at) \
             VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM topics), $2)",
            name,
            self.clock.now()
        )
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => CatalogError::TopicExists,
            _ => e.into(),
        })?;
        Ok(())
    }

    /// The key of the course's cover image, if it has one.
    pub(crate) async fn cover_key(&self, id: CourseId) -> CatalogResult<Option<String>> {
        let key: Option<Option<String>> = with_db!(&self.db, |pool| {
            sqlx::query_scalar::<_, Option<String>>("SELECT cover_key FROM courses WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(key.flatten())
    }

    /// Points the course at another cover object (a new version of the course).
    pub(crate) async fn set_cover_key(&self, id: CourseId, key: &str, now: platform::Timestamp) -> CatalogResult<()> {
        db_execute!(
            &self.db,
            "UPDATE courses SET cover_key = $2, version = version + 1, updated_at = $3 WHERE id = $1",
            id,
            key,
            now
        )?;
        Ok(())
    }

    /// The assets the lessons of course `id` use now.
    pub(crate) async fn lesson_assets(&self, id: CourseId) -> CatalogResult<Vec<Option<String>>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, Option<String>>(
            "SELECT asset_id FROM lessons WHERE course_id = $1",
        )
        .bind(id)
        .fetch_all(pool)
        .await)?)
    }

    /// The course with this import key, if any.
    pub(crate) async fn course_by_external_id(&self, external_id: &str) -> CatalogResult<Option<CourseId>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, CourseId>(
            "SELECT id FROM courses WHERE external_id = $1"
        )
        .bind(external_id)
        .fetch_optional(pool)
        .await)?)
    }

    /// `id` when that course exists.
    pub(crate) async fn existing_course(&self, id: CourseId) -> CatalogResult<Option<CourseId>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, CourseId>(
            "SELECT id FROM courses WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// The lesson of course `course` that plays `asset`, if any.
    pub(crate) async fn lesson_with_asset(&self, course: CourseId, asset: &str) -> CatalogResult<Option<LessonId>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, LessonId>(
            "SELECT id FROM lessons WHERE course_id = $1 AND asset_id = $2",
        )
        .bind(course)
        .bind(asset)
        .fetch_optional(pool)
        .await)?)
    }
}
