//! The text form of a diagnostic, as rustc writes it: `error[E0301]: message`, then the source lines with the
//! labelled spans underlined, then notes and help.

use super::{Diagnostic, Label, Severity};
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

        // The primary label and the secondary labels in its file share one snippet; labels elsewhere get their own.
        let marks: Vec<Mark<'_>> = self.labels.iter().map(|l| Mark::new(l, accent)).collect();
        let gutter = marks
            .iter()
            .map(|m| m.span)
            .chain(self.notes.iter().filter_map(|n| n.span))
            .filter_map(|span| {
                let file = sources.get(span.file)?;
                Some(file.line_col(last_byte(span)).0)
            })
            .max()
            .map(|line| line.to_string().len())
            .unwrap_or(1);

        let mut files: Vec<_> = Vec::new();
        for mark in &marks {
            if !files.contains(&mark.span.file) {
                files.push(mark.span.file);
            }
        }
        for file in files {
            let in_file: Vec<Mark<'_>> = marks
                .iter()
                .filter(|m| m.span.file == file)
                .cloned()
                .collect();
            render_snippet(&mut out, sources, &in_file, gutter, &style);
        }
        for note in &self.notes {
            let _ = writeln!(out, "{}: {}", style.paint(BLUE, "note"), note.message);
            if let Some(span) = note.span.filter(|s| sources.get(s.file).is_some()) {
                let mark = Mark {
                    span,
                    text: None,
                    mark: '-',
                    color: BLUE,
                };
                render_snippet(&mut out, sources, &[mark], gutter, &style);
            }
        }
        for help in &self.help {
            let _ = writeln!(out, "{}: {}", style.paint(CYAN, "help"), help);
        }
        out
    }
}

/// A span to underline in a snippet: `^` for the primary label, `-` for the others.
#[derive(Clone)]
struct Mark<'a> {
    span: Span,
    text: Option<&'a str>,
    mark: char,
    color: &'static str,
}

impl<'a> Mark<'a> {
    fn new(label: &'a Label, accent: &'static str) -> Mark<'a> {
        let (mark, color) = if label.primary {
            ('^', accent)
        } else {
            ('-', BLUE)
        };
        Mark {
            span: label.span,
            text: label.text.as_deref(),
            mark,
            color,
        }
    }
}

/// The offset of the last byte a span covers (its start when empty), to find its last line.
fn last_byte(span: Span) -> usize {
    (span.end as usize)
        .saturating_sub(1)
        .max(span.start as usize)
}

/// One snippet of one file: a `-->` header at the first mark, then every line a mark covers (in order, `...` for
/// skipped lines), each followed by its underlines. A mark over several lines underlines each of them; its text
/// follows the underline on its last line.
fn render_snippet(
    out: &mut String,
    sources: &SourceMap,
    marks: &[Mark<'_>],
    gutter: usize,
    style: &Style,
) {
    let Some(first) = marks.first() else {
        return;
    };
    let Some(file) = sources.get(first.span.file) else {
        return;
    };
    let (line, col) = file.line_col(first.span.start as usize);
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {}:{line}:{col}",
        style.paint(BLUE, "-->"),
        file.path.display()
    );
    let _ = writeln!(out, "{pad} {}", style.paint(BLUE, "|"));

    // (line, mark) for every line of every mark, in line order; marks keep their order on a shared line.
    let mut rows: Vec<(usize, usize)> = Vec::new();
    for (i, mark) in marks.iter().enumerate() {
        let first_line = file.line_col(mark.span.start as usize).0;
        let last_line = file.line_col(last_byte(mark.span)).0;
        rows.extend((first_line..=last_line).map(|l| (l, i)));
    }
    rows.sort();
    let expand = |s: &str| s.replace('\t', "    ");
    let mut shown: Option<usize> = None;
    for &(line, i) in &rows {
        let mark = &marks[i];
        let source_line = file.line(line);
        if shown != Some(line) {
            if shown.is_some_and(|s| line > s + 1) {
                let _ = writeln!(out, "{}", style.paint(BLUE, "..."));
            }
            let _ = writeln!(
                out,
                "{} {} {}",
                style.paint(BLUE, &format!("{line:>gutter$}")),
                style.paint(BLUE, "|"),
                expand(source_line)
            );
            shown = Some(line);
        }
        // The part of the span on this line (at least one column); on a continuation line, from its indentation.
        let line_start = file.line_start(line);
        let span_start = mark.span.start as usize;
        let start_in_line = if span_start >= line_start {
            (span_start - line_start).min(source_line.len())
        } else {
            source_line.len() - source_line.trim_start().len()
        };
        let end_in_line = (mark.span.end as usize)
            .saturating_sub(line_start)
            .min(source_line.len())
            .max(start_in_line);
        let before = source_line
            .get(..start_in_line)
            .map(expand)
            .unwrap_or_default();
        let covered = source_line
            .get(start_in_line..end_in_line)
            .map(expand)
            .unwrap_or_default();
        let width = covered.chars().count().max(1);
        let underline: String = std::iter::repeat_n(mark.mark, width).collect();
        let mut marker = format!(
            "{}{}",
            " ".repeat(before.chars().count()),
            style.paint(mark.color, &underline)
        );
        let last_line = file.line_col(last_byte(mark.span)).0;
        if let Some(text) = mark.text.filter(|_| line == last_line) {
            marker.push(' ');
            marker.push_str(&style.paint(mark.color, text));
        }
        let _ = writeln!(out, "{pad} {} {marker}", style.paint(BLUE, "|"));
    }
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

#[cfg(test)]
mod tests {
    use super::super::Kind;
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_span_over_several_lines_underlines_each_of_them() {
        let mut sources = SourceMap::new();
        let text = "sweep {\n  clips: [1, 2]\n}\nx: 1\n";
        let file = sources.add(PathBuf::from("r.vst"), text.to_string());
        let whole = Span::new(file, 0, text.find("}").unwrap() + 1);
        let d = Diagnostic::error(Kind::DuplicateBlock, "message")
            .label(whole, "this block")
            .secondary(Span::new(file, 26, 27), "other");
        assert_eq!(
            d.render(&sources),
            "error[E0204]: message
 --> r.vst:1:1
  |
1 | sweep {
  | ^^^^^^^
2 |   clips: [1, 2]
  |   ^^^^^^^^^^^^^
3 | }
  | ^ this block
4 | x: 1
  | - other
  |
"
        );
    }
}
