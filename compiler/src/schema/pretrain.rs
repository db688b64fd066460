//! The settings of the `pretrain` block, declared once: each is a field of the typed struct `build` reads and an
//! entry of the schema the checker and the docs read (see [`super::typed`]). Documentation order is declaration
//! order: the block's own keys, then each group's.

use super::settings::{OBJECTIVES, Setting, of, required, s};
use super::typed::{LearningRate, LrScaling, ObjectiveName, settings};
use super::types::Ty;
use crate::check::value::CallValue;
use std::path::PathBuf;
use vst_spec::Precision;
use vst_spec::{Anneal, BnBatch, ClipLoss, Decay, PairRule, Timespan};

fn temporal_ops() -> Ty {
    Ty::List(Box::new(Ty::Call(&[
        "random_start",
        "frame_rate_jitter",
        "temporal_difference",
    ])))
}

/// The spatial ops (also a linear probe's training augmentation).
pub(super) fn spatial_ops() -> Ty {
    Ty::List(Box::new(Ty::Call(&[
        "short_side",
        "resized_crop",
        "crop",
        "center_crop",
        "flip",
    ])))
}

fn color_ops() -> Ty {
    Ty::List(Box::new(Ty::Call(&["color_jitter", "grayscale", "blur"])))
}

fn mlp_type() -> Ty {
    Ty::Call(&["mlp"])
}

fn momentum_type() -> Ty {
    Ty::Float {
        min: 0.0,
        max: 1.0,
        min_open: false,
        max_open: false,
    }
}

fn anneal_type() -> Ty {
    Ty::Word(&["cosine", "none"])
}

fn pairs_type() -> Ty {
    Ty::Word(&["all", "consecutive", "first_two"])
}

fn clip_loss_type() -> Ty {
    Ty::Word(&["sum", "mean"])
}

settings! {
    /// Every setting of `pretrain { ... }` for one cell.
    pub struct Pretrain {
        data: Option<String> = required(
            "data",
            Ty::Dataset,
            "the dataset to pre-train on (a name declared with `data NAME = ...`)",
        ),
        objective: Option<ObjectiveName> = required(
            "objective",
            Ty::Word(OBJECTIVES),
            "the self-supervised objective: `moco`, `simclr`, `byol`, `swav`",
        ),
        backbone: CallValue = s(
            "backbone",
            Ty::Call(&["slow_r18", "slow_r34", "slow_r50", "slow_r101"]),
            "slow_r50(frames: 8, stride: 8, width: 1)",
            "the encoder: a Slow-only ResNet",
        ),
        clips: u32 = s(
            "clips",
            Ty::int(1),
            "2",
            "ρ, clips per video; 1 means two spatial crops of one clip",
        ),
        span: Timespan = s(
            "span",
            Ty::Timespan,
            "anywhere",
            "timespan of a video's clips: the maximum time between their starts, or `anywhere`",
        ),
        seed: u64 = s(
            "seed",
            Ty::int(0),
            "0",
            "random seed: decides data order, clip times, augmentation and initialisation",
        ),
        device: CallValue = s(
            "device",
            Ty::Call(&["cpu", "cuda"]),
            "cpu",
            "where to train: `cpu`, `cuda` or `cuda(index)`",
        ),
        precision: Precision = s(
            "precision",
            Ty::Word(&["f32", "tf32", "bf16"]),
            "f32",
            "arithmetic of the pre-training on CUDA: `f32`, `tf32` (tensor-core products with TF32 operands) or \
             `bf16` (bf16 operands, f32 accumulation: PyTorch's bf16 autocast); weights, optimiser state, \
             batch-norm statistics and losses stay f32. Part of the job's identity. The CPU computes in f32 only",
        ),
        weights: Option<PathBuf> = Setting {
            key: "weights",
            ty: Ty::PathStr,
            default: None,
            objective: None,
            doc: "start the encoder from these weights — a vst weights file, or a PySlowFast checkpoint converted by \
                  scripts/convert_pyslowfast.py — instead of a fresh initialisation; with `schedule.epochs: 0` \
                  nothing is trained and the evaluations measure the weights as they are",
        },
        checkpoint_every: u32 = s(
            "checkpoint_every",
            Ty::Epochs {
                integer: true,
                min: 1.0,
                bare: false,
            },
            "10 epochs",
            "checkpoint interval",
        ),
        bn_batch: BnBatch = s(
            "bn_batch",
            Ty::BnBatch,
            "all",
            "videos per batch-norm batch of the global batch (`all`: the whole batch); the official configurations: \
             MoCo 8 (one GPU's batch, with shuffle-BN), SimCLR, BYOL and SwAV 64 (SyncBN over a node of 8 GPUs × 8). \
             Stated in videos, not devices: `vst run` realises it as micro-batches on one device or SyncBN over \
             several, and the model does not depend on the device count",
        ),
    }
    groups {
        augment: Augment,
        schedule: Schedule,
        moco: Moco,
        simclr: SimClr,
        byol: Byol,
        swav: Swav,
    }
}

settings! {
    /// The `augment` group: T, S, C and normalisation.
    pub struct Augment {
        temporal: Vec<CallValue> = s(
            "augment.T",
            temporal_ops(),
            "[random_start]",
            "temporal augmentation ops",
        ),
        spatial: Vec<CallValue> = s(
            "augment.S",
            spatial_ops(),
            "[short_side(256..320), crop(224), flip]",
            "spatial augmentation ops (one of them must be a crop: it sets the clip size); the default is the study's \
             baseline (Table 8's scale jitter + crop)",
        ),
        color: Vec<CallValue> = s(
            "augment.C",
            color_ops(),
            "[color_jitter(strength: 0.5, p: 0.8), grayscale(p: 0.2), blur(0.1..2.0, p: 0.5)]",
            "colour augmentation ops (one draw per clip, the same for all its frames); the default is the study's \
             baseline (Table 7's colour strength 0.5)",
        ),
        mean: [f64; 3] = s(
            "augment.mean",
            Ty::PerChannel,
            "0.45",
            "normalisation mean (after scaling pixels to [0, 1])",
        ),
        std: [f64; 3] = s(
            "augment.std",
            Ty::PerChannel,
            "0.225",
            "normalisation standard deviation",
        ),
    }
}

settings! {
    /// The `schedule` group: optimisation.
    pub struct Schedule {
        epochs: u32 = s(
            "schedule.epochs",
            Ty::Epochs {
                integer: true,
                min: 0.0,
                bare: true,
            },
            "200",
            "training epochs (0 only with `weights`: evaluate existing weights as they are)",
        ),
        batch: u32 = s(
            "schedule.batch",
            Ty::int(1),
            "512",
            "global batch in videos (each contributes ρ clips)",
        ),
        optimizer: CallValue = s(
            "schedule.optimizer",
            Ty::Call(&["sgd", "lars"]),
            "lars",
            "`sgd(...)` or `lars(...)`",
        ),
        lr: LearningRate = s(
            "schedule.lr",
            Ty::Lr { zero: false },
            "4.8 per 512",
            "learning rate; `x per n` scales it to the global batch by `lr_scaling`",
        ),
        lr_scaling: LrScaling = s(
            "schedule.lr_scaling",
            Ty::Word(&["linear", "sqrt"]),
            "linear",
            "how `x per n` scales: ×(batch/n) or ×√(batch/n)",
        ),
        weight_decay: f64 = s(
            "schedule.weight_decay",
            Ty::non_negative(),
            "1e-6",
            "weight decay",
        ),
        warmup: f64 = s(
            "schedule.warmup",
            Ty::Epochs {
                integer: false,
                min: 0.0,
                bare: false,
            },
            "35 epochs",
            "linear warm-up length",
        ),
        warmup_start: LearningRate = s(
            "schedule.warmup_start",
            Ty::Lr { zero: true },
            "0.008 per 512",
            "learning rate at the start of the warm-up (the official 0.001 per machine × 8 machines at 512 videos)",
        ),
        decay: Decay = s(
            "schedule.decay",
            Ty::Call(&["cosine", "constant", "steps"]),
            "cosine",
            "after warm-up: `cosine` (half-period to 0), `constant`, or `steps(at: [...], factor: 0.1)`",
        ),
    }
}

settings! {
    /// MoCo's parameters (`moco.*`).
    pub struct Moco {
        temperature: f64 = of(
            "moco",
            s(
                "moco.temperature",
                Ty::positive(),
                "0.1",
                "softmax temperature",
            ),
        ),
        head: CallValue = of(
            "moco",
            s(
                "moco.head",
                mlp_type(),
                "mlp(layers: 3, hidden: 2048, out: 128, bn: false)",
                "projection MLP",
            ),
        ),
        queue: u32 = of(
            "moco",
            s(
                "moco.queue",
                Ty::int(1),
                "65536",
                "queue length (negative keys)",
            ),
        ),
        momentum: f64 = of(
            "moco",
            s(
                "moco.momentum",
                momentum_type(),
                "0.994",
                "key-encoder momentum m_base",
            ),
        ),
        anneal: Anneal = of(
            "moco",
            s(
                "moco.anneal",
                anneal_type(),
                "cosine",
                "momentum annealing to 1: `cosine` or `none`",
            ),
        ),
        shuffle_bn: bool = of(
            "moco",
            s(
                "moco.shuffle_bn",
                Ty::Bool,
                "true",
                "shuffle BN across devices for the key encoder",
            ),
        ),
        pairs: PairRule = of(
            "moco",
            s(
                "moco.pairs",
                pairs_type(),
                "all",
                "positive pairs: `all` (each clip a query, the others its keys: the official MoCo), `consecutive` \
                 (neighbouring clips) or `first_two` (only clips 0 and 1 are queries)",
            ),
        ),
        clip_loss: ClipLoss = of(
            "moco",
            s(
                "moco.clip_loss",
                clip_loss_type(),
                "sum",
                "how the ρ query losses combine: `sum` (the official trainer: one backward per query clip) or \
                 `mean` (their average, as the paper's text puts it)",
            ),
        ),
    }
}

settings! {
    /// SimCLR's parameters (`simclr.*`).
    pub struct SimClr {
        temperature: f64 = of(
            "simclr",
            s(
                "simclr.temperature",
                Ty::positive(),
                "0.1",
                "softmax temperature",
            ),
        ),
        head: CallValue = of(
            "simclr",
            s(
                "simclr.head",
                mlp_type(),
                "mlp(layers: 3, hidden: 2048, out: 128, bn: true)",
                "projection MLP",
            ),
        ),
        pairs: PairRule = of(
            "simclr",
            s(
                "simclr.pairs",
                pairs_type(),
                "consecutive",
                "positive pairs: `consecutive` (clips k and k + 1, one loss per pair: the official SimCLR), `all` \
                 or `first_two`",
            ),
        ),
        clip_loss: ClipLoss = of(
            "simclr",
            s(
                "simclr.clip_loss",
                clip_loss_type(),
                "sum",
                "how the pair losses combine: `sum` (the official trainer: one backward per clip pair) or `mean`",
            ),
        ),
    }
}

settings! {
    /// BYOL's parameters (`byol.*`).
    pub struct Byol {
        head: CallValue = of(
            "byol",
            s(
                "byol.head",
                mlp_type(),
                "mlp(layers: 2, hidden: 4096, out: 256, bn: true)",
                "projection MLP",
            ),
        ),
        predictor: CallValue = of(
            "byol",
            s(
                "byol.predictor",
                mlp_type(),
                "mlp(layers: 2, hidden: 4096, out: 256, bn: true)",
                "predictor MLP",
            ),
        ),
        momentum: f64 = of(
            "byol",
            s(
                "byol.momentum",
                momentum_type(),
                "0.996",
                "target-encoder momentum m_base",
            ),
        ),
        anneal: Anneal = of(
            "byol",
            s(
                "byol.anneal",
                anneal_type(),
                "cosine",
                "momentum annealing to 1: `cosine` or `none`",
            ),
        ),
        clip_loss: ClipLoss = of(
            "byol",
            s(
                "byol.clip_loss",
                clip_loss_type(),
                "sum",
                "how the ρ query losses combine: `sum` (the official trainer: one backward per query clip) or \
                 `mean`",
            ),
        ),
    }
}

settings! {
    /// SwAV's parameters (`swav.*`).
    pub struct Swav {
        temperature: f64 = of(
            "swav",
            s(
                "swav.temperature",
                Ty::positive(),
                "0.1",
                "softmax temperature",
            ),
        ),
        head: CallValue = of(
            "swav",
            s(
                "swav.head",
                mlp_type(),
                "mlp(layers: 3, hidden: 2048, out: 128, bn: true)",
                "projection MLP",
            ),
        ),
        prototypes: u32 = of(
            "swav",
            s(
                "swav.prototypes",
                Ty::int(1),
                "1000",
                "number of prototypes",
            ),
        ),
        sinkhorn_epsilon: f64 = of(
            "swav",
            s(
                "swav.sinkhorn_epsilon",
                Ty::positive(),
                "0.05",
                "Sinkhorn-Knopp ε",
            ),
        ),
        sinkhorn_iterations: u32 = of(
            "swav",
            s(
                "swav.sinkhorn_iterations",
                Ty::int(1),
                "3",
                "Sinkhorn-Knopp iterations",
            ),
        ),
        freeze_prototypes: f64 = of(
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
        queue: u32 = of(
            "swav",
            s(
                "swav.queue",
                Ty::int(0),
                "0",
                "queue of past embeddings for computing codes (0: none)",
            ),
        ),
        pairs: PairRule = of(
            "swav",
            s(
                "swav.pairs",
                pairs_type(),
                "first_two",
                "(code, prediction) clip pairs: `first_two` (codes of clips 0 and 1, predicted by every other clip: \
                 the official SwAV), `all` or `consecutive`",
            ),
        ),
    }
}
