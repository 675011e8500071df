//! The JSON Schemas of the files squall writes for machines: `report.json`
//! ([`report`]) and `explore.json` ([`explore`]), published in `docs/schema/`
//! (docs/schema.md says how to use them).
//!
//! They are generated from the same structs serde writes the files from
//! (schemars, for the serialised shape: a field written only when set is not
//! `required`), so a field added to a struct is in the schema at once, with its
//! doc comment as its description. The committed files are compared with what
//! this module generates (`harness/tests/schema.rs`; `SQUALL_BLESS=1`
//! rewrites them), so they cannot go stale.
//!
//! Each schema is versioned by its file's format number: `$id` and the file
//! name carry it (`report.v1.schema.json`), and the schema pins the file's
//! `format` field to it. The schemas leave objects open (no
//! `additionalProperties: false`): within a version fields may be added, and a
//! reader must ignore the ones it does not know.

use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

use crate::explore::report::{ExploreReport, FORMAT as EXPLORE_FORMAT};
use crate::report::json::{Report, FORMAT};

/// `report.v1.schema.json`: the file name of `report.json`'s schema.
pub fn report_file_name() -> String {
    format!("report.v{FORMAT}.schema.json")
}

/// `explore.v2.schema.json`: the file name of `explore.json`'s schema.
pub fn explore_file_name() -> String {
    format!("explore.v{EXPLORE_FORMAT}.schema.json")
}

/// The JSON Schema (draft 2020-12) of `report.json`, format [`FORMAT`].
pub fn report() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Report>();
    versioned(
        schema.to_value(),
        "report",
        FORMAT,
        "squall report.json",
        "The reproducible account of one `squall run`: in the simulator, the same \
         scenario and seed give the same bytes. Durations are in the unit their \
         name ends with (`_ms`, `_s`).",
    )
}

/// The JSON Schema (draft 2020-12) of `explore.json`, format [`EXPLORE_FORMAT`].
pub fn explore() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<ExploreReport>();
    versioned(
        schema.to_value(),
        "explore",
        EXPLORE_FORMAT,
        "squall explore.json",
        "What one `squall explore` did: every case run, and the first failure, shrunk.",
    )
}

/// `schema` with its `$id`, title and description, and its `format` property
/// pinned to `format`.
fn versioned(schema: Value, name: &str, format: u32, title: &str, about: &str) -> Value {
    let Value::Object(generated) = schema else {
        // schemars always generates an object for a struct.
        return schema;
    };
    let mut out = serde_json::Map::new();
    if let Some(meta) = generated.get("$schema") {
        out.insert("$schema".into(), meta.clone());
    }
    out.insert(
        "$id".into(),
        json!(format!("urn:squall:schema:{name}:v{format}")),
    );
    out.insert("title".into(), json!(format!("{title}, format {format}")));
    let description = match generated.get("description").and_then(Value::as_str) {
        Some(d) => format!("{about}\n\n{d}"),
        None => about.to_owned(),
    };
    out.insert("description".into(), json!(description));
    for (key, value) in generated {
        if !out.contains_key(&key) {
            out.insert(key, value);
        }
    }
    if let Some(Value::Object(f)) = out.get_mut("properties").and_then(|p| p.get_mut("format")) {
        f.insert("const".into(), json!(format));
    }
    Value::Object(out)
}

/// A schema as the committed file holds it: pretty-printed, newline-terminated.
pub fn to_text(schema: &Value) -> String {
    // A `Value` always serialises.
    serde_json::to_string_pretty(schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schemas_are_versioned_by_the_format_field() {
        let report = report();
        assert_eq!(report["$id"], "urn:squall:schema:report:v1");
        assert_eq!(report["properties"]["format"]["const"], FORMAT);
        assert_eq!(report_file_name(), "report.v1.schema.json");
        let explore = explore();
        assert_eq!(explore["$id"], "urn:squall:schema:explore:v2");
        assert_eq!(explore_file_name(), "explore.v2.schema.json");
        assert_eq!(explore["properties"]["format"]["const"], EXPLORE_FORMAT);
    }

    #[test]
    fn a_field_written_only_when_set_is_not_required() {
        let report = report();
        let required = report["required"].as_array().unwrap();
        assert!(required.contains(&json!("seed")));
        assert!(!required.contains(&json!("interrupted")));
        assert!(report["properties"].get("interrupted").is_some());
    }
}
