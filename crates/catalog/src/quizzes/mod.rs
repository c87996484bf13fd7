//! 课后小测: a lesson's short quiz of single and multiple choice questions with a pass mark.
//! The answer key stays on the server: viewers get the questions, the course's editors also the
//! key. Every attempt is recorded with the quiz version it answered; a lesson counts as passed
//! once any attempt passed. Certificate rules ask [`Catalog::passed_lessons`]. The pure rules
//! (what a quiz may contain, how an attempt is marked) are [`check`] and [`mark`]; `store`
//! holds the queries, `routes` the handlers. Attempts are erased with the account.

mod routes;
mod store;

use std::collections::BTreeSet;

use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::ids::UserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) use routes::router;
pub(crate) use store::erase;

use crate::courses::Actor;
use crate::{Catalog, CatalogError, CatalogResult, CourseId, LessonId};

/// Most questions in one quiz, and most options in one question.
pub const MAX_QUESTIONS: usize = 20;
pub const MAX_OPTIONS: usize = 8;
/// The pass mark when the editor gives none, in percent.
pub const DEFAULT_PASS_PERCENT: u8 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// 单选: exactly one right option.
    Single,
    /// 多选: one or more right options, all of which must be chosen.
    Multiple,
}

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// 1–200 characters.
    pub text: String,
    pub kind: QuestionKind,
    /// 2–8 options, 1–100 characters each, all different.
    pub options: Vec<String>,
    /// The right options, as indices into `options` (from 0).
    pub answer: Vec<usize>,
}

/// A whole quiz, as the editor saves it. No questions removes the quiz.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuizInput {
    /// 1–100; default 60.
    pub pass_percent: Option<u8>,
    /// Whether the course counts as completed only once this quiz is passed (完成课程须通过).
    #[serde(default)]
    pub required: bool,
    pub questions: Vec<Question>,
}

/// A question as a viewer sees it: without the key, unless they edit the course.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    pub text: String,
    pub kind: QuestionKind,
    pub options: Vec<String>,
    /// Only for the course's editors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Vec<usize>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuizView {
    pub lesson_id: LessonId,
    pub course_id: CourseId,
    pub pass_percent: u8,
    /// Whether completing the course needs this quiz passed.
    pub required: bool,
    /// Raised by every save; an attempt may name the version it answers.
    pub version: i32,
    pub questions: Vec<QuestionView>,
    /// Whether the caller edits the course (and so sees the key).
    pub editable: bool,
    /// The caller's attempts so far, their best score and whether one passed.
    pub attempts: i64,
    pub best_score: Option<u8>,
    pub passed: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptInput {
    /// For each question in order, the chosen options (indices from 0).
    pub answers: Vec<Vec<usize>>,
    /// The quiz version answered (409 `quiz_changed` when the quiz changed since).
    pub version: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResult {
    /// Percent of questions answered right, 0–100.
    pub score: u8,
    pub passed: bool,
    pub pass_percent: u8,
    /// For each question, whether it was answered right (the key itself is not shown).
    pub correct: Vec<bool>,
    pub attempts: i64,
}

/// What a quiz may contain: 1–20 questions of 1–200 characters, each with 2–8 different options
/// of 1–100 characters and a key of valid, distinct indices (exactly one for single choice);
/// the pass mark 1–100. Returns the trimmed questions or every problem by field.
pub fn check(input: &QuizInput) -> Result<(Vec<Question>, u8), Vec<FieldError>> {
    let mut errors = Vec::new();
    let pass = input.pass_percent.unwrap_or(DEFAULT_PASS_PERCENT);
    if !(1..=100).contains(&pass) {
        errors.push(FieldError::new(
            "pass_percent",
            msg("及格线应为 1–100 分。", "The pass mark is 1–100."),
        ));
    }
    if input.questions.len() > MAX_QUESTIONS {
        errors.push(FieldError::new(
            "questions",
            msg(
                format!("最多 {MAX_QUESTIONS} 道题。"),
                format!("At most {MAX_QUESTIONS} questions."),
            ),
        ));
    }
    let mut out = Vec::new();
    for (i, q) in input.questions.iter().enumerate() {
        let field = |f: &str| format!("questions[{i}].{f}");
        let text = platform::validate::name(&q.text, 200)
            .map_err(|m| errors.push(FieldError::new(&field("text"), m)))
            .unwrap_or_default();
        if !(2..=MAX_OPTIONS).contains(&q.options.len()) {
            errors.push(FieldError::new(
                &field("options"),
                msg(
                    format!("每道题 2–{MAX_OPTIONS} 个选项。"),
                    format!("Each question has 2–{MAX_OPTIONS} options."),
                ),
            ));
        }
        let mut options = Vec::new();
        for (j, o) in q.options.iter().enumerate() {
            match platform::validate::name(o, 100) {
                Ok(o) if options.contains(&o) => errors.push(FieldError::new(
                    &field(&format!("options[{j}]")),
                    msg("选项重复。", "The option appears twice."),
                )),
                Ok(o) => options.push(o),
                Err(m) => errors.push(FieldError::new(&field(&format!("options[{j}]")), m)),
            }
        }
        let key: BTreeSet<usize> = q.answer.iter().copied().collect();
        let bad_key = key.len() != q.answer.len()
            || key.iter().any(|&k| k >= q.options.len())
            || key.is_empty()
            || (q.kind == QuestionKind::Single && key.len() != 1);
        if bad_key {
            errors.push(FieldError::new(
                &field("answer"),
                match q.kind {
                    QuestionKind::Single => msg(
                        "单选题需要恰好一个正确选项。",
                        "A single-choice question has exactly one right option.",
                    ),
                    QuestionKind::Multiple => msg(
                        "请标出正确选项（选项序号从 0 开始，不可重复）。",
                        "Mark the right options (indices from 0, each once).",
                    ),
                },
            ));
        }
        out.push(Question {
            text,
            kind: q.kind,
            options,
            answer: key.into_iter().collect(),
        });
    }
    if errors.is_empty() {
        Ok((out, pass))
    } else {
        Err(errors)
    }
}

/// Marks an attempt: a question is right when exactly its key's options were chosen (the order
/// and repeats of the choice do not matter). The score is the rounded percent of right answers.
/// Refuses a choice for a missing option, or another number of answers than questions.
pub fn mark(questions: &[Question], answers: &[Vec<usize>]) -> Result<(u8, Vec<bool>), Vec<FieldError>> {
    if answers.len() != questions.len() {
        return Err(vec![FieldError::new(
            "answers",
            msg(
                format!("请回答全部 {} 道题。", questions.len()),
                format!("Answer all {} questions.", questions.len()),
            ),
        )]);
    }
    let mut errors = Vec::new();
    let mut correct = Vec::new();
    for (i, (q, a)) in questions.iter().zip(answers).enumerate() {
        let chosen: BTreeSet<usize> = a.iter().copied().collect();
        if chosen.iter().any(|&c| c >= q.options.len()) {
            errors.push(FieldError::new(
                &format!("answers[{i}]"),
                msg("所选选项不存在。", "No such option."),
            ));
        }
        let key: BTreeSet<usize> = q.answer.iter().copied().collect();
        correct.push(chosen == key);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let right = correct.iter().filter(|c| **c).count();
    let score = if questions.is_empty() {
        0
    } else {
        ((right * 100 + questions.len() / 2) / questions.len()) as u8
    };
    Ok((score, correct))
}

impl Catalog {
    /// The lesson's course row, and whether `user` edits it; 404 when the viewer may not see the
    /// course (editors see their drafts).
    async fn quiz_course(&self, user: &AuthUser, lesson: LessonId) -> CatalogResult<(CourseId, bool)> {
        let course = store::lesson_course(&self.db, lesson)
            .await?
            .ok_or(CatalogError::LessonNotFound)?;
        let row = self.course_row(course).await?.ok_or(CatalogError::LessonNotFound)?;
        let editable = self.may_edit(&Actor::User(*user), &row).await?;
        if !editable && !self.visible(Some(user), course).await? {
            return Err(CatalogError::LessonNotFound);
        }
        Ok((course, editable))
    }

    /// The lesson's quiz as `user` may see it, with their attempts (404 `quiz_not_found` when
    /// the lesson has none).
    pub async fn quiz(&self, user: &AuthUser, lesson: LessonId) -> CatalogResult<QuizView> {
        let (course, editable) = self.quiz_course(user, lesson).await?;
        let quiz = store::quiz(&self.db, lesson).await?.ok_or(CatalogError::QuizNotFound)?;
        let (attempts, best, passed) = store::standing(&self.db, user.id, lesson).await?;
        Ok(quiz.view(course, editable, attempts, best, passed))
    }

    /// Saves (or, with no questions, removes) the lesson's quiz: the course's editors only.
    pub async fn put_quiz(
        &self,
        user: &AuthUser,
        lesson: LessonId,
        input: QuizInput,
    ) -> CatalogResult<Option<QuizView>> {
        let (course, editable) = self.quiz_course(user, lesson).await?;
        if !editable {
            return Err(CatalogError::CourseNotEditable {
                drafts_only: user.role == platform::validate::Role::Expert,
            });
        }
        let (questions, pass) = check(&input).map_err(CatalogError::Invalid)?;
        if questions.is_empty() {
            store::delete(&self.db, lesson).await?;
            return Ok(None);
        }
        let saved = store::save(
            &self.db,
            lesson,
            &store::Saved {
                questions: &questions,
                pass_percent: pass,
                required: input.required,
                by: user.id,
                at: self.clock.now(),
            },
        )
        .await?;
        let (attempts, best, passed) = store::standing(&self.db, user.id, lesson).await?;
        Ok(Some(saved.view(course, true, attempts, best, passed)))
    }

    /// Marks and records an attempt by `user`; anyone who may see the course may try, as often
    /// as they like.
    pub async fn attempt_quiz(
        &self,
        user: &AuthUser,
        lesson: LessonId,
        input: AttemptInput,
    ) -> CatalogResult<AttemptResult> {
        self.quiz_course(user, lesson).await?;
        let quiz = store::quiz(&self.db, lesson).await?.ok_or(CatalogError::QuizNotFound)?;
        if input.version.is_some_and(|v| v != quiz.version) {
            return Err(CatalogError::QuizChanged);
        }
        let questions = quiz.questions();
        let (score, correct) = mark(&questions, &input.answers).map_err(CatalogError::Invalid)?;
        let pass = quiz.pass_percent as u8;
        let passed = score >= pass;
        let attempt = store::Attempt {
            lesson,
            user: user.id,
            version: quiz.version,
            answers: serde_json::to_string(&input.answers).unwrap_or_else(|_| "[]".into()),
            score,
            passed,
            at: self.clock.now(),
        };
        store::record(&self.db, &attempt).await?;
        let (attempts, _, _) = store::standing(&self.db, user.id, lesson).await?;
        Ok(AttemptResult {
            score,
            passed,
            pass_percent: pass,
            correct,
            attempts,
        })
    }

    /// The lessons of `courses` that have a quiz, by course, and whether it is required.
    pub async fn quiz_lessons(&self, courses: &[CourseId]) -> CatalogResult<Vec<(CourseId, LessonId, bool)>> {
        Ok(store::quiz_lessons(&self.db, courses).await?)
    }

    /// Which of `lessons` `user` passed the quiz of.
    pub async fn passed_lessons(&self, user: UserId, lessons: &[LessonId]) -> CatalogResult<BTreeSet<LessonId>> {
        Ok(store::passed(&self.db, user, lessons).await?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kind: QuestionKind, n: usize, answer: &[usize]) -> Question {
        Question {
            text: "题目".into(),
            kind,
            options: (0..n).map(|i| format!("选项{i}")).collect(),
            answer: answer.to_vec(),
        }
    }

    #[test]
    fn a_multiple_choice_needs_exactly_its_key() {
        let quiz = [q(QuestionKind::Single, 3, &[1]), q(QuestionKind::Multiple, 4, &[0, 2])];
        assert_eq!(mark(&quiz, &[vec![1], vec![2, 0]]).ok(), Some((100, vec![true, true])));
        assert_eq!(mark(&quiz, &[vec![1], vec![0]]).ok(), Some((50, vec![true, false])));
        assert_eq!(
            mark(&quiz, &[vec![0], vec![0, 2, 3]]).ok(),
            Some((0, vec![false, false]))
        );
        // Repeats do not change the choice.
        assert_eq!(
            mark(&quiz, &[vec![1, 1], vec![0, 2, 2]]).ok(),
            Some((100, vec![true, true]))
        );
        assert!(mark(&quiz, &[vec![1]]).is_err());
        assert!(mark(&quiz, &[vec![3], vec![0]]).is_err());
    }

    #[test]
    fn thirds_round_to_the_nearest_percent() {
        let quiz = [
            q(QuestionKind::Single, 2, &[0]),
            q(QuestionKind::Single, 2, &[0]),
            q(QuestionKind::Single, 2, &[0]),
        ];
        assert_eq!(mark(&quiz, &[vec![0], vec![0], vec![1]]).map(|m| m.0).ok(), Some(67));
        assert_eq!(mark(&quiz, &[vec![0], vec![1], vec![1]]).map(|m| m.0).ok(), Some(33));
    }

    #[test]
    fn a_quiz_is_checked_field_by_field() {
        let input = QuizInput {
            pass_percent: Some(0),
            required: false,
            questions: vec![
                q(QuestionKind::Single, 3, &[0, 1]),
                Question {
                    options: vec!["是".into(), " 是 ".into()],
                    ..q(QuestionKind::Multiple, 2, &[2])
                },
            ],
        };
        let fields: Vec<String> = check(&input)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "pass_percent",
                "questions[0].answer",
                "questions[1].options[1]",
                "questions[1].answer"
            ]
        );
        let ok = QuizInput {
            pass_percent: None,
            required: false,
            questions: vec![q(QuestionKind::Multiple, 3, &[2, 0])],
        };
        let checked = check(&ok).map(|(qs, pass)| (qs[0].answer.clone(), pass));
        assert_eq!(checked.ok(), Some((vec![0, 2], 60)));
    }
}
