//! A report block becomes a table (Markdown, CSV, JSON) with the paper's numbers beside ours, a plot of the metric
//! against the column variable per row, and a verdict on every expectation the recipe declared.

mod expect;
mod plot;
mod table;

pub use expect::{Verdict, check_expectations};
pub use plot::render_svg;
pub use table::{render_csv, render_markdown};

use serde::{Deserialize, Serialize};
use vst_spec::ReportSpec;

/// A published number as reference.md gives it: `36.1`, `~65.8` (derived from the text), or unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperValue {
    pub value: f64,
    /// Derived from a stated difference in the paper's text rather than read off a table.
    pub approximate: bool,
}

impl std::fmt::Display for PaperValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.approximate {
            write!(f, "~{:.1}", self.value)
        } else {
            write!(f, "{:.1}", self.value)
        }
    }
}

/// One cell: where it sits, our number (None when its evaluation produced no such metric), the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub row: String,
    pub col: String,
    pub ours: Option<f64>,
    pub paper: Option<PaperValue>,
}

/// A filled report, in the row and column order the plan gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub row_key: Option<String>,
    pub col_key: Option<String>,
    pub metric: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Cell>,
    pub verdicts: Vec<Verdict>,
    /// Lines printed under the table: the data the numbers come from, the paper's setting and trend.
    pub notes: Vec<String>,
}

impl Table {
    /// Lays out `cells` (in plan order) and checks the report's expectations against them.
    pub fn new(spec: &ReportSpec, cells: Vec<Cell>) -> Table {
        let mut rows: Vec<String> = Vec::new();
        let mut cols: Vec<String> = Vec::new();
        for cell in &cells {
            if !rows.contains(&cell.row) {
                rows.push(cell.row.clone());
            }
            if !cols.contains(&cell.col) {
                cols.push(cell.col.clone());
            }
        }
        let mut table = Table {
            title: spec.title.clone(),
            row_key: spec.rows.clone(),
            col_key: spec.cols.clone(),
            metric: spec.cell.clone(),
            rows,
            cols,
            cells,
            verdicts: Vec::new(),
            notes: Vec::new(),
        };
        table.verdicts = check_expectations(&table, &spec.expect);
        table
    }

    pub fn cell(&self, row: &str, col: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.row == row && c.col == col)
    }

    pub fn all_met(&self) -> bool {
        self.verdicts.iter().all(|v| v.met)
    }
}
