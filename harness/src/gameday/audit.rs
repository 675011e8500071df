//! The audit log of a game day: one JSON line per decision and action (the
//! plan, each target refused, the run approved, each injection and heal,
//! each abort and halt), append-only and hash-chained, so that what was done
//! to a shared system can be shown afterwards and a line edited since fails
//! [`verify`].
//!
//! Each line carries `prev` (the `hash` of the line before it; 64 zeros for
//! the first) and `hash`, the SHA-256 of `prev` followed by the line's
//! other fields serialized in a fixed order ([`Body`]). Changing, removing or
//! reordering any line breaks the chain at that line; cutting lines off the
//! end is seen by comparing the last hash with the one the report records.
//! Each line is flushed to the file (`sync_data`) before the action it
//! announces, like the journal ([`crate::docker::journal`]). Several squalls
//! append to one log (a run, and a `halt` from another terminal): each
//! append holds an exclusive `flock` on the file and chains onto the line
//! that is last at that moment, not the last one it wrote itself.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of a chain's first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What one line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The plan was made and its hash computed.
    Plan,
    /// A candidate container was refused as a target, and why.
    TargetRefused,
    /// The run matched its plan and started.
    Approved,
    /// A fault is about to be applied to a target.
    Inject,
    /// An injection was skipped at its moment (re-check or floor), and why.
    Skipped,
    /// A fault's effects were undone.
    Heal,
    /// The run stopped early: a halt, a signal, a target gone; `detail` says which.
    Abort,
    /// `squall gameday halt`.
    Halt,
    /// `squall gameday unhalt`.
    Unhalt,
    /// The run ended and everything it did was undone.
    End,
}

/// A line's fields, without its own hash, in the order they are hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// RFC 3339, UTC, to the millisecond.
    pub ts: String,
    /// 0, 1, 2... along the file.
    pub seq: u64,
    /// The run id (`r1a2b3c4d`), or empty for a halt outside any run.
    pub run: String,
    /// Who: `$USER` (or `$LOGNAME`), `@` the host.
    pub user: String,
    pub event: Event,
    /// The plan's hash, once there is one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan: String,
    /// The container the line is about (name), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// What happened, for a reader.
    pub detail: String,
}

/// One line as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    #[serde(flatten)]
    pub body: Body,
    pub prev: String,
    pub hash: String,
}

/// SHA-256 of `prev` then the body's JSON, in lowercase hex.
fn chain(prev: &str, body: &Body) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    // Serializing a struct of strings and integers cannot fail.
    h.update(serde_json::to_vec(body).unwrap_or_default());
    hex(&h.finalize())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who is acting: `$USER` (or `$LOGNAME`) `@` the host name.
pub fn user() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{name}@{host}")
}

/// An audit log open for appending.
pub struct Audit {
    path: PathBuf,
    run: String,
    plan: String,
    /// The hash of the last line this process wrote.
    last: String,
}

impl Audit {
    /// Opens (or creates) the log at `path` for run `run`, continuing its
    /// chain: the file is read and verified first, so a log that was
    /// tampered with is not extended as if it were sound.
    pub fn open(path: &Path, run: &str) -> Result<Audit, AuditError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| AuditError::io(path, e))?;
        }
        let last = if path.exists() {
            verify(path)?.last
        } else {
            GENESIS.to_owned()
        };
        Ok(Audit {
            path: path.to_owned(),
            run: run.to_owned(),
            plan: String::new(),
            last,
        })
    }

    /// The plan hash every later line carries.
    pub fn set_plan(&mut self, hash: &str) {
        hash.clone_into(&mut self.plan);
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hash of the last line written.
    pub fn last(&self) -> &str {
        &self.last
    }

    /// Appends one line and flushes it to disk, holding the file's lock.
    pub fn write(&mut self, event: Event, target: &str, detail: &str) -> Result<(), AuditError> {
        let io = |e| AuditError::io(&self.path, e);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        let _lock = Flock::exclusive(&file).map_err(io)?;
        let (seq, prev) = tail(&file).map_err(io)?;
        let body = Body {
            ts: rfc3339_millis(SystemTime::now()),
            seq,
            run: self.run.clone(),
            user: user(),
            event,
            plan: self.plan.clone(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        let hash = chain(&prev, &body);
        let line = Line {
            body,
            prev,
            hash: hash.clone(),
        };
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        (&file)
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io)?;
        self.last = hash;
        Ok(())
    }
}

/// The next `seq` and the last line's hash, from the file as it is now
/// (read under the lock; the chain was verified when the log was opened).
fn tail(mut file: &File) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    file.seek(std::io::SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    let Some(last) = text.lines().next_back() else {
        return Ok((0, GENESIS.to_owned()));
    };
    let line: Line = serde_json::from_str(last).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("its last line is not an audit line: {e}"),
        )
    })?;
    Ok((line.body.seq + 1, line.hash))
}

/// An exclusive `flock` on a file, released when dropped. Written by hand
/// because std's `File::lock` needs Rust 1.89 and squall's MSRV is 1.88.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn exclusive(file: &'a File) -> std::io::Result<Flock<'a>> {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor this `File` owns and keeps open
        // for the guard's lifetime.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `exclusive`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// A chain that held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub lines: u64,
    /// The last line's hash ([`GENESIS`] for an empty file).
    pub last: String,
}

/// Why an audit log could not be read or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot use the audit log {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}:{line}: {reason}")]
    Broken {
        path: String,
        line: u64,
        reason: String,
    },
}

impl AuditError {
    fn io(path: &Path, e: std::io::Error) -> AuditError {
        AuditError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// Checks every line's chain: each `prev` is the hash before it, each
/// `hash` is what the line's fields give, `seq` counts from 0.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    let file = File::open(path).map_err(|e| AuditError::io(path, e))?;
    let mut last = GENESIS.to_owned();
    let mut lines = 0u64;
    for (n, text) in BufReader::new(file).lines().enumerate() {
        let number = n as u64 + 1;
        let broken = |reason: String| AuditError::Broken {
            path: path.display().to_string(),
            line: number,
            reason,
        };
        let text = text.map_err(|e| AuditError::io(path, e))?;
        let line: Line =
            serde_json::from_str(&text).map_err(|e| broken(format!("not an audit line: {e}")))?;
        if line.prev != last {
            return Err(broken(format!(
                "`prev` is {} but the line before hashes to {last}: a line was removed, reordered or inserted",
                line.prev
            )));
        }
        if line.body.seq != lines {
            return Err(broken(format!(
                "`seq` is {} where {lines} was due",
                line.body.seq
            )));
        }
        let hash = chain(&line.prev, &line.body);
        if line.hash != hash {
            return Err(broken(format!(
                "the line was changed after it was written: its fields hash to {hash}, not to the {} it carries",
                line.hash
            )));
        }
        last = line.hash;
        lines += 1;
    }
    Ok(Verified { lines, last })
}

/// `t` as RFC 3339 in UTC with milliseconds: `2026-12-08T01:02:03.456Z`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (_, seconds) = crate::report::utc_stamp(t);
    // `utc_stamp` gives `...T01:02:03Z`; add the milliseconds.
    match seconds.strip_suffix('Z') {
        Some(s) => format!("{s}.{:03}Z", since.subsec_millis()),
        None => seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_verifies_and_any_edit_breaks_it_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut audit = Audit::open(&path, "r1").unwrap();
        audit.write(Event::Plan, "", "planned").unwrap();
        audit.set_plan("abc");
        audit.write(Event::Inject, "ledger-1", "pause").unwrap();
        audit.write(Event::Heal, "ledger-1", "unpause").unwrap();
        let verified = verify(&path).unwrap();
        assert_eq!(verified.lines, 3);
        assert_eq!(verified.last, audit.last());

        // A second run continues the same chain.
        let mut again = Audit::open(&path, "r2").unwrap();
        again.write(Event::Halt, "", "stop").unwrap();
        assert_eq!(verify(&path).unwrap().lines, 4);

        // Two writers on one log (a run, and a halt from another terminal)
        // chain onto each other's lines.
        let mut run = Audit::open(&path, "r4").unwrap();
        let mut halt = Audit::open(&path, "").unwrap();
        run.write(Event::Inject, "ledger-2", "paused").unwrap();
        halt.write(Event::Halt, "", "stop").unwrap();
        run.write(Event::Heal, "ledger-2", "healed").unwrap();
        assert_eq!(verify(&path).unwrap().lines, 7);
        let text = std::fs::read_to_string(&path).unwrap();

        let edited = text.replacen("\"pause\"", "\"latency\"", 1);
        assert_ne!(edited, text);
        std::fs::write(&path, &edited).unwrap();
        match verify(&path) {
            Err(AuditError::Broken { line, reason, .. }) => {
                assert_eq!(line, 2);
                assert!(reason.contains("changed after it was written"), "{reason}");
            }
            other => panic!("expected a broken chain, got {other:?}"),
        }
        // Extending a broken log is refused.
        assert!(Audit::open(&path, "r3").is_err());

        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        match verify(&path) {
            Err(AuditError::Broken { line, reason, .. }) => {
                assert_eq!(line, 2);
                assert!(reason.contains("removed"), "{reason}");
            }
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn timestamps_are_rfc3339_with_milliseconds() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_765_155_723_456);
        assert_eq!(rfc3339_millis(t), "2025-12-08T01:02:03.456Z");
    }
}
