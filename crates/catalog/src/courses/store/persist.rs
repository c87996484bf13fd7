//! Writing a course: the row, its topics, age stages, search postings, phrase text and (when
//! given) lessons, in one transaction with an optimistic version.

use platform::error::ResultExt;
use platform::with_db;

use crate::courses::*;
use crate::search::{Field, Postings};
use crate::{Catalog, CatalogError, CatalogResult};

impl Catalog {
    /// Inserts or updates a course with its topics, age stages, search postings and (when
    /// given) lessons, all in one transaction. Returns 409 `version_conflict` when `expect_version`
    /// is stale and 409 `external_id_taken` for a duplicate import key.
    pub(crate) async fn persist(
        &self,
        id: CourseId,
        p: &Prepared,
        author: Option<UserId>,
        existing: Option<(i32, Option<i32>)>,
        initial_status: Status,
    ) -> CatalogResult<()> {
        let now = self.clock.now();
        let mut postings = Postings::default();
        postings.add(Field::Title, &p.title);
        postings.add(Field::Summary, &p.summary);
        postings.add(Field::Lecturer, &format!("{} {}", p.lecturer.name, p.lecturer.title));
        for t in &p.topics {
            postings.add(Field::Topic, t);
        }
        for t in &p.tags {
            postings.add(Field::Tag, t);
        }
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let stages: Vec<String> = p.age_stages.iter().map(|s| s.code().to_owned()).collect();
        let (stages_json, topics_json, tags_json) = (json(&stages), json(&p.topics), json(&p.tags));
        let scores = postings.scores();
        let text = postings.text().to_owned();
        let taken = || CatalogError::ExternalIdTaken;

        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            match existing {
                None => {
                    sqlx::query(
                        "INSERT INTO courses (id, external_id, title, summary, lecturer_user_id, lecturer_name, \
                         lecturer_title,
                            language, year, age_stages, topics, tags, status, author_id, owner_org_id, visibility,
                            scope_org_id, scope_path, owner_path, version, created_at, updated_at, published_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
                         $19, 1, $20, $20, $21)",
                    )
                    .bind(id)
                    .bind(&p.external_id)
                    .bind(&p.title)
                    .bind(&p.summary)
                    .bind(p.lecturer.user_id)
                    .bind(&p.lecturer.name)
                    .bind(&p.lecturer.title)
                    .bind(&p.language)
                    .bind(p.year)
                    .bind(&stages_json)
                    .bind(&topics_json)
                    .bind(&tags_json)
                    .bind(initial_status.as_str())
                    .bind(author)
                    .bind(p.owner_org_id)
                    .bind(p.visibility.as_str())
                    .bind(p.scope_org_id)
                    .bind(&p.scope_path)
                    .bind(&p.owner_path)
                    .bind(now)
                    .bind((initial_status == Status::Published).then_some(now))
                    .execute(&mut *tx)
                    .await
                    .on_constraint("courses_external_id", taken)?;
                }
                Some((current, expected)) => {
                    if expected.is_some_and(|v| v != current) {
                        return Err(CatalogError::CourseVersionConflict);
                    }
                    let n = sqlx::query(
                        "UPDATE courses SET external_id = $2, title = $3, summary = $4, lecturer_user_id = $5, \
                         lecturer_name = $6,
                            lecturer_title = $7, language = $8, year = $9, age_stages = $10, topics = $11, tags = \
                         $12,
                            owner_org_id = $13, visibility = $14, scope_org_id = $15, scope_path = $16,
                            owner_path = $17, version = version + 1, updated_at = $18
                         WHERE id = $1 AND version = $19",
                    )
                    .bind(id)
                    .bind(&p.external_id)
                    .bind(&p.title)
                    .bind(&p.summary)
                    .bind(p.lecturer.user_id)
                    .bind(&p.lecturer.name)
                    .bind(&p.lecturer.title)
                    .bind(&p.language)
                    .bind(p.year)
                    .bind(&stages_json)
                    .bind(&topics_json)
                    .bind(&tags_json)
                    .bind(p.owner_org_id)
                    .bind(p.visibility.as_str())
                    .bind(p.scope_org_id)
                    .bind(&p.scope_path)
                    .bind(&p.owner_path)
                    .bind(now)
                    .bind(current)
                    .execute(&mut *tx)
                    .await
                    .on_constraint("courses_external_id", taken)?
                    .rows_affected();
                    if n == 0 {
                        return Err(CatalogError::CourseVersionConflict);
                    }
                    for table in ["course_age_stages", "course_topics", "search_terms", "course_texts"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE course_id = $1"))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            sqlx::query("INSERT INTO course_texts (course_id, text) VALUES ($1, $2)")
                .bind(id)
                .bind(&text)
                .execute(&mut *tx)
                .await?;
            for stage in &stages {
                sqlx::query("INSERT INTO course_age_stages (course_id, age_stage) VALUES ($1, $2)")
                    .bind(id)
                    .bind(stage)
                    .execute(&mut *tx)
                    .await?;
            }
            for topic in &p.topics {
                sqlx::query("INSERT INTO course_topics (course_id, topic) VALUES ($1, $2)")
                    .bind(id)
                    .bind(topic)
                    .execute(&mut *tx)
                    .await?;
            }
            for chunk in scores.chunks(300) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO search_terms (term, course_id, score) ");
                qb.push_values(chunk, |mut b, (term, score)| {
                    b.push_bind(term.as_str()).push_bind(id).push_bind(*score as i32);
                });
                qb.build().execute(&mut *tx).await?;
            }
            if let Some(lessons) = &p.lessons {
                let keep: Vec<LessonId> = lessons.iter().filter_map(|l| l.id).collect();
                let existing_ids: Vec<LessonId> = sqlx::query_scalar("SELECT id FROM lessons WHERE course_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
                for old in existing_ids.iter().filter(|i| !keep.contains(i)) {
                    sqlx::query("DELETE FROM lessons WHERE id = $1")
                        .bind(*old)
                        .execute(&mut *tx)
                        .await?;
                }
                for (pos, l) in lessons.iter().enumerate() {
                    let pos = pos as i32 + 1;
                    match l.id.filter(|i| existing_ids.contains(i)) {
                        Some(lid) => {
                            sqlx::query(
                                "UPDATE lessons SET position = $2, title = $3, asset_id = $4, duration_s = \
                                 $5 WHERE id = $1",
                            )
                            .bind(lid)
                            .bind(pos)
                            .bind(&l.title)
                            .bind(&l.asset_id)
                            .bind(l.duration_s)
                            .execute(&mut *tx)
                            .await?;
                        }
                        None => {
                            sqlx::query(
                                "INSERT INTO lessons (id, course_id, position, title, asset_id, duration_s, created_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            )
                            .bind(LessonId::new())
                            .bind(id)
                            .bind(pos)
                            .bind(&l.title)
                            .bind(&l.asset_id)
                            .bind(l.duration_s)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            if p.lessons.is_some() {
                // Keep the denormalised counts in step with the lessons.
                sqlx::query(
                    "UPDATE courses SET lesson_count = (SELECT COUNT(*) FROM lessons WHERE course_id = $1),
                        total_duration_s = (SELECT COALESCE(SUM(duration_s), 0) FROM lessons WHERE course_id = $1)
                     WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
