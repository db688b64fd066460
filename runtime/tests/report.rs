//! Report rendering and expectation verdicts on a hand-made table.

use vst_runtime::report::*;
use vst_spec::{Expectation, ReportSpec};

fn spec(expect: Vec<Expectation>) -> ReportSpec {
    ReportSpec {
        title: "Table 2: number of temporal clips".into(),
        rows: Some("objective".into()),
        cols: Some("clips".into()),
        cell: "linear.top1".into(),
        paper: Some("table2".into()),
        expect,
    }
}

fn cells() -> Vec<Cell> {
    let paper = |v: f64, approximate| {
        Some(PaperValue {
            value: v,
            approximate,
        })
    };
    vec![
        Cell {
            row: "simclr".into(),
            col: "1".into(),
            ours: Some(31.25),
            paper: paper(36.1, false),
        },
        Cell {
            row: "simclr".into(),
            col: "2".into(),
            ours: Some(40.5),
            paper: paper(60.5, false),
        },
        Cell {
            row: "moco".into(),
            col: "1".into(),
            ours: Some(35.0),
            paper: None,
        },
        Cell {
            row: "moco".into(),
            col: "2".into(),
            ours: Some(36.0),
            paper: paper(65.8, true),
        },
    ]
}

#[test]
fn markdown_has_paper_numbers_and_verdicts() {
    let expect = vec![
        Expectation::Above {
            higher: "2".into(),
            lower: "1".into(),
            margin: 2.0,
        },
        Expectation::AtLeast { value: 30.0 },
        Expectation::NearPaper { tolerance: 2.0 },
    ];
    let table = Table::new(&spec(expect), cells());
    assert_eq!(table.rows, ["simclr", "moco"]);
    assert_eq!(table.cols, ["1", "2"]);
    assert_eq!(
        table.verdicts.iter().map(|v| v.met).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert!(!table.all_met());
    insta::assert_snapshot!(render_markdown(&table));
    insta::assert_snapshot!(render_csv(&table));
}

#[test]
fn above_is_met_when_every_row_clears_the_margin() {
    let table = Table::new(
        &spec(vec![Expectation::Above {
            higher: "2".into(),
            lower: "1".into(),
            margin: 0.5,
        }]),
        cells(),
    );
    assert!(table.all_met(), "{:?}", table.verdicts);
}

#[test]
fn a_missing_cell_misses_the_expectation() {
    let mut cells = cells();
    cells.pop();
    let table = Table::new(
        &spec(vec![Expectation::Above {
            higher: "2".into(),
            lower: "1".into(),
            margin: 0.0,
        }]),
        cells,
    );
    assert!(!table.all_met());
    assert_eq!(table.verdicts[0].detail, "moco: missing cell");
}

#[test]
fn plot_is_svg_with_one_line_per_row_and_the_paper_dashed() {
    let table = Table::new(&spec(vec![]), cells());
    let svg = render_svg(&table);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // two rows of ours, one dashed paper line with two points (simclr) — moco has one paper point only
    assert_eq!(svg.matches("<polyline points=").count(), 1 + 2 + 1);
    assert_eq!(
        svg.matches("stroke-dasharray").count(),
        2,
        "paper line + legend"
    );
    assert!(svg.contains(">simclr</text>") && svg.contains(">moco</text>"));
}
