//! Numbers and times as the pages show them.

/// A duration in milliseconds: `812 ms`, `2.51 s`, `3 min 4 s`, `2 h 5 min`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "–".to_owned();
    }
    if ms < 1.0 {
        return format!("{ms:.2} ms");
    }
    if ms < 999.5 {
        return format!("{ms:.0} ms");
    }
    let secs = ms / 1000.0;
    if secs < 59.995 {
        return format!("{secs:.2} s");
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        return format!("{} min {} s", whole / 60, whole % 60);
    }
    format!("{} h {} min", whole / 3600, (whole % 3600) / 60)
}

/// A count with thousands separators: `1,284`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cost in dollars with enough digits to be meaningful: `$0.0031`, `$1.24`.
pub fn cost(dollars: f64) -> String {
    if !dollars.is_finite() {
        return String::new();
    }
    if dollars == 0.0 {
        return "$0".to_owned();
    }
    if dollars >= 1.0 {
        format!("${dollars:.2}")
    } else if dollars >= 0.01 {
        format!("${dollars:.3}")
    } else if dollars >= 0.0001 {
        format!("${dollars:.4}")
    } else {
        // Two significant digits, however small: a fraction of a cent per step still adds up.
        let digits = (-dollars.log10().floor()) as usize + 1;
        format!("${dollars:.digits$}")
    }
}

/// How long ago `then_us` was, seen at `now_us`: `just now`, `3 min ago`, `2 h ago`, `5 d ago`.
pub fn age(then_us: i64, now_us: i64) -> String {
    let secs = (now_us.saturating_sub(then_us)) / 1_000_000;
    match secs {
        s if s < 45 => "just now".to_owned(),
        s if s < 3570 => format!("{} min ago", (s + 30) / 60),
        s if s < 3600 => "1 h ago".to_owned(),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s if s < 86_400 * 60 => format!("{} d ago", s / 86_400),
        s => format!("{} mo ago", s / (86_400 * 30)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(duration_ms(812.4), "812 ms");
        assert_eq!(duration_ms(2510.0), "2.51 s");
        assert_eq!(duration_ms(184_000.0), "3 min 4 s");
        assert_eq!(duration_ms(7_500_000.0), "2 h 5 min");
        assert_eq!(count(1284), "1,284");
        assert_eq!(count(12), "12");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(cost(0.0031), "$0.0031");
        assert_eq!(cost(1.236), "$1.24");
        assert_eq!(cost(0.00005), "$0.000050");
        assert_eq!(duration_ms(59_999.0), "1 min 0 s");
        assert_eq!(duration_ms(999.7), "1.00 s");
        assert_eq!(age(0, 3599 * 1_000_000), "1 h ago");
        assert_eq!(age(0, 3 * 60 * 1_000_000), "3 min ago");
        assert_eq!(age(0, 10 * 1_000_000), "just now");
    }
}
