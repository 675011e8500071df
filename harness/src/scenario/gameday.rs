//! `[gameday]`: a scenario run against a staging system that squall did not start.
//!
//! The section says how candidate containers are found (a compose project, or a label
//! filter), which services the file allows (the operator's key; the container's own
//! opt-in label is the other), the blast-radius limits, and, per fault, how many of the
//! target service's containers the fault takes (`mode`). Everything here is checked
//! like the rest of the file: a bad value is an error at its file:line:col.

use std::time::Duration;

use serde_spanned::Spanned;

use super::error::Diag;
use super::raw::{RawGameday, RawGamedayLimits};
use super::validate::duration;

/// `[gameday]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GamedayConfig {
    /// How candidates are found.
    pub find: Finder,
    /// Services the file allows (key 2 of 2).
    pub allow: Vec<String>,
    pub limits: GamedayLimits,
    /// Per fault, in file order: which containers of the target service.
    pub modes: Vec<Mode>,
    /// 1-based line and column of `[gameday]`, for messages.
    pub line: usize,
    pub col: usize,
}

/// How candidate containers are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finder {
    /// `project = "staging"`: containers with `com.docker.compose.project=staging`.
    Project(String),
    /// `filter = "key=value"`: containers carrying that label.
    Label { key: String, value: String },
}

/// `[gameday] limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GamedayLimits {
    /// At most this many containers under faults at once (default 1).
    pub instances_at_once: u32,
    /// Per service, at least this many running, healthy replicas are left untouched
    /// (default 1), counted against the replicas healthy now.
    pub keep_healthy: u32,
    /// No fault may last longer (default 5 minutes); a fault without `for` is refused.
    pub max_for: Duration,
}

/// A fault's selection mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One container, picked by the seed (the default).
    One,
    /// Every container of the service.
    All,
    /// `count:N`: N containers picked by the seed.
    Count(u32),
    /// `percent:P`: P% of the containers, rounded up, picked by the seed.
    Percent(u32),
}

impl Mode {
    /// How many of `n` candidates the mode asks for.
    pub fn wanted(self, n: usize) -> usize {
        match self {
            Mode::One => 1.min(n),
            Mode::All => n,
            Mode::Count(c) => c as usize,
            Mode::Percent(p) => (n * p as usize).div_ceil(100),
        }
    }
}

const MODE_HINT: &str = "expected `one`, `all`, `count:N` or `percent:P`";

/// Parses one fault's `mode`.
pub(crate) fn mode(value: &Spanned<String>) -> Result<Mode, Diag> {
    let text = value.get_ref().as_str();
    let bad = || Diag::new(value.span(), format!("unknown `mode` `{text}`")).hint(MODE_HINT);
    match text {
        "one" => return Ok(Mode::One),
        "all" => return Ok(Mode::All),
        _ => {}
    }
    let (word, number) = text.split_once(':').ok_or_else(bad)?;
    let n: u32 = number.trim().parse().map_err(|_| bad())?;
    match word {
        "count" if n >= 1 => Ok(Mode::Count(n)),
        "percent" if (1..=100).contains(&n) => Ok(Mode::Percent(n)),
        "count" => Err(Diag::new(value.span(), "`count:N` needs N of at least 1")),
        "percent" => Err(Diag::new(value.span(), "`percent:P` needs P from 1 to 100")),
        _ => Err(bad()),
    }
}

/// Validates `[gameday]`; `modes` are the faults' `mode` values in file order
/// (`None`: left out, meaning `one`); `fors` whether each fault has a `for`, and its span.
pub(crate) fn gameday(
    raw: Spanned<RawGameday>,
    modes: Vec<Option<Spanned<String>>>,
    fors: &[(Option<Duration>, std::ops::Range<usize>)],
    services: &[&str],
    text: &str,
) -> Result<GamedayConfig, Diag> {
    let span = raw.span();
    let (line, col) = super::error::line_col(text, span.start);
    let raw = raw.into_inner();
    let find = match (&raw.project, &raw.filter) {
        (Some(_), Some(filter)) => {
            return Err(Diag::new(
                filter.span(),
                "give `project` or `filter`, not both",
            ))
        }
        (None, None) => {
            return Err(Diag::new(span, "`[gameday]` needs `project` or `filter`")
                .hint("`project = \"staging\"` finds the compose project's containers"))
        }
        (Some(p), None) => {
            if p.get_ref().trim().is_empty() {
                return Err(Diag::new(p.span(), "`project` is empty"));
            }
            Finder::Project(p.get_ref().clone())
        }
        (None, Some(f)) => match f.get_ref().split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.is_empty() => Finder::Label {
                key: k.trim().to_string(),
                value: v.to_string(),
            },
            _ => {
                return Err(Diag::new(f.span(), "`filter` must be `label=value`")
                    .hint("like `filter = \"team=payments\"`"))
            }
        },
    };
    let mut allow = Vec::new();
    for name in raw.allow.get_ref() {
        if !services.contains(&name.get_ref().as_str()) {
            return Err(Diag::new(
                name.span(),
                format!(
                    "`allow` names `{}`, which is not a service of the file",
                    name.get_ref()
                ),
            )
            .hint("declare it under `[services]`"));
        }
        if allow.contains(name.get_ref()) {
            return Err(Diag::new(
                name.span(),
                format!("`{}` is allowed twice", name.get_ref()),
            ));
        }
        allow.push(name.get_ref().clone());
    }
    if allow.is_empty() {
        return Err(Diag::new(
            raw.allow.span(),
            "`allow` is empty: nothing could be touched",
        )
        .hint("name the services this game day may fault"));
    }
    let limits = limits(raw.limits)?;
    let mut out = Vec::new();
    for (m, (for_, kind_span)) in modes.iter().zip(fors) {
        out.push(m.as_ref().map(mode).transpose()?.unwrap_or(Mode::One));
        match for_ {
            None => {
                return Err(Diag::new(kind_span.clone(), "a game-day fault needs `for`")
                    .hint("every fault on a real system must end by itself"))
            }
            Some(d) if *d > limits.max_for => {
                return Err(Diag::new(
                    kind_span.clone(),
                    format!(
                        "the fault lasts {} ms, more than `limits.max_for` ({} ms)",
                        d.as_millis(),
                        limits.max_for.as_millis()
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(GamedayConfig {
        find,
        allow,
        limits,
        modes: out,
        line,
        col,
    })
}

fn limits(raw: Option<Spanned<RawGamedayLimits>>) -> Result<GamedayLimits, Diag> {
    let mut limits = GamedayLimits {
        instances_at_once: 1,
        keep_healthy: 1,
        max_for: Duration::from_secs(300),
    };
    let Some(raw) = raw else { return Ok(limits) };
    let raw = raw.into_inner();
    if let Some(n) = &raw.instances_at_once {
        limits.instances_at_once = u32::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Diag::new(n.span(), "`instances_at_once` must be at least 1"))?;
    }
    if let Some(n) = &raw.keep_healthy {
        limits.keep_healthy = u32::try_from(*n.get_ref())
            .map_err(|_| Diag::new(n.span(), "`keep_healthy` must be 0 or more"))?;
    }
    if let Some(d) = &raw.max_for {
        let value = duration(d)?;
        if value.is_zero() {
            return Err(Diag::new(d.span(), "`max_for` must be greater than 0"));
        }
        limits.max_for = value;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::{Finder, GamedayLimits, Mode};
    use crate::scenario::validate::tests::{check, BASE};

    /// BASE, then `fault` (from line 11), then `[gameday]`.
    fn file(fault: &str, gameday: &str) -> String {
        format!("{BASE}{fault}[gameday]\n{gameday}")
    }

    /// A kill of `ledger` on lines 11-15 (its `kind` at 12:8) with `extra`
    /// lines after it.
    fn kill(extra: &str) -> String {
        format!("[[faults]]\nkind = \"kill\"\ntarget = \"ledger\"\nat = \"10s\"\n{extra}")
    }

    /// A kill of `ledger` for 5 s; `[gameday]` is on line 16.
    fn timed() -> String {
        kill("for = \"5s\"\n")
    }

    #[test]
    fn a_game_day_section_is_read_with_its_defaults() {
        let text = file(
            &kill("for = \"5s\"\nmode = \"percent:34\"\n"),
            "project = \"staging\"\nallow = [\"ledger\"]\n",
        );
        let scenario = crate::scenario::parse(&text, Path::new("t.toml")).unwrap();
        let gameday = scenario.gameday.expect("a [gameday] section");
        assert_eq!(gameday.find, Finder::Project("staging".into()));
        assert_eq!(gameday.allow, ["ledger"]);
        assert_eq!(gameday.modes, [Mode::Percent(34)]);
        assert_eq!(
            gameday.limits,
            GamedayLimits {
                instances_at_once: 1,
                keep_healthy: 1,
                max_for: Duration::from_secs(300),
            }
        );
        // 34% of 3 replicas, rounded up, is 2.
        assert_eq!(Mode::Percent(34).wanted(3), 2);
        assert_eq!(Mode::One.wanted(0), 0);
        assert_eq!(Mode::All.wanted(3), 3);
    }

    #[test]
    fn a_label_filter_and_limits_are_read() {
        let text = file(
            &timed(),
            "filter = \"team=payments\"\nallow = [\"ledger\", \"gateway\"]\nlimits = { instances_at_once = 2, keep_healthy = 0, max_for = \"1m\" }\n",
        );
        let gameday = crate::scenario::parse(&text, Path::new("t.toml"))
            .unwrap()
            .gameday
            .unwrap();
        assert_eq!(
            gameday.find,
            Finder::Label {
                key: "team".into(),
                value: "payments".into()
            }
        );
        assert_eq!(gameday.limits.instances_at_once, 2);
        assert_eq!(gameday.limits.keep_healthy, 0);
        assert_eq!(gameday.limits.max_for, Duration::from_secs(60));
        assert_eq!(gameday.modes, [Mode::One]);
    }

    #[test]
    fn bad_game_day_sections_are_errors_where_they_are_written() {
        let allow = "allow = [\"ledger\"]\n";
        check(&[
            (
                &file(&timed(), allow),
                "t.toml:16:1: `[gameday]` needs `project` or `filter`\n  (hint: `project = \"staging\"` finds the compose project's containers)",
            ),
            (
                &file(&timed(), &format!("project = \"s\"\nfilter = \"a=b\"\n{allow}")),
                "t.toml:18:10: give `project` or `filter`, not both",
            ),
            (
                &file(&timed(), &format!("filter = \"team\"\n{allow}")),
                "t.toml:17:10: `filter` must be `label=value`\n  (hint: like `filter = \"team=payments\"`)",
            ),
            (
                &file(&timed(), "project = \"s\"\nallow = [\"fraud\"]\n"),
                "t.toml:18:10: `allow` names `fraud`, which is not a service of the file\n  (hint: declare it under `[services]`)",
            ),
            (
                &file(&timed(), "project = \"s\"\nallow = []\n"),
                "t.toml:18:9: `allow` is empty: nothing could be touched\n  (hint: name the services this game day may fault)",
            ),
            (
                &file(
                    &kill(""),
                    &format!("project = \"s\"\n{allow}"),
                ),
                "t.toml:12:8: a game-day fault needs `for`\n  (hint: every fault on a real system must end by itself)",
            ),
            (
                &file(
                    &kill("for = \"40s\"\n"),
                    &format!("project = \"s\"\n{allow}limits = {{ max_for = \"30s\" }}\n"),
                ),
                "t.toml:12:8: the fault lasts 40000 ms, more than `limits.max_for` (30000 ms)",
            ),
            (
                &file(
                    &kill("for = \"5s\"\nmode = \"half\"\n"),
                    &format!("project = \"s\"\n{allow}"),
                ),
                "t.toml:16:8: unknown `mode` `half`\n  (hint: expected `one`, `all`, `count:N` or `percent:P`)",
            ),
            (
                &file(
                    &kill("for = \"5s\"\nmode = \"percent:0\"\n"),
                    &format!("project = \"s\"\n{allow}"),
                ),
                "t.toml:16:8: `percent:P` needs P from 1 to 100",
            ),
            (
                &file(&timed(), &format!("project = \"s\"\n{allow}limits = {{ instances_at_once = 0 }}\n")),
                "t.toml:19:32: `instances_at_once` must be at least 1",
            ),
            (
                &format!("{BASE}{}", kill("for = \"5s\"\nmode = \"all\"\n")),
                "t.toml:16:8: `mode` is for game days only\n  (hint: add a `[gameday]` section, or leave `mode` out)",
            ),
        ]);
    }
}
