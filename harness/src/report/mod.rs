//! Reports: what a run leaves in `reports/<scenario>/<run-id>/` for people and
//! CI, and the verdict lines on the terminal.
//!
//! - `report.json` ([`json`]): figures per phase and per second, verdicts with
//!   evidence, the fault timeline. Only simulated facts go in it, so the same
//!   scenario and seed write it byte for byte again in the simulator.
//! - `meta.json`: the wall-clock facts (when, how long, versions, host).
//! - `summary.md` ([`summary`]), `junit.xml` ([`junit`], one test case per
//!   invariant), `latency.hlog` ([`hlog`], an HdrHistogram interval log).
//! - `report.html` ([`html`]): one self-contained page, the timelines of
//!   latency and outcomes with the fault windows shaded, the verdicts and the
//!   slowest traces as waterfalls. Rendered from the report alone, so it is
//!   as reproducible as `report.json`.
//! - [`diff`]: two runs of a scenario compared (`squall diff`).
//! - [`schema`]: the JSON Schemas of `report.json` and `explore.json`,
//!   generated from their structs (docs/schema.md).

pub mod diff;
pub mod hlog;
pub mod html;
pub mod json;
pub mod junit;
pub mod schema;
pub mod summary;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use json::Report;

/// A duration as people write it in scenarios: `150ms`, `2s`, `1.5s`, `250us`.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0ms".into()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 10_000_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if us >= 1_000_000 {
        let s = format!("{:.2}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else if us >= 1000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{us}us")
    }
}

/// Facts about the run that depend on the wall clock or the machine; kept out
/// of `report.json` so that one stays reproducible.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Meta {
    pub squall_version: &'static str,
    pub run_id: String,
    pub started_at: String,
    pub wall_seconds: f64,
    pub host: String,
    pub command: Vec<String>,
    /// Stopped early by Ctrl-C or SIGTERM (then `report.json` says so too).
    pub interrupted: bool,
}

impl Meta {
    /// The facts of a run whose reports go into `dir` (its name is the run
    /// id), started at `started_at` (RFC 3339), by this process's command.
    pub fn new(
        dir: &Path,
        started_at: String,
        wall_seconds: f64,
        host: String,
        interrupted: bool,
    ) -> Self {
        Meta {
            squall_version: env!("CARGO_PKG_VERSION"),
            run_id: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            started_at,
            wall_seconds,
            host,
            command: std::env::args().collect(),
            interrupted,
        }
    }
}

/// Writes every report file of a run into `dir` (created), and returns the
/// paths written.
pub fn write_all(
    dir: &Path,
    report: &Report,
    meta: &Meta,
    latencies: &hlog::Intervals,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| -> std::io::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    put("report.json", report.to_json().into_bytes())?;
    let meta_json = serde_json::to_string_pretty(meta).map_err(std::io::Error::other)? + "\n";
    put("meta.json", meta_json.into_bytes())?;
    put("summary.md", summary::render(report).into_bytes())?;
    put("junit.xml", junit::render(report).into_bytes())?;
    put("latency.hlog", hlog::render(latencies)?)?;
    put("report.html", html::render(report).into_bytes())?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_scenarios() {
        let ms = Duration::from_millis;
        assert_eq!(fmt_duration(ms(0)), "0ms");
        assert_eq!(fmt_duration(ms(150)), "150ms");
        assert_eq!(fmt_duration(ms(2000)), "2s");
        assert_eq!(fmt_duration(ms(1500)), "1.5s");
        assert_eq!(fmt_duration(ms(14_250)), "14.2s");
        assert_eq!(fmt_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(fmt_duration(Duration::from_micros(250)), "250us");
    }
}

/// UTC calendar time of `t` as (`20261128T101500Z`, `2026-11-28T10:15:00Z`).
/// Written by hand (Howard Hinnant's days-to-civil) to avoid a date crate for
/// one timestamp in a directory name and `meta.json`.
pub fn utc_stamp(t: std::time::SystemTime) -> (String, String) {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z"),
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
    )
}

#[cfg(test)]
mod stamp_tests {
    #[test]
    fn utc_stamp_matches_a_known_date() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_860_900);
        assert_eq!(
            super::utc_stamp(t),
            (
                "20261128T101500Z".to_owned(),
                "2026-11-28T10:15:00Z".to_owned()
            )
        );
    }
}

/// How to run squall again the way this process was started, for `Rerun`
/// lines: `squall` when it was found on the PATH, `cargo run --release --`
/// (or `cargo run --`) when cargo started it from its target directory, and
/// otherwise the path it was started by (`./target/release/squall`).
pub fn invocation() -> String {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    from_parts(
        &argv0,
        std::env::var_os("CARGO").is_some(),
        std::env::current_exe().ok().as_deref(),
    )
}

fn from_parts(argv0: &str, under_cargo: bool, exe: Option<&Path>) -> String {
    if !argv0.contains('/') && !argv0.is_empty() {
        return argv0.to_owned();
    }
    let profile = exe
        .and_then(Path::parent)
        .filter(|dir| dir.parent().and_then(Path::file_name) == Some("target".as_ref()))
        .and_then(Path::file_name)
        .and_then(|p| p.to_str());
    match profile {
        Some("release") if under_cargo => "cargo run --release --".into(),
        Some("debug") if under_cargo => "cargo run --".into(),
        _ if argv0.is_empty() => "squall".into(),
        _ => argv0.to_owned(),
    }
}

#[cfg(test)]
mod invocation_tests {
    use super::from_parts;
    use std::path::Path;

    #[test]
    fn rerun_lines_follow_how_squall_was_started() {
        let release = Path::new("/src/squall/target/release/squall");
        assert_eq!(from_parts("squall", false, Some(release)), "squall");
        assert_eq!(
            from_parts("target/release/squall", true, Some(release)),
            "cargo run --release --"
        );
        assert_eq!(
            from_parts(
                "/src/squall/target/debug/squall",
                true,
                Some(Path::new("/src/squall/target/debug/squall"))
            ),
            "cargo run --"
        );
        assert_eq!(
            from_parts("./target/release/squall", false, Some(release)),
            "./target/release/squall"
        );
        assert_eq!(
            from_parts(
                "/home/me/.cargo/bin/squall",
                true,
                Some(Path::new("/home/me/.cargo/bin/squall"))
            ),
            "/home/me/.cargo/bin/squall"
        );
    }
}
