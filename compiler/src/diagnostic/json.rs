//! The machine-readable form of diagnostics, printed by `vst check --format json` and documented in
//! `docs/diagnostics.md` ("JSON output"). The schema is versioned by [`SCHEMA`]: fields may be added, but none
//! is renamed or removed without a new version.

use super::{Diagnostic, Diagnostics, Label, Note, Severity};
use crate::source::SourceMap;
use crate::syntax::Span;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The name and version of the schema, the first field of every report.
pub const SCHEMA: &str = "vst-diagnostics/1";

/// All the diagnostics of one `vst check` run (one or more recipes), then a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub diagnostics: Vec<JsonDiagnostic>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Recipes checked (including those that could not be read).
    pub recipes: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// One diagnostic. Its place is that of its primary label; all place fields are `null` when it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonDiagnostic {
    /// The recipe given to `vst check` whose compilation found this (the file may be one it includes).
    pub recipe: String,
    /// `"error"` or `"warning"`.
    pub severity: String,
    /// The stable code from the catalogue, e.g. `"E0301"`.
    pub code: String,
    /// The catalogue's title of the code, e.g. `"unknown key"`.
    pub title: String,
    pub message: String,
    #[serde(flatten)]
    pub location: Location,
    /// Every labelled span, the primary one (if any) first.
    pub labels: Vec<JsonLabel>,
    pub notes: Vec<JsonNote>,
    pub help: Vec<String>,
    /// The text form, exactly as `vst check` prints it without `--format json` (no colour).
    pub rendered: String,
}

/// Where a span is: 1-based lines and columns (columns count characters), and 0-based byte offsets. The end is
/// exclusive: the position just after the last character covered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub file: Option<String>,
    pub line_start: Option<usize>,
    pub column_start: Option<usize>,
    pub line_end: Option<usize>,
    pub column_end: Option<usize>,
    pub byte_start: Option<usize>,
    pub byte_end: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonLabel {
    #[serde(flatten)]
    pub location: Location,
    pub text: Option<String>,
    /// The primary label is where the finding is; the others point at related places.
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonNote {
    pub message: String,
    #[serde(flatten)]
    pub location: Location,
}

impl Default for Report {
    fn default() -> Report {
        Report {
            schema: SCHEMA.to_string(),
            diagnostics: Vec::new(),
            summary: Summary::default(),
        }
    }
}

impl Report {
    /// Adds the diagnostics of one compiled recipe.
    pub fn add(&mut self, recipe: &Path, diagnostics: &Diagnostics, sources: &SourceMap) {
        self.summary.recipes += 1;
        for d in &diagnostics.items {
            match d.severity {
                Severity::Error => self.summary.errors += 1,
                Severity::Warning => self.summary.warnings += 1,
            }
            self.diagnostics
                .push(JsonDiagnostic::new(recipe, d, sources));
        }
    }

    /// Counts a recipe that could not be read at all (reported on stderr, exit code 2).
    pub fn add_unreadable(&mut self) {
        self.summary.recipes += 1;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }
}

impl JsonDiagnostic {
    pub fn new(recipe: &Path, d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        JsonDiagnostic {
            recipe: recipe.display().to_string(),
            severity: severity.to_string(),
            code: d.kind.code().to_string(),
            title: d.kind.title().to_string(),
            message: d.message.clone(),
            location: Location::of(d.primary().map(|l| l.span), sources),
            labels: d
                .labels
                .iter()
                .map(|l: &Label| JsonLabel {
                    location: Location::of(Some(l.span), sources),
                    text: l.text.clone(),
                    primary: l.primary,
                })
                .collect(),
            notes: d
                .notes
                .iter()
                .map(|n: &Note| JsonNote {
                    message: n.message.clone(),
                    location: Location::of(n.span, sources),
                })
                .collect(),
            help: d.help.clone(),
            rendered: d.render(sources),
        }
    }
}

impl Location {
    fn of(span: Option<Span>, sources: &SourceMap) -> Location {
        let Some(span) = span else {
            return Location::default();
        };
        let Some(file) = sources.get(span.file) else {
            return Location::default();
        };
        let (line_start, column_start) = file.line_col(span.start as usize);
        let (line_end, column_end) = file.line_col(span.end as usize);
        Location {
            file: Some(file.path.display().to_string()),
            line_start: Some(line_start),
            column_start: Some(column_start),
            line_end: Some(line_end),
            column_end: Some(column_end),
            byte_start: Some(span.start as usize),
            byte_end: Some(span.end as usize),
        }
    }
}
