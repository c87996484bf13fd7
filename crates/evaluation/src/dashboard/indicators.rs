//! The pure part of 评价看板: the measures of a unit's families in a term ([`measure`], from
//! each family's study, certificates and ratings), the indicators an organization chooses
//! (which measures count, their targets and weights; [`check`]) and the composite score they
//! give ([`composite`]), with its formula in words ([`formula`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use platform::error::{FieldError, msg};

/// What can be measured of a unit in a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Share of families with at least `coverage_hours` credited (覆盖率).
    Coverage,
    /// Share of families with any study credited (活跃率).
    ActiveRate,
    /// Mean hours per family (人均学时).
    AvgHours,
    /// Median hours per family (学时中位数).
    MedianHours,
    /// Share of families who attended a live lecture (直播参与率).
    LiveRate,
    /// Share of families who took part in an offline activity (线下参与率).
    OfflineRate,
    /// Certificates issued per family (持证率).
    CertificateRate,
    /// Mean stars the families gave (平均评分, 1–5).
    AvgRating,
}

impl Measure {
    pub fn label(self) -> &'static str {
        match self {
            Self::Coverage => "覆盖率",
            Self::ActiveRate => "活跃率",
            Self::AvgHours => "人均学时",
            Self::MedianHours => "学时中位数",
            Self::LiveRate => "直播参与率",
            Self::OfflineRate => "线下参与率",
            Self::CertificateRate => "持证率",
            Self::AvgRating => "平均评分",
        }
    }

    /// Whether the measure is a share (0–1), shown in percent.
    fn is_share(self) -> bool {
        !matches!(self, Self::AvgHours | Self::MedianHours | Self::AvgRating)
    }

    fn show(self, v: f64) -> String {
        match self {
            Self::AvgHours | Self::MedianHours => format!("{} 小时", trim(v)),
            Self::AvgRating => format!("{} 分", trim(v)),
            _ => format!("{}%", trim(v * 100.0)),
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub measure: Measure,
    /// The value that earns the full score: a share 0–1, hours, or stars.
    pub target: f64,
    /// Its weight in the composite (any positive number; weights are normalised).
    pub weight: f64,
}

/// An organization's indicator system (指标体系); units below it inherit it unless they set
/// their own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Indicators {
    /// Hours a family needs in the term to count as covered (default 1).
    pub coverage_hours: f64,
    pub items: Vec<Indicator>,
}

impl Default for Indicators {
    /// Coverage 80 % (40), 6 hours a family (30), half at a live lecture (15), a third at an
    /// offline activity (15).
    fn default() -> Self {
        let i = |measure, target, weight| Indicator {
            measure,
            target,
            weight,
        };
        Self {
            coverage_hours: 1.0,
            items: vec![
                i(Measure::Coverage, 0.8, 40.0),
                i(Measure::AvgHours, 6.0, 30.0),
                i(Measure::LiveRate, 0.5, 15.0),
                i(Measure::OfflineRate, 0.3, 15.0),
            ],
        }
    }
}

/// 1–8 indicators, each measure once, targets above 0 (shares at most 1, stars at most 5),
/// weights above 0; `coverage_hours` above 0 and at most 200.
pub fn check(i: &Indicators) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if !(i.coverage_hours.is_finite() && i.coverage_hours > 0.0 && i.coverage_hours <= 200.0) {
        errors.push(FieldError::new(
            "coverage_hours",
            msg(
                "覆盖的学时标准应大于 0、不超过 200 小时。",
                "Above 0 and at most 200 hours.",
            ),
        ));
    }
    if i.items.is_empty() || i.items.len() > 8 {
        errors.push(FieldError::new(
            "items",
            msg("请设置 1–8 项指标。", "Set 1–8 indicators."),
        ));
    }
    for (n, item) in i.items.iter().enumerate() {
        if i.items[..n].iter().any(|o| o.measure == item.measure) {
            errors.push(FieldError::new(
                &format!("items[{n}].measure"),
                msg("同一指标只能设置一次。", "Each measure once."),
            ));
        }
        let max = match item.measure {
            m if m.is_share() && m != Measure::CertificateRate => 1.0,
            Measure::AvgRating => 5.0,
            _ => 1000.0,
        };
        if !(item.target.is_finite() && item.target > 0.0 && item.target <= max) {
            errors.push(FieldError::new(
                &format!("items[{n}].target"),
                msg(
                    format!("目标值应大于 0、不超过 {max}（比例用 0–1 表示）。"),
                    format!("The target is above 0 and at most {max} (shares as 0–1)."),
                ),
            ));
        }
        if !(item.weight.is_finite() && item.weight > 0.0 && item.weight <= 1000.0) {
            errors.push(FieldError::new(
                &format!("items[{n}].weight"),
                msg("权重应大于 0、不超过 1000。", "The weight is above 0 and at most 1000."),
            ));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// A family's term, as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Family {
    pub total_ms: i64,
    pub live_ms: i64,
    pub offline_ms: i64,
    pub certificates: i64,
    /// The sum and number of the stars they gave.
    pub stars: (i64, i64),
}

/// A unit's measures in a term.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Measures {
    /// Families (parents belonging to the unit or below it).
    pub members: i64,
    /// With any study credited.
    pub active: i64,
    /// Of which with at least the coverage hours.
    pub covered: i64,
    pub coverage: f64,
    pub active_rate: f64,
    pub avg_hours: f64,
    pub median_hours: f64,
    pub live_rate: f64,
    pub offline_rate: f64,
    pub certificates: i64,
    pub certificate_rate: f64,
    /// `null` when no family rated anything.
    pub avg_rating: Option<f64>,
    pub ratings: i64,
}

impl Measures {
    pub fn value(&self, m: Measure) -> f64 {
        match m {
            Measure::Coverage => self.coverage,
            Measure::ActiveRate => self.active_rate,
            Measure::AvgHours => self.avg_hours,
            Measure::MedianHours => self.median_hours,
            Measure::LiveRate => self.live_rate,
            Measure::OfflineRate => self.offline_rate,
            Measure::CertificateRate => self.certificate_rate,
            Measure::AvgRating => self.avg_rating.unwrap_or(0.0),
        }
    }
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// The measures of `families` (every family of the unit, those without study too).
pub fn measure(families: &[Family], coverage_hours: f64) -> Measures {
    let n = families.len() as i64;
    let share = |k: i64| if n == 0 { 0.0 } else { round(k as f64 / n as f64, 4) };
    let hours = |ms: i64| ms as f64 / 3_600_000.0;
    let mut totals: Vec<i64> = families.iter().map(|f| f.total_ms).collect();
    totals.sort_unstable();
    let median = match totals.len() {
        0 => 0.0,
        l if l % 2 == 1 => hours(totals[l / 2]),
        l => (hours(totals[l / 2 - 1]) + hours(totals[l / 2])) / 2.0,
    };
    let threshold = (coverage_hours * 3_600_000.0).round() as i64;
    let count = |p: &dyn Fn(&Family) -> bool| families.iter().filter(|f| p(f)).count() as i64;
    let active = count(&|f| f.total_ms > 0);
    let covered = count(&|f| f.total_ms >= threshold);
    let certificates: i64 = families.iter().map(|f| f.certificates).sum();
    let (stars, ratings) = families.iter().fold((0, 0), |(s, r), f| (s + f.stars.0, r + f.stars.1));
    let total: i64 = totals.iter().sum();
    Measures {
        members: n,
        active,
        covered,
        coverage: share(covered),
        active_rate: share(active),
        avg_hours: if n == 0 { 0.0 } else { round(hours(total) / n as f64, 2) },
        median_hours: round(median, 2),
        live_rate: share(count(&|f| f.live_ms > 0)),
        offline_rate: share(count(&|f| f.offline_ms > 0)),
        certificates,
        certificate_rate: share(certificates),
        avg_rating: (ratings > 0).then(|| round(stars as f64 / ratings as f64, 2)),
        ratings,
    }
}

/// The composite score 0–100: each indicator scores `min(value ÷ target, 1) × 100`, and the
/// scores are averaged by weight. One decimal.
pub fn composite(m: &Measures, i: &Indicators) -> f64 {
    let weights: f64 = i.items.iter().map(|x| x.weight).sum();
    if weights <= 0.0 {
        return 0.0;
    }
    let sum: f64 = i
        .items
        .iter()
        .map(|x| x.weight * (m.value(x.measure) / x.target).min(1.0) * 100.0)
        .sum();
    round(sum / weights, 1)
}

/// The formula of [`composite`] in words, e.g. `综合得分 = [40 × min(覆盖率 ÷ 80%, 1) + …] ÷ 100 × 100`.
pub fn formula(i: &Indicators) -> String {
    let weights: f64 = i.items.iter().map(|x| x.weight).sum();
    let parts: Vec<String> = i
        .items
        .iter()
        .map(|x| {
            format!(
                "{} × min({} ÷ {}, 1)",
                trim(x.weight),
                x.measure.label(),
                x.measure.show(x.target)
            )
        })
        .collect();
    format!(
        "综合得分 = [{}] ÷ {} × 100；覆盖指本学期学时达到 {} 小时的家庭",
        parts.join(" + "),
        trim(weights),
        trim(i.coverage_hours)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(hours: f64) -> Family {
        Family {
            total_ms: (hours * 3_600_000.0) as i64,
            ..Family::default()
        }
    }

    #[test]
    fn measures_count_every_family() {
        let mut fs = vec![family(2.0), family(0.5), family(0.0), family(1.0)];
        fs[0].live_ms = 1;
        fs[0].certificates = 1;
        fs[1].offline_ms = 1;
        fs[1].stars = (9, 2);
        let m = measure(&fs, 1.0);
        assert_eq!((m.members, m.active, m.covered), (4, 3, 2));
        assert_eq!(
            (m.coverage, m.active_rate, m.live_rate, m.offline_rate),
            (0.5, 0.75, 0.25, 0.25)
        );
        assert_eq!((m.avg_hours, m.median_hours), (0.88, 0.75));
        assert_eq!((m.certificates, m.certificate_rate, m.avg_rating), (1, 0.25, Some(4.5)));
        let none = measure(&[], 1.0);
        assert_eq!((none.coverage, none.avg_hours, none.avg_rating), (0.0, 0.0, None));
    }

    #[test]
    fn the_composite_caps_each_indicator_at_its_target() {
        let m = Measures {
            coverage: 0.4,
            avg_hours: 9.0,
            live_rate: 0.5,
            offline_rate: 0.0,
            ..Measures::default()
        };
        // 40 × 0.5 + 30 × 1 + 15 × 1 + 15 × 0 = 65 of 100.
        assert_eq!(composite(&m, &Indicators::default()), 65.0);
        assert_eq!(
            formula(&Indicators::default()),
            "综合得分 = [40 × min(覆盖率 ÷ 80%, 1) + 30 × min(人均学时 ÷ 6 小时, 1) + 15 × min(直播参与率 ÷ 50%, 1) \
             + 15 × min(线下参与率 ÷ 30%, 1)] ÷ 100 × 100；覆盖指本学期学时达到 1 小时的家庭"
        );
    }

    #[test]
    fn indicators_are_checked() {
        assert!(check(&Indicators::default()).is_ok());
        let mut bad = Indicators {
            coverage_hours: 0.0,
            ..Indicators::default()
        };
        bad.items[1] = Indicator {
            measure: Measure::Coverage,
            target: 0.5,
            weight: 1.0,
        };
        bad.items[2].target = 1.5;
        bad.items[3].weight = 0.0;
        let fields: Vec<String> = check(&bad)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "coverage_hours",
                "items[1].measure",
                "items[2].target",
                "items[3].weight"
            ]
        );
        assert!(
            check(&Indicators {
                coverage_hours: 1.0,
                items: vec![]
            })
            .is_err()
        );
    }
}
