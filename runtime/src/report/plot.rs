//! The report as a line plot (SVG): the metric against the column variable, one line per row, the paper's
//! numbers as dashed lines with hollow markers — like the paper's Figure 1 (accuracy against ρ per method). A report
//! `over` an axis (seeds) plots the means with error bars of ± one sample standard deviation.

use super::{Table, escape};
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 56.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` ticks over `span`.
fn tick_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw);
    step.unwrap_or(10.0 * magnitude)
}

pub fn render_svg(table: &Table) -> String {
    // x: numeric when every column label is a number (ρ, epochs, seconds), else evenly spaced categories.
    let numeric: Option<Vec<f64>> = table.cols.iter().map(|c| c.parse::<f64>().ok()).collect();
    let xs: Vec<f64> = numeric
        .clone()
        .unwrap_or_else(|| (0..table.cols.len()).map(|i| i as f64).collect());
    let (x_lo, x_hi) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let (x_lo, x_hi) = if x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (x_lo - 1.0, x_lo + 1.0)
    };

    let values: Vec<f64> = table
        .cells
        .iter()
        .flat_map(|c| {
            let bar = match (c.ours, c.sd()) {
                (Some(m), Some(sd)) => vec![m - sd, m + sd],
                _ => Vec::new(),
            };
            c.ours
                .into_iter()
                .chain(c.paper.as_ref().map(|p| p.value))
                .chain(bar)
        })
        .collect();
    let (mut y_lo, mut y_hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if values.is_empty() {
        (y_lo, y_hi) = (0.0, 100.0);
    }
    let step = tick_step((y_hi - y_lo).max(1.0), 6.0);
    y_lo = (y_lo / step).floor() * step;
    y_hi = (y_hi / step).ceil() * step;
    if y_hi <= y_lo {
        y_hi = y_lo + step;
    }

    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = |x: f64| LEFT + 20.0 + (x - x_lo) / (x_hi - x_lo) * (plot_w - 40.0);
    let py = |y: f64| TOP + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let (title_lines, title_size) = fit_title(&table.title);
    let line_gap = title_size * 1.2;
    let first_y = if title_lines.len() == 1 { 28.0 } else { 20.0 };
    for (i, line) in title_lines.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" font-size="{title_size:.1}" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            first_y + i as f64 * line_gap,
            escape(line)
        );
    }

    // Grid and y ticks.
    // One unnamed row (a report without `rows:`) has nothing for a legend entry to tell apart.
    let legend_rows = if table.row_key.is_some() {
        table.rows.len()
    } else {
        0
    };

    let mut y = y_lo;
    while y <= y_hi + step * 0.5 {
        let yy = py(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e0e0e0"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            yy + 4.0,
            trim_number(y)
        );
        y += step;
    }
    // Axes and x ticks.
    let _ = writeln!(
        s,
        r#"<polyline points="{LEFT},{TOP} {LEFT},{} {},{}" fill="none" stroke="black"/>"#,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    for (label, &x) in table.cols.iter().zip(&xs) {
        let xx = px(x);
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="black"/>"#,
            TOP + plot_h,
            TOP + plot_h + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 20.0,
            escape(label)
        );
    }
    let x_title = table
        .labels
        .cols
        .clone()
        .or_else(|| table.col_key.clone())
        .unwrap_or_default();
    let y_title = table.labels.metric.as_ref().unwrap_or(&table.metric);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0,
        escape(&x_title)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(y_title)
    );

    // One line per row: ours solid with filled markers, the paper's dashed with hollow markers.
    for (i, row) in table.rows.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let series = |paper: bool| -> Vec<(f64, f64)> {
            table
                .cols
                .iter()
                .zip(&xs)
                .filter_map(|(col, &x)| {
                    let cell = table.cell(row, col)?;
                    let v = if paper {
                        cell.paper.as_ref().map(|p| p.value)
                    } else {
                        cell.ours
                    };
                    v.map(|v| (px(x), py(v)))
                })
                .collect()
        };
        for (paper, points) in [(false, series(false)), (true, series(true))] {
            if points.len() > 1 {
                let pts: Vec<String> = points
                    .iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect();
                let dash = if paper {
                    r#" stroke-dasharray="6 4""#
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                    pts.join(" ")
                );
            }
            if !paper {
                // ± one standard deviation over the `over` axis, where a cell has one.
                for (col, &x) in table.cols.iter().zip(&xs) {
                    let Some(cell) = table.cell(row, col) else {
                        continue;
                    };
                    let (Some(m), Some(sd)) = (cell.ours, cell.sd()) else {
                        continue;
                    };
                    let (xx, lo, hi) = (px(x), py(m - sd), py(m + sd));
                    let _ = writeln!(
                        s,
                        r#"<path d="M{xx:.1},{lo:.1}V{hi:.1}M{:.1},{lo:.1}H{:.1}M{:.1},{hi:.1}H{:.1}" stroke="{colour}" stroke-width="1.5" fill="none" class="sd"/>"#,
                        xx - 4.0,
                        xx + 4.0,
                        xx - 4.0,
                        xx + 4.0
                    );
                }
            }
            for (x, y) in points {
                let fill = if paper { "white" } else { colour };
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{fill}" stroke="{colour}" stroke-width="2"/>"#
                );
            }
        }
        if legend_rows == 0 {
            continue;
        }
        let ly = TOP + 10.0 + i as f64 * 22.0;
        let lx = LEFT + plot_w + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/>"#,
            lx + 24.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            lx + 30.0,
            ly + 4.0,
            escape(row)
        );
    }
    let mut extra_legend = 0.0;
    if table.cells.iter().any(|c| c.paper.is_some()) {
        extra_legend = 22.0;
        let ly = TOP + 10.0 + legend_rows as f64 * 22.0 + 8.0;
        let lx = LEFT + plot_w + 16.0;
        let _ = writeln!(
            s,
            r##"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="#555" stroke-width="2" stroke-dasharray="6 4"/>"##,
            lx + 24.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">paper</text>"#,
            lx + 30.0,
            ly + 4.0
        );
    }
    if let Some(axis) = &table.over {
        let ly = TOP + 10.0 + legend_rows as f64 * 22.0 + 8.0 + extra_legend;
        let lx = LEFT + plot_w + 16.0;
        let _ = writeln!(
            s,
            r##"<path d="M{},{}V{}M{},{}H{}M{},{}H{}" stroke="#555" stroke-width="1.5" fill="none"/>"##,
            lx + 12.0,
            ly - 7.0,
            ly + 7.0,
            lx + 8.0,
            ly - 7.0,
            lx + 16.0,
            lx + 8.0,
            ly + 7.0,
            lx + 16.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">± s.d. over {}</text>"#,
            lx + 30.0,
            ly + 4.0,
            escape(axis)
        );
        if table.partial() {
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" fill="#d62728">partial: runs missing</text>"##,
                lx,
                ly + 26.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Average advance of a DejaVu Sans / Helvetica glyph, in ems: enough to keep titles inside the canvas.
const GLYPH_EM: f64 = 0.58;
const TITLE_SIZE: f64 = 16.0;
const TITLE_MIN_SIZE: f64 = 11.0;

/// The title as one line at 16 px when it fits the canvas, else as two lines split at the space nearest the
/// middle, shrunk (down to 11 px) until the longer line fits. Report titles are long ("Mini Table 4: maximum
/// frame distance between positives (BYOL, ρ = 2, synthetic, linear top-1)") and SVG does not wrap text.
fn fit_title(title: &str) -> (Vec<String>, f64) {
    let room = WIDTH - 24.0;
    let width_at = |text: &str, size: f64| text.chars().count() as f64 * size * GLYPH_EM;
    if width_at(title, TITLE_SIZE) <= room {
        return (vec![title.to_string()], TITLE_SIZE);
    }
    let middle = title.chars().count() / 2;
    let split = title
        .char_indices()
        .filter(|(_, c)| *c == ' ')
        .map(|(byte, _)| (byte, title[..byte].chars().count().abs_diff(middle)))
        .min_by_key(|&(_, distance)| distance)
        .map(|(byte, _)| byte);
    let lines = match split {
        Some(byte) => vec![title[..byte].to_string(), title[byte + 1..].to_string()],
        None => vec![title.to_string()],
    };
    let widest_at_1px = lines.iter().map(|l| width_at(l, 1.0)).fold(0.0, f64::max);
    let size = (room / widest_at_1px).clamp(TITLE_MIN_SIZE, TITLE_SIZE);
    (lines, size)
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_titles_stay_on_one_line_and_long_ones_split_near_the_middle() {
        let (lines, size) = super::fit_title("Mini Table 2 (linear top-1)");
        assert_eq!((lines.len(), size), (1, super::TITLE_SIZE));
        let long = "Mini Table 4: maximum frame distance between positives (BYOL, ρ = 2, synthetic, linear top-1)";
        let (lines, size) = super::fit_title(long);
        assert_eq!(
            lines,
            [
                "Mini Table 4: maximum frame distance between",
                "positives (BYOL, ρ = 2, synthetic, linear top-1)"
            ]
        );
        let widest = lines.iter().map(|l| l.chars().count()).max().unwrap() as f64;
        assert!(widest * size * super::GLYPH_EM <= super::WIDTH - 24.0);
    }

    #[test]
    fn axes_carry_the_labels_the_plan_gives() {
        let spec = vst_spec::ReportSpec {
            title: "T".into(),
            rows: Some("objective".into()),
            cols: Some("clips".into()),
            cell: "linear.top1".into(),
            paper: None,
            expect: Vec::new(),
            over: None,
        };
        let cells = vec![super::super::Cell::single("moco", "1", Some(40.0), None)];
        let mut table = super::super::Table::new(&spec, cells);
        let bare = super::render_svg(&table);
        assert!(bare.contains(">clips</text>") && bare.contains(">linear.top1</text>"));
        table.labels.cols = Some("ρ, clips per video".into());
        table.labels.metric = Some("linear top-1 accuracy (%)".into());
        let named = super::render_svg(&table);
        assert!(named.contains(">ρ, clips per video</text>"), "{named}");
        assert!(
            named.contains(">linear top-1 accuracy (%)</text>"),
            "{named}"
        );
    }

    #[test]
    fn tick_steps_are_nice() {
        assert_eq!(super::tick_step(30.0, 6.0), 5.0);
        assert_eq!(super::tick_step(1.0, 6.0), 0.2);
        assert_eq!(super::tick_step(100.0, 6.0), 20.0);
    }
}
