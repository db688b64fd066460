//! Resolved settings of one study cell: data, backbone, clips, augmentation, objective, schedule, evaluation.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// An inclusive range `lo..hi` with `lo <= hi` (checked by the compiler).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub lo: f64,
    pub hi: f64,
}

impl Range {
    pub fn new(lo: f64, hi: f64) -> Self {
        Range { lo, hi }
    }
    pub fn point(v: f64) -> Self {
        Range { lo: v, hi: v }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Data

/// A named dataset: where its videos are and how to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// The name the recipe gave it (`data k400 = ...`).
    pub name: String,
    pub source: DataSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    /// Kinetics-style lists as PySlowFast writes them: `path label` per line (space or comma separated), paths
    /// relative to `root`. Videos are containers (mp4) decoded by the runtime's video decoder. `train_list` and
    /// `val_list` are the lists' own paths, already resolved under `root` unless absolute.
    Kinetics {
        root: PathBuf,
        train_list: PathBuf,
        val_list: PathBuf,
        /// The copy at `root` is made by the prepare job from another copy (H.264 mp4). Left out when absent, so
        /// that the ids of jobs on copies the user prepared do not change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prepare: Option<TranscodeSpec>,
    },
    /// Pre-extracted frame folders: each list entry names a folder of JPEG frames (`000001.jpg`, ...).
    Frames {
        root: PathBuf,
        train_list: PathBuf,
        val_list: PathBuf,
        fps: f64,
        /// The folders at `root` are extracted by the prepare job from a copy of videos (JPEG frame folders).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prepare: Option<TranscodeSpec>,
    },
    /// The built-in generator of labelled H.264 videos (written once under the run directory, then read back
    /// through the same decoder as real data).
    Synthetic(SynthSpec),
    /// UCF101 as distributed: videos `<videos>/<Class>/v_*.avi`, the official split files (`classInd.txt`,
    /// `trainlist0N.txt`, `testlist0N.txt`) in `lists`; `split` is 1, 2 or 3.
    Ucf101 {
        root: PathBuf,
        videos: PathBuf,
        lists: PathBuf,
        split: u32,
    },
    /// HMDB51 as distributed: videos `<videos>/<class>/*.avi`, the official `<class>_test_splitN.txt` files in
    /// `splits`; `split` is 1, 2 or 3.
    Hmdb51 {
        root: PathBuf,
        videos: PathBuf,
        splits: PathBuf,
        split: u32,
    },
    /// Something-Something v2 as distributed: `<videos>/<id>.webm`, the label map `labels.json` and the
    /// `train.json` / `validation.json` annotations — or, with `frames_fps`, frame folders `<videos>/<id>/*.jpg`
    /// extracted at that rate (PySlowFast's SSv2 set-up: ffmpeg at 30 fps). Its labels name directions: it never
    /// flips.
    Ssv2 {
        root: PathBuf,
        videos: PathBuf,
        labels: PathBuf,
        train: PathBuf,
        val: PathBuf,
        /// Left out when absent, so that the ids of jobs on `.webm` copies do not change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frames_fps: Option<f64>,
    },
    /// Charades as distributed: `<videos>/<id>.mp4` and the `Charades_v1_train.csv` / `Charades_v1_test.csv`
    /// annotations; multi-label (a video has every class among its actions).
    Charades {
        root: PathBuf,
        videos: PathBuf,
        train: PathBuf,
        val: PathBuf,
    },
}

impl DataSource {
    /// Whether a horizontal flip keeps a video's label: not for Something-Something v2, whose classes name
    /// directions (`Pushing something from left to right`).
    pub fn flip_preserves_labels(&self) -> bool {
        !matches!(self, DataSource::Ssv2 { .. })
    }

    /// Whether evaluation clips spread their frames over the whole video (Something-Something v2, as PySlowFast's
    /// SSv2 loader: its actions are short and whole-video) rather than taking them τ apart.
    pub fn spreads_evaluation_clips(&self) -> bool {
        matches!(self, DataSource::Ssv2 { .. })
    }

    /// Whether a video may have several labels (Charades): trained with per-class sigmoids, measured by mAP.
    pub fn multi_label(&self) -> bool {
        matches!(self, DataSource::Charades { .. })
    }

    /// The folder the data lives in (None for the synthetic dataset, generated under the run directory).
    pub fn root(&self) -> Option<&std::path::Path> {
        match self {
            DataSource::Synthetic(_) => None,
            DataSource::Kinetics { root, .. }
            | DataSource::Frames { root, .. }
            | DataSource::Ucf101 { root, .. }
            | DataSource::Hmdb51 { root, .. }
            | DataSource::Ssv2 { root, .. }
            | DataSource::Charades { root, .. } => Some(root),
        }
    }

    /// How the prepare job makes this dataset's copy from another one, when the recipe asks it to.
    pub fn transcode(&self) -> Option<&TranscodeSpec> {
        match self {
            DataSource::Kinetics { prepare, .. } | DataSource::Frames { prepare, .. } => {
                prepare.as_ref()
            }
            _ => None,
        }
    }

    /// The dataset's kind as people name it (`Something-Something v2`), for messages.
    pub fn title(&self) -> &'static str {
        match self {
            DataSource::Synthetic(_) => "synthetic",
            DataSource::Kinetics { .. } => "Kinetics-style",
            DataSource::Frames { .. } => "frame-folder",
            DataSource::Ucf101 { .. } => "UCF101",
            DataSource::Hmdb51 { .. } => "HMDB51",
            DataSource::Ssv2 { .. } => "Something-Something v2",
            DataSource::Charades { .. } => "Charades",
        }
    }

    /// The dataset's kind as reports and recipes name it.
    pub fn kind(&self) -> &'static str {
        match self {
            DataSource::Synthetic(_) => "synthetic",
            DataSource::Kinetics { .. } => "kinetics",
            DataSource::Frames { .. } => "frames",
            DataSource::Ucf101 { .. } => "ucf101",
            DataSource::Hmdb51 { .. } => "hmdb51",
            DataSource::Ssv2 { .. } => "ssv2",
            DataSource::Charades { .. } => "charades",
        }
    }
}

/// x264's speed presets, fastest first (what `transcode(preset: ...)` and `vst data prepare --preset` accept).
pub const X264_PRESETS: [&str; 9] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];

/// What a prepared copy is made with unless told otherwise (`vst data prepare` and `transcode(...)` alike).
pub mod transcode_defaults {
    /// The top of the paper's scale-jitter range [256, 320].
    pub const SHORT_SIDE: u32 = 320;
    /// The official sampling rate (PySlowFast's DATA.TARGET_FPS).
    pub const FPS: u32 = 30;
    pub const KEYFRAME_INTERVAL: u32 = 16;
    pub const CRF: u32 = 18;
    pub const PRESET: &str = "veryfast";
    pub const JPEG_QUALITY: u32 = 2;
}

/// `transcode(source: ...)`: the prepare job re-encodes the Kinetics-style copy at `source` into the dataset's
/// root (what `vst data prepare` does): every listed video at a short side and a constant frame rate, as H.264 mp4
/// for `kinetics(...)` or as JPEG frame folders for `frames(...)`. The copy's lists have the same paths relative to
/// its root as the source's lists relative to `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscodeSpec {
    pub source: PathBuf,
    /// The lists, relative to `source` (the source's) and to the dataset's root (the copy's, which the
    /// preparation writes).
    pub source_lists: Vec<PathBuf>,
    /// The shorter side of every output frame, in pixels (even).
    pub short_side: u32,
    /// Constant output frame rate.
    pub fps: u32,
    /// mp4: frames from one keyframe to the next.
    pub keyframe_interval: u32,
    /// mp4: x264's constant rate factor.
    pub crf: u32,
    /// mp4: one of [`X264_PRESETS`].
    pub preset: String,
    /// JPEG: ffmpeg's `-q:v` (2 best, 31 worst).
    pub jpeg_quality: u32,
}

/// Parameters of the built-in synthetic dataset. Each video shows one class-defining object that persists through
/// time while nuisance factors (position, scale, illumination, background, occlusion, distractors) change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthSpec {
    pub classes: u32,
    pub train_per_class: u32,
    pub val_per_class: u32,
    /// Frames per video.
    pub frames: u32,
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    /// How strongly nuisance factors vary within a video, in [0, 1] (0: static scene).
    pub nuisance: f64,
    /// Number of distractor objects per video.
    pub distractors: u32,
    pub seed: u64,
}

// ---------------------------------------------------------------------------------------------------------------
// Model

/// A Slow-only 3D ResNet (Feichtenhofer et al.): temporal kernels (3×1×1) only in res4/res5, no temporal
/// downsampling, global average pooling at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackboneSpec {
    /// 18, 34 (basic blocks) or 50, 101 (bottleneck blocks).
    pub depth: u32,
    /// Frames per clip (T).
    pub frames: u32,
    /// Temporal stride between sampled frames (τ), in frames of the source video.
    pub stride: u32,
    /// Channel width multiplier (1.0 = 64 stem channels as in the paper; 0.25 = quarter width for the CPU).
    pub width: f64,
}

/// An MLP head: `layers` linear layers, hidden width `hidden`, output `out`; BN + ReLU after each hidden layer
/// when `bn`, and a BN on the output when `final_bn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpSpec {
    pub layers: u32,
    pub hidden: u32,
    pub out: u32,
    pub bn: bool,
    pub final_bn: bool,
}

// ---------------------------------------------------------------------------------------------------------------
// Clips and augmentation

/// ρ clips per video and how far apart they may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipSpec {
    /// ρ ≥ 1. ρ = 1 means two spatial crops of one moment (the paper's baseline).
    pub count: u32,
    pub span: Timespan,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Timespan {
    /// Starts independent and uniform over the whole video ("global" sampling).
    Anywhere,
    /// All clip starts lie within `seconds` of each other (0 = the same moment).
    Within { seconds: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentSpec {
    pub temporal: TemporalAug,
    pub spatial: SpatialAug,
    pub color: ColorAug,
    pub normalize: Normalize,
}

/// T: where clips start in time, and temporal perturbations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemporalAug {
    /// Each clip starts at an independent random time (within the clip span). When false, all ρ clips of a video
    /// share one random start ("T removed" in the paper's Figure 3).
    pub random_start: bool,
    /// Frame-rate jitter: the stride τ is scaled by a factor drawn from `1 ± jitter` (e.g. 0.5 for ±50 %).
    pub frame_rate_jitter: Option<f64>,
    /// With this probability a clip is replaced by its frame differences (Table 7).
    pub temporal_difference: Option<f64>,
}

/// S: crops and flips, one draw per clip applied to all its frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpatialAug {
    /// Output crop side in pixels (224 in the paper).
    pub size: u32,
    /// Short-side scale jitter before cropping, in pixels (e.g. 256..320); None keeps the source size.
    pub short_side: Option<Range>,
    /// Random resized crop: area fraction and aspect ratio ranges. None means a plain random `size`² crop.
    pub resized_crop: Option<ResizedCrop>,
    /// Horizontal flip probability (0.5 in the paper); None disables.
    pub flip: Option<f64>,
    /// Without `resized_crop`: take the `size`² crop at the centre instead of a random position (`center_crop` in a
    /// recipe), which makes S deterministic.
    #[serde(default)]
    pub center: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResizedCrop {
    pub area: Range,
    pub aspect: Range,
}

/// C: radiometric augmentation, one draw per clip applied to all its frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColorAug {
    pub jitter: Option<ColorJitter>,
    /// Probability of converting the clip to grayscale.
    pub grayscale: Option<f64>,
    pub blur: Option<Blur>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColorJitter {
    pub brightness: f64,
    pub contrast: f64,
    pub saturation: f64,
    pub hue: f64,
    /// Probability of applying the jitter at all.
    pub p: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Blur {
    /// Gaussian σ range in pixels.
    pub sigma: Range,
    pub p: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

// ---------------------------------------------------------------------------------------------------------------
// Objectives

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectiveSpec {
    SimClr(SimClrSpec),
    Moco(MocoSpec),
    Byol(ByolSpec),
    Swav(SwavSpec),
}

impl ObjectiveSpec {
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveSpec::SimClr(_) => "simclr",
            ObjectiveSpec::Moco(_) => "moco",
            ObjectiveSpec::Byol(_) => "byol",
            ObjectiveSpec::Swav(_) => "swav",
        }
    }
}

/// Which (query, positive) clip pairs of one video enter a contrastive loss. Clips are in temporal order (the
/// sampler sorts their start times, as the official decoder does), so "consecutive" means neighbours in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairRule {
    /// Each clip in turn is the query; the other ρ − 1 clips are its positives (the official MoCo and BYOL).
    #[default]
    AllPairs,
    /// Only neighbouring clips (k, k + 1) and (k + 1, k) (the official SimCLR, one loss per pair).
    Consecutive,
    /// Only clips 0 and 1 are queries (SwAV: code clips); every other clip is their positive (the official SwAV's
    /// `crops_for_assign = [0, 1]`).
    FirstTwo,
}

/// How the sub-losses over ρ clips combine into the loss that is differentiated. The official trainer
/// (PySlowFast's `contrastive_forward` with `SEQUENTIAL: True`) back-propagates once per query clip (MoCo, BYOL)
/// or per clip pair (SimCLR), so its gradient is the *sum* of the sub-losses, each a mean over its rows; the paper's
/// text describes their average. Under SGD the two differ by a factor that grows with ρ in the effective
/// learning rate (under LARS only for the parameters LARS does not rescale: batch norm and biases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipLoss {
    /// The sum over sub-losses (queries for MoCo/BYOL, clip pairs for SimCLR), each the mean over its rows: the
    /// official code's gradients.
    #[default]
    Sum,
    /// The mean over every (query, positive) row: the paper's "average over the ρ sub-losses".
    Mean,
}

/// Momentum of a target/key encoder: `m = 1 − (1 − base)(cos(πk/K) + 1)/2` when `anneal` is cosine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MomentumSpec {
    pub base: f64,
    pub anneal: Anneal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    /// Constant momentum.
    None,
    /// Half-cosine from `base` to 1 over training.
    Cosine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimClrSpec {
    pub temperature: f64,
    pub head: MlpSpec,
    pub pairs: PairRule,
    /// Sum over clip pairs (official) or mean.
    pub clip_loss: ClipLoss,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MocoSpec {
    pub temperature: f64,
    pub head: MlpSpec,
    /// Queue length (number of negative keys kept).
    pub queue: u32,
    pub momentum: MomentumSpec,
    /// Shuffle BN across replicas for the key encoder (a no-op with one replica; see the runtime docs).
    pub shuffle_bn: bool,
    pub pairs: PairRule,
    /// Sum over query clips (official) or mean.
    pub clip_loss: ClipLoss,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ByolSpec {
    pub head: MlpSpec,
    pub predictor: MlpSpec,
    pub momentum: MomentumSpec,
    /// Sum over query clips (official) or mean.
    pub clip_loss: ClipLoss,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwavSpec {
    pub temperature: f64,
    pub head: MlpSpec,
    pub prototypes: u32,
    pub sinkhorn_epsilon: f64,
    pub sinkhorn_iterations: u32,
    /// Prototypes receive no gradient during the first `freeze_prototypes_epochs` epochs.
    pub freeze_prototypes_epochs: f64,
    /// Optional queue of past embeddings used when computing codes (0 = none).
    pub queue: u32,
    /// Which (code clip, predicting clip) pairs enter the loss: codes from clips 0 and 1 predicted by every other
    /// clip (the official SwAV), every ordered pair, or neighbouring clips. The loss is their mean (the official
    /// SwAV is not sequential: one loss, averaged over predicting clips and code clips).
    pub pairs: PairRule,
}

// ---------------------------------------------------------------------------------------------------------------
// Optimisation

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub epochs: u32,
    /// Global batch in videos; each video contributes ρ clips.
    pub batch: u32,
    pub optimizer: OptimizerSpec,
    /// The learning rate actually used at the global batch, after the scaling rule (see `lr_rule`).
    pub lr: f64,
    pub lr_rule: LrRule,
    pub warmup_epochs: f64,
    /// LR at the start of warm-up.
    pub warmup_start_lr: f64,
    pub decay: Decay,
}

/// How the stated base LR becomes the LR at the global batch: `lr = base × (batch / per)` for linear scaling,
/// `base × sqrt(batch / per)` for square-root, `base` when none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrRule {
    pub base: f64,
    pub per: u32,
    pub scaling: Scaling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    Linear,
    Sqrt,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerSpec {
    Sgd {
        momentum: f64,
        weight_decay: f64,
        nesterov: bool,
    },
    /// LARS (You et al.): SGD whose per-layer step is scaled by `trust × ‖w‖ / ‖g + wd·w‖`; BN parameters and biases
    /// are excluded from the adaptation and from weight decay when `exclude_bn_bias`.
    Lars {
        momentum: f64,
        weight_decay: f64,
        trust: f64,
        exclude_bn_bias: bool,
        /// Nesterov momentum in the SGD that LARS wraps (on in every official configuration).
        nesterov: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decay {
    /// Half-period cosine to zero.
    #[default]
    Cosine,
    Constant,
    /// PySlowFast's `steps_with_relative_lrs` with relative rates that are powers of `factor` (as every official
    /// config that uses it: `LRS: [1, 0.1, 0.01, …]`): the LR is multiplied by `factor` from each epoch of `at`
    /// (increasing, fractional epochs allowed) on.
    Steps {
        at: Vec<f64>,
        factor: f64,
    },
}

impl Decay {
    pub fn is_cosine(&self) -> bool {
        matches!(self, Decay::Cosine)
    }
}

/// How many videos of the global batch each batch-norm batch holds (every view of a step is normalised in
/// batch / videos separate batches). Stated in videos, not devices, so that the model does not depend on the
/// device count: the runtime realises it as micro-batches on one device or as SyncBN over several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BnBatch {
    /// The whole global batch.
    #[default]
    All,
    /// Batches of `videos` videos.
    Videos { videos: u32 },
}

impl BnBatch {
    pub fn is_all(&self) -> bool {
        matches!(self, BnBatch::All)
    }

    /// Videos per BN batch for a global batch of `batch` videos.
    pub fn videos(&self, batch: u32) -> u32 {
        match self {
            BnBatch::All => batch,
            BnBatch::Videos { videos } => *videos,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceSpec {
    Cpu,
    Cuda { index: u32 },
}

/// The arithmetic of a pre-training on a CUDA device. Weights, optimiser state, batch-norm statistics and losses
/// stay f32 in every mode; the CPU computes in f32 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// IEEE f32 throughout (no TF32 tensor-core products).
    #[default]
    F32,
    /// Convolutions and matrix products on tensor cores with TF32 operands (10-bit mantissas), f32 accumulation:
    /// PyTorch's default for convolutions.
    Tf32,
    /// Convolutions and matrix products with bf16 operands and f32 accumulation and results: the arithmetic of
    /// PyTorch's bf16 autocast.
    Bf16,
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        matches!(self, Precision::F32)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Tf32 => "tf32",
            Precision::Bf16 => "bf16",
        }
    }

    pub fn parse(text: &str) -> Option<Precision> {
        match text {
            "f32" | "fp32" => Some(Precision::F32),
            "tf32" => Some(Precision::Tf32),
            "bf16" => Some(Precision::Bf16),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvalSpec {
    Linear(LinearEvalSpec),
    Knn(KnnEvalSpec),
    Finetune(FinetuneEvalSpec),
}

impl EvalSpec {
    pub fn name(&self) -> &'static str {
        match self {
            EvalSpec::Linear(_) => "linear",
            EvalSpec::Knn(_) => "knn",
            EvalSpec::Finetune(_) => "finetune",
        }
    }
}

/// Linear probe on frozen pool5 features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearEvalSpec {
    pub epochs: u32,
    pub batch: u32,
    pub lr: f64,
    pub lr_rule: LrRule,
    pub warmup_epochs: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    /// Training augmentation of the probe (short side jitter + crop + flip in the paper).
    pub train_spatial: SpatialAug,
    pub views: TestViews,
}

/// Test-time views: `temporal` uniformly spaced clips × `spatial` crops at `size` (short side), softmax averaged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestViews {
    pub temporal: u32,
    pub spatial: u32,
    pub size: u32,
}

/// Where a fine-tune's encoder starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinetuneStart {
    /// The pre-training job's final encoder.
    Pretrained,
    /// A fresh initialisation from the cell's seed (the supervised baseline; the pre-training is not read).
    Scratch,
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

/// Fine-tuning: the encoder and a new linear classifier (behind dropout) trained end to end with cross-entropy
/// under SGD (Nesterov momentum, no weight decay on batch norm) and a cosine (or step) schedule, then tested on `views`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneEvalSpec {
    pub from: FinetuneStart,
    pub epochs: u32,
    pub batch: u32,
    /// The LR at `batch`, after the scaling rule.
    pub lr: f64,
    pub lr_rule: LrRule,
    pub warmup_epochs: f64,
    /// The LR the warm-up starts from (at `batch`). Left out of the serialised spec when 0, so that the ids of
    /// fine-tune jobs written before the setting existed do not change.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_start_lr: f64,
    /// After the warm-up. Left out of the serialised spec when cosine, so that the ids of fine-tune jobs written
    /// before the setting existed do not change.
    #[serde(default, skip_serializing_if = "Decay::is_cosine")]
    pub decay: Decay,
    pub weight_decay: f64,
    pub momentum: f64,
    /// Dropout rate on the pooled features before the classifier.
    pub dropout: f64,
    pub train_spatial: SpatialAug,
    pub train_color: ColorAug,
    pub views: TestViews,
    /// Epochs between checkpoints.
    pub checkpoint_every: u32,
}

/// Weighted kNN on L2-normalised frozen features (cosine similarity, temperature-weighted votes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnEvalSpec {
    pub k: u32,
    pub temperature: f64,
    pub views: TestViews,
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSpec {
    pub title: String,
    /// Sweep key shown down the rows (e.g. `objective`), or None for a single row.
    pub rows: Option<String>,
    /// Sweep key shown across the columns (e.g. `clips`).
    pub cols: Option<String>,
    /// Metric in each cell, `<eval>.<metric>` (e.g. `linear.top1`, `knn.top5`).
    pub cell: String,
    /// Key of the paper table whose numbers are printed beside ours (e.g. `table2`).
    pub paper: Option<String>,
    pub expect: Vec<Expectation>,
    /// Sweep key aggregated explicitly (e.g. `seed`): the cells that differ only along it fill one table cell,
    /// shown as mean ± sample standard deviation. Absent from the JSON (and so from the job id) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
}

impl ReportSpec {
    /// A cell's coordinates as a paper table addresses them ([`crate::paper::PaperTable::lookup`]): the report's
    /// row and column axes with the cell's labels there.
    pub fn paper_coords<'a>(
        &'a self,
        row: Option<&'a str>,
        col: Option<&'a str>,
    ) -> Vec<(&'a str, &'a str)> {
        let mut coords = Vec::new();
        if let (Some(axis), Some(label)) = (&self.rows, row) {
            coords.push((axis.as_str(), label));
        }
        if let (Some(axis), Some(label)) = (&self.cols, col) {
            coords.push((axis.as_str(), label));
        }
        coords
    }
}

/// A reproducibility check a report declares; `vst run` exits non-zero when one is missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expectation {
    /// In every row, the cell at column `higher` exceeds the cell at column `lower` by at least `margin`.
    Above {
        higher: String,
        lower: String,
        margin: f64,
    },
    /// Every cell with a paper number lies within `tolerance` points of it.
    NearPaper { tolerance: f64 },
    /// Every cell is at least `value`.
    AtLeast { value: f64 },
    /// In every row, the mean at column `higher` exceeds the mean at column `lower` by more than the larger of the
    /// two cells' sample standard deviations over the report's `over` axis (each cell needs two values or more).
    AboveBeyondSpread { higher: String, lower: String },
}
