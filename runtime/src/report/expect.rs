//! Declared expectations ("ρ = 2 above ρ = 1 in every row", "within 2 points of the paper"): met or missed.

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
            for cell in &table.cells {
                if let Some(paper) = &cell.paper {
                    match cell.ours {
                        Some(ours) if (ours - paper.value).abs() <= *tolerance => {}
                        Some(ours) => misses.push(format!(
                            "{} / {}: {ours:.1} vs paper {paper}",
                            cell.row, cell.col
                        )),
                        None => misses.push(format!("{} / {}: missing cell", cell.row, cell.col)),
                    }
                }
            }
            format!("within {tolerance} points of the paper wherever it has a number")
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
