//! Chinese-aware search terms. Dictionary segmentation misses substrings (沟通 inside
//! 亲子沟通技巧 is found only if the segmenter happens to cut there), so every CJK run is indexed
//! as character unigrams and bigrams, and other scripts as lower-cased words. A query of one CJK
//! character looks up its unigram; longer CJK runs look up their bigrams, and the exact phrase
//! is then confirmed against the stored normalised text. The postings live in the database
//! (`search_terms`), written in the same transaction as the course.
//!
//! Why postings in the database and not a search engine (tantivy, jieba): the index must agree
//! with the data after every write, after a restart and on every node. A table written in the
//! course's own transaction gives that by construction, on SQLite and PostgreSQL alike, with
//! nothing to rebuild or ship between nodes. Ranking sums field weights (title 20, lecturer 8,
//! topics and tags 6, summary 1); `benches/` measures it at 10,000 courses.

use std::collections::{BTreeMap, BTreeSet};

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}' | '\u{2A700}'..='\u{2EBEF}' | '\u{3007}')
}

/// Folds full-width ASCII to half-width and lower-cases, so `ＡＤＨＤ` finds `adhd`.
pub fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunKind {
    Cjk,
    Word,
}

/// Maximal runs of CJK characters or of letters/digits, in a normalised text.
fn runs(normalised: &str) -> Vec<(RunKind, String)> {
    let mut out: Vec<(RunKind, String)> = Vec::new();
    for c in normalised.chars() {
        let kind = if is_cjk(c) {
            Some(RunKind::Cjk)
        } else if c.is_alphanumeric() {
            Some(RunKind::Word)
        } else {
            None
        };
        match (kind, out.last_mut()) {
            (Some(k), Some((last, s))) if *last == k && !s.is_empty() => s.push(c),
            (Some(k), _) => out.push((k, c.to_string())),
            (None, Some((_, s))) if !s.is_empty() => out.push((RunKind::Word, String::new())),
            (None, _) => {}
        }
    }
    out.retain(|(_, s)| !s.is_empty());
    out
}

fn cjk_grams(run: &str, with_unigrams: bool, into: &mut impl FnMut(String)) {
    let chars: Vec<char> = run.chars().collect();
    if with_unigrams {
        for c in &chars {
            into(c.to_string());
        }
    }
    for pair in chars.windows(2) {
        into(pair.iter().collect());
    }
}

/// Field weights: a title match ranks above a summary match.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Title,
    Lecturer,
    Topic,
    Tag,
    Summary,
}

impl Field {
    fn weight(self) -> i64 {
        match self {
            Self::Title => 20,
            Self::Lecturer => 8,
            Self::Topic | Self::Tag => 6,
            Self::Summary => 1,
        }
    }
}

/// Accumulates the postings of one course.
#[derive(Debug, Default)]
pub struct Postings {
    counts: BTreeMap<String, BTreeMap<u8, i64>>,
    text: String,
}

impl Postings {
    pub fn add(&mut self, field: Field, text: &str) {
        let norm = normalise(text);
        for (kind, run) in runs(&norm) {
            let mut push = |t: String| {
                *self.counts.entry(t).or_default().entry(field as u8).or_insert(0) += 1;
            };
            match kind {
                RunKind::Cjk => cjk_grams(&run, true, &mut push),
                RunKind::Word => push(run),
            }
        }
        self.text.push_str(&norm);
        self.text.push('\n');
    }

    /// `(term, score)` pairs: per field, weight × occurrences (at most 3 count).
    pub fn scores(&self) -> Vec<(String, i64)> {
        self.counts
            .iter()
            .map(|(term, per_field)| {
                let score = per_field
                    .iter()
                    .map(|(f, n)| {
                        let field =
                            [Field::Title, Field::Lecturer, Field::Topic, Field::Tag, Field::Summary][*f as usize];
                        field.weight() * (*n).min(3)
                    })
                    .sum();
                (term.clone(), score)
            })
            .collect()
    }

    /// The normalised text of every field, which exact phrase checks run against.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Every term must be a posting of a matching course.
    pub terms: BTreeSet<String>,
    /// Every phrase must occur in the course's normalised text.
    pub phrases: Vec<String>,
}

impl Query {
    /// Phrases the term lookup alone does not prove: CJK runs of three or more characters (a
    /// one- or two-character run is itself a single term, and a word is matched whole).
    pub fn phrases_needing_check(&self) -> impl Iterator<Item = &str> {
        self.phrases
            .iter()
            .filter(|p| p.chars().count() > 2 && p.chars().all(is_cjk))
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    TooLong,
    NothingSearchable,
}

pub fn parse_query(q: &str) -> Result<Query, QueryError> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let norm = normalise(q);
    let mut terms = BTreeSet::new();
    let mut phrases = Vec::new();
    for (kind, run) in runs(&norm) {
        match kind {
            RunKind::Cjk if run.chars().count() == 1 => {
                terms.insert(run.clone());
            }
            RunKind::Cjk => cjk_grams(&run, false, &mut |t| {
                terms.insert(t);
            }),
            RunKind::Word => {
                terms.insert(run.clone());
            }
        }
        if !phrases.contains(&run) {
            phrases.push(run);
        }
    }
    if terms.is_empty() {
        return Err(QueryError::NothingSearchable);
    }
    Ok(Query { terms, phrases })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn indexed(text: &str) -> BTreeSet<String> {
        let mut p = Postings::default();
        p.add(Field::Summary, text);
        p.scores().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn two_character_words_are_found_inside_longer_text() {
        let terms = indexed("如何与青春期孩子有效沟通，缓解焦虑；少玩手机！");
        for q in ["沟通", "焦虑", "手机", "青春期", "孩"] {
            let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e:?}"));
            assert!(query.terms.is_subset(&terms), "{q}");
        }
    }

    #[test]
    fn queries_normalise_and_reject_noise() {
        assert_eq!(parse_query("").err(), Some(QueryError::NothingSearchable));
        assert_eq!(parse_query("？！。，,.;").err(), Some(QueryError::NothingSearchable));
        assert_eq!(parse_query(&"沟".repeat(1000)).err(), Some(QueryError::TooLong));
        let q = parse_query("ＡＤＨＤ 孩子").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.phrases, ["adhd", "孩子"]);
        assert!(q.terms.contains("adhd") && q.terms.contains("孩子"));
    }

    #[test]
    fn title_outweighs_summary() {
        let mut p = Postings::default();
        p.add(Field::Title, "亲子沟通");
        p.add(Field::Summary, "沟通");
        let scores: BTreeMap<String, i64> = p.scores().into_iter().collect();
        assert_eq!(scores.get("沟通"), Some(&21));
        assert_eq!(scores.get("亲子"), Some(&20));
    }

    proptest! {
        /// Whatever CJK text is indexed, any substring of it as a query needs only indexed
        /// terms and is an indexed phrase.
        #[test]
        fn every_substring_is_findable(text in "[\u{4E00}-\u{4E80}a-z，。 \
                                                ]{1,40}", start in 0usize..40, len in 1usize..8) {
            let chars: Vec<char> = text.chars().collect();
            let start = start.min(chars.len() - 1);
            let end = (start + len).min(chars.len());
            let sub: String = chars[start..end].iter().collect();
            let terms = indexed(&text);
            let mut p = Postings::default();
            p.add(Field::Summary, &text);
            if let Ok(q) = parse_query(&sub) {
                for phrase in &q.phrases {
                    // A phrase cut in the middle of a Latin word is a different word: only CJK
                    // phrases are guaranteed substrings of the text's runs.
                    if phrase.chars().all(is_cjk) {
                        prop_assert!(p.text().contains(phrase.as_str()));
                    }
                }
                let cjk_terms: BTreeSet<String> = q.terms.iter().filter(|t| t.chars().all(is_cjk)).cloned().collect();
                prop_assert!(cjk_terms.is_subset(&terms), "{:?} not in {:?}", cjk_terms, terms);
            }
        }
    }
}
