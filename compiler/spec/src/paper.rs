//! The paper's published numbers (Feichtenhofer et al., CVPR 2021), as far as `shared/paper/reference.md` recovers
//! them, so that a report can print them beside ours.
//!
//! A table is found by the key a recipe's report names (`paper: table2`). A cell is addressed by its coordinates
//! in the recipe's own sweep vocabulary — `objective = moco, clips = 2` — and a metric (`linear.top1` is the K400
//! linear probe, `ucf101.top1` the UCF101 fine-tune), so a report finds its paper number whatever it puts in rows and
//! columns. Values keep reference.md's marks: a plain number was read off a table, `~` is derived from a difference
//! stated in the text, `?` is unknown.

/// One published number, with the reference's confidence mark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PaperValue {
    /// Read off the paper's table or figure.
    Reported(f64),
    /// Derived from a difference stated in the text (`~` in reference.md).
    Derived(f64),
    /// The paper has the cell but its value was not recovered (`?`).
    Unknown,
}

impl PaperValue {
    pub fn value(&self) -> Option<f64> {
        match *self {
            PaperValue::Reported(v) | PaperValue::Derived(v) => Some(v),
            PaperValue::Unknown => None,
        }
    }

    pub fn is_derived(&self) -> bool {
        matches!(self, PaperValue::Derived(_))
    }
}

impl std::fmt::Display for PaperValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaperValue::Reported(v) => write!(f, "{v:.1}"),
            PaperValue::Derived(v) => write!(f, "~{v:.1}"),
            PaperValue::Unknown => f.write_str("?"),
        }
    }
}

/// One cell of a paper table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperCell {
    /// Sweep coordinates, as a recipe writes them (`("objective", "moco")`, `("clips", "2")`).
    pub coords: &'static [(&'static str, &'static str)],
    /// `linear.top1` (K400 linear probe top-1) or `ucf101.top1` (UCF101 split-1 fine-tune top-1), ...
    pub metric: &'static str,
    pub value: PaperValue,
    /// Where the number comes from, when it is not the table itself (e.g. "Table 10", "aug+, §A.2").
    pub note: &'static str,
}

/// One of the paper's tables or figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperTable {
    /// The key a recipe's report names: `table2`, `fig3`, ...
    pub key: &'static str,
    pub title: &'static str,
    /// The setting every cell shares (encoder, schedule, ρ...), as the paper states it.
    pub setting: &'static str,
    /// The trend the paper reports, in words (printed where cells are unknown).
    pub trend: &'static str,
    pub cells: &'static [PaperCell],
}

impl PaperTable {
    /// The cell whose coordinates are exactly `coords` (in any order) for `metric`.
    pub fn lookup(&self, metric: &str, coords: &[(&str, &str)]) -> Option<&'static PaperCell> {
        self.cells.iter().find(|cell| {
            cell.metric == metric
                && cell.coords.len() == coords.len()
                && cell
                    .coords
                    .iter()
                    .all(|(k, v)| coords.iter().any(|(k2, v2)| k == k2 && v == v2))
        })
    }

    /// The coordinate names this table uses (e.g. `objective`, `clips`), in first-seen order.
    pub fn axes(&self) -> Vec<&'static str> {
        let mut axes: Vec<&'static str> = Vec::new();
        for cell in self.cells {
            for (k, _) in cell.coords {
                if !axes.contains(k) {
                    axes.push(k);
                }
            }
        }
        axes
    }
}

/// The table a report key names.
pub fn table(key: &str) -> Option<&'static PaperTable> {
    TABLES.iter().find(|t| t.key == key)
}

/// Every table, in the paper's order.
pub fn tables() -> &'static [PaperTable] {
    TABLES
}

use PaperValue::{Derived, Reported, Unknown};

const LINEAR: &str = "linear.top1";
const UCF: &str = "ucf101.top1";

macro_rules! cell {
    ($metric:expr, [$(($k:literal, $v:literal)),*], $value:expr) => {
        PaperCell { coords: &[$(($k, $v)),*], metric: $metric, value: $value, note: "" }
    };
    ($metric:expr, [$(($k:literal, $v:literal)),*], $value:expr, $note:literal) => {
        PaperCell { coords: &[$(($k, $v)),*], metric: $metric, value: $value, note: $note }
    };
}

static TABLES: &[PaperTable] = &[
    PaperTable {
        key: "table2",
        title: "Table 2: number of temporal clips ρ",
        setting: "Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "every method gains strongly from ρ = 1 to 2 and keeps gaining to 4; MoCo and BYOL (momentum encoders) \
                sit ~4 points above SimCLR and SwAV",
        cells: &[
            cell!(LINEAR, [("objective", "moco"), ("clips", "1")], Unknown),
            cell!(LINEAR, [("objective", "byol"), ("clips", "1")], Unknown),
            cell!(
                LINEAR,
                [("objective", "simclr"), ("clips", "1")],
                Reported(36.1)
            ),
            cell!(
                LINEAR,
                [("objective", "swav"), ("clips", "1")],
                Reported(38.6)
            ),
            cell!(
                LINEAR,
                [("objective", "moco"), ("clips", "2")],
                Derived(65.8)
            ),
            cell!(LINEAR, [("objective", "byol"), ("clips", "2")], Unknown),
            cell!(
                LINEAR,
                [("objective", "simclr"), ("clips", "2")],
                Reported(60.5)
            ),
            cell!(
                LINEAR,
                [("objective", "swav"), ("clips", "2")],
                Reported(61.6)
            ),
            cell!(
                LINEAR,
                [("objective", "moco"), ("clips", "3")],
                Reported(67.3),
                "Table 10"
            ),
            cell!(LINEAR, [("objective", "byol"), ("clips", "3")], Unknown),
            cell!(LINEAR, [("objective", "simclr"), ("clips", "3")], Unknown),
            cell!(LINEAR, [("objective", "swav"), ("clips", "3")], Unknown),
            cell!(
                LINEAR,
                [("objective", "moco"), ("clips", "4")],
                Reported(69.0),
                "aug+, §A.2"
            ),
            cell!(
                LINEAR,
                [("objective", "byol"), ("clips", "4")],
                Reported(68.9)
            ),
            cell!(LINEAR, [("objective", "simclr"), ("clips", "4")], Unknown),
            cell!(LINEAR, [("objective", "swav"), ("clips", "4")], Unknown),
            cell!(UCF, [("objective", "moco"), ("clips", "2")], Reported(91.0)),
            cell!(UCF, [("objective", "byol"), ("clips", "2")], Reported(92.7)),
            cell!(
                UCF,
                [("objective", "simclr"), ("clips", "2")],
                Reported(88.9)
            ),
            cell!(UCF, [("objective", "swav"), ("clips", "2")], Reported(87.3)),
            cell!(UCF, [("objective", "byol"), ("clips", "4")], Reported(93.8)),
        ],
    },
    PaperTable {
        key: "released",
        title: "Released checkpoints of the official code",
        setting: "Slow R-50 8×8, K400 pre-training, 200 epochs; UCF101 split 1",
        trend: "",
        cells: &[
            cell!(
                LINEAR,
                [("objective", "moco"), ("clips", "2")],
                Reported(66.6)
            ),
            cell!(
                LINEAR,
                [("objective", "byol"), ("clips", "2")],
                Reported(67.4)
            ),
            cell!(
                LINEAR,
                [("objective", "simclr"), ("clips", "2")],
                Reported(61.5)
            ),
            cell!(
                LINEAR,
                [("objective", "swav"), ("clips", "2")],
                Reported(62.6)
            ),
            cell!(
                LINEAR,
                [("objective", "moco"), ("clips", "4")],
                Reported(71.0)
            ),
            cell!(
                LINEAR,
                [("objective", "byol"), ("clips", "4")],
                Reported(70.1)
            ),
            cell!(UCF, [("objective", "moco"), ("clips", "2")], Reported(91.3)),
            cell!(UCF, [("objective", "byol"), ("clips", "2")], Reported(94.0)),
            cell!(
                UCF,
                [("objective", "simclr"), ("clips", "2")],
                Reported(88.3)
            ),
            cell!(UCF, [("objective", "swav"), ("clips", "2")], Reported(90.2)),
            cell!(UCF, [("objective", "moco"), ("clips", "4")], Reported(94.5)),
            cell!(UCF, [("objective", "byol"), ("clips", "4")], Reported(94.7)),
        ],
    },
    PaperTable {
        key: "table3",
        title: "Table 3: training epochs",
        setting: "Slow R-50 8×8, K400 pre-training, ρ = 2",
        trend: "all methods gain up to 400 epochs; K400 saturates at 800; SwAV is strongest at 50 epochs; BYOL is \
                weakest at short schedules",
        cells: &[],
    },
    PaperTable {
        key: "table4",
        title: "Table 4: maximum frame distance t_max between positives",
        setting: "BYOL, ρ = 2, Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "K400: t_max = 0 (same moment) is ~5 points worse; otherwise flat up to global sampling (the whole 10 s \
                video)",
        cells: &[
            cell!(
                LINEAR,
                [("span", "0s")],
                Unknown,
                "~5 points below the others"
            ),
            cell!(LINEAR, [("span", "anywhere")], Unknown),
        ],
    },
    PaperTable {
        key: "fig3",
        title: "Figure 3: augmentation ablation (T temporal, S spatial, C colour)",
        setting: "ρ = 2, Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "removing T hurts most for every method except MoCo, which leans more on C (colour incl. grayscale); \
                removing both S and C equals the ρ = 1 row of Table 2",
        cells: &[
            cell!(
                LINEAR,
                [("objective", "moco"), ("augment", "base")],
                Reported(42.2)
            ),
            cell!(
                LINEAR,
                [("objective", "byol"), ("augment", "base")],
                Reported(32.4)
            ),
            cell!(
                LINEAR,
                [("objective", "simclr"), ("augment", "base")],
                Unknown
            ),
            cell!(
                LINEAR,
                [("objective", "swav"), ("augment", "base")],
                Unknown
            ),
        ],
    },
    PaperTable {
        key: "table7",
        title: "Table 7: radiometric augmentation",
        setting: "MoCo, ρ = 2, Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "colour strength 0.75 beats the default 0.5 (UCF +1.3); grayscale p 0.2 → 0.4 gives no gain; \
                temporal difference (p 0.2) +0.4 on K400; frame-rate jitter ±50 % gives no K400 gain",
        cells: &[],
    },
    PaperTable {
        key: "table8",
        title: "Table 8: cropping augmentation",
        setting: "MoCo, ρ = 2, Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "area [0.2, 0.76] with aspect jitter is best; area [0.08, 1] is too aggressive",
        cells: &[
            cell!(
                LINEAR,
                [("crop", "scale_jitter")],
                Reported(65.8),
                "short side [256, 320] + 224 crop"
            ),
            cell!(
                LINEAR,
                [("crop", "area_49")],
                Derived(64.8),
                "area [0.49, 0.76]"
            ),
            cell!(
                LINEAR,
                [("crop", "area_49_aspect")],
                Reported(65.4),
                "area [0.49, 0.76] + aspect [3/4, 4/3]"
            ),
            cell!(
                LINEAR,
                [("crop", "area_20_aspect")],
                Reported(66.8),
                "area [0.2, 0.76] + aspect [3/4, 4/3]"
            ),
            cell!(
                LINEAR,
                [("crop", "area_8_aspect")],
                Unknown,
                "area [0.08, 1]: too aggressive"
            ),
        ],
    },
    PaperTable {
        key: "table10",
        title: "Table 10: downstream benchmarks",
        setting: "ρ = 3, Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "",
        cells: &[
            cell!(LINEAR, [("objective", "supervised")], Reported(74.7)),
            cell!(LINEAR, [("objective", "moco")], Reported(67.3)),
            cell!(LINEAR, [("objective", "byol")], Unknown),
            cell!("ava.map", [("objective", "supervised")], Derived(22.2)),
            cell!("ava.map", [("objective", "moco")], Reported(20.3)),
            cell!("ava.map", [("objective", "byol")], Reported(23.4)),
            cell!(
                "charades.map",
                [("objective", "supervised")],
                Reported(34.7)
            ),
            cell!("charades.map", [("objective", "moco")], Reported(33.5)),
            cell!("charades.map", [("objective", "byol")], Derived(21.0)),
            cell!("ssv2.top1", [("objective", "supervised")], Reported(52.8)),
            cell!("ssv2.top1", [("objective", "byol")], Reported(55.8)),
        ],
    },
    PaperTable {
        key: "table11",
        title: "Table 11: state of the art",
        setting: "ρBYOL, ρ = 4, Slow R-50 8×8, K400 pre-training",
        trend: "",
        cells: &[
            cell!(UCF, [("objective", "byol"), ("clips", "4")], Reported(94.2)),
            cell!(
                "hmdb51.top1",
                [("objective", "byol"), ("clips", "4")],
                Reported(72.1)
            ),
        ],
    },
    PaperTable {
        key: "table15",
        title: "Table 15: momentum annealing",
        setting: "MoCo, ρ = 2, Slow R-50 8×8, K400 pre-training, 200 epochs, m_base 0.994",
        trend: "cosine annealing of the momentum to 1 gives about +1",
        cells: &[
            cell!(LINEAR, [("moco.anneal", "none")], Reported(64.5)),
            cell!(LINEAR, [("moco.anneal", "cosine")], Derived(65.5)),
        ],
    },
    PaperTable {
        key: "fig5",
        title: "Figure 5: LARS, SyncBN and BN in the MLP",
        setting: "ρ = 2, Slow R-50 8×8, K400 pre-training",
        trend: "LARS gives about +10 for SimCLR and SwAV and hurts MoCo and BYOL; SyncBN with BN in the MLP is a large \
                gain for BYOL; BN in MoCo's MLP hurts",
        cells: &[],
    },
    PaperTable {
        key: "table16",
        title: "Table 16: MLP depth",
        setting: "ρ = 2, Slow R-50 8×8, K400 pre-training, 200 epochs",
        trend: "MoCo 2 → 3 layers +1.2; SimCLR 3 layers +1.5; BYOL predictor depth 2 → 3 −2.2; SwAV 2 → 3 +1.3",
        cells: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_order_independent_and_keeps_marks() {
        let t2 = table("table2").unwrap();
        let moco = t2
            .lookup(LINEAR, &[("clips", "2"), ("objective", "moco")])
            .unwrap();
        assert_eq!(moco.value, Derived(65.8));
        assert_eq!(moco.value.to_string(), "~65.8");
        let simclr = t2
            .lookup(LINEAR, &[("objective", "simclr"), ("clips", "1")])
            .unwrap();
        assert_eq!(simclr.value.to_string(), "36.1");
        assert_eq!(
            t2.lookup(LINEAR, &[("objective", "byol"), ("clips", "2")])
                .unwrap()
                .value
                .to_string(),
            "?"
        );
        assert_eq!(
            t2.lookup(UCF, &[("objective", "byol"), ("clips", "4")])
                .unwrap()
                .value
                .value(),
            Some(93.8)
        );
        assert!(t2.lookup(LINEAR, &[("objective", "byol")]).is_none());
        assert_eq!(t2.axes(), vec!["objective", "clips"]);
    }

    #[test]
    fn keys_are_unique_and_cells_are_not_repeated() {
        for (i, t) in TABLES.iter().enumerate() {
            assert!(
                TABLES[..i].iter().all(|o| o.key != t.key),
                "duplicate key {}",
                t.key
            );
            for (j, c) in t.cells.iter().enumerate() {
                assert!(
                    t.cells[..j]
                        .iter()
                        .all(|o| o.metric != c.metric || o.coords != c.coords),
                    "{}: cell {:?} repeated",
                    t.key,
                    c.coords
                );
            }
        }
        assert!(table("table99").is_none());
    }
}
