//! Declared expectations ("ρ = 2 above ρ = 1 in every row", "within 2 points of the paper"): met or missed.
//! On a report `over` an axis (seeds) every expectation reads the cells' means; `beyond spread` also reads their
//! standard deviations.

use super::Table;
use serde::{Deserialize, Serialize};
use vst_spec::Expectation;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The expectation in words.
    pub expectation: String,
    pub met: bool,
    /// Why it was missed: the cells that broke it.
    pub detail: String,
}

pub fn check_expectations(table: &Table, expectations: &[Expectation]) -> Vec<Verdict> {
    expectations.iter().map(|e| check(table, e)).collect()
}

fn check(table: &Table, expectation: &Expectation) -> Verdict {
    let col_name = |c: &str| match &table.col_key {
        Some(key) => format!("{key} = {c}"),
        None => c.to_string(),
    };
    let mut misses = Vec::new();
    let text = match expectation {
        Expectation::Above {
            higher,
            lower,
            margin,
        } => {
            for row in &table.rows {
                let hi = table.cell(row, higher).and_then(|c| c.ours);
                let lo = table.cell(row, lower).and_then(|c| c.ours);
                match (hi, lo) {
                    (Some(h), Some(l)) if h - l >= *margin => {}
                    (Some(h), Some(l)) => {
                        misses.push(format!("{row}: {h:.1} vs {l:.1} ({:+.1})", h - l))
                    }
                    _ => misses.push(format!("{row}: missing cell")),
                }
            }
            let by = if *margin > 0.0 {
                format!(" by at least {margin} points")
            } else {
                String::new()
            };
            format!(
                "{} above {} in every row{by}",
                col_name(higher),
                col_name(lower)
            )
        }
        Expectation::NearPaper { tolerance } => {
            // Cells without a paper number are skipped; with none at all the expectation is missed, never met.
            let compared: Vec<_> = table
                .cells
                .iter()
                .filter_map(|cell| cell.paper.as_ref().map(|paper| (cell, paper)))
                .collect();
            if compared.is_empty() {
                misses.push("no paper number to compare".to_string());
            }
            for (cell, paper) in compared {
                match cell.ours {
                    Some(ours) if (ours - paper.value).abs() <= *tolerance => {}
                    Some(ours) => misses.push(format!(
                        "{} / {}: {ours:.1} vs paper {paper}",
                        cell.row, cell.col
                    )),
                    None => misses.push(format!("{} / {}: missing cell", cell.row, cell.col)),
                }
            }
            format!("within {tolerance} points of the paper wherever it has a number")
        }
        Expectation::AboveBeyondSpread { higher, lower } => {
            let axis = table.over.as_deref().unwrap_or("?");
            for row in &table.rows {
                let (Some(hi), Some(lo)) = (table.cell(row, higher), table.cell(row, lower)) else {
                    misses.push(format!("{row}: missing cell"));
                    continue;
                };
                let (Some(h), Some(l)) = (hi.ours, lo.ours) else {
                    misses.push(format!("{row}: missing cell"));
                    continue;
                };
                let (Some(sh), Some(sl)) = (hi.sd(), lo.sd()) else {
                    let n = |c: &super::Cell| c.over.as_ref().map_or(0, |a| a.n);
                    misses.push(format!(
                        "{row}: no spread (n = {} and {}; it needs two `{axis}` values in each cell)",
                        n(hi),
                        n(lo)
                    ));
                    continue;
                };
                let spread = sh.max(sl);
                if h - l <= spread {
                    misses.push(format!(
                        "{row}: {h:.1} ± {sh:.1} vs {l:.1} ± {sl:.1} ({:+.1}, not beyond {spread:.1})",
                        h - l
                    ));
                }
            }
            format!(
                "{} above {} in every row by more than the larger s.d. over `{axis}`",
                col_name(higher),
                col_name(lower)
            )
        }
        Expectation::AtLeast { value } => {
            for cell in &table.cells {
                match cell.ours {
                    Some(ours) if ours >= *value => {}
                    Some(ours) => misses.push(format!("{} / {}: {ours:.1}", cell.row, cell.col)),
                    None => misses.push(format!("{} / {}: missing cell", cell.row, cell.col)),
                }
            }
            format!("every cell at least {value}")
        }
    };
    Verdict {
        expectation: text,
        met: misses.is_empty(),
        detail: misses.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Cell, PaperValue};

    fn table(cells: Vec<Cell>) -> Table {
        let mut rows = Vec::new();
        let mut cols = Vec::new();
        for c in &cells {
            if !rows.contains(&c.row) {
                rows.push(c.row.clone());
            }
            if !cols.contains(&c.col) {
                cols.push(c.col.clone());
            }
        }
        Table {
            title: "T".into(),
            row_key: Some("objective".into()),
            col_key: Some("clips".into()),
            metric: "linear.top1".into(),
            rows,
            cols,
            cells,
            verdicts: Vec::new(),
            notes: Vec::new(),
            over: None,
            over_values: Vec::new(),
            missing_runs: 0,
            runs: 0,
            labels: Default::default(),
        }
    }

    fn cell(row: &str, col: &str, ours: Option<f64>, paper: Option<f64>) -> Cell {
        Cell::single(
            row,
            col,
            ours,
            paper.map(|value| PaperValue {
                value,
                approximate: false,
            }),
        )
    }

    #[test]
    fn near_paper_without_any_paper_number_is_missed() {
        let t = table(vec![
            cell("moco", "1", Some(40.0), None),
            cell("byol", "1", Some(41.0), None),
        ]);
        let verdicts = check_expectations(&t, &[Expectation::NearPaper { tolerance: 100.0 }]);
        assert_eq!(verdicts.len(), 1);
        assert!(!verdicts[0].met, "{verdicts:?}");
        assert_eq!(verdicts[0].detail, "no paper number to compare");
    }

    #[test]
    fn near_paper_skips_cells_without_a_paper_number() {
        let t = table(vec![
            cell("moco", "1", Some(40.0), None),
            cell("simclr", "1", Some(37.0), Some(36.1)),
        ]);
        let verdicts = check_expectations(&t, &[Expectation::NearPaper { tolerance: 2.0 }]);
        assert!(verdicts[0].met, "{verdicts:?}");

        let t = table(vec![
            cell("moco", "1", Some(40.0), None),
            cell("simclr", "1", Some(30.0), Some(36.1)),
            cell("swav", "1", None, Some(38.6)),
        ]);
        let verdicts = check_expectations(&t, &[Expectation::NearPaper { tolerance: 2.0 }]);
        assert!(!verdicts[0].met);
        assert_eq!(
            verdicts[0].detail,
            "simclr / 1: 30.0 vs paper 36.1; swav / 1: missing cell"
        );
    }
}
