//! The docs cannot go stale: every `console` example in README.md and docs/
//! runs here and must print what the page says, every `toml` snippet parses
//! (and validates) as a scenario, and `cargo test-sim` lists every test
//! target but Docker's.
//!
//! Why not trycmd: its Markdown mode needs the same masks, and the examples
//! must show stderr (the check's findings) where a terminal shows it, in
//! order; a pipe shared by stdout and stderr gives exactly that without a
//! new dependency to build. The rules a page follows:
//!
//! - a ```console block holds `$ squall ARGS` lines, each followed by what it
//!   prints (stdout and stderr as a terminal interleaves them);
//! - `[WALL]` stands for a wall time (`4.8s`) and `[STAMP]` for a run's UTC
//!   time (`20261128T183754Z`), `[RATE]` for explore's cases per minute;
//!   every other character is checked exactly (the simulator is
//!   deterministic), except the progress lines a long run prints on stderr;
//! - a page's commands run in order in a directory of its own holding a copy
//!   of `scenarios/`, with `squall` found on the PATH (so `Rerun` lines say
//!   `squall run ...`) and `NO_COLOR=1`;
//! - a ```toml block whose first line is `# file: NAME` is written there as
//!   NAME before the commands that follow it, and `# append to: NAME` adds to
//!   it: the tutorial's files are its snippets, as the reader types them.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every page of docs/, in a fixed order.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// A fenced block: the page, the line of its opening fence, its language,
/// its text.
struct Block {
    page: String,
    line: usize,
    lang: String,
    text: String,
}

impl Block {
    /// `# file: NAME` or `# append to: NAME` on its first line: a scenario
    /// file the reader writes (or extends) before the next commands.
    fn file(&self) -> Option<(&str, bool)> {
        let first = self.text.lines().next()?;
        if let Some(name) = first.strip_prefix("# file: ") {
            Some((name.trim(), false))
        } else {
            first
                .strip_prefix("# append to: ")
                .map(|name| (name.trim(), true))
        }
    }
}

/// Every fenced block of every page, in page order.
fn all_blocks() -> Vec<Block> {
    let mut out = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page
            .strip_prefix(root())
            .unwrap_or(&page)
            .display()
            .to_string();
        let mut open: Option<(usize, String, String)> = None;
        for (i, line) in text.lines().enumerate() {
            match &mut open {
                None => {
                    if let Some(lang) = line.trim_start().strip_prefix("```") {
                        open = Some((i + 1, lang.trim().to_owned(), String::new()));
                    }
                }
                Some((start, lang, body)) => {
                    if line.trim_start().starts_with("```") {
                        out.push(Block {
                            page: name.clone(),
                            line: *start,
                            lang: std::mem::take(lang),
                            text: std::mem::take(body),
                        });
                        open = None;
                    } else {
                        body.push_str(line);
                        body.push('\n');
                    }
                }
            }
        }
    }
    out
}

/// The blocks fenced with ```` ```lang ````.
fn blocks(lang: &str) -> Vec<Block> {
    all_blocks()
        .into_iter()
        .filter(|b| b.lang == lang)
        .collect()
}

// ---------------------------------------------------------------- cargo test-sim

/// Test targets of a package: `tests/NAME.rs` and `tests/NAME/main.rs`.
fn test_targets(package: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(package.join("tests")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && path.join("main.rs").exists()
            || path.extension().is_some_and(|e| e == "rs")
        {
            names.push(stem);
        }
    }
    names
}

#[test]
fn the_test_sim_alias_lists_every_test_target_but_docker() {
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join(".cargo/config.toml")).unwrap())
            .unwrap();
    let alias: Vec<&str> = config["alias"]["test-sim"]
        .as_array()
        .expect("alias test-sim is a list")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let listed: BTreeSet<&str> = alias
        .windows(2)
        .filter(|w| w[0] == "--test")
        .map(|w| w[1])
        .collect();
    let mut targets: BTreeSet<String> = BTreeSet::new();
    for package in ["harness", "fixtures", "examples/payments"] {
        targets.extend(test_targets(&root().join(package)));
    }
    assert!(targets.remove("docker"), "the Docker test target moved");
    let targets: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
    assert_eq!(
        listed, targets,
        "`cargo test-sim` in .cargo/config.toml must list every test target but docker"
    );
    for arg in ["--workspace", "--lib", "--bins"] {
        assert!(alias.contains(&arg), "{arg} missing from {alias:?}");
    }
}

// ---------------------------------------------------------------- toml snippets

/// `text` without its top-level `[name]` table (up to the next top-level
/// table), so a snippet can put its own.
fn without_table(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let header = line.trim_start();
        if header.starts_with('[') && !header.starts_with("[[") {
            skipping = header == format!("[{name}]");
        } else if header.starts_with("[[") {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Parses and validates `text` as a scenario, its `[explore]` section included.
fn validate(text: &str, path: &Path) -> Result<(), String> {
    squall::scenario::parse(text, path).map_err(|e| e.to_string())?;
    Ok(())
}

/// Every `toml` block of the docs is a scenario that parses and validates, or
/// a part of one (a section) that does once added to one of `scenarios/`.
#[test]
fn every_toml_snippet_in_the_docs_is_a_valid_scenario_or_section() {
    let mut bases: Vec<(String, String)> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    bases.sort();
    let snippets = blocks("toml");
    assert!(snippets.len() >= 4, "only {} toml blocks", snippets.len());
    // Files a page has the reader write, by (page, name).
    let mut files: std::collections::BTreeMap<(String, String), String> = Default::default();
    for b in &snippets {
        let path = PathBuf::from(format!("{}:{}", b.page, b.line));
        if let Some((name, append)) = b.file() {
            let key = (b.page.clone(), name.to_owned());
            let text = if append {
                let before = files.get(&key).unwrap_or_else(|| {
                    panic!(
                        "{}:{}: appends to {name}, not written before",
                        b.page, b.line
                    )
                });
                format!("{before}\n{}", b.text)
            } else {
                b.text.clone()
            };
            if let Err(e) = validate(&text, &path) {
                panic!("{}:{}: {name} does not validate: {e}", b.page, b.line);
            }
            files.insert(key, text);
            continue;
        }
        if b.text.contains("[workload]") {
            if let Err(e) = validate(&b.text, &path) {
                panic!("{}:{}: the scenario does not validate: {e}", b.page, b.line);
            }
            continue;
        }
        let mut errors = Vec::new();
        let fits = bases.iter().any(|(name, base)| {
            let mut text = base.clone();
            for table in ["explore", "docker", "sim"] {
                if b.text.contains(&format!("[{table}]")) {
                    text = without_table(&text, table);
                }
            }
            text.push('\n');
            text.push_str(&b.text);
            validate(&text, &path)
                .map_err(|e| errors.push(format!("{name}: {e}")))
                .is_ok()
        });
        assert!(
            fits,
            "{}:{}: the snippet fits no scenario of scenarios/:\n{}",
            b.page,
            b.line,
            errors.join("\n")
        );
    }
}

// ---------------------------------------------------------------- console examples

/// `s` with every number that `before` precedes and `after` follows (digits
/// and at most one dot) replaced by `mask`.
fn mask_between(s: &str, before: &str, after: &str, mask: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(before) {
        let start = i + before.len();
        let tail = &rest[start..];
        let len = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tail.len());
        if len > 0 && tail[len..].starts_with(after) {
            out.push_str(&rest[..start]);
            out.push_str(mask);
            rest = &tail[len..];
        } else {
            out.push_str(&rest[..start]);
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// `20261128T183754Z` -> `[STAMP]`.
fn mask_stamps(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let is_stamp = i + 16 <= b.len()
            && b[i..i + 8].iter().all(u8::is_ascii_digit)
            && b[i + 8] == b'T'
            && b[i + 9..i + 15].iter().all(u8::is_ascii_digit)
            && b[i + 15] == b'Z';
        if is_stamp {
            out.push_str("[STAMP]");
            i += 16;
            // `-seed1-2/`: a second run in the same second gets a suffix.
            if let Some(rest) = s[i..].strip_prefix("-seed") {
                let seed = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let after = &rest[seed..];
                if let Some(tail) = after.strip_prefix('-') {
                    let n = tail
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(tail.len());
                    if n > 0 && tail[n..].starts_with('/') {
                        out.push_str(&s[i..i + 5 + seed]);
                        i += 5 + seed + 1 + n;
                    }
                }
            }
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// What varies between runs, masked; progress lines dropped.
fn normalise(output: &str) -> String {
    let mut kept = String::new();
    for line in output.lines() {
        let t = line.trim_start();
        let progress = (t.starts_with("Running  ") && t.ends_with(" simulated"))
            || (t.starts_with("Exploring  ") && t.contains(" cases, ") && t.contains("/min"))
            || t.starts_with("Shrinking  ");
        if !progress {
            kept.push_str(line.trim_end());
            kept.push('\n');
        }
    }
    let s = mask_between(&kept, "(", "s wall)", "[WALL]");
    let s = mask_between(&s, " in ", "s (", "[WALL]");
    let s = mask_between(&s, "(", " cases/min", "[RATE]");
    // `(4.8s wall)` reads `([WALL] wall)`: the unit goes with the figure.
    mask_stamps(&s).replace("[WALL]s", "[WALL]")
}

/// Copies `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// Runs `squall ARGS` (shell words, no quoting needed by the docs) in `dir`,
/// stdout and stderr on one pipe, as a terminal shows them.
fn run(dir: &Path, bin: &Path, args: &str) -> (Option<i32>, String) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("squall")
        .args(args.split_whitespace())
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .expect("squall starts");
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    (status.code(), out)
}

#[test]
fn every_console_example_in_the_docs_prints_what_it_says() {
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_squall"), bin.join("squall")).unwrap();
    let all = all_blocks();
    let examples = all.iter().filter(|b| b.lang == "console").count();
    assert!(examples >= 3, "only {examples} console blocks");
    let mut failures = Vec::new();
    // One directory per page, with a copy of scenarios/: a page's commands
    // run in order there, after the files its earlier blocks had the reader
    // write, as a reader following it would.
    let mut dirs: std::collections::BTreeMap<String, PathBuf> = Default::default();
    for b in &all {
        let dir = dirs
            .entry(b.page.clone())
            .or_insert_with(|| {
                let dir = work.path().join(b.page.replace('/', "-"));
                copy_dir(&root().join("scenarios"), &dir.join("scenarios"));
                dir
            })
            .clone();
        if b.lang == "toml" {
            if let Some((name, append)) = b.file() {
                let path = dir.join(name);
                let text = if append {
                    std::fs::read_to_string(&path).unwrap() + "\n" + &b.text
                } else {
                    b.text.clone()
                };
                std::fs::write(&path, text).unwrap();
            }
            continue;
        }
        if b.lang != "console" {
            continue;
        }
        // Each command with the lines after it, up to the next command.
        let mut commands: Vec<(String, String)> = Vec::new();
        for line in b.text.lines() {
            if let Some(cmd) = line.strip_prefix("$ ") {
                commands.push((cmd.to_owned(), String::new()));
            } else if let Some((_, expected)) = commands.last_mut() {
                expected.push_str(line);
                expected.push('\n');
            }
        }
        assert!(
            !commands.is_empty(),
            "{}:{}: a console block without a `$ ` command",
            b.page,
            b.line
        );
        for (cmd, expected) in &commands {
            let args = cmd.strip_prefix("squall ").unwrap_or_else(|| {
                panic!("{}:{}: `{cmd}` is not a squall command", b.page, b.line)
            });
            let (_, out) = run(&dir, &bin, args);
            let got = normalise(&out);
            let want = normalise(expected);
            if got != want {
                failures.push(format!(
                    "{}:{}: `{cmd}` printed\n{got}\n-- but the page says --\n{want}",
                    b.page, b.line
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn masks_hide_only_what_varies() {
    assert_eq!(
        normalise("     Summary  5 held, 0 failed in 60s simulated (4.8s wall)  -> reports/c/20261128T183754Z-seed1/\n"),
        "     Summary  5 held, 0 failed in 60s simulated ([WALL] wall)  -> reports/c/[STAMP]-seed1/\n"
    );
    assert_eq!(
        normalise("     Running  12s of 60s simulated\n        HELD  x\n"),
        "        HELD  x\n"
    );
    assert_eq!(
        normalise("-> reports/s/20261128T183754Z-seed12-2/\n"),
        "-> reports/s/[STAMP]-seed12/\n"
    );
    // A simulated duration is not a wall time.
    assert_eq!(normalise("in 60s simulated\n"), "in 60s simulated\n");
}
