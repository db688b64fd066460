//! The text form of a diagnostic, as rustc writes it: `error[E0301]: message`, then the source lines with the
//! labelled spans underlined, then notes and help.

use super::{Diagnostic, Severity};
use crate::source::SourceMap;
use crate::syntax::Span;
use std::fmt::Write as _;

impl Diagnostic {
    /// The rendered message, without colour.
    pub fn render(&self, sources: &SourceMap) -> String {
        self.render_with(sources, false)
    }

    /// The rendered message; `color` adds ANSI colours for a terminal.
    pub fn render_with(&self, sources: &SourceMap, color: bool) -> String {
        let style = Style { color };
        let mut out = String::new();
        let (word, accent) = match self.severity {
            Severity::Error => ("error", RED),
            Severity::Warning => ("warning", YELLOW),
        };
        let _ = writeln!(
            out,
            "{}{}",
            style.paint(accent, &format!("{word}[{}]", self.kind.code())),
            style.paint(BOLD, &format!(": {}", self.message))
        );

        let mut snippets: Vec<(Span, Option<&str>, char, &str)> = Vec::new();
        if let Some(label) = &self.primary {
            snippets.push((label.span, label.text.as_deref(), '^', accent));
        }
        let gutter = snippets
            .iter()
            .map(|(span, ..)| span)
            .chain(self.notes.iter().filter_map(|n| n.span.as_ref()))
            .filter_map(|span| {
                sources
                    .get(span.file)
                    .map(|f| f.line_col(span.start as usize).0)
            })
            .max()
            .map(|line| line.to_string().len())
            .unwrap_or(1);

        if let Some((span, text, mark, color)) = snippets.first() {
            render_snippet(
                &mut out, sources, *span, *text, *mark, color, gutter, &style,
            );
        }
        for note in &self.notes {
            match note.span.filter(|s| sources.get(s.file).is_some()) {
                Some(span) => {
                    let _ = writeln!(out, "{}: {}", style.paint(BLUE, "note"), note.message);
                    render_snippet(&mut out, sources, span, None, '-', BLUE, gutter, &style);
                }
                None => {
                    let _ = writeln!(out, "{}: {}", style.paint(BLUE, "note"), note.message);
                }
            }
        }
        for help in &self.help {
            let _ = writeln!(out, "{}: {}", style.paint(CYAN, "help"), help);
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn render_snippet(
    out: &mut String,
    sources: &SourceMap,
    span: Span,
    text: Option<&str>,
    mark: char,
    color: &str,
    gutter: usize,
    style: &Style,
) {
    let Some(file) = sources.get(span.file) else {
        return;
    };
    let (line, col) = file.line_col(span.start as usize);
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {}:{line}:{col}",
        style.paint(BLUE, "-->"),
        file.path.display()
    );
    let _ = writeln!(out, "{pad} {}", style.paint(BLUE, "|"));

    // Show the line with tabs expanded; the underline covers the span on this line (at least one column).
    let source_line = file.line(line);
    let line_start = file.line_start(line);
    let start_in_line = (span.start as usize)
        .saturating_sub(line_start)
        .min(source_line.len());
    let end_in_line = (span.end as usize)
        .saturating_sub(line_start)
        .min(source_line.len())
        .max(start_in_line);
    let expand = |s: &str| s.replace('\t', "    ");
    let before = source_line
        .get(..start_in_line)
        .map(expand)
        .unwrap_or_default();
    let covered = source_line
        .get(start_in_line..end_in_line)
        .map(expand)
        .unwrap_or_default();
    let width = covered.chars().count().max(1);
    let _ = writeln!(
        out,
        "{} {} {}",
        style.paint(BLUE, &format!("{line:>gutter$}")),
        style.paint(BLUE, "|"),
        expand(source_line)
    );
    let underline: String = std::iter::repeat_n(mark, width).collect();
    let mut marker = format!(
        "{}{}",
        " ".repeat(before.chars().count()),
        style.paint(color, &underline)
    );
    if let Some(text) = text {
        marker.push(' ');
        marker.push_str(&style.paint(color, text));
    }
    let _ = writeln!(out, "{pad} {} {marker}", style.paint(BLUE, "|"));
    let _ = writeln!(out, "{pad} {}", style.paint(BLUE, "|"));
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const BLUE: &str = "\x1b[1;34m";
const CYAN: &str = "\x1b[1;36m";
const BOLD: &str = "\x1b[1m";

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
