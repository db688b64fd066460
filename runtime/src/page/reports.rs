//! A report as HTML: its table (ours, the paper's number beside it, mean ± s.d. over seeds), the notes and the
//! expectations' marks the Markdown report prints, and its SVG plot inline.

use super::escape;
use crate::report::{Table, format_cell, render_svg};
use std::fmt::Write;

pub fn render(table: &Table) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<section class="report"><h3>{}</h3>"#,
        escape(&table.title)
    );
    let corner = match (&table.row_key, &table.col_key) {
        (Some(r), Some(c)) => format!("{r} \\ {c}"),
        (Some(r), None) => r.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => String::new(),
    };
    let _ = write!(
        s,
        r#"<table class="report"><thead><tr><th>{}</th>"#,
        escape(&corner)
    );
    for col in &table.cols {
        let _ = write!(s, "<th>{}</th>", escape(col));
    }
    s.push_str("</tr></thead><tbody>\n");
    for row in &table.rows {
        let _ = write!(s, "<tr><th>{}</th>", escape(row));
        for col in &table.cols {
            let Some(cell) = table.cell(row, col) else {
                s.push_str("<td></td>");
                continue;
            };
            let class = if cell.ours.is_none() {
                " class=\"missing\""
            } else {
                ""
            };
            let _ = write!(s, "<td{class}>{}", escape(&format_cell(cell)));
            if let Some(paper) = &cell.paper {
                let _ = write!(
                    s,
                    r#" <span class="paper" title="the paper's number">({})</span>"#,
                    escape(&paper.to_string())
                );
            }
            s.push_str("</td>");
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    let metric = match &table.over {
        Some(axis) => format!(
            "Cell: {}, mean ± sample s.d. over {} `{axis}` values.",
            table.metric,
            table.over_values.len()
        ),
        None => format!("Cell: {}.", table.metric),
    };
    let _ = writeln!(s, r#"<p class="note">{}</p>"#, escape(&metric));
    if table.partial() {
        let _ = writeln!(
            s,
            r#"<p class="partial">PARTIAL: {} of {} runs have no result yet (not run, running or failed); – marks a cell without one.</p>"#,
            table.missing_runs, table.runs
        );
    }
    if table.cells.iter().any(|c| c.paper.is_some()) {
        s.push_str(
            "<p class=\"note\">In parentheses: the paper's number (~ derived from its text), for its full-scale setting.</p>\n",
        );
    }
    for note in &table.notes {
        let _ = writeln!(s, r#"<p class="note">{}</p>"#, escape(note));
    }
    if !table.verdicts.is_empty() {
        s.push_str("<ul class=\"verdicts\">\n");
        for v in &table.verdicts {
            let _ = match v.met {
                true => writeln!(
                    s,
                    r#"<li class="met">✓ met: {}</li>"#,
                    escape(&v.expectation)
                ),
                false => writeln!(
                    s,
                    r#"<li class="missed">✗ MISSED: {} — {}</li>"#,
                    escape(&v.expectation),
                    escape(&v.detail)
                ),
            };
        }
        s.push_str("</ul>\n");
    }
    let _ = writeln!(s, r#"<figure class="plot">{}</figure>"#, render_svg(table));
    s.push_str("</section>\n");
    s
}
