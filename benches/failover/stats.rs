//! min / median / p90 / max of a set of samples.

/// The summary of a non-empty set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// The smallest.
    pub min: f64,
    /// The middle one (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The 90th percentile, nearest rank: the smallest sample with at least
    /// 90 % of the samples at or below it.
    pub p90: f64,
    /// The largest.
    pub max: f64,
}

/// Summarises `samples`; `None` if there are none.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    let rank = (0.9 * n as f64).ceil() as usize;
    Some(Summary {
        n,
        min: s[0],
        median,
        p90: s[rank.clamp(1, n) - 1],
        max: s[n - 1],
    })
}
