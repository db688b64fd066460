//! Errors and warnings about a recipe, rendered the way rustc, just and typst do:
//!
//! ```text
//! error[E0301]: unknown key `objectiv` in `pretrain`
//!   --> recipes/x.vst:12:3
//!    |
//! 12 |   objectiv: byol
//!    |   ^^^^^^^^
//!    |
//! help: did you mean `objective`?
//! ```
//!
//! Every diagnostic has one [`Kind`] from the [`catalogue`], which gives its stable code; `render` writes the
//! text above, [`json`] the form of `vst check --format json`.

pub mod catalogue;
pub mod json;
mod render;

pub use catalogue::Kind;

use crate::source::SourceMap;
use crate::syntax::Span;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A span to underline, with an optional short text after the underline. The primary label (at most one) is
/// where the finding is; the others point at related places ("first set here").
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub text: Option<String>,
    pub primary: bool,
}

/// A further remark: with a span it is shown as its own snippet (e.g. "first set here"), without one as a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub message: String,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub kind: Kind,
    pub severity: Severity,
    pub message: String,
    /// The primary label first, if any, then the secondary ones in the order they were added. (One list keeps a
    /// `Result<_, Diagnostic>` small.)
    pub labels: Vec<Label>,
    pub notes: Vec<Note>,
    pub help: Vec<String>,
}

impl Diagnostic {
    /// An error of `kind` (an `E…` code).
    pub fn error(kind: Kind, message: impl Into<String>) -> Diagnostic {
        debug_assert_eq!(kind.severity(), Severity::Error, "{kind:?} is a warning");
        Diagnostic {
            kind,
            severity: Severity::Error,
            message: message.into(),
            labels: vec![],
            notes: vec![],
            help: vec![],
        }
    }

    /// A warning of `kind` (a `W…` code).
    pub fn warning(kind: Kind, message: impl Into<String>) -> Diagnostic {
        debug_assert_eq!(kind.severity(), Severity::Warning, "{kind:?} is an error");
        Diagnostic {
            kind,
            severity: Severity::Warning,
            message: message.into(),
            labels: vec![],
            notes: vec![],
            help: vec![],
        }
    }

    /// Underline `span` (no text).
    pub fn at(self, span: Span) -> Diagnostic {
        self.set_primary(span, None)
    }

    /// Underline `span` with a short text after the carets.
    pub fn label(self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.set_primary(span, Some(text.into()))
    }

    /// A further labelled span, underlined with `-` beside the primary one (e.g. "first set here").
    pub fn secondary(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            text: Some(text.into()),
            primary: false,
        });
        self
    }

    fn set_primary(mut self, span: Span, text: Option<String>) -> Diagnostic {
        self.labels.retain(|l| !l.primary);
        self.labels.insert(
            0,
            Label {
                span,
                text,
                primary: true,
            },
        );
        self
    }

    /// Where the finding is, if it has a place.
    pub fn primary(&self) -> Option<&Label> {
        self.labels.first().filter(|l| l.primary)
    }

    pub fn note(mut self, message: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            message: message.into(),
            span: None,
        });
        self
    }

    pub fn note_at(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            message: message.into(),
            span: Some(span),
        });
        self
    }

    pub fn help(mut self, message: impl Into<String>) -> Diagnostic {
        self.help.push(message.into());
        self
    }

    /// Adds "did you mean `x`?" when a candidate is close enough.
    pub fn suggest(self, suggestion: Option<String>) -> Diagnostic {
        match suggestion {
            Some(s) => self.help(format!("did you mean `{s}`?")),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All the diagnostics of one compilation, in the order they were found.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        // The same finding from several sweep cells is reported once.
        if !self
            .items
            .iter()
            .any(|e| e.message == d.message && same_place(e, &d))
        {
            self.items.push(d);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.is_error())
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.items {
            self.push(d);
        }
    }

    /// Every diagnostic rendered, separated by blank lines, then a one-line summary.
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render_with(sources, color));
            out.push('\n');
        }
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        if errors > 0 {
            let _ = writeln!(
                out,
                "{}",
                plural(errors, "error")
                    + &if warnings > 0 {
                        format!(", {}", plural(warnings, "warning"))
                    } else {
                        String::new()
                    }
            );
        } else if warnings > 0 {
            let _ = writeln!(out, "{}", plural(warnings, "warning"));
        }
        out
    }
}

fn same_place(a: &Diagnostic, b: &Diagnostic) -> bool {
    match (a.primary(), b.primary()) {
        (Some(x), Some(y)) => {
            x.span.file == y.span.file && x.span.start == y.span.start && x.span.end == y.span.end
        }
        (None, None) => true,
        _ => false,
    }
}

/// The candidate closest to `name`, if close enough to be a likely misspelling.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, candidate);
        let distance = strsim::damerau_levenshtein(name, candidate);
        // Close in edit distance relative to length, or a strong prefix match.
        let plausible = distance <= (name.len().max(candidate.len()) / 3).max(1) || score > 0.88;
        if plausible && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_misspellings_and_ignore_strangers() {
        let keys = ["objective", "clips", "span", "schedule"];
        assert_eq!(closest("objectiv", keys).as_deref(), Some("objective"));
        assert_eq!(closest("clip", keys).as_deref(), Some("clips"));
        assert_eq!(closest("shedule", keys).as_deref(), Some("schedule"));
        assert_eq!(closest("xyz", keys), None);
        assert_eq!(closest("clips", keys), None);
    }
}
