//! Unions of half-open time intervals `[from, to)` in milliseconds: watched ranges of a video,
//! a viewer's connections to a livestream. Pure.

/// A half-open range `[from, to)` in milliseconds.
pub type Span = (i64, i64);

/// Sorted, merged, without empty spans.
pub fn normalise(mut v: Vec<Span>) -> Vec<Span> {
    v.retain(|(a, b)| b > a);
    v.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The length of a normalised union.
pub fn total(v: &[Span]) -> i64 {
    v.iter().map(|(a, b)| b - a).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_touching_and_empty_spans_merge() {
        assert_eq!(
            normalise(vec![(5, 10), (0, 3), (2, 6), (20, 20), (10, 12)]),
            vec![(0, 12)]
        );
        assert_eq!(total(&normalise(vec![(0, 5), (7, 9)])), 7);
    }
}
