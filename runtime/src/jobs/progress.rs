//! Progress of a long job: an indicatif bar on a terminal (clips/s, ETA), else nothing — the job logs one line per
//! epoch through `tracing` either way.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn bar(enabled: bool, total: u64, label: &str) -> ProgressBar {
    bar_counting(enabled, total, label, "steps")
}

/// A bar counting `unit`s (`steps`, `videos`).
pub fn bar_counting(enabled: bool, total: u64, label: &str, unit: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    let template =
        format!("{{prefix:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}");
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}
