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
        over: None,
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
        Cell::single("simclr", "1", Some(31.25), paper(36.1, false)),
        Cell::single("simclr", "2", Some(40.5), paper(60.5, false)),
        Cell::single("moco", "1", Some(35.0), None),
        Cell::single("moco", "2", Some(36.0), paper(65.8, true)),
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

// ---------------------------------------------------------------------------------------------------------------
// Reports `over` an axis (seeds): mean ± sample s.d. per cell.

fn seeds_spec(expect: Vec<Expectation>) -> ReportSpec {
    ReportSpec {
        over: Some("seed".into()),
        ..spec(expect)
    }
}

/// One table cell's runs at seeds 0, 1, 2 (None: that run has no result).
fn over_seeds(row: &str, col: &str, values: [Option<f64>; 3], paper: Option<f64>) -> Cell {
    let samples = ["0", "1", "2"]
        .iter()
        .zip(values)
        .map(|(label, value)| Sample {
            label: label.to_string(),
            value,
        })
        .collect();
    let paper = paper.map(|value| PaperValue {
        value,
        approximate: false,
    });
    Cell::aggregated(row, col, samples, paper)
}

/// MoCo gains 3 points from ρ = 1 to 2 with an s.d. of 2 in both; SimCLR gains 2 points with s.d.s of 4 and 3.
fn seed_cells() -> Vec<Cell> {
    vec![
        over_seeds("moco", "1", [Some(40.0), Some(42.0), Some(44.0)], None),
        over_seeds(
            "moco",
            "2",
            [Some(43.0), Some(45.0), Some(47.0)],
            Some(65.8),
        ),
        over_seeds(
            "simclr",
            "1",
            [Some(30.0), Some(34.0), Some(38.0)],
            Some(36.1),
        ),
        over_seeds(
            "simclr",
            "2",
            [Some(33.0), Some(36.0), Some(39.0)],
            Some(60.5),
        ),
    ]
}

fn beyond_spread() -> Expectation {
    Expectation::AboveBeyondSpread {
        higher: "2".into(),
        lower: "1".into(),
    }
}

#[test]
fn cells_over_seeds_are_the_mean_and_sample_standard_deviation() {
    let cell = over_seeds("moco", "1", [Some(40.0), Some(42.0), Some(47.0)], None);
    let over = cell.over.as_ref().unwrap();
    assert_eq!(cell.ours, Some(43.0));
    assert_eq!(over.mean, Some(43.0));
    // Sample s.d. (n − 1): squares 9 + 1 + 16 = 26 over 2 → √13; the population s.d. would be √(26/3).
    assert!((over.sd.unwrap() - 13f64.sqrt()).abs() < 1e-12, "{over:?}");
    assert_eq!((over.n, over.partial()), (3, false));
    assert_eq!(format_cell(&cell), "43.0 ± 3.6");

    let two = over_seeds("moco", "1", [Some(40.0), None, Some(42.0)], None);
    assert_eq!(two.ours, Some(41.0));
    assert_eq!(format_cell(&two), "41.0 ± 1.4 [n = 2]");
    let one = over_seeds("moco", "1", [None, Some(40.0), None], None);
    assert_eq!((one.ours, one.sd()), (Some(40.0), None));
    assert_eq!(format_cell(&one), "40.0 [n = 1]");
    let none = over_seeds("moco", "1", [None, None, None], None);
    assert_eq!((none.ours, none.sd()), (None, None));
    assert_eq!(format_cell(&none), "–");
}

#[test]
fn a_report_over_seeds_prints_mean_and_sd_and_says_so() {
    let expect = vec![
        beyond_spread(),
        Expectation::Above {
            higher: "2".into(),
            lower: "1".into(),
            margin: 2.0,
        },
        Expectation::AtLeast { value: 33.0 },
        Expectation::NearPaper { tolerance: 3.0 },
    ];
    let table = Table::new(&seeds_spec(expect), seed_cells());
    assert_eq!(table.over.as_deref(), Some("seed"));
    assert_eq!(table.over_values, ["0", "1", "2"]);
    assert!(!table.partial());
    // `above`, `at least` and `within` read the means (34.0 ≥ 33 although one SimCLR seed has 30).
    assert_eq!(
        table.verdicts.iter().map(|v| v.met).collect::<Vec<_>>(),
        [false, true, true, false]
    );
    insta::assert_snapshot!(render_markdown(&table));
    insta::assert_snapshot!(render_csv(&table));

    // The JSON the report job writes carries the mean, s.d., n and every seed's number.
    let json = serde_json::to_value(&table).unwrap();
    let moco1 = &json["cells"][0];
    assert_eq!(moco1["ours"], 42.0);
    assert_eq!(moco1["over"]["mean"], 42.0);
    assert_eq!(moco1["over"]["sd"], 2.0);
    assert_eq!(moco1["over"]["n"], 3);
    assert_eq!(moco1["over"]["values"][2]["label"], "2");
    assert_eq!(moco1["over"]["values"][2]["value"], 44.0);
    assert_eq!(json["over"], "seed");
}

#[test]
fn beyond_spread_is_missed_where_the_means_differ_by_less_than_the_larger_sd() {
    // SimCLR's mean rises by 2.0 (34 → 36): `above` holds in every row, but 2.0 is within SimCLR's s.d. of 4.
    let above = Expectation::Above {
        higher: "2".into(),
        lower: "1".into(),
        margin: 0.0,
    };
    let table = Table::new(&seeds_spec(vec![above, beyond_spread()]), seed_cells());
    assert!(table.verdicts[0].met, "{:?}", table.verdicts);
    assert!(!table.verdicts[1].met, "{:?}", table.verdicts);
    assert_eq!(
        table.verdicts[1].detail,
        "simclr: 36.0 ± 3.0 vs 34.0 ± 4.0 (+2.0, not beyond 4.0)"
    );
    assert_eq!(
        table.verdicts[1].expectation,
        "clips = 2 above clips = 1 in every row by more than the larger s.d. over `seed`"
    );

    // MoCo alone: +3.0 beyond s.d.s of 2.0 and 2.0: met. Exactly the spread is not beyond it.
    let moco: Vec<Cell> = seed_cells()
        .into_iter()
        .filter(|c| c.row == "moco")
        .collect();
    let table = Table::new(&seeds_spec(vec![beyond_spread()]), moco);
    assert!(table.all_met(), "{:?}", table.verdicts);
    let tie = vec![
        over_seeds("moco", "1", [Some(40.0), Some(42.0), Some(44.0)], None),
        over_seeds("moco", "2", [Some(42.0), Some(44.0), Some(46.0)], None),
    ];
    let table = Table::new(&seeds_spec(vec![beyond_spread()]), tie);
    assert!(!table.all_met(), "{:?}", table.verdicts);
}

#[test]
fn beyond_spread_needs_two_seeds_in_each_cell() {
    let cells = vec![
        over_seeds("moco", "1", [Some(40.0), None, None], None),
        over_seeds("moco", "2", [Some(50.0), Some(51.0), Some(52.0)], None),
        over_seeds("simclr", "1", [None, None, None], None),
        over_seeds("simclr", "2", [Some(50.0), Some(51.0), Some(52.0)], None),
    ];
    let table = Table::new(&seeds_spec(vec![beyond_spread()]), cells);
    assert!(!table.all_met());
    assert_eq!(
        table.verdicts[0].detail,
        "moco: no spread (n = 3 and 1; it needs two `seed` values in each cell); simclr: missing cell"
    );
}

#[test]
fn a_partial_report_over_seeds_prints_what_it_has_and_says_what_is_missing() {
    let cells = vec![
        over_seeds("moco", "1", [Some(40.0), Some(42.0), Some(44.0)], None),
        over_seeds("moco", "2", [Some(43.0), None, Some(47.0)], Some(65.8)),
        over_seeds("simclr", "1", [Some(30.0), None, None], Some(36.1)),
        over_seeds("simclr", "2", [None, None, None], Some(60.5)),
    ];
    let mut table = Table::new(
        &seeds_spec(vec![Expectation::AtLeast { value: 20.0 }]),
        cells,
    );
    (table.runs, table.missing_runs) = (12, 6);
    assert!(table.partial());
    insta::assert_snapshot!(render_markdown(&table));
    insta::assert_snapshot!(render_csv(&table));
}

#[test]
fn the_plot_of_a_report_over_seeds_has_error_bars() {
    let table = Table::new(&seeds_spec(vec![]), seed_cells());
    let svg = render_svg(&table);
    assert_eq!(svg.matches(r#"class="sd""#).count(), 4, "one bar per cell");
    assert!(svg.contains("± s.d. over seed"));
    // Without `over`, no bars.
    assert_eq!(
        render_svg(&Table::new(&spec(vec![]), cells()))
            .matches(r#"class="sd""#)
            .count(),
        0
    );
}
