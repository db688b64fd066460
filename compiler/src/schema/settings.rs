//! Every setting of a study cell, by block: its key, type, default (the paper's recipe, written in the language) and
//! which objective reads it.

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
}

impl EvalKind {
    pub const ALL: [EvalKind; 2] = [EvalKind::Linear, EvalKind::Knn];

    pub fn name(self) -> &'static str {
        match self {
            EvalKind::Linear => "linear",
            EvalKind::Knn => "knn",
        }
    }

    pub fn from_name(name: &str) -> Option<EvalKind> {
        EvalKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Metrics an evaluation of this kind reports (`<eval>.<metric>` in a report).
    pub fn metrics(self) -> &'static [&'static str] {
        &["top1", "top5"]
    }
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

fn s(key: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Setting {
    Setting {
        key,
        ty,
        default: Some(default),
        objective: None,
        doc,
    }
}

fn required(key: &'static str, ty: Ty, doc: &'static str) -> Setting {
    Setting {
        key,
        ty,
        default: None,
        objective: None,
        doc,
    }
}

fn of(objective: &'static str, mut setting: Setting) -> Setting {
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
        "`evaluate NAME { ... }`: an evaluation of every pre-trained encoder (`linear` probe, `knn`)",
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
    match scope {
        Scope::Pretrain => &PRETRAIN,
        Scope::Eval(EvalKind::Linear) => &LINEAR,
        Scope::Eval(EvalKind::Knn) => &KNN,
    }
}

static PRETRAIN: LazyLock<Vec<Setting>> = LazyLock::new(|| {
    let t_ops = Ty::List(Box::new(Ty::Call(&[
        "random_start",
        "frame_rate_jitter",
        "temporal_difference",
    ])));
    let s_ops = Ty::List(Box::new(Ty::Call(&[
        "short_side",
        "resized_crop",
        "crop",
        "center_crop",
        "flip",
    ])));
    let c_ops = Ty::List(Box::new(Ty::Call(&["color_jitter", "grayscale", "blur"])));
    let mlp = Ty::Call(&["mlp"]);
    let momentum = Ty::Float {
        min: 0.0,
        max: 1.0,
        min_open: false,
        max_open: false,
    };
    let anneal = Ty::Word(&["cosine", "none"]);
    let pairs = Ty::Word(&["all", "consecutive", "first_two"]);
    let clip_loss = Ty::Word(&["sum", "mean"]);
    vec![
        required(
            "data",
            Ty::Dataset,
            "the dataset to pre-train on (a name declared with `data NAME = ...`)",
        ),
        required(
            "objective",
            Ty::Word(OBJECTIVES),
            "the self-supervised objective: `moco`, `simclr`, `byol`, `swav`",
        ),
        s(
            "backbone",
            Ty::Call(&["slow_r18", "slow_r34", "slow_r50", "slow_r101"]),
            "slow_r50(frames: 8, stride: 8, width: 1)",
            "the encoder: a Slow-only ResNet",
        ),
        s(
            "clips",
            Ty::int(1),
            "2",
            "ρ, clips per video; 1 means two spatial crops of one clip",
        ),
        s(
            "span",
            Ty::Timespan,
            "anywhere",
            "the maximum time between the starts of a video's clips, or `anywhere`",
        ),
        s(
            "seed",
            Ty::int(0),
            "0",
            "decides data order, clip times, augmentation and initialisation",
        ),
        s(
            "device",
            Ty::Call(&["cpu", "cuda"]),
            "cpu",
            "where to train: `cpu`, `cuda` or `cuda(index)`",
        ),
        Setting {
            key: "weights",
            ty: Ty::PathStr,
            default: None,
            objective: None,
            doc: "start the encoder from these weights — a vst weights file, or a PySlowFast checkpoint converted by \
                  scripts/convert_pyslowfast.py — instead of a fresh initialisation; with `schedule.epochs: 0` \
                  nothing is trained and the evaluations measure the weights as they are",
        },
        s(
            "checkpoint_every",
            Ty::Epochs {
                integer: true,
                min: 1.0,
                bare: false,
            },
            "10 epochs",
            "checkpoint interval",
        ),
        s(
            "sync_bn",
            Ty::SyncBn,
            "all",
            "batch-norm statistics across devices: `all`, `none`, or a group size",
        ),
        // Augmentation.
        s(
            "augment.T",
            t_ops,
            "[random_start]",
            "temporal augmentation ops",
        ),
        s(
            "augment.S",
            s_ops,
            "[short_side(256..320), crop(224), flip]",
            "spatial augmentation ops (one of them must be a crop: it sets the clip size); the default is the study's \
             baseline (Table 8's scale jitter + crop)",
        ),
        s(
            "augment.C",
            c_ops,
            "[color_jitter(strength: 0.5, p: 0.8), grayscale(p: 0.2), blur(0.1..2.0, p: 0.5)]",
            "colour augmentation ops (one draw per clip, the same for all its frames); the default is the study's \
             baseline (Table 7's colour strength 0.5)",
        ),
        s(
            "augment.mean",
            Ty::PerChannel,
            "0.45",
            "normalisation mean (after scaling pixels to [0, 1])",
        ),
        s(
            "augment.std",
            Ty::PerChannel,
            "0.225",
            "normalisation standard deviation",
        ),
        // Schedule.
        s(
            "schedule.epochs",
            Ty::Epochs {
                integer: true,
                min: 0.0,
                bare: true,
            },
            "200",
            "training epochs (0 only with `weights`: evaluate existing weights as they are)",
        ),
        s(
            "schedule.batch",
            Ty::int(1),
            "512",
            "global batch in videos (each contributes ρ clips)",
        ),
        s(
            "schedule.optimizer",
            Ty::Call(&["sgd", "lars"]),
            "lars",
            "`sgd(...)` or `lars(...)`",
        ),
        s(
            "schedule.lr",
            Ty::Lr { zero: false },
            "4.8 per 512",
            "learning rate; `x per n` scales it to the global batch by `lr_scaling`",
        ),
        s(
            "schedule.lr_scaling",
            Ty::Word(&["linear", "sqrt"]),
            "linear",
            "how `x per n` scales: ×(batch/n) or ×√(batch/n)",
        ),
        s(
            "schedule.weight_decay",
            Ty::non_negative(),
            "1e-6",
            "weight decay",
        ),
        s(
            "schedule.warmup",
            Ty::Epochs {
                integer: false,
                min: 0.0,
                bare: false,
            },
            "35 epochs",
            "linear warm-up length",
        ),
        s(
            "schedule.warmup_start",
            Ty::Lr { zero: true },
            "0.008 per 512",
            "learning rate at the start of the warm-up (the official 0.001 per machine × 8 machines at 512 videos)",
        ),
        s(
            "schedule.decay",
            Ty::Word(&["cosine", "constant"]),
            "cosine",
            "after warm-up: half-period cosine to 0, or constant",
        ),
        // MoCo.
        of(
            "moco",
            s(
                "moco.temperature",
                Ty::positive(),
                "0.1",
                "softmax temperature",
            ),
        ),
        of(
            "moco",
            s(
                "moco.head",
                mlp.clone(),
                "mlp(layers: 3, hidden: 2048, out: 128, bn: false)",
                "projection MLP",
            ),
        ),
        of(
            "moco",
            s(
                "moco.queue",
                Ty::int(1),
                "65536",
                "queue length (negative keys)",
            ),
        ),
        of(
            "moco",
            s(
                "moco.momentum",
                momentum.clone(),
                "0.994",
                "key-encoder momentum m_base",
            ),
        ),
        of(
            "moco",
            s(
                "moco.anneal",
                anneal.clone(),
                "cosine",
                "momentum annealing to 1: `cosine` or `none`",
            ),
        ),
        of(
            "moco",
            s(
                "moco.shuffle_bn",
                Ty::Bool,
                "true",
                "shuffle BN across devices for the key encoder",
            ),
        ),
        of(
            "moco",
            s(
                "moco.pairs",
                pairs.clone(),
                "all",
                "positive pairs: `all` (each clip a query, the others its keys: the official MoCo), `consecutive` \
                 (neighbouring clips) or `first_two` (only clips 0 and 1 are queries)",
            ),
        ),
        of(
            "moco",
            s(
                "moco.clip_loss",
                clip_loss.clone(),
                "sum",
                "how the ρ query losses combine: `sum` (the official trainer: one backward per query clip) or \
                 `mean` (their average, as the paper's text puts it)",
            ),
        ),
        // SimCLR.
        of(
            "simclr",
            s(
                "simclr.temperature",
                Ty::positive(),
                "0.1",
                "softmax temperature",
            ),
        ),
        of(
            "simclr",
            s(
                "simclr.head",
                mlp.clone(),
                "mlp(layers: 3, hidden: 2048, out: 128, bn: true)",
                "projection MLP",
            ),
        ),
        of(
            "simclr",
            s(
                "simclr.pairs",
                pairs.clone(),
                "consecutive",
                "positive pairs: `consecutive` (clips k and k + 1, one loss per pair: the official SimCLR), `all` \
                 or `first_two`",
            ),
        ),
        of(
            "simclr",
            s(
                "simclr.clip_loss",
                clip_loss.clone(),
                "sum",
                "how the pair losses combine: `sum` (the official trainer: one backward per clip pair) or `mean`",
            ),
        ),
        // BYOL.
        of(
            "byol",
            s(
                "byol.head",
                mlp.clone(),
                "mlp(layers: 2, hidden: 4096, out: 256, bn: true)",
                "projection MLP",
            ),
        ),
        of(
            "byol",
            s(
                "byol.predictor",
                mlp.clone(),
                "mlp(layers: 2, hidden: 4096, out: 256, bn: true)",
                "predictor MLP",
            ),
        ),
        of(
            "byol",
            s(
                "byol.momentum",
                momentum,
                "0.996",
                "target-encoder momentum m_base",
            ),
        ),
        of(
            "byol",
            s(
                "byol.anneal",
                anneal,
                "cosine",
                "momentum annealing to 1: `cosine` or `none`",
            ),
        ),
        of(
            "byol",
            s(
                "byol.clip_loss",
                clip_loss,
                "sum",
                "how the ρ query losses combine: `sum` (the official trainer: one backward per query clip) or \
                 `mean`",
            ),
        ),
        // SwAV.
        of(
            "swav",
            s(
                "swav.temperature",
                Ty::positive(),
                "0.1",
                "softmax temperature",
            ),
        ),
        of(
            "swav",
            s(
                "swav.head",
                mlp,
                "mlp(layers: 3, hidden: 2048, out: 128, bn: true)",
                "projection MLP",
            ),
        ),
        of(
            "swav",
            s(
                "swav.prototypes",
                Ty::int(1),
                "1000",
                "number of prototypes",
            ),
        ),
        of(
            "swav",
            s(
                "swav.sinkhorn_epsilon",
                Ty::positive(),
                "0.05",
                "Sinkhorn-Knopp ε",
            ),
        ),
        of(
            "swav",
            s(
                "swav.sinkhorn_iterations",
                Ty::int(1),
                "3",
                "Sinkhorn-Knopp iterations",
            ),
        ),
        of(
            "swav",
            s(
                "swav.freeze_prototypes",
                Ty::Epochs {
                    integer: false,
                    min: 0.0,
                    bare: false,
                },
                "1 epoch",
                "prototypes get no gradient for this long",
            ),
        ),
        of(
            "swav",
            s(
                "swav.queue",
                Ty::int(0),
                "0",
                "queue of past embeddings for computing codes (0: none)",
            ),
        ),
        of(
            "swav",
            s(
                "swav.pairs",
                pairs,
                "first_two",
                "(code, prediction) clip pairs: `first_two` (codes of clips 0 and 1, predicted by every other clip: \
                 the official SwAV), `all` or `consecutive`",
            ),
        ),
    ]
});

fn eval_common() -> Vec<Setting> {
    vec![
        Setting {
            key: "data",
            ty: Ty::Dataset,
            default: None,
            objective: None,
            doc: "the dataset to evaluate on (its train split trains the probe); the pre-training data when absent",
        },
        Setting {
            key: "kind",
            ty: Ty::Word(&["linear", "knn"]),
            default: None,
            objective: None,
            doc: "`linear` or `knn`; needed only when the block's name is neither",
        },
    ]
}

static LINEAR: LazyLock<Vec<Setting>> = LazyLock::new(|| {
    let mut v = eval_common();
    v.extend([
        s(
            "epochs",
            Ty::Epochs {
                integer: true,
                min: 1.0,
                bare: true,
            },
            "60",
            "probe training epochs",
        ),
        s("batch", Ty::int(1), "512", "global batch in videos"),
        s(
            "lr",
            Ty::Lr { zero: false },
            "4.0 per 512",
            "learning rate (cosine schedule)",
        ),
        s(
            "lr_scaling",
            Ty::Word(&["linear", "sqrt"]),
            "linear",
            "how `x per n` scales to the batch",
        ),
        s(
            "warmup",
            Ty::Epochs {
                integer: false,
                min: 0.0,
                bare: false,
            },
            "8 epochs",
            "linear warm-up length",
        ),
        s("weight_decay", Ty::non_negative(), "0", "weight decay"),
        s(
            "momentum",
            Ty::unit_interval_open_top(),
            "0.9",
            "SGD momentum",
        ),
        s(
            "augment",
            Ty::List(Box::new(Ty::Call(&[
                "short_side",
                "resized_crop",
                "crop",
                "center_crop",
                "flip",
            ]))),
            "[short_side(256..320), crop(224), flip]",
            "training augmentation of the probe (S ops)",
        ),
        s(
            "views",
            Ty::Views,
            "10x3",
            "test views: temporal clips × spatial crops, softmax averaged",
        ),
        s(
            "view_size",
            Ty::Pixels,
            "256",
            "test crop side (after resizing the short side to it)",
        ),
    ]);
    v
});

static KNN: LazyLock<Vec<Setting>> = LazyLock::new(|| {
    let mut v = eval_common();
    v.extend([
        s("k", Ty::int(1), "200", "neighbours"),
        s(
            "temperature",
            Ty::positive(),
            "0.07",
            "temperature of the similarity-weighted vote",
        ),
        s(
            "views",
            Ty::Views,
            "1x1",
            "test views: temporal clips × spatial crops, features averaged",
        ),
        s(
            "view_size",
            Ty::Pixels,
            "256",
            "test crop side (after resizing the short side to it)",
        ),
    ]);
    v
});
