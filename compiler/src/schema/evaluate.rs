//! The settings of `evaluate NAME { ... }` blocks, one typed struct per kind of evaluation (see [`super::typed`]).

use super::pretrain::spatial_ops;
use super::settings::{Setting, s};
use super::typed::{LearningRate, LrScaling, settings};
use super::types::Ty;
use crate::check::value::CallValue;

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
        ty: Ty::Word(&["linear", "knn"]),
        default: None,
        objective: None,
        doc: "`linear` or `knn`; needed only when the block's name is neither",
    }
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
        epochs: u32 = s(
            "epochs",
            Ty::Epochs {
                integer: true,
                min: 1.0,
                bare: true,
            },
            "60",
            "probe training epochs",
        ),
        batch: u32 = s("batch", Ty::int(1), "512", "global batch in videos"),
        lr: LearningRate = s(
            "lr",
            Ty::Lr { zero: false },
            "4.0 per 512",
            "learning rate (cosine schedule)",
        ),
        lr_scaling: LrScaling = s(
            "lr_scaling",
            Ty::Word(&["linear", "sqrt"]),
            "linear",
            "how `x per n` scales to the batch",
        ),
        warmup: f64 = s(
            "warmup",
            Ty::Epochs {
                integer: false,
                min: 0.0,
                bare: false,
            },
            "8 epochs",
            "linear warm-up length",
        ),
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
