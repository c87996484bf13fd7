//! Value types parsed on construction, so an invalid phone number or role cannot exist past the
//! edge of the API. Each parse failure carries a message in both languages.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{FieldError, Msg, msg};

/// A mainland China mobile number, normalised to E.164 (`+8613812345678`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts `13812345678`, `+8613812345678`, `8613812345678` and `0086…`, with spaces or
    /// dashes between digit groups.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{3000}')).collect();
        if compact.is_empty() {
            return Err(msg("请填写手机号。", "Enter a mobile phone number."));
        }
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .or_else(|| (compact.len() == 13).then(|| compact.strip_prefix("86")).flatten())
            .unwrap_or(&compact);
        let valid = digits.len() == 11
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.as_bytes()[0] == b'1'
            && (b'3'..=b'9').contains(&digits.as_bytes()[1]);
        if valid {
            Ok(Self(format!("+86{digits}")))
        } else {
            Err(msg(
                "手机号格式不正确：请填写 11 位中国大陆手机号，如 13812345678。",
                "Not a valid mainland China mobile number: use 11 digits such as 13812345678.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`, for lists and exports.
    pub fn masked(&self) -> String {
        let local = self.0.trim_start_matches("+86");
        format!(
            "{}****{}",
            &local[..3.min(local.len())],
            &local[local.len().saturating_sub(4)..]
        )
    }
}

/// A name for strangers to read (a certificate's verification, ratings to staff): the first
/// character and one `*` for each other, at least one (`张三丰` → `张**`, `李` → `李*`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    format!("{first}{}", "*".repeat(chars.count().max(1)))
}

/// Checks a new password against the rules and returns every rule it breaks.
pub fn password_problems(password: &str, min_len: usize, phone: Option<&PhoneNumber>) -> Vec<Msg> {
    let mut problems = Vec::new();
    let len = password.chars().count();
    if len < min_len {
        problems.push(msg(
            format!("密码至少需要 {min_len} 个字符。"),
            format!("The password must have at least {min_len} characters."),
        ));
    }
    if len > 128 {
        problems.push(msg(
            "密码不能超过 128 个字符。",
            "The password must have at most 128 characters.",
        ));
    }
    if !password.chars().any(|c| c.is_ascii_digit()) || !password.chars().any(char::is_alphabetic) {
        problems.push(msg(
            "密码需要同时包含字母和数字。",
            "The password must contain both letters and digits.",
        ));
    }
    if let Some(phone) = phone {
        if password.contains(phone.as_str().trim_start_matches("+86")) {
            problems.push(msg(
                "密码不能包含手机号。",
                "The password must not contain the phone number.",
            ));
        }
    }
    problems
}

/// Turns rule violations into field errors for one field.
pub fn field_errors(field: &str, problems: Vec<Msg>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|message| FieldError {
            field: field.to_owned(),
            message,
        })
        .collect()
}

/// A trimmed name of 1–`max` characters without control characters.
pub fn name(input: &str, max: usize) -> Result<String, Msg> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(msg("不能为空。", "Must not be empty."));
    }
    if trimmed.chars().count() > max {
        return Err(msg(
            format!("不能超过 {max} 个字符。"),
            format!("Must have at most {max} characters."),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(msg("不能包含控制字符。", "Must not contain control characters."));
    }
    Ok(trimmed.to_owned())
}

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Parent,
    Expert,
    Curator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parent => "parent",
            Self::Expert => "expert",
            Self::Curator => "curator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "parent" => Self::Parent,
            "expert" => Self::Expert,
            "curator" => Self::Curator,
            "admin" => Self::Admin,
            _ => return None,
        })
    }
}

/// The level of a node in the organization tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgKind {
    Province,
    City,
    County,
    School,
    Class,
    /// A 教联体 partner unit (museum, hospital, police station, library…) that serves schools.
    Partner,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
            Self::School => "school",
            Self::Class => "class",
            Self::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "province" => Self::Province,
            "city" => Self::City,
            "county" => Self::County,
            "school" => Self::School,
            "class" => Self::Class,
            "partner" => Self::Partner,
            _ => return None,
        })
    }

    /// Whether a node of this kind may hang below `parent` (`None`: a root).
    pub fn may_have_parent(self, parent: Option<OrgKind>) -> bool {
        use OrgKind::*;
        match (self, parent) {
            (Province, None) => true,
            (City, Some(Province)) => true,
            // The districts of 北京, 上海, 天津 and 重庆 sit directly under the municipality, and
            // 省直管县 report to their province: a county may skip the city level.
            (County, Some(Province | City)) => true,
            // A partner unit belongs to a region, at any level from county up.
            (Partner, Some(Province | City | County)) => true,
            // A school may report to a county federation or directly to a city or province.
            (School, Some(Province | City | County)) => true,
            (Class, Some(School)) => true,
            _ => false,
        }
    }

    /// What a partner unit may serve (its staff then publish to these and below).
    pub fn may_be_served(self) -> bool {
        matches!(self, Self::City | Self::County | Self::School)
    }

    /// Schools and classes have join codes for parents.
    pub fn has_join_code(self) -> bool {
        matches!(self, Self::School | Self::Class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_first_character() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name(" 李 "), "李*");
        assert_eq!(mask_name("Anna"), "A***");
        assert_eq!(mask_name(""), "*");
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        for ok in [
            "13812345678",
            "+8613812345678",
            "8613812345678",
            "0086 138-1234-5678",
            "138 1234 5678",
        ] {
            assert_eq!(
                PhoneNumber::parse(ok).map(|p| p.0).ok(),
                Some("+8613812345678".to_owned()),
                "{ok}"
            );
        }
        for bad in [
            "",
            "12812345678",
            "1381234567",
            "138123456789",
            "+8513812345678",
            "1381234567a",
            "１３８１２３４５６７８",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PhoneNumber::parse("13812345678").map(|p| p.masked()).ok(),
            Some("138****5678".to_owned())
        );
    }

    #[test]
    fn password_rules_each_have_a_message() {
        let phone = PhoneNumber::parse("13812345678").ok();
        assert!(password_problems("abc12345", 8, phone.as_ref()).is_empty());
        assert_eq!(password_problems("abc1", 8, None).len(), 1);
        assert_eq!(password_problems("abcdefgh", 8, None).len(), 1);
        assert_eq!(password_problems("x13812345678", 8, phone.as_ref()).len(), 1);
        assert_eq!(password_problems("abc", 8, None).len(), 2);
    }

    #[test]
    fn org_tree_shape() {
        use OrgKind::*;
        assert!(Province.may_have_parent(None));
        assert!(!City.may_have_parent(None));
        assert!(School.may_have_parent(Some(County)));
        assert!(!Class.may_have_parent(Some(County)));
        assert!(!Province.may_have_parent(Some(Province)));
        // Municipalities' districts and 省直管县.
        assert!(County.may_have_parent(Some(Province)));
        assert!(!County.may_have_parent(Some(County)));
        assert!(!City.may_have_parent(Some(City)));
        assert!(Partner.may_have_parent(Some(County)));
        assert!(!Partner.may_have_parent(None));
        assert!(!Partner.may_have_parent(Some(School)));
        for kind in [Province, City, County, School, Class, Partner] {
            assert!(!kind.may_have_parent(Some(Partner)), "nothing sits under a partner");
        }
    }
}

/// The type of a partner unit (教联体成员单位).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartnerType {
    /// 博物馆/科技馆
    Museum,
    /// 医院/卫生院
    Hospital,
    /// 公安/派出所
    Police,
    /// 图书馆
    Library,
    /// 体育场馆
    Sports,
    /// 社区/街道
    Community,
    /// 高校/研究机构
    University,
    /// 其他
    Other,
}

impl PartnerType {
    pub const ALL: [Self; 8] = [
        Self::Museum,
        Self::Hospital,
        Self::Police,
        Self::Library,
        Self::Sports,
        Self::Community,
        Self::University,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Museum => "museum",
            Self::Hospital => "hospital",
            Self::Police => "police",
            Self::Library => "library",
            Self::Sports => "sports",
            Self::Community => "community",
            Self::University => "university",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The Chinese label the pages show.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Museum => "博物馆/科技馆",
            Self::Hospital => "医院/卫生院",
            Self::Police => "公安/派出所",
            Self::Library => "图书馆",
            Self::Sports => "体育场馆",
            Self::Community => "社区/街道",
            Self::University => "高校/研究机构",
            Self::Other => "其他",
        }
    }
}

impl TryFrom<String> for PartnerType {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Self::parse(&s).ok_or(UnknownValue(s))
    }
}

/// Stored as its text, so an optional column decodes into `Option<PartnerType>`.
impl<DB: sqlx::Database> sqlx::Type<DB> for PartnerType
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for PartnerType
where
    String: sqlx::Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self::try_from(<String as sqlx::Decode<'r, DB>>::decode(value)?)?)
    }
}

/// A stored value outside the enum it maps to (the table's CHECK constraint makes this a bug).
#[derive(Debug, thiserror::Error)]
#[error("unknown stored value {0:?}")]
pub struct UnknownValue(pub String);

/// Rows decode their role and kind columns straight into the enums (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for Role {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Self::parse(&s).ok_or(UnknownValue(s))
    }
}

impl TryFrom<String> for OrgKind {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Self::parse(&s).ok_or(UnknownValue(s))
    }
}
