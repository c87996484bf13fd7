//! Bulk import of the yearly collection from a CSV (UTF-8, or the GB18030/GBK that Excel on
//! Chinese Windows saves) or JSON manifest. Idempotent: courses are keyed by `external_id`, so
//! re-running updates them. Bad rows are reported with their line numbers while the good ones
//! are imported; each course is written in one transaction.
//!
//! CSV layout (English or Chinese headers): a row with an `external_id` starts a course; its
//! `lesson_*` columns, and those of the following rows with an empty `external_id`, are its
//! lessons in order. Multi-valued cells (`age_stages`, `topics`, `tags`) are separated by `;`,
//! `；`, `、` or `|`.

use std::collections::HashMap;

use bytes::Bytes;
use platform::error::ApiError;
use platform::ids::OrgId;
use serde::Deserialize;

use crate::Catalog;
use crate::courses::Actor;
use crate::model::*;
use crate::{CatalogError, CatalogResult};

/// One course of a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestCourse {
    #[serde(default)]
    pub external_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub lecturer: String,
    #[serde(default)]
    pub lecturer_title: String,
    #[serde(default)]
    pub age_stages: Vec<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub year: Option<i32>,
    pub language: Option<String>,
    /// Path of a cover image, relative to the manifest.
    pub cover_path: Option<String>,
    #[serde(default)]
    pub lessons: Vec<ManifestLesson>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLesson {
    pub title: String,
    /// Seconds, or `mm:ss` / `hh:mm:ss` in CSV.
    #[serde(default)]
    pub duration_s: i32,
    pub asset_id: Option<String>,
    /// A video file (relative to the manifest) to upload as this lesson's asset; the server
    /// turns it into `asset_id` before the catalog sees the entry.
    #[serde(default)]
    pub video_path: Option<String>,
}

/// A manifest entry with the (1-based) line it starts on.
#[derive(Debug, Clone)]
pub struct Entry {
    pub line: usize,
    pub course: ManifestCourse,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub external_id: Option<String>,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub failed: Vec<RowError>,
}

/// Text of a manifest: UTF-8 (with or without BOM), else GB18030 (a superset of GBK).
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

/// Parses a manifest: JSON when it starts with `[` or `{` (an array of courses, or
/// `{"courses": [...]}`), CSV otherwise. Returns the entries and the rows that could not even be
/// parsed.
pub fn parse(bytes: &[u8]) -> (Vec<Entry>, Vec<RowError>) {
    let text = decode(bytes);
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_json(&text)
    } else {
        parse_csv(&text)
    }
}

fn parse_json(text: &str) -> (Vec<Entry>, Vec<RowError>) {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Doc {
        List(Vec<serde_json::Value>),
        Wrapped { courses: Vec<serde_json::Value> },
    }
    let doc: Doc = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            return (
                Vec::new(),
                vec![RowError {
                    line: e.line(),
                    external_id: None,
                    reason: format!("JSON 格式错误：{e}"),
                }],
            );
        }
    };
    let values = match doc {
        Doc::List(v) | Doc::Wrapped { courses: v } => v,
    };
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        let ext = v.get("external_id").and_then(|x| x.as_str()).map(str::to_owned);
        match serde_json::from_value::<ManifestCourse>(v) {
            Ok(course) => entries.push(Entry { line: i + 1, course }),
            Err(e) => errors.push(RowError {
                line: i + 1,
                external_id: ext,
                reason: format!("第 {} 门课程字段有误：{e}", i + 1),
            }),
        }
    }
    (entries, errors)
}

fn column(name: &str) -> Option<&'static str> {
    Some(
        match name.trim().trim_start_matches('\u{FEFF}').to_lowercase().as_str() {
            "external_id" | "编号" | "外部编号" | "课程编号" => "external_id",
            "title" | "标题" | "课程标题" | "课程名称" => "title",
            "summary" | "简介" | "课程简介" => "summary",
            "lecturer" | "主讲人" | "讲师" => "lecturer",
            "lecturer_title" | "主讲人头衔" | "讲师头衔" | "单位职称" => "lecturer_title",
            "age_stages" | "年龄段" | "适用年龄段" => "age_stages",
            "topics" | "主题" => "topics",
            "tags" | "标签" => "tags",
            "year" | "年份" | "年度" => "year",
            "language" | "语言" => "language",
            "cover_path" | "封面" | "封面图片" => "cover_path",
            "lesson_title" | "课时标题" | "课节标题" => "lesson_title",
            "lesson_duration_s" | "lesson_duration" | "课时时长" | "时长" => "lesson_duration",
            "lesson_asset_id" | "媒体编号" | "视频编号" => "lesson_asset_id",
            "lesson_video_path" | "video_path" | "视频文件" => "lesson_video_path",
            _ => return None,
        },
    )
}

fn split_multi(cell: &str) -> Vec<String> {
    cell.split([';', '；', '、', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Accepts codes (`6-12`) and labels (`6–12 岁`, `孕期`).
fn age_stage_code(cell: &str) -> String {
    let s = cell.trim().replace(['–', '—', '~', '～'], "-").replace(['岁', ' '], "");
    if s == "孕期" || s == "孕前" {
        "prenatal".into()
    } else {
        s
    }
}

/// `90`, `1:30` or `1:02:03` as seconds.
pub fn parse_duration(cell: &str) -> Option<i32> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Some(0);
    }
    let mut total: i32 = 0;
    let parts: Vec<&str> = cell.split([':', '：']).collect();
    if parts.len() > 3 {
        return None;
    }
    for p in parts {
        total = total
            .checked_mul(60)?
            .checked_add(p.trim().parse::<i32>().ok().filter(|v| *v >= 0)?)?;
    }
    Some(total)
}

fn parse_csv(text: &str) -> (Vec<Entry>, Vec<RowError>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return (
                Vec::new(),
                vec![RowError {
                    line: 1,
                    external_id: None,
                    reason: format!("无法读取表头：{e}"),
                }],
            );
        }
    };
    let mut cols: HashMap<&'static str, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        match column(h) {
            Some(c) => {
                cols.insert(c, i);
            }
            None if h.trim().is_empty() => {}
            None => errors.push(RowError {
                line: 1,
                external_id: None,
                reason: format!("未知的列“{h}”"),
            }),
        }
    }
    if !cols.contains_key("external_id") || !cols.contains_key("title") {
        errors.push(RowError {
            line: 1,
            external_id: None,
            reason: "表头必须包含 external_id（编号）和 title（标题）列".into(),
        });
        return (Vec::new(), errors);
    }
    let mut entries: Vec<Entry> = Vec::new();
    // A course whose rows had an error is dropped as a whole.
    let mut broken = false;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(RowError {
                    line,
                    external_id: None,
                    reason: format!("无法解析此行：{e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |c: &str| cols.get(c).and_then(|i| record.get(*i)).unwrap_or("").to_owned();
        let ext = get("external_id");
        if record.iter().all(|c| c.is_empty()) {
            continue;
        }
        if !ext.is_empty() {
            let year = match get("year").as_str() {
                "" => None,
                y => match y.trim_end_matches('年').parse::<i32>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        errors.push(RowError {
                            line,
                            external_id: Some(ext.clone()),
                            reason: format!("年份“{y}”不是数字"),
                        });
                        broken = true;
                        continue;
                    }
                },
            };
            broken = false;
            entries.push(Entry {
                line,
                course: ManifestCourse {
                    external_id: ext.clone(),
                    title: get("title"),
                    summary: get("summary"),
                    lecturer: get("lecturer"),
                    lecturer_title: get("lecturer_title"),
                    age_stages: split_multi(&get("age_stages"))
                        .iter()
                        .map(|s| age_stage_code(s))
                        .collect(),
                    topics: split_multi(&get("topics")),
                    tags: split_multi(&get("tags")),
                    year,
                    language: Some(get("language")).filter(|s| !s.is_empty()),
                    cover_path: Some(get("cover_path")).filter(|s| !s.is_empty()),
                    lessons: Vec::new(),
                },
            });
        } else if entries.is_empty() || broken {
            if !broken {
                errors.push(RowError {
                    line,
                    external_id: None,
                    reason: "课时行之前没有课程行（编号为空）".into(),
                });
            }
            continue;
        }
        let lesson_title = get("lesson_title");
        if lesson_title.is_empty() {
            continue;
        }
        let Some(duration_s) = parse_duration(&get("lesson_duration")) else {
            let ext = entries.pop().map(|e| e.course.external_id);
            errors.push(RowError {
                line,
                external_id: ext,
                reason: format!("课时时长“{}”无效：请写秒数或 分:秒", get("lesson_duration")),
            });
            broken = true;
            continue;
        };
        if let Some(entry) = entries.last_mut() {
            entry.course.lessons.push(ManifestLesson {
                title: lesson_title,
                duration_s,
                asset_id: Some(get("lesson_asset_id")).filter(|s| !s.is_empty()),
                video_path: Some(get("lesson_video_path")).filter(|s| !s.is_empty()),
            });
        }
    }
    (entries, errors)
}

fn reason_of(e: CatalogError) -> String {
    let e = ApiError::from(e);
    let mut s = e.message.zh.to_string();
    if e.errors.len() > 1 || e.errors.first().is_some_and(|f| f.message.zh != e.message.zh) {
        let fields: Vec<String> = e
            .errors
            .iter()
            .map(|f| format!("{}：{}", f.field, f.message.zh))
            .collect();
        s = fields.join("；");
    }
    s
}

impl Catalog {
    /// Imports `entries` for `owner` (courses keyed by external id), optionally publishing
    /// them. `cover` loads a cover path's bytes. `progress` is called after every entry.
    pub async fn import(
        &self,
        owner: OrgId,
        publish: bool,
        mut entries: Vec<Entry>,
        cover: impl Fn(&str) -> Result<Bytes, String>,
        mut progress: impl FnMut(usize),
    ) -> CatalogResult<Report> {
        platform::orgs::require_org(&self.db, owner).await?;
        let mut report = Report::default();
        // Duplicate keys are ambiguous: refuse every occurrence.
        let mut count: HashMap<String, usize> = HashMap::new();
        for e in &entries {
            *count.entry(e.course.external_id.trim().to_owned()).or_default() += 1;
        }
        entries.retain(|e| {
            let ext = e.course.external_id.trim();
            if ext.is_empty() {
                report.failed.push(RowError {
                    line: e.line,
                    external_id: None,
                    reason: "缺少 external_id（编号）".into(),
                });
                false
            } else if count.get(ext).copied().unwrap_or(0) > 1 {
                report.failed.push(RowError {
                    line: e.line,
                    external_id: Some(ext.to_owned()),
                    reason: format!("编号“{ext}”在本次导入中重复出现"),
                });
                false
            } else {
                true
            }
        });
        for (done, entry) in entries.into_iter().enumerate() {
            let line = entry.line;
            let ext = entry.course.external_id.trim().to_owned();
            match self.import_one(owner, publish, entry.course, &cover).await {
                Ok(true) => report.created += 1,
                Ok(false) => report.updated += 1,
                Err(reason) => report.failed.push(RowError {
                    line,
                    external_id: Some(ext),
                    reason,
                }),
            }
            progress(done + 1);
        }
        report.failed.sort_by_key(|e| e.line);
        Ok(report)
    }

    /// Returns whether the course was created (else updated).
    async fn import_one(
        &self,
        owner: OrgId,
        publish: bool,
        c: ManifestCourse,
        cover: &impl Fn(&str) -> Result<Bytes, String>,
    ) -> Result<bool, String> {
        let ext = c.external_id.trim().to_owned();
        let existing_id = self.course_by_external_id(&ext).await.map_err(reason_of)?;
        let existing = match existing_id {
            Some(id) => self.course_row(id).await.map_err(reason_of)?,
            None => None,
        };
        let cover_bytes = match c.cover_path.as_deref() {
            Some(path) => Some(cover(path).map_err(|e| format!("封面“{path}”读取失败：{e}"))?),
            None => None,
        };
        if publish && c.lessons.is_empty() && existing.as_ref().is_none_or(|e| e.lesson_count == 0) {
            return Err("要发布的课程至少需要一节课".into());
        }
        // Keep lesson ids stable across re-imports: reuse them by position.
        let old_lessons = match &existing {
            Some(row) => {
                self.course_view(&Actor::Importer, row.clone())
                    .await
                    .map_err(reason_of)?
                    .lessons
            }
            None => Vec::new(),
        };
        let input = CourseInput {
            external_id: Some(ext),
            title: Some(c.title),
            summary: Some(c.summary),
            lecturer: Some(Lecturer {
                user_id: None,
                name: c.lecturer,
                title: c.lecturer_title,
            }),
            age_stages: Some(c.age_stages),
            topics: Some(c.topics),
            tags: Some(c.tags),
            language: c.language,
            year: c.year,
            visibility: None,
            scope_org_id: None,
            owner_org_id: Some(owner),
            lessons: (!c.lessons.is_empty()).then(|| {
                c.lessons
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| LessonInput {
                        id: old_lessons.get(i).map(|o| o.id),
                        title: l.title,
                        asset_id: l.asset_id,
                        duration_s: l.duration_s,
                    })
                    .collect()
            }),
            version: None,
        };
        let prepared = self
            .prepare(&Actor::Importer, input, existing.as_ref())
            .await
            .map_err(reason_of)?;
        if let Some(bytes) = &cover_bytes {
            if crate::courses::image_kind(bytes).is_none() {
                return Err(format!(
                    "封面“{}”不是 JPEG、PNG 或 WebP 图片",
                    c.cover_path.unwrap_or_default()
                ));
            }
        }
        let id = existing.as_ref().map_or_else(CourseId::new, |e| e.id);
        let created = existing.is_none();
        self.persist(
            id,
            &prepared,
            None,
            existing.as_ref().map(|e| (e.version, None)),
            Status::Draft,
        )
        .await
        .map_err(reason_of)?;
        if let Some(bytes) = cover_bytes {
            self.set_cover(id, bytes).await.map_err(reason_of)?;
        }
        if publish {
            let row = self
                .course_row(id)
                .await
                .map_err(reason_of)?
                .ok_or("课程写入后未找到")?;
            let steps: &[Status] = match row.status() {
                Status::Draft => &[Status::InReview, Status::Published],
                Status::InReview => &[Status::Published],
                Status::Published => &[],
                Status::Archived => &[Status::Draft, Status::InReview, Status::Published],
            };
            for to in steps {
                let row = self
                    .course_row(id)
                    .await
                    .map_err(reason_of)?
                    .ok_or("课程写入后未找到")?;
                self.transition(&Actor::Importer, &row, *to, "批量导入")
                    .await
                    .map_err(reason_of)?;
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_group_lessons_and_report_bad_lines() {
        let csv = "编号,标题,年龄段,主题,课时标题,课时时长\n\
                   A1,亲子沟通的艺术,6–12 岁；12-15,亲子沟通,第一讲,10:30\n,,,,第二讲,600\n\
                   A2,安全第一,孕期,安全教育,第一讲,abc\n,,,,第二讲,60\nA3,学习习惯,3-6,,,\n";
        let (entries, errors) = parse(csv.as_bytes());
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].course.external_id, "A1");
        assert_eq!(entries[0].course.age_stages, ["6-12", "12-15"]);
        assert_eq!(entries[0].course.lessons.len(), 2);
        assert_eq!(entries[0].course.lessons[0].duration_s, 630);
        assert_eq!(entries[1].course.external_id, "A3");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4);
        assert_eq!(errors[0].external_id.as_deref(), Some("A2"));
    }

    #[test]
    fn gbk_csv_decodes() {
        let text = "external_id,title\nB1,家庭教育\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let (entries, errors) = parse(&gbk);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(entries[0].course.title, "家庭教育");
    }

    #[test]
    fn json_manifest() {
        let json = r#"{"courses": [{"external_id": "J1", "title": "心理健康", "age_stages": ["12-15"], "lessons": [{"title": "一", "duration_s": 5}]}, {"external_id": 5}]}"#;
        let (entries, errors) = parse(json.as_bytes());
        assert_eq!(entries.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("1:02:03"), Some(3723));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("-5"), None);
    }
}
