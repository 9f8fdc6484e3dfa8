//! `--since`: a wall time (`HH:MM[:SS]`, today, or yesterday if that is
//! still to come), a date-time (`YYYY-MM-DD[ HH:MM[:SS]]`, `T` between
//! works too), or a duration ago (`90s`, `10m`, `2h`, `1d`, `500ms`).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// The moment `text` names, in Unix milliseconds, as seen at `now`.
pub fn parse_since<Tz: TimeZone>(text: &str, now: DateTime<Tz>) -> Result<u64, String> {
    let text = text.trim();
    let tz = now.timezone();
    let at = if let Some(ago) = duration(text) {
        now.clone() - ago
    } else if let Some(t) = ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(text, f).ok())
    {
        let today = now.date_naive().and_time(t);
        let local = local(&tz, today)?;
        if local > now {
            local - Duration::days(1)
        } else {
            local
        }
    } else if let Some(dt) = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    {
        local(&tz, dt)?
    } else if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        local(&tz, d.and_time(NaiveTime::MIN))?
    } else {
        return Err(
            "not a time (HH:MM[:SS]), a date-time (YYYY-MM-DD HH:MM[:SS]) or a duration ago (10m, 2h, 1d)"
                .into(),
        );
    };
    u64::try_from(at.timestamp_millis()).map_err(|_| "before 1970".to_owned())
}

fn local<Tz: TimeZone>(tz: &Tz, dt: NaiveDateTime) -> Result<DateTime<Tz>, String> {
    tz.from_local_datetime(&dt)
        .earliest()
        .ok_or_else(|| format!("{dt} does not exist in the local time zone"))
}

/// `10m` and the like.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => 1,
        "s" | "sec" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(Duration::milliseconds(n.checked_mul(ms)?))
}
