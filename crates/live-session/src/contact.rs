//! The default filter for contact details in chat and questions: WeChat ids, QQ numbers, phone
//! numbers and links are masked with ＊ before a message is stored, so a stranger in a lecture
//! for parents of minors cannot lure them out of it ("加我微信 abc123 领资料"). On by default
//! (`live.contact_filter`); the configured word list (`live.word_filter`) applies as well.

use std::sync::LazyLock;

use regex::Regex;

// Invariant: the patterns below are constant and valid.
#[allow(clippy::expect_used)]
static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Links: a scheme or www., or a bare domain with a common top-level domain.
        r"(?i)(?:https?://|www\.)[^\s，。！？、]+",
        concat!(
            r"(?i)\b[a-z0-9][-a-z0-9]*(?:\.[-a-z0-9]+)*",
            r"\.(?:com|cn|net|org|top|xyz|cc|vip|link|me|io|info|club|site|shop)\b(?:/[^\s，。！？、]*)?",
        ),
        // A WeChat id after a cue word: 6–20 characters starting with a letter.
        concat!(
            r"(?i)(?:微信|威信|薇信|微\s*信|v\s*信|vx|wx|weixin|wechat|加\s*v|微号)",
            r"\s*(?:号)?\s*[:：]?\s*([a-z][-_a-z0-9]{5,19})",
        ),
        // A QQ number after a cue word.
        r"(?i)(?:qq|扣扣|企鹅)\s*(?:号)?\s*[:：]?\s*(\d{5,11})",
        // Mainland mobile numbers, with or without +86 and separators.
        r"(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}",
        // Any other long run of digits (QQ numbers without a cue word, landlines).
        r"\d{6,}",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("a valid pattern"))
    .collect()
});

/// `text` with contact details masked (the matched id or number, not its cue word).
pub fn mask_contacts(text: &str) -> String {
    let mut out = text.to_owned();
    for re in PATTERNS.iter() {
        let mut masked = String::with_capacity(out.len());
        let mut last = 0;
        for caps in re.captures_iter(&out) {
            // The id itself when the pattern has a group (keep "微信" readable), else the match.
            let Some(m) = caps.get(1).or_else(|| caps.get(0)) else {
                continue;
            };
            masked.push_str(&out[last..m.start()]);
            masked.push_str(&"＊".repeat(m.as_str().chars().count()));
            last = m.end();
        }
        masked.push_str(&out[last..]);
        out = masked;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_masked() {
        // (message, the part that must become ＊ one for one)
        for (given, secret) in [
            ("加我微信 abc123 领资料", "abc123"),
            ("vx：Teacher_Li2024", "Teacher_Li2024"),
            ("有问题加QQ 12345678", "12345678"),
            ("电话13812345678", "13812345678"),
            ("打 +86 138-1234-5678 找我", "+86 138-1234-5678"),
            (
                "资料在 https://pan.example.com/s/1abc 里",
                "https://pan.example.com/s/1abc",
            ),
            ("看 example.cn 就知道", "example.cn"),
            ("群号 987654321", "987654321"),
        ] {
            let want = given.replace(secret, &"＊".repeat(secret.chars().count()));
            assert_eq!(mask_contacts(given), want, "{given}");
        }
    }

    #[test]
    fn ordinary_questions_pass_untouched() {
        for text in [
            "孩子12岁，每天玩手机3个小时怎么办？",
            "2026年的课程什么时候发布？",
            "老师讲得真好，谢谢！",
            "我家孩子上三年级，作业要写到晚上9点",
            "微信群里的通知收到了",
            "Thank you, Ms. Li.",
        ] {
            assert_eq!(mask_contacts(text), text);
        }
    }
}
