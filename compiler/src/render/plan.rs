//! A plan as text (a table of jobs with their dependencies and cost) and as Graphviz DOT.

use std::fmt::Write as _;
use vst_spec::{JobKind, Plan};

/// `95.8M`, `2.07G`, `512`: three significant digits with an SI suffix.
pub fn si(value: f64) -> String {
    let (scaled, suffix) = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .iter()
        .find(|(scale, _)| value.abs() >= *scale)
        .map(|(scale, s)| (value / scale, *s))
        .unwrap_or((value, ""));
    if suffix.is_empty() && scaled.fract() == 0.0 {
        return format!("{scaled}");
    }
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
}

/// Multiply-adds, given in billions (a [`vst_spec::Cost`]'s GMACs), with the SI prefix folded into the unit:
/// `8.04 EMACs`, `41.9 GMACs`, `500 MMACs` ([`vst_spec::arch::macs_text`]).
pub fn macs(gmacs: f64) -> String {
    vst_spec::arch::macs_text(gmacs)
}

/// The plan as a table: one line per job in execution order, with the jobs it needs (by number) and its cost.
pub fn text(plan: &Plan) -> String {
    text_with_states(plan, None)
}

/// [`text`], with each job's state in the run directory (`done`, `pending`, ...) when given (one per job).
pub fn text_with_states(plan: &Plan, states: Option<&[&str]>) -> String {
    let mut out = String::new();
    let counts: Vec<String> = ["prepare", "pretrain", "eval", "report"]
        .iter()
        .map(|label| (label, plan.count(label)))
        .filter(|(_, n)| *n > 0)
        .map(|(label, n)| format!("{n} {label}"))
        .collect();
    let _ = writeln!(
        out,
        "plan of {}: {} jobs ({})",
        plan.recipe,
        plan.jobs.len(),
        counts.join(", ")
    );
    let _ = writeln!(out);
    let position = |id: &vst_spec::JobId| plan.jobs.iter().position(|j| &j.id == id).map(|i| i + 1);
    let mut header = vec!["#", "job", "id", "needs", "clips", "forward"];
    if states.is_some() {
        header.push("state");
    }
    // Right-aligned columns: the number and the costs.
    let right = [true, false, false, false, true, true, false];
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(plan.jobs.len());
    for (i, job) in plan.jobs.iter().enumerate() {
        let needs: Vec<String> = job
            .deps
            .iter()
            .filter_map(position)
            .map(|p| p.to_string())
            .collect();
        let has_cost = matches!(job.kind, JobKind::Pretrain(_) | JobKind::Eval(_));
        let mut row = vec![
            (i + 1).to_string(),
            job.name.clone(),
            job.id.to_string(),
            if needs.is_empty() {
                "-".into()
            } else {
                needs.join(",")
            },
            if has_cost {
                si(job.cost.clips as f64)
            } else {
                "-".into()
            },
            if has_cost {
                macs(job.cost.gmacs)
            } else {
                "-".into()
            },
        ];
        if let Some(states) = states {
            row.push(states.get(i).copied().unwrap_or("?").to_string());
        }
        rows.push(row);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
            if right[i] {
                s.push_str(&pad);
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&pad);
            }
        }
        s.truncate(s.trim_end().len());
        s
    };
    let _ = writeln!(out, "{}", line(&header));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(&cells));
    }
    let clips: u64 = plan.jobs.iter().map(|j| j.cost.clips).sum();
    let gmacs: f64 = plan.jobs.iter().map(|j| j.cost.gmacs).sum();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "total: {} clips, {} forward (multiply-adds through the backbone, which the paper calls FLOPs; the backward \
         pass costs about twice more)",
        si(clips as f64),
        macs(gmacs)
    );
    if let Some(states) = states {
        let done = states.iter().filter(|s| **s == "done").count();
        let _ = writeln!(out, "done: {done} of {} jobs", plan.jobs.len());
    }
    out
}

/// The plan as a Graphviz digraph (`vst plan FILE --format dot | dot -Tsvg`).
pub fn dot(plan: &Plan) -> String {
    let mut out = String::from(
        "digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n",
    );
    for job in &plan.jobs {
        let (shape, fill) = match job.kind {
            JobKind::Prepare(_) => ("cylinder", "#e8eef7"),
            JobKind::Pretrain(_) => ("box", "#fdf1dc"),
            JobKind::Eval(_) => ("box", "#e4f3e4"),
            JobKind::Report(_) => ("note", "#f3e4f1"),
        };
        let mut label = job.name.replace('\\', "\\\\").replace('"', "\\\"");
        label.push_str(&format!("\\n{}", job.id));
        if matches!(job.kind, JobKind::Pretrain(_) | JobKind::Eval(_)) {
            label.push_str(&format!(
                "\\n{} clips, {}",
                si(job.cost.clips as f64),
                macs(job.cost.gmacs)
            ));
        }
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{label}\", shape={shape}, style=filled, fillcolor=\"{fill}\"];",
            job.id
        );
    }
    for job in &plan.jobs {
        for dep in &job.deps {
            let _ = writeln!(out, "  \"{dep}\" -> \"{}\";", job.id);
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_and_macs_read_well() {
        assert_eq!(si(95_846_400.0), "95.8M");
        assert_eq!(si(512.0), "512");
        assert_eq!(si(2_070_000_000.0), "2.07G");
        assert_eq!(si(0.0), "0");
        assert_eq!(macs(8.04e9), "8.04 EMACs");
        assert_eq!(macs(41.9), "41.9 GMACs");
        assert_eq!(macs(0.5), "500 MMACs");
        assert_eq!(macs(2e-6), "2.00 kMACs");
    }
}
