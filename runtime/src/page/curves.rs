//! Training curves as inline SVG, drawn here in Rust: one figure per job, a small panel per quantity (loss, learning
//! rate, momentum, embedding std, clips/s, data-loader waits), with dashed lines at the epochs where the job was
//! resumed. Rust-side SVG rather than a JavaScript charting library: the page needs no script at all (nothing to
//! bundle or audit, nothing that can fail in a browser), opens from disk, and stays small (a polyline per curve).

use super::escape;
use std::fmt::Write;

/// One panel: a quantity against epochs (or steps).
pub struct Series {
    pub title: String,
    pub points: Vec<(f64, f64)>,
}

const PANEL_W: f64 = 300.0;
const PANEL_H: f64 = 160.0;
const COLUMNS: usize = 3;
const PAD_L: f64 = 58.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 24.0;
const PAD_B: f64 = 30.0;
/// Points a curve keeps at most (bucket means beyond that): the page stays small for long runs.
pub const MAX_POINTS: usize = 300;

/// `points` averaged in consecutive buckets down to at most [`MAX_POINTS`].
pub fn downsample(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let per = points.len().div_ceil(MAX_POINTS);
    points
        .chunks(per)
        .map(|chunk| {
            let n = chunk.len() as f64;
            let (x, y) = chunk
                .iter()
                .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
            (x / n, y / n)
        })
        .collect()
}

/// A number short enough for a tick label: `0.05`, `1.2e-4`, `1250`.
pub fn short(v: f64) -> String {
    let a = v.abs();
    let text = if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    };
    if text == "-0" { "0".into() } else { text }
}

/// The panels of one job as one SVG; `marks` are x positions (epochs) drawn as dashed "resumed" lines.
pub fn render(series: &[Series], x_label: &str, marks: &[f64]) -> String {
    let rows = series.len().div_ceil(COLUMNS).max(1);
    let width = PANEL_W * COLUMNS as f64;
    let height = PANEL_H * rows as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="curves" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-size="11">"#
    );
    for (i, panel) in series.iter().enumerate() {
        let ox = PANEL_W * (i % COLUMNS) as f64;
        let oy = PANEL_H * (i / COLUMNS) as f64;
        draw_panel(&mut s, panel, ox, oy, x_label, marks);
    }
    s.push_str("</svg>\n");
    s
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo <= hi).then(|| {
        if hi > lo {
            (lo, hi)
        } else {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo - pad, hi + pad)
        }
    })
}

fn draw_panel(s: &mut String, panel: &Series, ox: f64, oy: f64, x_label: &str, marks: &[f64]) {
    let (l, t) = (ox + PAD_L, oy + PAD_T);
    let (w, h) = (PANEL_W - PAD_L - PAD_R, PANEL_H - PAD_T - PAD_B);
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" font-weight="bold">{}</text>"#,
        l,
        oy + 15.0,
        escape(&panel.title)
    );
    let _ = writeln!(
        s,
        r##"<rect x="{l:.1}" y="{t:.1}" width="{w:.1}" height="{h:.1}" fill="#fafafa" stroke="#999"/>"##
    );
    let points: Vec<(f64, f64)> = panel
        .points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) = (
        bounds(points.iter().map(|p| p.0).chain(marks.iter().copied())),
        bounds(points.iter().map(|p| p.1)),
    ) else {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#777">no records yet</text>"##,
            l + w / 2.0,
            t + h / 2.0
        );
        return;
    };
    let px = |x: f64| l + (x - x_lo) / (x_hi - x_lo) * w;
    let py = |y: f64| t + h - (y - y_lo) / (y_hi - y_lo) * h;
    for y in [y_lo, (y_lo + y_hi) / 2.0, y_hi] {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            l - 4.0,
            py(y) + 4.0,
            short(y)
        );
    }
    for (x, anchor) in [(x_lo, "start"), (x_hi, "end")] {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            px(x),
            t + h + 13.0,
            short(x)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
        l + w / 2.0,
        t + h + 24.0,
        escape(x_label)
    );
    for &m in marks {
        let _ = writeln!(
            s,
            r##"<line class="resumed" x1="{0:.1}" x2="{0:.1}" y1="{t:.1}" y2="{1:.1}" stroke="#d62728" stroke-dasharray="4 3"><title>resumed at epoch {2}</title></line>"##,
            px(m),
            t + h,
            short(m)
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
        .collect();
    if points.len() == 1 {
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#1f77b4"/>"##,
            px(points[0].0),
            py(points[0].1)
        );
    } else {
        let _ = writeln!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##,
            path.join(" ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_curves_are_averaged_down_and_short_ones_kept() {
        let long: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, 1.0)).collect();
        let kept = downsample(long);
        assert!(kept.len() <= MAX_POINTS, "{}", kept.len());
        assert!(kept.iter().all(|p| p.1 == 1.0));
        assert_eq!(downsample(vec![(0.0, 2.0)]), [(0.0, 2.0)]);
    }

    #[test]
    fn panels_mark_resumed_epochs_and_escape_titles() {
        let series = [Series {
            title: "loss <b>".into(),
            points: vec![(0.0, 2.0), (1.0, 1.5), (2.0, 1.0)],
        }];
        let svg = render(&series, "epoch", &[1.0]);
        assert!(svg.contains("loss &lt;b&gt;"), "{svg}");
        assert_eq!(svg.matches("class=\"resumed\"").count(), 1);
        assert!(svg.contains("<polyline"));
        assert_eq!(short(0.00015), "1.5e-4");
        assert_eq!(short(0.05), "0.05");
        assert_eq!(
            (short(292.536), short(12.281), short(0.748)),
            ("293".into(), "12.3".into(), "0.748".into())
        );
    }
}
