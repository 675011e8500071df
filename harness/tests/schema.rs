//! The published JSON Schemas (`docs/schema/`, docs/schema.md) against the
//! files squall really writes:
//!
//! - the committed schema files are the ones the structs generate
//!   (`squall::report::schema`), so they cannot go stale;
//! - every golden report (`harness/tests/golden/**/*.report.json`) validates
//!   against the report schema, and so does the `explore.json` of a real, short
//!   `squall explore` run (with a failure found and shrunk, so every part of the
//!   file is there) against the explore schema;
//! - both are also checked against a *closed* copy of their schema (no property
//!   the schema does not name), so a field the files carry but the schema lacks
//!   shows here too;
//! - a report with a field removed, of the wrong type or with another format
//!   number is rejected: the checks can fail.
//!
//! When a change to the report structs is meant to change the schema, rewrite
//! the committed files and commit them with the change:
//!
//! ```text
//! SQUALL_BLESS=1 cargo test -p squall --test schema
//! ```
//!
//! A change that removes, renames or retypes a field also bumps the format
//! (docs/schema.md), which renames the schema file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use squall::report::schema;

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir` whose name ends with `suffix`, sorted.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema).expect("the schema is a valid draft 2020-12 schema")
}

/// The validation errors of `instance`, one line each (empty: valid).
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// `schema` with every object that lists its properties closed to others:
/// what the files squall writes today must satisfy, though readers must not
/// count on it (fields may be added within a format).
fn closed(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), closed(v))).collect();
            if out.contains_key("properties") && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(closed).collect()),
        other => other.clone(),
    }
}

/// Asserts that `instance` validates against `schema`, open and closed.
fn assert_valid(schema: &Value, instance: &Value, what: &str) {
    for (name, s) in [
        ("schema", schema.clone()),
        ("closed schema", closed(schema)),
    ] {
        let errs = errors(&validator(&s), instance);
        assert!(
            errs.is_empty(),
            "{what} does not validate against the {name}:\n{}",
            errs.join("\n")
        );
    }
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let bless = std::env::var_os("SQUALL_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, generated) in [
        (schema::report_file_name(), schema::report()),
        (schema::explore_file_name(), schema::explore()),
    ] {
        let path = schema_dir().join(&name);
        let text = schema::to_text(&generated);
        if bless {
            std::fs::create_dir_all(schema_dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == text => {}
            Ok(_) => stale.push(format!("{name} differs from what the structs generate")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\n(regenerate with SQUALL_BLESS=1 cargo test -p squall --test schema, \
         and bump the format if a field was removed, renamed or retyped: docs/schema.md)",
        stale.join("\n")
    );
}

#[test]
fn no_other_schema_file_is_published() {
    // A bumped format leaves the old file behind only on purpose: list it here then.
    let mut names: Vec<String> = files_under(&schema_dir(), ".json")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        schema::explore_file_name(),
        schema::report_file_name(),
        // Format 1 of explore.json (failed invariants by label), frozen for
        // the files already written (docs/schema.md).
        "explore.v1.schema.json".to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn every_golden_report_validates_against_the_report_schema() {
    let goldens = files_under(&golden_dir(), ".report.json");
    assert!(
        goldens.len() >= 15,
        "expected every golden report, found {}",
        goldens.len()
    );
    assert!(
        goldens
            .iter()
            .any(|p| p.to_string_lossy().contains("regressions")),
        "the goldens under regressions/ are checked too"
    );
    let schema = schema::report();
    for path in &goldens {
        assert_valid(&schema, &read_json(path), &path.display().to_string());
    }
}

/// The card-auth golden, changed by `change`, and the errors the report schema finds in it.
fn errors_of_changed_report(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut report = read_json(&golden_dir().join("card-auth.report.json"));
    assert!(
        errors(&validator(&schema::report()), &report).is_empty(),
        "the unchanged report is valid"
    );
    change(&mut report);
    errors(&validator(&schema::report()), &report)
}

#[test]
fn a_report_with_a_field_missing_or_of_the_wrong_type_is_rejected() {
    let missing = errors_of_changed_report(|r| {
        r.as_object_mut().unwrap().remove("seed");
    });
    assert!(
        missing
            .iter()
            .any(|e| e.contains("\"seed\" is a required property")),
        "{missing:?}"
    );

    let nested = errors_of_changed_report(|r| {
        r["invariants"][0].as_object_mut().unwrap().remove("held");
    });
    assert!(
        nested.iter().any(|e| e.starts_with("/invariants/0")),
        "{nested:?}"
    );

    let wrong_type = errors_of_changed_report(|r| r["totals"]["p99_ms"] = "79ms".into());
    assert!(
        wrong_type.iter().any(|e| e.starts_with("/totals/p99_ms")),
        "{wrong_type:?}"
    );

    let phase = errors_of_changed_report(|r| {
        r["phases"].as_object_mut().unwrap().remove("recovery");
    });
    assert!(!phase.is_empty(), "every phase is required");

    let verdict = errors_of_changed_report(|r| r["verdict"] = "held".into());
    assert!(
        verdict.iter().any(|e| e.starts_with("/verdict")),
        "{verdict:?}"
    );

    let format = errors_of_changed_report(|r| r["format"] = 2.into());
    assert!(
        format.iter().any(|e| e.starts_with("/format")),
        "another format is another schema: {format:?}"
    );

    // An unknown field is allowed by the published schema (fields may be
    // added within a format) but not by the closed one this test holds
    // squall's own files to.
    let mut extra = read_json(&golden_dir().join("card-auth.report.json"));
    extra["new_field"] = 1.into();
    assert!(errors(&validator(&schema::report()), &extra).is_empty());
    assert!(!errors(&validator(&closed(&schema::report())), &extra).is_empty());
}

#[test]
fn a_real_explore_json_validates_against_the_explore_schema() {
    // overlap-weakness at seed 5 fails its fifth case, so the file has a
    // shrunk failure as well as cases. The copy keeps the regression file out
    // of scenarios/ (it goes under --out).
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("overlap-weakness.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/overlap-weakness.toml"),
        &scenario,
    )
    .unwrap();
    let out = dir.path().join("reports");
    let output = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["explore", scenario.to_str().unwrap(), "--out"])
        .arg(&out)
        .args([
            "--seed",
            "5",
            "--cases",
            "30",
            "--jobs",
            "2",
            "--color=never",
        ])
        .output()
        .expect("squall runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "explore finds the weakness:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let found = files_under(&out, "explore.json");
    assert_eq!(found.len(), 1, "{found:?}");
    let json = read_json(&found[0]);
    assert!(json["failure"].is_object(), "{json}");
    let schema = schema::explore();
    assert_valid(&schema, &json, "explore.json");

    // And the schema can fail: a case without its faults, a wrong type.
    let mut broken = json.clone();
    broken["cases"][0].as_object_mut().unwrap().remove("faults");
    assert!(!errors(&validator(&schema), &broken).is_empty());
    let mut broken = json;
    broken["failure"]["verified"] = "yes".into();
    assert!(!errors(&validator(&schema), &broken).is_empty());
}
