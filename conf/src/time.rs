//! Time values as heartbeat reads them (`cl_get_msec`, spec §6): a decimal number
//! (`2`, `1.5`), optional blanks, then an optional unit: `ms`/`msec`, `us`/`usec`,
//! or none for seconds. Rounded to the nearest millisecond.

use std::fmt;
use std::time::Duration;

/// The largest time accepted (about 24.8 days); more is surely a typo.
pub const MAX_MS: u64 = i32::MAX as u64;

/// Why a time value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// No number at the start.
    NoNumber,
    /// More than one decimal point.
    BadNumber,
    /// A suffix that is not `ms`, `msec`, `us` or `usec`.
    BadUnit(String),
    /// Over [`MAX_MS`].
    TooLarge,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeError::NoNumber => f.write_str("expected a number"),
            TimeError::BadNumber => f.write_str("malformed number"),
            TimeError::BadUnit(u) => write!(
                f,
                "unknown time unit {u:?} (use ms, msec, us, usec, or none for seconds)"
            ),
            TimeError::TooLarge => write!(f, "too large (at most {MAX_MS} ms)"),
        }
    }
}

/// Parses a time value.
pub fn parse(text: &str) -> Result<Duration, TimeError> {
    let s = text.trim_start();
    let num_len = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, rest) = s.split_at(num_len);
    if !num.bytes().any(|b| b.is_ascii_digit()) {
        return Err(TimeError::NoNumber);
    }
    if num.bytes().filter(|&b| b == b'.').count() > 1 {
        return Err(TimeError::BadNumber);
    }
    let value: f64 = num.parse().map_err(|_| TimeError::BadNumber)?;
    let scale = match rest.trim() {
        "" => 1000.0,
        "ms" | "msec" => 1.0,
        "us" | "usec" => 0.001,
        other => return Err(TimeError::BadUnit(other.to_owned())),
    };
    let ms = (value * scale).round();
    if ms > MAX_MS as f64 {
        return Err(TimeError::TooLarge);
    }
    Ok(Duration::from_millis(ms as u64))
}

/// Writes a duration the way an operator would: `2s`, `1500ms`.
pub fn display(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_cl_get_msec() {
        let ms = |s| parse(s).map(|d| d.as_millis());
        assert_eq!(ms("2"), Ok(2000));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("500 msec"), Ok(500));
        assert_eq!(ms("1.5"), Ok(1500));
        assert_eq!(ms("  30"), Ok(30_000));
        assert_eq!(ms("1500us"), Ok(2));
        assert_eq!(ms("1499usec"), Ok(1));
        assert_eq!(ms(".25"), Ok(250));
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("2s"), Err(TimeError::BadUnit("s".into())));
        assert_eq!(ms("2min"), Err(TimeError::BadUnit("min".into())));
        assert_eq!(ms("ms"), Err(TimeError::NoNumber));
        assert_eq!(ms("."), Err(TimeError::NoNumber));
        assert_eq!(ms("1.2.3"), Err(TimeError::BadNumber));
        assert_eq!(ms("-1"), Err(TimeError::NoNumber));
        assert_eq!(ms("99999999999"), Err(TimeError::TooLarge));
    }

    #[test]
    fn display_prefers_seconds() {
        assert_eq!(display(Duration::from_millis(2000)), "2s");
        assert_eq!(display(Duration::from_millis(1500)), "1500ms");
    }
}
