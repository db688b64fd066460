//! Text renderings of a report: a Markdown table with the paper's numbers beside ours, and CSV.

use super::Table;
use std::fmt::Write;

fn fmt_ours(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"))
}

/// The report as Markdown: a title, one table (cells `ours (paper)`), and the expectations' verdicts.
pub fn render_markdown(table: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", table.title);
    let corner = match (&table.row_key, &table.col_key) {
        (Some(r), Some(c)) => format!("{r} \\ {c}"),
        (Some(r), None) => r.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => String::new(),
    };
    let has_paper = table.cells.iter().any(|c| c.paper.is_some());
    let _ = write!(out, "| {corner} |");
    for col in &table.cols {
        let _ = write!(out, " {col} |");
    }
    out.push('\n');
    out.push_str("|---|");
    for _ in &table.cols {
        out.push_str("---:|");
    }
    out.push('\n');
    for row in &table.rows {
        let _ = write!(out, "| {row} |");
        for col in &table.cols {
            let text = match table.cell(row, col) {
                Some(cell) => match &cell.paper {
                    Some(p) => format!("{} ({p})", fmt_ours(cell.ours)),
                    None => fmt_ours(cell.ours),
                },
                None => String::new(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "\nCell: `{}`.", table.metric);
    if has_paper {
        out.push_str("In parentheses: the paper's number (`~` derived from its text), for the paper's full-scale setting.\n");
    }
    for note in &table.notes {
        let _ = writeln!(out, "{note}");
    }
    if !table.verdicts.is_empty() {
        out.push_str("\nExpectations:\n");
        for v in &table.verdicts {
            if v.met {
                let _ = writeln!(out, "- met: {}", v.expectation);
            } else {
                let _ = writeln!(out, "- MISSED: {} — {}", v.expectation, v.detail);
            }
        }
    }
    out
}

/// The report as CSV: one line per cell.
pub fn render_csv(table: &Table) -> String {
    let mut out = String::from("row,col,metric,ours,paper,paper_approximate\n");
    for cell in &table.cells {
        let ours = cell.ours.map(|v| format!("{v:.4}")).unwrap_or_default();
        let (paper, approx) = match &cell.paper {
            Some(p) => (format!("{}", p.value), p.approximate.to_string()),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "{},{},{},{ours},{paper},{approx}",
            csv_field(&cell.row),
            csv_field(&cell.col),
            table.metric
        );
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
