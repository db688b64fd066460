//! Text renderings of a report: a Markdown table with the paper's numbers beside ours, and CSV.

use super::{Cell, Table};
use std::fmt::Write;

fn fmt_ours(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"))
}

/// Our number as the table prints it: `41.2`; over an axis `41.2 ± 1.3` (mean ± s.d.), `41.2 ± 1.3 [n = 2]` when
/// only some runs have a value, `40.8 [n = 1]` with one, `–` with none.
pub fn format_cell(cell: &Cell) -> String {
    let Some(over) = &cell.over else {
        return fmt_ours(cell.ours);
    };
    let mut text = match (cell.ours, over.sd) {
        (Some(mean), Some(sd)) => format!("{mean:.1} ± {sd:.1}"),
        (ours, _) => fmt_ours(ours),
    };
    if over.partial() && over.n > 0 {
        let _ = write!(text, " [n = {}]", over.n);
    }
    text
}

/// `0, 1 and 2`
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
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
                    Some(p) => format!("{} ({p})", format_cell(cell)),
                    None => format_cell(cell),
                },
                None => String::new(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    match &table.over {
        Some(axis) => {
            let _ = writeln!(
                out,
                "\nCell: `{}`, mean ± s.d. over {} `{axis}` values ({}): the sample standard deviation (n − 1).",
                table.metric,
                table.over_values.len(),
                listed(&table.over_values)
            );
        }
        None => {
            let _ = writeln!(out, "\nCell: `{}`.", table.metric);
        }
    }
    if table.partial() {
        let runs = match (table.missing_runs, table.runs) {
            (missing, all) if missing > 0 && all > 0 => format!("{missing} of {all} runs have"),
            _ => "some runs have".to_string(),
        };
        match &table.over {
            Some(axis) => {
                let _ = writeln!(
                    out,
                    "PARTIAL: {runs} no result yet (not run, or failed); `[n = k]` marks the mean of the k `{axis}` \
                     values that have one, `–` a cell with none."
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "PARTIAL: {runs} no result yet (not run, or failed); `–` marks a cell missing one."
                );
            }
        }
    }
    if has_paper {
        out.push_str("In parentheses: the paper's number (`~` derived from its text), for the paper's full-scale setting.\n");
    }
    for note in &table.notes {
        let _ = writeln!(out, "{note}");
    }
    if !table.verdicts.is_empty() {
        match (table.partial(), &table.over) {
            (true, _) => out.push_str("\nExpectations (on the partial table):\n"),
            (false, Some(axis)) => {
                let _ = writeln!(out, "\nExpectations (on the means over `{axis}`):");
            }
            (false, None) => out.push_str("\nExpectations:\n"),
        }
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

/// The report as CSV: one line per cell. Over an axis, `ours` is the mean, followed by the sample standard
/// deviation `sd`, the number of runs with a value `n`, and one column per axis value (`seed=0`, ...).
pub fn render_csv(table: &Table) -> String {
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let mut out = String::from("row,col,metric,ours,paper,paper_approximate");
    if let Some(axis) = &table.over {
        out.push_str(",sd,n");
        for label in &table.over_values {
            let _ = write!(out, ",{}", csv_field(&format!("{axis}={label}")));
        }
    }
    out.push('\n');
    for cell in &table.cells {
        let ours = number(cell.ours);
        let (paper, approx) = match &cell.paper {
            Some(p) => (format!("{}", p.value), p.approximate.to_string()),
            None => (String::new(), String::new()),
        };
        let _ = write!(
            out,
            "{},{},{},{ours},{paper},{approx}",
            csv_field(&cell.row),
            csv_field(&cell.col),
            table.metric
        );
        if table.over.is_some() {
            let over = cell.over.as_ref();
            let _ = write!(
                out,
                ",{},{}",
                number(over.and_then(|a| a.sd)),
                over.map_or(0, |a| a.n)
            );
            for label in &table.over_values {
                let value = over
                    .and_then(|a| a.values.iter().find(|s| &s.label == label))
                    .and_then(|s| s.value);
                let _ = write!(out, ",{}", number(value));
            }
        }
        out.push('\n');
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
