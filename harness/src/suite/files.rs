//! Which scenario files a suite runs: what `squall suite PATH...` names.
//!
//! Each PATH is a file (run as given, whatever its extension), a directory
//! (every `*.toml` under it, recursively), or a glob (`scenarios/slow-*.toml`,
//! `nightly/**/*.toml`, matched by the `glob` crate; a directory it matches
//! is walked the same way). Within one PATH files come in sorted order;
//! across PATHs in the order given, each file once.

use std::path::{Path, PathBuf};

/// Why the files could not be listed (bad input: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("`{0}`: no such file or directory, and no file matches it as a glob")]
    NoMatch(String),
    #[error("`{0}`: no `*.toml` file in this directory or under it")]
    EmptyDir(String),
    #[error("`{pattern}`: not a valid glob: {reason}")]
    BadGlob { pattern: String, reason: String },
    #[error("`{0}`: cannot be read: {1}")]
    Unreadable(String, String),
}

/// The scenario files `paths` name, in order, each once.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FilesError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        for file in expand(path)? {
            if !out.contains(&file) {
                out.push(file);
            }
        }
    }
    Ok(out)
}

fn expand(path: &Path) -> Result<Vec<PathBuf>, FilesError> {
    let shown = path.display().to_string();
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if path.is_dir() {
        let found = walk(path)?;
        return if found.is_empty() {
            Err(FilesError::EmptyDir(shown))
        } else {
            Ok(found)
        };
    }
    let matches = glob::glob(&shown).map_err(|e| FilesError::BadGlob {
        pattern: shown.clone(),
        reason: e.msg.to_owned(),
    })?;
    let mut found = Vec::new();
    for m in matches {
        let m = m.map_err(|e| FilesError::Unreadable(shown.clone(), e.to_string()))?;
        if m.is_dir() {
            found.extend(walk(&m)?);
        } else {
            found.push(m);
        }
    }
    if found.is_empty() {
        return Err(FilesError::NoMatch(shown));
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Every `*.toml` under `dir`, sorted.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, FilesError> {
    // The directory's own name is escaped: `[` in a path is not a glob.
    let pattern = format!(
        "{}/**/*.toml",
        glob::Pattern::escape(&dir.display().to_string())
    );
    let mut found = Vec::new();
    let matches = glob::glob(&pattern).map_err(|e| FilesError::BadGlob {
        pattern: pattern.clone(),
        reason: e.msg.to_owned(),
    })?;
    for m in matches {
        let m = m.map_err(|e| FilesError::Unreadable(dir.display().to_string(), e.to_string()))?;
        if m.is_file() {
            found.push(m);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dirs_and_globs_expand_in_order_each_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        for f in [
            "b.toml",
            "a.toml",
            "sub/c.toml",
            "sub/deeper/d.toml",
            "notes.md",
        ] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let got = files(&[root.join("sub"), root.join("*.toml"), root.join("a.toml")]).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["sub/c.toml", "sub/deeper/d.toml", "a.toml", "b.toml"]
        );

        let err = files(&[root.join("nope-*.toml")]).unwrap_err();
        assert!(matches!(err, FilesError::NoMatch(_)), "{err}");
        std::fs::create_dir(root.join("empty")).unwrap();
        let err = files(&[root.join("empty")]).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("no `*.toml` file in this directory or under it"));
        assert!(matches!(
            files(&[root.join("[")]),
            Err(FilesError::BadGlob { .. })
        ));
    }
}
