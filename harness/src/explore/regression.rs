//! Writing a shrunk failure as an ordinary scenario file under `regressions/`
//! next to the scenario: the original text, comments and all, with its
//! `[[faults]]` replaced by the failing schedule (the scenario's own faults
//! first, then the explored ones) and `seed`, `duration`, `name` and `expect`
//! set, so that `squall run` on it fails the same way and a suite can keep it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::scenario::{format_duration, Fault, FaultKind, LinkScope, Target};

/// Why a regression file could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot re-read the scenario for editing: {0}")]
    Reread(toml_edit::TomlError),
    /// `seed` is an i64 in TOML.
    #[error("seed {0} does not fit in TOML")]
    Seed(u64),
}

/// What goes into the file besides the faults.
pub struct Regression<'a> {
    /// The original scenario file's text.
    pub text: &'a str,
    /// Its name (`name` or the file stem).
    pub name: &'a str,
    /// The explore seed and case number, for the file name.
    pub seed: u64,
    pub case: u64,
    /// The seed of the failing run, written as `seed`.
    pub run_seed: u64,
    /// The load phase's length, written as `duration`.
    pub duration: Duration,
    /// The scenario's own faults (already clipped to `duration`).
    pub own: &'a [Fault],
    /// The shrunk explored faults.
    pub explored: &'a [Fault],
    /// The invariants it fails, for the header comment.
    pub failed: &'a [String],
    /// The explore command line that found it, for the header comment.
    pub command: String,
}

impl Regression<'_> {
    /// `regressions/<name>-seed<seed>-case<case>.toml` beside `scenario`.
    pub fn path(&self, scenario: &Path) -> PathBuf {
        self.path_under(scenario.parent().unwrap_or(Path::new("")))
    }

    /// `DIR/regressions/<name>-seed<seed>-case<case>.toml`: where `--out DIR`
    /// puts it, so that exploring in CI does not write into the source tree.
    pub fn path_under(&self, dir: &Path) -> PathBuf {
        dir.join("regressions").join(format!(
            "{}-seed{}-case{}.toml",
            self.name, self.seed, self.case
        ))
    }

    /// The file's text.
    pub fn render(&self) -> Result<String, RenderError> {
        let mut doc: DocumentMut = self.text.parse().map_err(RenderError::Reread)?;
        let position = doc
            .get("faults")
            .and_then(Item::as_array_of_tables)
            .and_then(|a| a.iter().filter_map(Table::position).min());
        doc.remove("faults");
        let name = format!("{}-seed{}-case{}", self.name, self.seed, self.case);
        doc["name"] = toml_edit::value(name);
        doc["duration"] = toml_edit::value(format_duration(self.duration));
        doc["seed"] = toml_edit::value(self.run_seed as i64);
        doc["expect"] = toml_edit::value("fail");
        // `seed` is an i64 in TOML; a u64 above i64::MAX would not round-trip.
        if self.run_seed > i64::MAX as u64 {
            return Err(RenderError::Seed(self.run_seed));
        }

        let mut faults = ArrayOfTables::new();
        for (i, f) in self.own.iter().chain(self.explored).enumerate() {
            let mut t = table(f);
            if let Some(p) = position {
                t.set_position(p);
            }
            if i == self.own.len() {
                t.decor_mut()
                    .set_prefix("\n# Found by `squall explore` and shrunk:\n");
            } else {
                t.decor_mut().set_prefix("\n");
            }
            faults.push(t);
        }
        doc.insert("faults", Item::ArrayOfTables(faults));

        let header = format!(
            "# Regression written by `squall explore`: fails {}.\n\
             # Found by: {}\n\
             # Reproduce: squall run <this file>. Once fixed, set `expect = \"pass\"` and keep it.\n\
             # The comments below are the original scenario's: its verdict is for its own\n\
             # faults; this file adds the shrunk ones and expects to fail.\n",
            self.failed.join(", "),
            self.command,
        );
        Ok(format!("{header}{doc}"))
    }
}

fn table(f: &Fault) -> Table {
    let mut t = Table::new();
    let kind = match &f.kind {
        FaultKind::Kill { .. } => "kill",
        FaultKind::Restart { .. } => "restart",
        FaultKind::Pause { .. } => "pause",
        FaultKind::Isolate { .. } => "isolate",
        FaultKind::Latency { .. } => "latency",
        FaultKind::Loss { .. } => "loss",
        FaultKind::Partition { .. } => "partition",
        FaultKind::Error { .. } => "error",
    };
    t["kind"] = toml_edit::value(kind);
    let scope = |t: &mut Table, scope: &LinkScope| match scope {
        LinkScope::Instance(target) => t["target"] = toml_edit::value(target.to_string()),
        LinkScope::Between(a, b) => {
            t["between"] = toml_edit::value(Array::from_iter([a.to_string(), b.to_string()]))
        }
    };
    match &f.kind {
        FaultKind::Kill { target }
        | FaultKind::Restart { target }
        | FaultKind::Pause { target }
        | FaultKind::Isolate { target } => t["target"] = toml_edit::value(target.to_string()),
        FaultKind::Latency {
            scope: s,
            delay,
            jitter,
        } => {
            scope(&mut t, s);
            t["delay"] = toml_edit::value(format_duration(*delay));
            if !jitter.is_zero() {
                t["jitter"] = toml_edit::value(format_duration(*jitter));
            }
        }
        FaultKind::Loss { scope: s, rate } => {
            scope(&mut t, s);
            t["rate"] = toml_edit::value(*rate);
        }
        FaultKind::Error {
            target,
            status,
            rate,
        } => {
            t["target"] = toml_edit::value(target.to_string());
            t["status"] = toml_edit::value(i64::from(*status));
            t["rate"] = toml_edit::value(*rate);
        }
        FaultKind::Partition { sides, one_way } => {
            let side = |s: &[Target]| Value::Array(s.iter().map(|t| t.to_string()).collect());
            t["between"] = toml_edit::value(Array::from_iter([side(&sides.0), side(&sides.1)]));
            if *one_way {
                t["direction"] = toml_edit::value("one-way");
            }
        }
    }
    t["at"] = toml_edit::value(format_duration(f.at));
    if let Some(until) = f.until {
        t["for"] = toml_edit::value(format_duration(until - f.at));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_faults_and_keeps_the_rest() {
        let text = "# a weakness\nname = \"w\"\nduration = \"30s\"\nseed = 1\n\n[workload]\ntarget = \"api\"\npath = \"/get\"\nrate = 100\ndeadline = \"200ms\"\n\n[services.api.endpoints.\"/get\"]\ncalls = [{ to = \"db\", path = \"/read\", timeout = \"50ms\" }]\n\n[services.db]\nreplicas = 2\n[services.db.endpoints.\"/read\"]\nwork = \"1ms\"\n\n[[faults]]\nkind = \"kill\"\ntarget = \"db-1\"\nat = \"5s\"\nfor = \"1s\"\n\n[[invariants]]\nkind = \"answered\"\nmax_ratio = 0.0\n";
        let scenario = crate::scenario::parse(text, Path::new("s/w.toml")).unwrap();
        let db = |i| Target::Instance {
            service: "db".into(),
            index: i,
        };
        let explored = vec![
            Fault {
                kind: FaultKind::Pause { target: db(2) },
                at: Duration::from_millis(5500),
                until: Some(Duration::from_secs(7)),
                line: 0,
                col: 0,
            },
            Fault {
                kind: FaultKind::Partition {
                    sides: (vec![Target::Service("api".into())], vec![db(1)]),
                    one_way: false,
                },
                at: Duration::from_secs(8),
                until: Some(Duration::from_secs(9)),
                line: 0,
                col: 0,
            },
        ];
        let r = Regression {
            text,
            name: "w",
            seed: 7,
            case: 3,
            run_seed: 99,
            duration: Duration::from_secs(20),
            own: &scenario.faults,
            explored: &explored,
            failed: &["answered".into()],
            command: "squall explore s/w.toml --seed 7".into(),
        };
        assert_eq!(
            r.path(Path::new("s/w.toml")),
            Path::new("s/regressions/w-seed7-case3.toml")
        );
        let out = r.render().unwrap();
        let again = crate::scenario::parse(&out, Path::new("s/regressions/w.toml")).unwrap();
        assert_eq!(again.seed, 99);
        assert_eq!(again.duration, Duration::from_secs(20));
        assert_eq!(again.name, "w-seed7-case3");
        let mut want = scenario.faults.clone();
        want.extend(explored);
        let strip = |f: &[Fault]| {
            f.iter()
                .map(|f| Fault {
                    line: 0,
                    col: 0,
                    ..f.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&again.faults), strip(&want));
        assert!(out.starts_with("# Regression written by `squall explore`: fails answered.\n"));
        assert!(out.contains("# a weakness\n"));
        // The faults stay before the invariants.
        assert!(
            out.find("[[faults]]").unwrap() < out.find("[[invariants]]").unwrap(),
            "{out}"
        );
    }
}
