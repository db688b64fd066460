//! A report block becomes a table (Markdown, CSV, JSON) with the paper's numbers beside ours, a plot of the metric
//! against the column variable per row, and a verdict on every expectation the recipe declared. A report `over` an
//! axis (seeds) shows each table cell as the mean ± sample standard deviation of that axis's runs.

mod expect;
mod markup;
mod plot;
mod table;

pub use expect::{Verdict, check_expectations};
pub use markup::escape;
pub use plot::render_svg;
pub use table::format_cell;
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

/// One cell: where it sits, our number (None when its evaluation produced no such metric, or has not run), the
/// paper's. In a report `over` an axis, `ours` is the mean of the values in [`Cell::over`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub row: String,
    pub col: String,
    pub ours: Option<f64>,
    pub paper: Option<PaperValue>,
    /// The runs aggregated along the report's `over` axis (absent without `over`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<Aggregate>,
}

impl Cell {
    /// A cell of a report without `over`.
    pub fn single(row: &str, col: &str, ours: Option<f64>, paper: Option<PaperValue>) -> Cell {
        Cell {
            row: row.to_string(),
            col: col.to_string(),
            ours,
            paper,
            over: None,
        }
    }

    /// A cell aggregated over the `over` axis: `ours` is the mean of the values present.
    pub fn aggregated(
        row: &str,
        col: &str,
        samples: Vec<Sample>,
        paper: Option<PaperValue>,
    ) -> Cell {
        let over = Aggregate::of(samples);
        Cell {
            row: row.to_string(),
            col: col.to_string(),
            ours: over.mean,
            paper,
            over: Some(over),
        }
    }

    /// The sample standard deviation over the `over` axis (None without `over` or with fewer than two values).
    pub fn sd(&self) -> Option<f64> {
        self.over.as_ref().and_then(|a| a.sd)
    }
}

/// One run of a table cell: its label on the `over` axis (the seed) and its number, None while it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub label: String,
    pub value: Option<f64>,
}

/// A table cell's runs along the report's `over` axis, and their statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The mean of the values present (the cell's `ours`).
    pub mean: Option<f64>,
    /// The sample standard deviation (denominator n − 1) of the values present; None when fewer than two.
    pub sd: Option<f64>,
    /// How many runs have a value; fewer than `values.len()` while the sweep is unfinished (or a run failed).
    pub n: usize,
    /// Every run the plan has for this cell, in sweep order.
    pub values: Vec<Sample>,
}

impl Aggregate {
    pub fn of(values: Vec<Sample>) -> Aggregate {
        let present: Vec<f64> = values.iter().filter_map(|s| s.value).collect();
        let n = present.len();
        let mean = (n > 0).then(|| present.iter().sum::<f64>() / n as f64);
        let sd = mean.filter(|_| n >= 2).map(|m| {
            let squares: f64 = present.iter().map(|v| (v - m) * (v - m)).sum();
            (squares / (n - 1) as f64).sqrt()
        });
        Aggregate {
            mean,
            sd,
            n,
            values,
        }
    }

    /// Some runs have no value yet.
    pub fn partial(&self) -> bool {
        self.n < self.values.len()
    }
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
    /// The axis each cell aggregates (e.g. `seed`), and its values in sweep order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub over_values: Vec<String>,
    /// Evaluations (runs) the report's cells need that have no result: the table is partial.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missing_runs: usize,
    /// Evaluations the report's cells need, in all.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub runs: usize,
    /// Human names of the row and column keys and of the metric, for the plot's axes (from the plan).
    #[serde(default)]
    pub labels: AxisLabels,
}

/// What a plot calls its axes: `ρ, clips per video` rather than `clips`; None where the schema has no name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AxisLabels {
    pub rows: Option<String>,
    pub cols: Option<String>,
    pub metric: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Table {
    /// Lays out `cells` (in plan order) and checks the report's expectations against them.
    pub fn new(spec: &ReportSpec, cells: Vec<Cell>) -> Table {
        let mut rows: Vec<String> = Vec::new();
        let mut cols: Vec<String> = Vec::new();
        let mut over_values: Vec<String> = Vec::new();
        for cell in &cells {
            if !rows.contains(&cell.row) {
                rows.push(cell.row.clone());
            }
            if !cols.contains(&cell.col) {
                cols.push(cell.col.clone());
            }
            for sample in cell.over.iter().flat_map(|a| &a.values) {
                if !over_values.contains(&sample.label) {
                    over_values.push(sample.label.clone());
                }
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
            over: spec.over.clone(),
            over_values,
            missing_runs: 0,
            runs: 0,
            labels: AxisLabels::default(),
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

    /// Some of the runs the table needs have no result (an unfinished or partly failed sweep).
    pub fn partial(&self) -> bool {
        self.missing_runs > 0
            || self
                .cells
                .iter()
                .any(|c| c.over.as_ref().is_some_and(Aggregate::partial))
    }
}
