//! The compiler's diagnostics as LSP diagnostics, made from exactly what `vst check --format json` reports (its
//! [`JsonDiagnostic`]s): code, severity, message, the primary place as the range, the other labels and the placed
//! notes as related information, the unplaced notes and the help as further lines of the message.

use super::documents::uri_of;
use super::position;
use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, Url,
};
use std::collections::BTreeMap;
use std::path::Path;
use vst_compiler::Compilation;
use vst_compiler::diagnostic::json::{self, JsonDiagnostic, Report};
use vst_compiler::source::SourceMap;

/// The diagnostics of one compilation by file (the recipe and the files it includes); the root file is always
/// present, with an empty list when the recipe is clean.
pub fn by_file(root: &Url, compilation: &Compilation) -> BTreeMap<Url, Vec<Diagnostic>> {
    let mut report = Report::default();
    report.add(
        Path::new(root.as_str()),
        &compilation.diagnostics,
        &compilation.sources,
    );
    let mut out: BTreeMap<Url, Vec<Diagnostic>> = BTreeMap::new();
    out.insert(root.clone(), Vec::new());
    for d in &report.diagnostics {
        let (uri, range) = place(&d.location, root, &compilation.sources).unwrap_or_else(|| {
            (
                root.clone(),
                Range::new(Position::new(0, 0), Position::new(0, 0)),
            )
        });
        let mut diagnostic = convert(d, root, &compilation.sources);
        diagnostic.range = range;
        out.entry(uri).or_default().push(diagnostic);
    }
    out
}

fn convert(d: &JsonDiagnostic, root: &Url, sources: &SourceMap) -> Diagnostic {
    let mut message = d.message.clone();
    let mut related = Vec::new();
    for label in d.labels.iter().filter(|l| !l.primary) {
        if let Some((uri, range)) = place(&label.location, root, sources) {
            related.push(DiagnosticRelatedInformation {
                location: Location::new(uri, range),
                message: label.text.clone().unwrap_or_default(),
            });
        }
    }
    if let Some(text) = d
        .labels
        .iter()
        .find(|l| l.primary)
        .and_then(|l| l.text.as_ref())
    {
        message.push_str(&format!("\n{text}"));
    }
    for note in &d.notes {
        match place(&note.location, root, sources) {
            Some((uri, range)) => related.push(DiagnosticRelatedInformation {
                location: Location::new(uri, range),
                message: note.message.clone(),
            }),
            None => message.push_str(&format!("\nnote: {}", note.message)),
        }
    }
    for help in &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    Diagnostic {
        severity: Some(if d.severity == "error" {
            DiagnosticSeverity::ERROR
        } else {
            DiagnosticSeverity::WARNING
        }),
        code: Some(NumberOrString::String(d.code.clone())),
        source: Some("vst".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Diagnostic::default()
    }
}

/// The file and LSP range of a JSON location, None when it has no place (or names a file not in the sources).
/// The root file is the document's own URI (which may not be a `file:` one).
fn place(location: &json::Location, root: &Url, sources: &SourceMap) -> Option<(Url, Range)> {
    let name = location.file.as_deref()?;
    let (_, file) = sources
        .files()
        .find(|(_, f)| f.path.display().to_string() == name)?;
    let start = position::from_line_col(file, location.line_start?, location.column_start?);
    let end = position::from_line_col(file, location.line_end?, location.column_end?);
    let uri = if file.path == super::documents::path_of(root) {
        root.clone()
    } else {
        uri_of(&file.path)?
    };
    Some((uri, Range::new(start, end)))
}
