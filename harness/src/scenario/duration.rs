//! Durations as scenario files and the CLI write them: a number and a unit, `"150ms"`.
//!
//! The number is parsed as a decimal, not a float, so `"1.1s"` is exactly 1100 ms: a
//! rounding error here would shift fault times between runs that should match.

use std::fmt;
use std::time::Duration;

/// Units accepted after the number, longest spelling first so `ms` is not read as `m`.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DurationError {}

const EXPECTED: &str = "expected a duration with a unit, like \"150ms\" or \"2s\"";

fn units_hint() -> String {
    let names: Vec<String> = UNITS
        .iter()
        .filter(|(name, _)| *name != "µs")
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    format!("units are {}", names.join(", "))
}

/// Parses `"150ms"`, `"2s"`, `"1.5s"`, `"2m"`, `"500us"` (also `ns`, `µs`, `h`).
///
/// ```
/// use std::time::Duration;
/// use squall::scenario::parse_duration;
/// assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
/// assert!(parse_duration("150").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(DurationError {
            message: format!("duration `{text}` is negative"),
            hint: Some("durations count forward from zero".into()),
        });
    }
    let number_len = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_len);
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(DurationError {
            message: EXPECTED.into(),
            hint: (!text.is_empty()).then(|| format!("`{text}` has no number")),
        });
    }
    if unit.is_empty() {
        return Err(DurationError {
            message: EXPECTED.into(),
            hint: Some(format!(
                "`{text}` has no unit; write \"{number}ms\" or \"{number}s\""
            )),
        });
    }
    let Some(&(_, unit_nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(DurationError {
            message: format!("unknown unit `{unit}` in duration `{text}`"),
            hint: Some(units_hint()),
        });
    };
    let number = number.strip_prefix('+').unwrap_or(number);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let malformed = || DurationError {
        message: format!("`{text}` is not a number followed by a unit"),
        hint: Some(EXPECTED.replace("expected", "write")),
    };
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(malformed());
    }
    let too_long = || DurationError {
        message: format!("duration `{text}` is too long"),
        hint: Some("a run lasts minutes or hours, not centuries".into()),
    };
    // Digits past nanosecond precision can only be zeros; 19 covers any unit here.
    if whole.len() > 19 || fraction.len() > 19 {
        return Err(too_long());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| malformed())?
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| malformed())?
    };
    let fraction_nanos = fraction * unit_nanos;
    if !fraction_nanos.is_multiple_of(scale) {
        return Err(DurationError {
            message: format!("duration `{text}` is finer than a nanosecond"),
            hint: None,
        });
    }
    let nanos = whole * unit_nanos + fraction_nanos / scale;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Writes a duration the way a scenario file would: `"60s"`, `"150ms"`, `"1500ms"`.
///
/// Used in messages, so it picks the largest unit that is exact and never rounds.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    for (name, unit) in [("s", 1_000_000_000u128), ("ms", 1_000_000), ("us", 1_000)] {
        if nanos.is_multiple_of(unit) {
            return format!("{}{name}", nanos / unit);
        }
    }
    format!("{nanos}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let ok: &[(&str, Duration)] = &[
            ("150ms", Duration::from_millis(150)),
            ("2s", Duration::from_secs(2)),
            ("1.5s", Duration::from_millis(1500)),
            ("1.1s", Duration::from_millis(1100)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("500us", Duration::from_micros(500)),
            ("500µs", Duration::from_micros(500)),
            ("7ns", Duration::from_nanos(7)),
            ("0ms", Duration::ZERO),
            ("0s", Duration::ZERO),
            (".5s", Duration::from_millis(500)),
            ("2.s", Duration::from_secs(2)),
            ("0.001ms", Duration::from_micros(1)),
            ("10 ms", Duration::from_millis(10)),
            (" 3s ", Duration::from_secs(3)),
            ("+3s", Duration::from_secs(3)),
        ];
        for (text, expected) in ok {
            assert_eq!(parse_duration(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        let bad: &[(&str, &str)] = &[
            (
                "150",
                "expected a duration with a unit, like \"150ms\" or \"2s\" \
                 (hint: `150` has no unit; write \"150ms\" or \"150s\")",
            ),
            (
                "-5s",
                "duration `-5s` is negative (hint: durations count forward from zero)",
            ),
            (
                "5x",
                "unknown unit `x` in duration `5x` \
                 (hint: units are `ns`, `us`, `ms`, `s`, `m`, `h`)",
            ),
            (
                "5 sec",
                "unknown unit `sec` in duration `5 sec` \
                 (hint: units are `ns`, `us`, `ms`, `s`, `m`, `h`)",
            ),
            (
                "",
                "expected a duration with a unit, like \"150ms\" or \"2s\"",
            ),
            (
                "ms",
                "expected a duration with a unit, like \"150ms\" or \"2s\" (hint: `ms` has no number)",
            ),
            (
                "1.2.3s",
                "`1.2.3s` is not a number followed by a unit \
                 (hint: write a duration with a unit, like \"150ms\" or \"2s\")",
            ),
            (".s", "`.s` is not a number followed by a unit (hint: write a duration with a unit, like \"150ms\" or \"2s\")"),
            ("1.5ns", "duration `1.5ns` is finer than a nanosecond"),
            (
                "99999999999999999999h",
                "duration `99999999999999999999h` is too long \
                 (hint: a run lasts minutes or hours, not centuries)",
            ),
        ];
        for (text, expected) in bad {
            assert_eq!(
                parse_duration(text).unwrap_err().to_string(),
                *expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn formats_durations_exactly() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_secs(60), "60s"),
            (Duration::from_millis(150), "150ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_micros(500), "500us"),
            (Duration::from_nanos(7), "7ns"),
        ];
        for (duration, expected) in cases {
            assert_eq!(format_duration(*duration), *expected);
            assert_eq!(parse_duration(expected), Ok(*duration));
        }
    }
}
