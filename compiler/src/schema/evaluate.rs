//! The settings of `evaluate NAME { ... }` blocks, one typed struct per kind of evaluation (see [`super::typed`]).

use super::pretrain::spatial_ops;
use super::settings::{Setting, s};
use super::typed::{FinetuneStart, LearningRate, LrScaling, settings};
use super::types::Ty;
use crate::check::value::CallValue;
use vst_spec::Decay;

/// `data`: where every kind of evaluation starts.
fn data_setting() -> Setting {
    Setting {
        key: "data",
        ty: Ty::Dataset,
        default: None,
        objective: None,
        doc: "the dataset to evaluate on (its train split trains the probe); the pre-training data when absent",
    }
}

/// `kind`: every kind of evaluation accepts it.
fn kind_setting() -> Setting {
    Setting {
        key: "kind",
        ty: Ty::Word(super::settings::EVAL_KIND_WORDS),
        default: None,
        objective: None,
        doc: "`linear`, `knn` or `finetune`; needed only when the block's name is none of them",
    }
}

/// `epochs` of an evaluation that trains (the probe, fine-tuning).
fn epochs_setting(default: &'static str, doc: &'static str) -> Setting {
    s(
        "epochs",
        Ty::Epochs {
            integer: true,
            min: 1.0,
            bare: true,
        },
        default,
        doc,
    )
}

/// `lr_scaling` of an evaluation that trains.
fn lr_scaling_setting() -> Setting {
    s(
        "lr_scaling",
        Ty::Word(&["linear", "sqrt"]),
        "linear",
        "how `x per n` scales to the batch",
    )
}

/// `warmup` of an evaluation that trains.
fn warmup_setting(default: &'static str, doc: &'static str) -> Setting {
    s(
        "warmup",
        Ty::Epochs {
            integer: false,
            min: 0.0,
            bare: false,
        },
        default,
        doc,
    )
}

/// `view_size`: the test crop of every kind of evaluation.
fn view_size_setting() -> Setting {
    s(
        "view_size",
        Ty::Pixels,
        "256",
        "test crop side (after resizing the short side to it)",
    )
}

settings! {
    /// A linear probe: a classifier trained on the frozen encoder's features.
    pub struct LinearEval {
        data: Option<String> = data_setting(),
        kind: Option<String> = kind_setting(),
        epochs: u32 = epochs_setting("60", "probe training epochs"),
        batch: u32 = s("batch", Ty::int(1), "512", "global batch in videos"),
        lr: LearningRate = s(
            "lr",
            Ty::Lr { zero: false },
            "4.0 per 512",
            "learning rate (cosine schedule)",
        ),
        lr_scaling: LrScaling = lr_scaling_setting(),
        warmup: f64 = warmup_setting("8 epochs", "linear warm-up length"),
        weight_decay: f64 = s("weight_decay", Ty::non_negative(), "0", "weight decay"),
        momentum: f64 = s(
            "momentum",
            Ty::unit_interval_open_top(),
            "0.9",
            "SGD momentum",
        ),
        augment: Vec<CallValue> = s(
            "augment",
            spatial_ops(),
            "[short_side(256..320), crop(224), flip]",
            "training augmentation of the probe (S ops)",
        ),
        views: (u32, u32) = s(
            "views",
            Ty::Views,
            "10x3",
            "test views: temporal clips × spatial crops, softmax averaged",
        ),
        view_size: u32 = view_size_setting(),
    }
}

settings! {
    /// A k-nearest-neighbour classifier over the frozen encoder's features.
    pub struct KnnEval {
        data: Option<String> = data_setting(),
        kind: Option<String> = kind_setting(),
        k: u32 = s("k", Ty::int(1), "200", "neighbours"),
        temperature: f64 = s(
            "temperature",
            Ty::positive(),
            "0.07",
            "temperature of the similarity-weighted vote",
        ),
        views: (u32, u32) = s(
            "views",
            Ty::Views,
            "1x1",
            "test views: temporal clips × spatial crops, features averaged",
        ),
        view_size: u32 = view_size_setting(),
    }
}

/// The colour ops a fine-tune's training augmentation accepts (the pre-training's C group).
fn color_ops() -> Ty {
    Ty::List(Box::new(Ty::Call(&["color_jitter", "grayscale", "blur"])))
}

settings! {
    /// Fine-tuning: the whole network (encoder and a new linear classifier behind dropout) trained on the
    /// evaluation data with cross-entropy, then tested on N×M views. The defaults are PySlowFast's
    /// `configs/contrastive_ssl/finetune_ucf_Slow_R50_syn0.yaml` (UCF101, batch norm per device as vst trains):
    /// 200 epochs of 64 videos, SGD (Nesterov) momentum 0.9, LR 0.005 at 64 videos on a cosine schedule without
    /// warm-up, weight decay 1e-4 (none on batch norm), dropout 0.5, scale jitter 256–320 + crop 224 + flip, colour
    /// jitter (0.4, 0.4, 0.4, 0.1) always applied and grayscale with p 0.2 (PySlowFast converts to grayscale
    /// before the jitter, vst's C after it), and PySlowFast's test default of
    /// 10 × 3 views at 256. On multi-label data (`charades(...)`) the loss is per-class sigmoid binary cross-entropy
    /// and the metric `map`. Other datasets (docs/language.md, recipes/table10.vst): SSv2 follows
    /// `finetune_SSv2_Slow_R50` (22 epochs, LR 0.12 per 64, warm-up 0.19 epochs, steps ×0.1 at 14 and 18, weight
    /// decay 1e-6, no flip — rejected on SSv2 —, no colour, 1 × 1 views); HMDB51 has no official config and keeps
    /// these (UCF101's) defaults; Charades has none either: PySlowFast's supervised Charades config restated for
    /// batch 64 (57 epochs, LR 0.15 per 64, warm-up 4 epochs, steps ×0.1 at 41 and 49, weight decay 1e-4, scale
    /// jitter 256–340 + crop + flip, no colour).
    pub struct FinetuneEval {
        data: Option<String> = data_setting(),
        kind: Option<String> = kind_setting(),
        from: FinetuneStart = s(
            "from",
            Ty::Word(&["pretrained", "scratch"]),
            "pretrained",
            "`pretrained`: start from the cell's pre-trained encoder; `scratch`: from a fresh initialisation (the \
             supervised baseline with the same budget)",
        ),
        epochs: u32 = epochs_setting("200", "fine-tuning epochs"),
        batch: u32 = s("batch", Ty::int(1), "64", "global batch in videos"),
        lr: LearningRate = s(
            "lr",
            Ty::Lr { zero: false },
            "0.005 per 64",
            "learning rate (then `decay`)",
        ),
        lr_scaling: LrScaling = lr_scaling_setting(),
        warmup: f64 = warmup_setting("0 epochs", "linear warm-up length"),
        warmup_start: LearningRate = s(
            "warmup_start",
            Ty::Lr { zero: true },
            "0",
            "learning rate the warm-up starts from (`x per n` scales as `lr`)",
        ),
        decay: Decay = s(
            "decay",
            Ty::Call(&["cosine", "steps"]),
            "cosine",
            "after warm-up: `cosine` (half-period to 0 over the run) or `steps(at: [...], factor: 0.1)`",
        ),
        weight_decay: f64 = s(
            "weight_decay",
            Ty::non_negative(),
            "1e-4",
            "weight decay (none on batch norm)",
        ),
        momentum: f64 = s(
            "momentum",
            Ty::unit_interval_open_top(),
            "0.9",
            "SGD momentum (Nesterov)",
        ),
        dropout: f64 = s(
            "dropout",
            Ty::unit_interval_open_top(),
            "0.5",
            "dropout rate before the classifier",
        ),
        augment: Vec<CallValue> = s(
            "augment",
            spatial_ops(),
            "[short_side(256..320), crop(224), flip]",
            "spatial training augmentation (S ops; the crop sets the training clip size)",
        ),
        color: Vec<CallValue> = s(
            "color",
            color_ops(),
            "[color_jitter(0.4, 0.4, 0.4, 0.1, p: 1.0), grayscale(p: 0.2)]",
            "colour training augmentation (C ops)",
        ),
        views: (u32, u32) = s(
            "views",
            Ty::Views,
            "10x3",
            "test views: temporal clips × spatial crops, softmax averaged",
        ),
        view_size: u32 = view_size_setting(),
        checkpoint_every: u32 = s(
            "checkpoint_every",
            Ty::Epochs {
                integer: true,
                min: 1.0,
                bare: false,
            },
            "10 epochs",
            "checkpoint interval (the job resumes from its last checkpoint)",
        ),
    }
}
