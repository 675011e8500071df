//! Errors in scenario files, located by file, line and column.
//!
//! Validation works on byte spans ([`Diag`]); only at the end are they turned into a
//! line and column against the text, so the checks need not carry the file around.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario file that cannot be used, and where it goes wrong.
///
/// Displays as `path:line:col: message`, then `  (hint: ...)` on a second line when
/// there is a hint. `line` and `col` are 1-based; both are 0 when the file could not
/// be read, and the position is then left out of the display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)?;
        } else {
            let (path, line, col) = (self.path.display(), self.line, self.col);
            write!(f, "{path}:{line}:{col}: {}", self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A problem at a byte span of the scenario text; becomes a [`ScenarioError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diag {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diag {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Diag {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn into_error(self, text: &str, path: &Path) -> ScenarioError {
        let (line, col) = line_col(text, self.span.start);
        ScenarioError {
            path: path.to_path_buf(),
            line,
            col,
            message: self.message,
            hint: self.hint,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Rewords the toml parser's and serde's messages in the house style.
pub(crate) fn from_toml(error: &toml::de::Error, text: &str) -> Diag {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde: "unknown field `replica`, expected one of `replicas`, `balancer`"
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let diag = Diag::new(span, format!("unknown key `{name}`"));
        let expected = expected.trim_start_matches(',').trim();
        return if expected == "there are no fields" {
            diag.hint("this table takes no keys")
        } else if expected.is_empty() {
            diag
        } else {
            diag.hint(expected)
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        return match name {
            "duration" => Diag::new(span, "missing required key `duration`")
                .hint("the length of the load phase, like `duration = \"60s\"`"),
            "workload" => Diag::new(span, "missing required table `[workload]`")
                .hint("it names the load: `target`, `path`, `rate` and `deadline`"),
            "services" => Diag::new(span, "missing required table `[services]`")
                .hint("declare at least one service, like `[services.gateway]`"),
            _ => Diag::new(span, format!("missing required key `{name}`")),
        };
    }
    if message == "duplicate key" {
        let key = text.get(span.clone()).unwrap_or("").trim();
        if !key.is_empty() {
            return Diag::new(span, format!("duplicate key `{key}`"));
        }
    }
    Diag::new(span, plain_types(message))
}

/// serde names Rust types ("expected struct RawSim", "expected u32"); say TOML's instead.
fn plain_types(message: &str) -> String {
    let Some((head, expected)) = message.split_once(", expected ") else {
        return message.to_string();
    };
    let expected = match expected {
        _ if expected.starts_with("struct ") || expected == "a map" => "a table",
        "a sequence" => "an array",
        "i64" | "i32" | "u8" | "u16" | "u32" => "an integer",
        "u64" => "a non-negative integer",
        "f64" | "f32" => "a number",
        other => other,
    };
    format!("{head}, expected {expected}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_characters() {
        let text = "a = 1\nµb = 2\n";
        let cases = [
            (0, (1, 1)),
            (4, (1, 5)),
            (6, (2, 1)),
            (8, (2, 2)),
            (99, (3, 1)),
        ];
        for (offset, expected) in cases {
            assert_eq!(line_col(text, offset), expected, "offset {offset}");
        }
    }

    #[test]
    fn displays_position_and_hint() {
        let error = ScenarioError {
            path: "scenarios/card-auth.toml".into(),
            line: 12,
            col: 9,
            message: "unknown fault kind `latncy`".into(),
            hint: Some("expected one of `kill`, `restart`".into()),
        };
        assert_eq!(
            error.to_string(),
            "scenarios/card-auth.toml:12:9: unknown fault kind `latncy`\n  \
             (hint: expected one of `kill`, `restart`)"
        );
        let unreadable = ScenarioError {
            line: 0,
            col: 0,
            hint: None,
            message: "cannot read file: not found".into(),
            ..error
        };
        assert_eq!(
            unreadable.to_string(),
            "scenarios/card-auth.toml: cannot read file: not found"
        );
    }
}
