//! Every setting of a study cell, by block: its key, type, default (the paper's recipe, written in the language) and
//! which objective reads it.

use super::evaluate::{FinetuneEval, KnnEval, LinearEval};
use super::pretrain::Pretrain;
use super::types::Ty;
use std::sync::LazyLock;

/// Where a setting lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `pretrain { ... }` (keys relative to the block: `clips`, `schedule.lr`, `moco.queue`).
    Pretrain,
    /// `evaluate NAME { ... }` of a kind.
    Eval(EvalKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvalKind {
    Linear,
    Knn,
    /// The whole network trained on the evaluation data, from the pre-trained encoder or from scratch.
    Finetune,
}

/// The words `kind:` accepts, one per [`EvalKind`].
pub const EVAL_KIND_WORDS: &[&str] = &["linear", "knn", "finetune"];

impl EvalKind {
    pub const ALL: [EvalKind; 3] = [EvalKind::Linear, EvalKind::Knn, EvalKind::Finetune];

    pub fn name(self) -> &'static str {
        match self {
            EvalKind::Linear => "linear",
            EvalKind::Knn => "knn",
            EvalKind::Finetune => "finetune",
        }
    }

    pub fn from_name(name: &str) -> Option<EvalKind> {
        EvalKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Metrics an evaluation of this kind reports (`<eval>.<metric>` in a report).
    /// A fine-tune on multi-label data (Charades) reports mean average precision (`map`) instead of top-k.
    pub fn metrics(self) -> &'static [&'static str] {
        match self {
            EvalKind::Finetune => &["top1", "top5", "map"],
            _ => &["top1", "top5"],
        }
    }

    /// A metric as a plot's axis names it, with its unit: `linear top-1 accuracy (%)`, `kNN top-5 accuracy (%)`.
    /// `block` is the evaluation block's name in the recipe; it is shown when it is not the kind's own.
    pub fn metric_label(self, block: &str, metric: &str) -> Option<String> {
        let what = match metric {
            "top1" => "top-1 accuracy (%)",
            "top5" => "top-5 accuracy (%)",
            "map" => "mean average precision (%)",
            _ => return None,
        };
        let kind = match self {
            EvalKind::Linear => "linear",
            EvalKind::Knn => "kNN",
            EvalKind::Finetune => "fine-tune",
        };
        Some(match block == self.name() {
            true => format!("{kind} {what}"),
            false => format!("{block} ({kind}) {what}"),
        })
    }
}

/// A sweep key as a plot's axis names it: the head of its setting's doc (`clips` → `ρ, clips per video`) when that
/// is short enough to be a label; None for keys without a setting or a short doc.
pub fn axis_label(key: &str) -> Option<String> {
    let setting = settings(Scope::Pretrain).iter().find(|s| s.key == key)?;
    let head = setting.doc.split([';', ':']).next()?.replace('`', "");
    let head = head.trim();
    let head = head.strip_prefix("the ").unwrap_or(head);
    (!head.is_empty() && head.chars().count() <= 48).then(|| head.to_string())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dotted key relative to the block.
    pub key: &'static str,
    pub ty: Ty,
    /// The default, written in the language; None when the setting must be given (or is inherited, see `doc`).
    pub default: Option<&'static str>,
    /// Only this objective reads the setting.
    pub objective: Option<&'static str>,
    pub doc: &'static str,
}

pub(super) fn s(key: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Setting {
    Setting {
        key,
        ty,
        default: Some(default),
        objective: None,
        doc,
    }
}

pub(super) fn required(key: &'static str, ty: Ty, doc: &'static str) -> Setting {
    Setting {
        key,
        ty,
        default: None,
        objective: None,
        doc,
    }
}

pub(super) fn of(objective: &'static str, mut setting: Setting) -> Setting {
    setting.objective = Some(objective);
    setting
}

/// Top-level blocks.
pub const BLOCKS: &[(&str, &str)] = &[
    (
        "pretrain",
        "the pre-training of every cell: data, backbone, clips, augmentation, objective, schedule",
    ),
    (
        "evaluate",
        "`evaluate NAME { ... }`: an evaluation of every pre-trained encoder (`linear` probe, `knn`, `finetune`)",
    ),
    (
        "sweep",
        "the axes of the study: settings (and labelled axes) whose cartesian product gives the cells",
    ),
    (
        "when",
        "`when(key: value, ...) { ... }`: settings that apply only to the cells matching the conditions",
    ),
    (
        "report",
        "`report \"title\" { ... }`: a table of one metric over two axes, with the paper's numbers",
    ),
];

/// Blocks allowed inside `pretrain` (their keys are prefixed with the block's name).
pub const GROUPS: &[(&str, &str)] = &[
    (
        "augment",
        "augmentations, grouped as T (temporal), S (spatial), C (colour), and normalisation",
    ),
    (
        "schedule",
        "optimisation: epochs, batch, optimiser, learning rate and its scaling rule, warm-up, decay",
    ),
    ("moco", "MoCo's parameters (read when `objective: moco`)"),
    (
        "simclr",
        "SimCLR's parameters (read when `objective: simclr`)",
    ),
    ("byol", "BYOL's parameters (read when `objective: byol`)"),
    ("swav", "SwAV's parameters (read when `objective: swav`)"),
];

pub const OBJECTIVES: &[&str] = &["moco", "simclr", "byol", "swav"];

/// The keys of a `report` block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportKey {
    pub key: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

pub const REPORT_KEYS: &[ReportKey] = &[
    ReportKey {
        key: "rows",
        required: false,
        doc: "the sweep axis down the rows (e.g. `objective`); one row when absent",
    },
    ReportKey {
        key: "cols",
        required: false,
        doc: "the sweep axis across the columns (e.g. `clips`); one column when absent",
    },
    ReportKey {
        key: "over",
        required: false,
        doc: "the sweep axis aggregated in each table cell (e.g. `seed`): mean ± sample standard deviation",
    },
    ReportKey {
        key: "cell",
        required: true,
        doc: "the metric in each cell, `<evaluate block>.<metric>` (`linear.top1`, `knn.top5`)",
    },
    ReportKey {
        key: "paper",
        required: false,
        doc: "the paper table printed beside ours (`table2`, `fig3`, ...)",
    },
    ReportKey {
        key: "expect",
        required: false,
        doc: "checks `vst run` makes: `COLS_AXIS a above b (by m | beyond spread)`, `within t of paper`, `at least v`",
    },
];

/// The settings of a scope, in documentation order.
pub fn settings(scope: Scope) -> &'static [Setting] {
    static PRETRAIN: LazyLock<Vec<Setting>> = LazyLock::new(Pretrain::schema);
    static LINEAR: LazyLock<Vec<Setting>> = LazyLock::new(LinearEval::schema);
    static KNN: LazyLock<Vec<Setting>> = LazyLock::new(KnnEval::schema);
    static FINETUNE: LazyLock<Vec<Setting>> = LazyLock::new(FinetuneEval::schema);
    match scope {
        Scope::Pretrain => &PRETRAIN,
        Scope::Eval(EvalKind::Linear) => &LINEAR,
        Scope::Eval(EvalKind::Knn) => &KNN,
        Scope::Eval(EvalKind::Finetune) => &FINETUNE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_name_axes_from_the_schema() {
        assert_eq!(axis_label("clips").as_deref(), Some("ρ, clips per video"));
        assert_eq!(axis_label("seed").as_deref(), Some("random seed"));
        assert_eq!(
            axis_label("span").as_deref(),
            Some("timespan of a video's clips")
        );
        // A doc that is a sentence about the setting, not a name of it, leaves the key.
        assert_eq!(axis_label("weights"), None);
        assert_eq!(axis_label("no.such.key"), None);
        assert_eq!(
            EvalKind::Linear.metric_label("linear", "top1").as_deref(),
            Some("linear top-1 accuracy (%)")
        );
        assert_eq!(
            EvalKind::Knn.metric_label("probe", "top5").as_deref(),
            Some("probe (kNN) top-5 accuracy (%)")
        );
        assert_eq!(
            EvalKind::Finetune
                .metric_label("scratch", "top1")
                .as_deref(),
            Some("scratch (fine-tune) top-1 accuracy (%)")
        );
    }
}
