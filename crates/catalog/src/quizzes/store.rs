//! The queries of quizzes: a lesson's quiz (read, saved with a new version, removed), its
//! attempts (recorded, a user's standing, the lessons a user passed) and which lessons of some
//! courses have one.

use platform::ids::UserId;
use platform::{Db, Timestamp, db_execute, with_db};

use super::{Question, QuestionView, QuizView};
use crate::{CourseId, LessonId};

#[derive(Debug, sqlx::FromRow)]
pub(super) struct QuizRow {
    pub(super) lesson_id: LessonId,
    questions: String,
    pub(super) pass_percent: i32,
    pub(super) required: bool,
    pub(super) version: i32,
}

impl QuizRow {
    pub(super) fn questions(&self) -> Vec<Question> {
        serde_json::from_str(&self.questions).unwrap_or_default()
    }

    pub(super) fn view(
        &self,
        course: CourseId,
        editable: bool,
        attempts: i64,
        best: Option<i32>,
        passed: bool,
    ) -> QuizView {
        QuizView {
            lesson_id: self.lesson_id,
            course_id: course,
            pass_percent: self.pass_percent as u8,
            required: self.required,
            version: self.version,
            questions: self
                .questions()
                .into_iter()
                .map(|q| QuestionView {
                    text: q.text,
                    kind: q.kind,
                    options: q.options,
                    answer: editable.then_some(q.answer),
                })
                .collect(),
            editable,
            attempts,
            best_score: best.map(|b| b as u8),
            passed,
        }
    }
}

/// An attempt to record.
#[derive(Debug)]
pub(super) struct Attempt {
    pub(super) lesson: LessonId,
    pub(super) user: UserId,
    pub(super) version: i32,
    pub(super) answers: String,
    pub(super) score: u8,
    pub(super) passed: bool,
    pub(super) at: Timestamp,
}

pub(super) async fn lesson_course(db: &Db, lesson: LessonId) -> Result<Option<CourseId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, CourseId>(
        "SELECT course_id FROM lessons WHERE id = $1"
    )
    .bind(lesson)
    .fetch_optional(pool)
    .await)
}

pub(super) async fn quiz(db: &Db, lesson: LessonId) -> Result<Option<QuizRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, QuizRow>(
        "SELECT lesson_id, questions, pass_percent, required, version FROM lesson_quizzes WHERE lesson_id = $1"
    )
    .bind(lesson)
    .fetch_optional(pool)
    .await)
}

/// A quiz to save.
#[derive(Debug)]
pub(super) struct Saved<'a> {
    pub(super) questions: &'a [Question],
    pub(super) pass_percent: u8,
    pub(super) required: bool,
    pub(super) by: UserId,
    pub(super) at: Timestamp,
}

/// Inserts the quiz at version 1 or replaces it with the next version; returns it as stored.
pub(super) async fn save(db: &Db, lesson: LessonId, q: &Saved<'_>) -> Result<QuizRow, sqlx::Error> {
    let json = serde_json::to_string(q.questions).unwrap_or_else(|_| "[]".into());
    with_db!(db, |pool| sqlx::query_as::<_, QuizRow>(
        "INSERT INTO lesson_quizzes (lesson_id, questions, pass_percent, required, version, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6) \
         ON CONFLICT (lesson_id) DO UPDATE SET questions = excluded.questions, \
         pass_percent = excluded.pass_percent, required = excluded.required, \
         version = lesson_quizzes.version + 1, updated_by = excluded.updated_by, updated_at = excluded.updated_at \
         RETURNING lesson_id, questions, pass_percent, required, version"
    )
    .bind(lesson)
    .bind(&json)
    .bind(i32::from(q.pass_percent))
    .bind(q.required)
    .bind(q.by)
    .bind(q.at)
    .fetch_one(pool)
    .await)
}

/// Removes the quiz; its attempts stay (a passed quiz stays passed).
pub(super) async fn delete(db: &Db, lesson: LessonId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM lesson_quizzes WHERE lesson_id = $1", lesson)?;
    Ok(())
}

pub(super) async fn record(db: &Db, a: &Attempt) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO quiz_attempts (id, lesson_id, user_id, quiz_version, answers, score, passed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid::Uuid::now_v7(),
        a.lesson,
        a.user,
        a.version,
        a.answers.as_str(),
        i32::from(a.score),
        a.passed,
        a.at,
    )?;
    Ok(())
}

/// A user's attempts at a lesson's quiz: how many, the best score, whether one passed.
pub(super) async fn standing(db: &Db, user: UserId, lesson: LessonId) -> Result<(i64, Option<i32>, bool), sqlx::Error> {
    let (n, best, passed): (i64, Option<i32>, i64) = with_db!(db, |pool| sqlx::query_as(
        "SELECT COUNT(*), MAX(score), CAST(COALESCE(SUM(CASE WHEN passed THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM quiz_attempts WHERE user_id = $1 AND lesson_id = $2"
    )
    .bind(user)
    .bind(lesson)
    .fetch_one(pool)
    .await)?;
    Ok((n, best, passed > 0))
}

/// The lessons of `courses` with a quiz, in course and lesson order, and whether it is required.
pub(super) async fn quiz_lessons(
    db: &Db,
    courses: &[CourseId],
) -> Result<Vec<(CourseId, LessonId, bool)>, sqlx::Error> {
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT l.course_id, l.id, q.required FROM lessons l JOIN lesson_quizzes q ON q.lesson_id = l.id \
             WHERE l.course_id IN (",
        );
        let mut sep = qb.separated(", ");
        for c in courses {
            sep.push_bind(*c);
        }
        qb.push(") ORDER BY l.course_id, l.position");
        qb.build_query_as::<(CourseId, LessonId, bool)>().fetch_all(pool).await
    })
}

/// Which of `lessons` `user` passed.
pub(super) async fn passed(db: &Db, user: UserId, lessons: &[LessonId]) -> Result<Vec<LessonId>, sqlx::Error> {
    if lessons.is_empty() {
        return Ok(Vec::new());
    }
    with_db!(db, |pool| {
        let mut qb =
            sqlx::QueryBuilder::new("SELECT DISTINCT lesson_id FROM quiz_attempts WHERE passed AND user_id = ");
        qb.push_bind(user);
        qb.push(" AND lesson_id IN (");
        let mut sep = qb.separated(", ");
        for l in lessons {
            sep.push_bind(*l);
        }
        qb.push(")");
        qb.build_query_scalar::<LessonId>().fetch_all(pool).await
    })
}

/// A deleted account's attempts go with it.
pub(crate) async fn erase(db: &Db, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM quiz_attempts WHERE user_id = $1", user)?;
    Ok(())
}
