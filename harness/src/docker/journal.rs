//! The journal: every change squall makes on an engine, written down before it
//! is made, so that a squall killed mid-run can be undone later.
//!
//! One JSON-lines file per run, `<state dir>/squall/journal/<run id>.jsonl`,
//! where the state dir is `$XDG_STATE_HOME`, else `~/.local/state`, else
//! `reports/.journal`. The first line names the run and the process; each
//! later line is one [`Entry`], flushed to disk before the change it announces.
//! A run that ended cleanly deletes its file; `squall heal` reads what is left
//! (together with the engine's labels, which are the ground truth) and removes
//! the file once the run is healed.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One change squall is about to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Entry {
    /// The run starts: its id and the pid of the squall process.
    Start { run: String, pid: u32 },
    /// A network is created.
    Network { name: String },
    /// A container is created.
    Container { name: String },
    /// An nft table is installed in a container's network namespace.
    Table { container: String, table: String },
    /// A container is killed (healed by starting it).
    Kill { container: String },
    /// A container is paused (healed by unpausing it).
    Pause { container: String },
    /// An error is injected into an instance (healed by clearing it).
    Error { container: String },
    /// Everything was undone.
    End,
}

/// The directory journals go to.
pub fn dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        });
    match base {
        Some(b) => b.join("squall").join("journal"),
        None => PathBuf::from("reports/.journal"),
    }
}

/// An open journal, appending.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens `<dir>/<run>.jsonl` and writes the [`Entry::Start`] line.
    pub fn create(run: &str) -> std::io::Result<Journal> {
        let dir = dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{run}.jsonl"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut journal = Journal { path, file };
        journal.write(&Entry::Start {
            run: run.to_owned(),
            pid: std::process::id(),
        })?;
        Ok(journal)
    }

    /// Appends `entry` and syncs it to disk before returning.
    pub fn write(&mut self, entry: &Entry) -> std::io::Result<()> {
        let line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        writeln!(self.file, "{line}")?;
        self.file.sync_data()
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run ended healed: the file goes.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.write(&Entry::End)?;
        std::fs::remove_file(&self.path)
    }
}

/// A journal found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    pub run: String,
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

impl Found {
    /// The pid that wrote it, if its first line says.
    pub fn pid(&self) -> Option<u32> {
        self.entries.iter().find_map(|e| match e {
            Entry::Start { pid, .. } => Some(*pid),
            _ => None,
        })
    }

    /// Whether the process that wrote it is still running (on this host).
    /// What the run's entries say it may have left on the engine, one line
    /// per kind of object, for people: the network, the containers, and which
    /// of them it paused, killed or gave nft tables or injected errors.
    pub fn left(&self) -> Vec<String> {
        let mut network = Vec::new();
        let (mut containers, mut paused, mut tables) = (Vec::new(), Vec::new(), Vec::new());
        for entry in &self.entries {
            let (list, name) = match entry {
                Entry::Network { name } => (&mut network, name),
                Entry::Container { name } => (&mut containers, name),
                Entry::Pause { container } => (&mut paused, container),
                Entry::Table { container, .. } => (&mut tables, container),
                _ => continue,
            };
            if !list.contains(name) {
                list.push(name.clone());
            }
        }
        [
            ("network", network),
            ("containers", containers),
            ("paused (perhaps since unpaused)", paused),
            ("with nft tables", tables),
        ]
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what}: {}", names.join(", ")))
        .collect()
    }

    pub fn writer_alive(&self) -> bool {
        self.pid()
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    }
}

/// Every journal in [`dir`], sorted by run id. Unreadable lines are skipped.
pub fn list() -> Vec<Found> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir()) else {
        return out;
    };
    for item in read.flatten() {
        let path = item.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let Some(run) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let entries = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect();
        out.push(Found { run, path, entries });
    }
    out.sort_by(|a, b| a.run.cmp(&b.run));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_one_json_object_a_line() {
        let e = Entry::Table {
            container: "squall-r1-ledger-1".into(),
            table: "squall_r1".into(),
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"op":"table","container":"squall-r1-ledger-1","table":"squall_r1"}"#
        );
        assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), e);
    }
}
