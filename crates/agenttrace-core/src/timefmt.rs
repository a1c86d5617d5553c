//! Reading and writing timestamps as agent frameworks write them.
//!
//! Internally a time is microseconds since the Unix epoch (UTC). Sources write RFC 3339, naive ISO
//! 8601 (Python's `datetime.isoformat()` without a zone, taken as UTC), or Unix time in seconds,
//! milliseconds, microseconds or nanoseconds, told apart by magnitude.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The latest time AgentTrace represents: 9999-12-31T23:59:59.999999Z.
pub const MAX_US: i64 = 253_402_300_799_999_999;
/// The earliest: 0001-01-01T00:00:00Z.
pub const MIN_US: i64 = -62_135_596_800_000_000;

fn in_range(us: i64) -> Option<i64> {
    (MIN_US..=MAX_US).contains(&us).then_some(us)
}

/// Converts a Unix time number to microseconds, guessing the unit from its magnitude:
/// below 1e11 seconds (until the year 5138), below 1e14 milliseconds, below 1e17 microseconds,
/// otherwise nanoseconds.
pub fn unix_number_to_us(value: f64) -> Option<i64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let us = if value < 1e11 {
        value * 1e6
    } else if value < 1e14 {
        value * 1e3
    } else if value < 1e17 {
        value
    } else {
        value / 1e3
    };
    if us > MAX_US as f64 {
        return None;
    }
    in_range(us.round() as i64)
}

/// Parses an RFC 3339 / ISO 8601 timestamp or a numeric string into microseconds.
pub fn parse_timestamp_str(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(number) = text.parse::<f64>() {
        return unix_number_to_us(number);
    }
    if let Ok(dt) = OffsetDateTime::parse(text, &Rfc3339) {
        return offset_to_us(dt);
    }
    // RFC 3339 requires an uppercase T and Z and a colon in the offset; ISO 8601 writers are
    // looser (`2024-01-15 14:30:22+0530`).
    let mut normalized = text
        .replacen(' ', "T", 1)
        .replace('z', "Z")
        .replacen('t', "T", 1);
    if let Some(offset) = normalized.len().checked_sub(5) {
        let tail = normalized.as_bytes().get(offset..).unwrap_or_default();
        if normalized.len() > 16
            && matches!(tail.first(), Some(b'+' | b'-'))
            && tail.iter().skip(1).all(u8::is_ascii_digit)
        {
            normalized.insert(offset + 3, ':');
        }
    }
    if let Ok(dt) = OffsetDateTime::parse(&normalized, &Rfc3339) {
        return offset_to_us(dt);
    }
    let naive_formats = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ];
    for format in naive_formats {
        if let Ok(dt) = PrimitiveDateTime::parse(&normalized, format) {
            return offset_to_us(dt.assume_offset(UtcOffset::UTC));
        }
    }
    // A date alone is midnight UTC (handy for `since=2024-01-15`).
    time::Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .and_then(|date| offset_to_us(date.midnight().assume_offset(UtcOffset::UTC)))
}

fn offset_to_us(dt: OffsetDateTime) -> Option<i64> {
    i64::try_from(dt.unix_timestamp_nanos() / 1000)
        .ok()
        .and_then(in_range)
}

/// Formats microseconds as RFC 3339 in UTC with microsecond precision.
pub fn format_us(us: i64) -> String {
    let nanos = i128::from(us) * 1000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(dt) => {
            let format = format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
            );
            dt.format(format).unwrap_or_else(|_| us.to_string())
        }
        Err(_) => us.to_string(),
    }
}

/// The current time in microseconds since the epoch.
pub fn now_us() -> i64 {
    offset_to_us(OffsetDateTime::now_utc()).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: i64 = 1_705_329_022_123_000; // 2024-01-15T14:30:22.123Z

    #[test]
    fn parses_the_common_spellings() {
        for text in [
            "2024-01-15T14:30:22.123Z",
            "2024-01-15T14:30:22.123+00:00",
            "2024-01-15T15:30:22.123+01:00",
            "2024-01-15 14:30:22.123",
            "2024-01-15T14:30:22.123000",
            "1705329022.123",
            "1705329022123",
            "2024-01-15T20:00:22.123+0530",
        ] {
            assert_eq!(parse_timestamp_str(text), Some(T), "{text}");
        }
        assert_eq!(parse_timestamp_str("yesterday"), None);
        assert_eq!(
            parse_timestamp_str("2024-01-15"),
            Some(1_705_276_800_000_000)
        );
        assert_eq!(parse_timestamp_str("500000000000000000000"), None);
        assert_eq!(parse_timestamp_str("10000-01-01T00:00:00Z"), None);
        assert_eq!(unix_number_to_us(9e21), None);
    }

    #[test]
    fn numbers_by_magnitude() {
        assert_eq!(unix_number_to_us(1_705_329_022.123), Some(T));
        assert_eq!(unix_number_to_us(1_705_329_022_123.0), Some(T));
        assert_eq!(unix_number_to_us(1_705_329_022_123_000.0), Some(T));
        assert_eq!(unix_number_to_us(1_705_329_022_123_000_000.0), Some(T));
        assert_eq!(unix_number_to_us(-1.0), None);
        assert_eq!(unix_number_to_us(f64::INFINITY), None);
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_us(T), "2024-01-15T14:30:22.123000Z");
        assert_eq!(parse_timestamp_str(&format_us(T)), Some(T));
    }
}
