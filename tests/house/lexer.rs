//! Just enough of Rust's lexical grammar for the house rules: which characters are code, which
//! are string contents, and which are comments; and the spans rustfmt leaves as written
//! (attributes, and macros whose arguments are not expressions).

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    Code,
    /// Contents of a string literal (escapes included), raw or not.
    Str,
    Comment,
}

/// The class of every char of `text`.
pub fn classify(text: &str) -> Vec<Class> {
    let c: Vec<char> = text.chars().collect();
    let n = c.len();
    let mut out = vec![Class::Code; n];
    let word = |i: usize| i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    let mut i = 0;
    while i < n {
        if c[i] == '/' && i + 1 < n && c[i + 1] == '/' {
            while i < n && c[i] != '\n' {
                out[i] = Class::Comment;
                i += 1;
            }
            continue;
        }
        if c[i] == '/' && i + 1 < n && c[i + 1] == '*' {
            let mut depth = 0;
            while i < n {
                if c[i] == '/' && i + 1 < n && c[i + 1] == '*' {
                    depth += 1;
                    out[i] = Class::Comment;
                    out[i + 1] = Class::Comment;
                    i += 2;
                } else if c[i] == '*' && i + 1 < n && c[i + 1] == '/' {
                    depth -= 1;
                    out[i] = Class::Comment;
                    out[i + 1] = Class::Comment;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out[i] = Class::Comment;
                    i += 1;
                }
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…".
        if c[i] == 'r' && !word(i) || (c[i] == 'b' && i + 1 < n && c[i + 1] == 'r' && !word(i)) {
            let mut j = if c[i] == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while j < n && c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if j < n && c[j] == '"' {
                j += 1;
                while j < n {
                    if c[j] == '"' && (1..=hashes).all(|h| j + h < n && c[j + h] == '#') {
                        break;
                    }
                    out[j] = Class::Str;
                    j += 1;
                }
                i = j + 1 + hashes;
                continue;
            }
        }
        if c[i] == '"' {
            let mut j = i + 1;
            while j < n && c[j] != '"' {
                out[j] = Class::Str;
                if c[j] == '\\' && j + 1 < n {
                    out[j + 1] = Class::Str;
                    j += 1;
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        // Char literals ('x', '\n', '\u{4E00}'), not lifetimes ('a).
        if c[i] == '\'' {
            if i + 1 < n && c[i + 1] == '\\' {
                let mut j = i + 2;
                while j < n && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            if i + 2 < n && c[i + 2] == '\'' {
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `text` with string contents and comments blanked (newlines kept), for searching code.
pub fn code_only(text: &str) -> String {
    text.chars()
        .zip(classify(text))
        .map(|(ch, class)| if class == Class::Code || ch == '\n' { ch } else { ' ' })
        .collect()
}

fn matching(code: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, &ch) in code.iter().enumerate().skip(open) {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Spans of chars rustfmt keeps as written: attributes, macros whose arguments are not
/// expressions (tracing's fields, `json!`, `matches!`, `new_id!`), and brace-delimited macros.
fn kept_spans(code: &[char]) -> Vec<(usize, usize)> {
    const VERBATIM: &[&str] = &["trace", "debug", "info", "warn", "error", "json", "matches", "new_id"];
    let n = code.len();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < n {
        if code[i] == '#' {
            let j = if i + 1 < n && code[i + 1] == '!' { i + 2 } else { i + 1 };
            if j < n && code[j] == '[' {
                spans.push((i, matching(code, j)));
            }
        }
        if code[i] == '!' && i > 0 && (code[i - 1].is_alphanumeric() || code[i - 1] == '_') {
            let mut s = i;
            while s > 0 && (code[s - 1].is_alphanumeric() || code[s - 1] == '_') {
                s -= 1;
            }
            let name: String = code[s..i].iter().collect();
            let mut j = i + 1;
            while j < n && code[j].is_whitespace() {
                j += 1;
            }
            // `macro_rules! name {`
            if name == "macro_rules" {
                while j < n && code[j] != '{' {
                    j += 1;
                }
            }
            if j < n && (code[j] == '{' || (code[j] == '(' && VERBATIM.contains(&name.as_str()))) {
                spans.push((s, matching(code, j)));
            }
        }
        i += 1;
    }
    spans
}

/// `text` with the indentation of every line removed, except where rustfmt would keep a line as
/// written anyway: inside strings, comments that continue a block, attributes and verbatim macros.
pub fn strip_indentation(text: &str) -> String {
    let class = classify(text);
    let code: Vec<char> = code_only(text).chars().collect();
    let mut kept = vec![false; code.len() + 1];
    for (a, b) in kept_spans(&code) {
        for k in kept.iter_mut().take(b.min(code.len())).skip(a) {
            *k = true;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut pos = 0usize; // char index of the line's start
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let keep = pos > 0 && (class[pos - 1] != Class::Code || kept[pos - 1]);
        out.push_str(if keep { line } else { line.trim_start() });
        pos += line.chars().count() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_comments_and_lifetimes() {
        let text = "let a: &'static str = \"x // y\"; // c\nlet b = '\"'; let r = r#\"q\"#;";
        let code = code_only(text);
        assert_eq!(
            code,
            "let a: &'static str = \"      \";     \nlet b = '\"'; let r = r#\" \"#;"
        );
    }

    #[test]
    fn string_continuations_keep_their_indentation() {
        let text = "fn f() {\n    let s = \"a \\\n             b\";\n}";
        assert_eq!(
            strip_indentation(text),
            "fn f() {\nlet s = \"a \\\n             b\";\n}"
        );
    }
}
