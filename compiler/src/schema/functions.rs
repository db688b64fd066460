//! The functions a value may call — backbones, optimisers, heads, augmentation ops, dataset sources, `env` — with
//! their parameters. Defaults are written in the language itself and checked like recipe text.

use super::types::Ty;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq)]
pub enum ParamDefault {
    /// Must be given.
    Required,
    /// Used when not given (recipe syntax).
    Value(&'static str),
    /// May be left out; then absent.
    Optional,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    pub default: ParamDefault,
    /// May be given without its name, in declaration order.
    pub positional: bool,
    pub doc: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: &'static str,
    /// Which family it belongs to, for docs and messages (`backbone`, `S op`, ...).
    pub family: &'static str,
    pub doc: &'static str,
    pub params: Vec<Param>,
}

impl Function {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// The functions a `data NAME = ...` declaration may call.
pub const DATASET_SOURCES: &[&str] = &[
    "kinetics",
    "frames",
    "synthetic",
    "ucf101",
    "hmdb51",
    "ssv2",
    "charades",
];

/// The function called `name`.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Every function of a family, in declaration order.
pub fn functions_of(family: &str) -> Vec<&'static Function> {
    FUNCTIONS.iter().filter(|f| f.family == family).collect()
}

pub fn all() -> &'static [Function] {
    &FUNCTIONS
}

fn p(name: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        default: ParamDefault::Value(default),
        positional: false,
        doc,
    }
}

fn req(name: &'static str, ty: Ty, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        default: ParamDefault::Required,
        positional: false,
        doc,
    }
}

fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        default: ParamDefault::Optional,
        positional: false,
        doc,
    }
}

/// A dataset's official split (1, 2 or 3), or a list of them.
fn splits() -> Ty {
    Ty::List(Box::new(Ty::Int { min: 1, max: 3 }))
}

/// Makes a parameter positional.
fn pos(mut param: Param) -> Param {
    param.positional = true;
    param
}

fn backbone(name: &'static str, doc: &'static str) -> Function {
    Function {
        name,
        family: "backbone",
        doc,
        params: vec![
            p("frames", Ty::int(1), "8", "frames per clip (T)"),
            p(
                "stride",
                Ty::int(1),
                "8",
                "temporal stride τ between sampled frames, in frames of the source video",
            ),
            p(
                "width",
                Ty::Float {
                    min: 0.0,
                    max: 64.0,
                    min_open: true,
                    max_open: false,
                },
                "1",
                "channel width multiplier (all channels; must give whole channel counts)",
            ),
        ],
    }
}

static FUNCTIONS: LazyLock<Vec<Function>> = LazyLock::new(|| {
    let probability = Ty::Prob;
    vec![
        // Backbones.
        backbone("slow_r18", "Slow-only ResNet-18 (basic blocks 2/2/2/2)"),
        backbone("slow_r34", "Slow-only ResNet-34 (basic blocks 3/4/6/3)"),
        backbone(
            "slow_r50",
            "Slow-only ResNet-50 (bottlenecks 3/4/6/3), the paper's encoder",
        ),
        backbone("slow_r101", "Slow-only ResNet-101 (bottlenecks 3/4/23/3)"),
        // Learning-rate decay after the warm-up.
        Function {
            name: "cosine",
            family: "decay",
            doc: "half-period cosine from the LR to 0 over the whole run (the warm-up is not cut out of it, as \
                  PySlowFast's default)",
            params: vec![],
        },
        Function {
            name: "constant",
            family: "decay",
            doc: "the LR unchanged after the warm-up",
            params: vec![],
        },
        Function {
            name: "steps",
            family: "decay",
            doc: "PySlowFast's `steps_with_relative_lrs`: the LR multiplied by `factor` from each epoch of `at` on \
                  (`steps(at: [14, 18])` is finetune_SSv2's STEPS [0, 14, 18] with LRS [1, 0.1, 0.01])",
            params: vec![
                req(
                    "at",
                    Ty::List(Box::new(Ty::Epochs {
                        integer: false,
                        min: 0.0,
                        bare: true,
                    })),
                    "the epochs at which the LR drops, increasing, inside the run",
                ),
                p(
                    "factor",
                    Ty::Float {
                        min: 0.0,
                        max: 1.0,
                        min_open: false,
                        max_open: false,
                    },
                    "0.1",
                    "what each drop multiplies the LR by",
                ),
            ],
        },
        // Optimisers.
        Function {
            name: "sgd",
            family: "optimizer",
            doc: "SGD with momentum",
            params: vec![
                p("momentum", Ty::unit_interval_open_top(), "0.9", "momentum"),
                p(
                    "nesterov",
                    Ty::Bool,
                    "true",
                    "Nesterov momentum (on in every official configuration)",
                ),
            ],
        },
        Function {
            name: "lars",
            family: "optimizer",
            doc: "LARS: SGD whose per-layer step is scaled by trust × ‖w‖ / ‖g + wd·w‖",
            params: vec![
                p("momentum", Ty::unit_interval_open_top(), "0.9", "momentum"),
                p("trust", Ty::positive(), "0.001", "trust coefficient"),
                p(
                    "exclude_bn_bias",
                    Ty::Bool,
                    "true",
                    "leave BN parameters and biases out of the adaptation and decay",
                ),
                p(
                    "nesterov",
                    Ty::Bool,
                    "true",
                    "Nesterov momentum in the wrapped SGD (on in every official configuration)",
                ),
            ],
        },
        // Heads.
        Function {
            name: "mlp",
            family: "head",
            doc: "an MLP head: `layers` linear layers, BN + ReLU after each hidden layer when `bn`",
            params: vec![
                p("layers", Ty::int(1), "2", "number of linear layers"),
                p("hidden", Ty::int(1), "2048", "hidden width"),
                p("out", Ty::int(1), "128", "output dimension"),
                p("bn", Ty::Bool, "true", "batch norm after each hidden layer"),
                p("final_bn", Ty::Bool, "false", "batch norm on the output"),
            ],
        },
        // Devices.
        Function {
            name: "cpu",
            family: "device",
            doc: "the CPU (all cores)",
            params: vec![],
        },
        Function {
            name: "cuda",
            family: "device",
            doc: "an NVIDIA GPU through CUDA",
            params: vec![pos(p("index", Ty::int(0), "0", "device index"))],
        },
        // T: temporal augmentation.
        Function {
            name: "random_start",
            family: "T",
            doc: "each clip starts at an independent random time (within `span`); without it all ρ clips of a video \
                  share one random start",
            params: vec![],
        },
        Function {
            name: "frame_rate_jitter",
            family: "T",
            doc: "scale the stride τ by a random factor in 1 ± amount",
            params: vec![pos(req(
                "amount",
                Ty::unit_interval_open_top(),
                "relative jitter, e.g. 0.5 for ±50 %",
            ))],
        },
        Function {
            name: "temporal_difference",
            family: "T",
            doc: "replace a clip by its frame differences with probability p",
            params: vec![pos(p("p", probability.clone(), "0.2", "probability"))],
        },
        // S: spatial augmentation.
        Function {
            name: "short_side",
            family: "S",
            doc: "resize so that the short side is a random size in the range (scale jitter)",
            params: vec![pos(req(
                "size",
                Ty::Range(Box::new(Ty::Pixels)),
                "short side range in pixels, e.g. 256..320",
            ))],
        },
        Function {
            name: "resized_crop",
            family: "S",
            doc: "random resized crop: a region of random area fraction and aspect ratio, resized to size²",
            params: vec![
                pos(req("size", Ty::Pixels, "output side in pixels")),
                p(
                    "area",
                    Ty::Range(Box::new(Ty::Float {
                        min: 0.0,
                        max: 1.0,
                        min_open: true,
                        max_open: false,
                    })),
                    "0.08..1.0",
                    "area fraction range",
                ),
                p(
                    "aspect",
                    Ty::Range(Box::new(Ty::positive())),
                    "0.75..1.333",
                    "aspect ratio range",
                ),
            ],
        },
        Function {
            name: "crop",
            family: "S",
            doc: "a size² crop at a random position",
            params: vec![pos(req("size", Ty::Pixels, "side in pixels"))],
        },
        Function {
            name: "center_crop",
            family: "S",
            doc: "a size² crop at the centre (deterministic)",
            params: vec![pos(req("size", Ty::Pixels, "side in pixels"))],
        },
        Function {
            name: "flip",
            family: "S",
            doc: "horizontal flip with probability p",
            params: vec![pos(p("p", probability.clone(), "0.5", "probability"))],
        },
        // C: colour augmentation.
        Function {
            name: "color_jitter",
            family: "C",
            doc: "random brightness, contrast, saturation and hue, applied with probability p; give the four strengths, \
                  or `strength: s` for (0.8s, 0.8s, 0.8s, 0.2s) as in SimCLR",
            params: vec![
                pos(opt("brightness", Ty::non_negative(), "brightness strength")),
                pos(opt("contrast", Ty::non_negative(), "contrast strength")),
                pos(opt("saturation", Ty::non_negative(), "saturation strength")),
                pos(opt(
                    "hue",
                    Ty::Float {
                        min: 0.0,
                        max: 0.5,
                        min_open: false,
                        max_open: false,
                    },
                    "hue strength (at most 0.5)",
                )),
                opt(
                    "strength",
                    Ty::non_negative(),
                    "overall strength s instead of the four values",
                ),
                p(
                    "p",
                    probability.clone(),
                    "0.8",
                    "probability of applying the jitter",
                ),
            ],
        },
        Function {
            name: "grayscale",
            family: "C",
            doc: "convert the clip to grayscale with probability p",
            params: vec![pos(p("p", probability.clone(), "0.2", "probability"))],
        },
        Function {
            name: "blur",
            family: "C",
            doc: "Gaussian blur with σ drawn from the range, with probability p",
            params: vec![
                pos(p(
                    "sigma",
                    Ty::Range(Box::new(Ty::positive())),
                    "0.1..2.0",
                    "σ range in pixels of the decoded frame (the official code blurs before the crop)",
                )),
                p("p", probability.clone(), "0.5", "probability"),
            ],
        },
        // Dataset sources.
        Function {
            name: "kinetics",
            family: "source",
            doc: "Kinetics-style lists (`path label` per line) and a folder of videos",
            params: vec![
                req("root", Ty::PathStr, "folder the list paths are relative to"),
                p(
                    "train",
                    Ty::PathStr,
                    "\"train.csv\"",
                    "training list (relative paths are under root)",
                ),
                p(
                    "val",
                    Ty::PathStr,
                    "\"val.csv\"",
                    "validation list (relative paths are under root)",
                ),
                req(
                    "train_videos",
                    Ty::int(1),
                    "approximate number of training videos (for the cost estimate)",
                ),
                req(
                    "val_videos",
                    Ty::int(1),
                    "approximate number of validation videos (for the cost estimate)",
                ),
                opt(
                    "prepare",
                    Ty::Call(&["transcode"]),
                    "make the copy at root first: `transcode(source: ...)` re-encodes another copy into it (H.264 mp4)",
                ),
            ],
        },
        Function {
            name: "frames",
            family: "source",
            doc: "pre-extracted JPEG frame folders listed Kinetics-style",
            params: vec![
                req("root", Ty::PathStr, "folder the list paths are relative to"),
                p(
                    "train",
                    Ty::PathStr,
                    "\"train.csv\"",
                    "training list (relative paths are under root)",
                ),
                p(
                    "val",
                    Ty::PathStr,
                    "\"val.csv\"",
                    "validation list (relative paths are under root)",
                ),
                p(
                    "fps",
                    Ty::positive(),
                    "30",
                    "frame rate the frames were extracted at",
                ),
                req(
                    "train_videos",
                    Ty::int(1),
                    "approximate number of training videos (for the cost estimate)",
                ),
                req(
                    "val_videos",
                    Ty::int(1),
                    "approximate number of validation videos (for the cost estimate)",
                ),
                opt(
                    "prepare",
                    Ty::Call(&["transcode"]),
                    "make the frame folders at root first: `transcode(source: ...)` extracts them from a copy of videos",
                ),
            ],
        },
        Function {
            name: "transcode",
            family: "prepare",
            doc: "the prepare job makes the dataset's copy from the Kinetics-style copy at `source`, as `vst data \
                  prepare` does: every listed video at a short side and a constant frame rate, as H.264 mp4 \
                  (`kinetics`) or JPEG frame folders (`frames`); resumable, failures recorded and left out",
            params: vec![
                pos(req(
                    "source",
                    Ty::PathStr,
                    "the copy to prepare from: its lists have the names of the dataset's `train` and `val`",
                )),
                opt(
                    "short_side",
                    Ty::Int { min: 16, max: 4096 },
                    "shorter side of every output frame in pixels, even (default 320: the top of the paper's \
                     scale jitter)",
                ),
                opt(
                    "fps",
                    Ty::Int { min: 1, max: 240 },
                    "constant output frame rate (default: 30 for `kinetics`, the dataset's `fps` for `frames`)",
                ),
                opt(
                    "keyframe_interval",
                    Ty::Int { min: 1, max: 600 },
                    "mp4: frames from one keyframe to the next (default 16)",
                ),
                opt(
                    "crf",
                    Ty::Int { min: 0, max: 51 },
                    "mp4: x264's constant rate factor, lower is better and larger (default 18)",
                ),
                opt(
                    "preset",
                    Ty::Word(&vst_spec::X264_PRESETS),
                    "mp4: x264's speed preset (default `veryfast`)",
                ),
                opt(
                    "jpeg_quality",
                    Ty::Int { min: 2, max: 31 },
                    "JPEG: ffmpeg's `-q:v`, 2 (best) to 31 (default 2)",
                ),
            ],
        },
        Function {
            name: "ucf101",
            family: "source",
            doc: "UCF101 as distributed: the videos and the official split files (`ucfTrainTestlist/`); several \
                  splits (`split: [1, 2, 3]`) sweep them as the axis `split` (a report averages with `over: split`)",
            params: vec![
                req(
                    "root",
                    Ty::PathStr,
                    "folder holding the videos' and the lists' folders",
                ),
                p(
                    "split",
                    splits(),
                    "1",
                    "the official split (1, 2 or 3), or a list of them",
                ),
                p(
                    "videos",
                    Ty::PathStr,
                    "\"UCF-101\"",
                    "the videos' folder (`<Class>/v_*.avi`; under root)",
                ),
                p(
                    "lists",
                    Ty::PathStr,
                    "\"ucfTrainTestlist\"",
                    "the folder of `classInd.txt`, `trainlist0N.txt`, \
                   `testlist0N.txt` (under root)",
                ),
                opt(
                    "train_videos",
                    Ty::int(1),
                    "training videos for the cost estimate (default: the split's, 9,537 for split 1)",
                ),
                opt(
                    "val_videos",
                    Ty::int(1),
                    "test videos for the cost estimate (default: the split's, 3,783 for split 1)",
                ),
            ],
        },
        Function {
            name: "hmdb51",
            family: "source",
            doc: "HMDB51 as distributed: the videos and the official `<class>_test_splitN.txt` files; several splits \
                  sweep them as the axis `split`, like `ucf101`",
            params: vec![
                req(
                    "root",
                    Ty::PathStr,
                    "folder holding the videos' and the splits' folders",
                ),
                p(
                    "split",
                    splits(),
                    "1",
                    "the official split (1, 2 or 3), or a list of them",
                ),
                p(
                    "videos",
                    Ty::PathStr,
                    "\"hmdb51_org\"",
                    "the videos' folder (`<class>/*.avi`; under root)",
                ),
                p(
                    "splits",
                    Ty::PathStr,
                    "\"testTrainMulti_7030_splits\"",
                    "the folder of the split files (under root)",
                ),
                opt(
                    "train_videos",
                    Ty::int(1),
                    "training videos for the cost estimate (default 3,570)",
                ),
                opt(
                    "val_videos",
                    Ty::int(1),
                    "test videos for the cost estimate (default 1,530)",
                ),
            ],
        },
        Function {
            name: "ssv2",
            family: "source",
            doc: "Something-Something v2 as distributed: `.webm` videos and the JSON annotations; its labels name \
                  directions, so a recipe that flips its clips is rejected",
            params: vec![
                req(
                    "root",
                    Ty::PathStr,
                    "folder holding the videos' folder and the annotations",
                ),
                p(
                    "videos",
                    Ty::PathStr,
                    "\"20bn-something-something-v2\"",
                    "the videos' folder (`<id>.webm`, or frame folders `<id>/*.jpg` with `frames_fps`; under root)",
                ),
                opt(
                    "frames_fps",
                    Ty::positive(),
                    "read frame folders `<videos>/<id>/*.jpg` (name order) extracted at this rate instead of the \
                     `.webm` files (PySlowFast's SSv2 set-up extracts at 30)",
                ),
                p(
                    "labels",
                    Ty::PathStr,
                    "\"labels/labels.json\"",
                    "the label map (under root)",
                ),
                p(
                    "train",
                    Ty::PathStr,
                    "\"labels/train.json\"",
                    "the training annotations (under root)",
                ),
                p(
                    "val",
                    Ty::PathStr,
                    "\"labels/validation.json\"",
                    "the validation annotations (under root)",
                ),
                opt(
                    "train_videos",
                    Ty::int(1),
                    "training videos for the cost estimate (default 168,913)",
                ),
                opt(
                    "val_videos",
                    Ty::int(1),
                    "validation videos for the cost estimate (default 24,777)",
                ),
            ],
        },
        Function {
            name: "charades",
            family: "source",
            doc: "Charades as distributed: the videos and the annotation CSVs; multi-label (157 classes): fine-tuned \
                  with per-class sigmoids, measured by mean average precision (`NAME.map`)",
            params: vec![
                req(
                    "root",
                    Ty::PathStr,
                    "folder holding the videos' folder and the annotations",
                ),
                p(
                    "videos",
                    Ty::PathStr,
                    "\"Charades_v1_480\"",
                    "the videos' folder (`<id>.mp4`; under root)",
                ),
                p(
                    "train",
                    Ty::PathStr,
                    "\"Charades/Charades_v1_train.csv\"",
                    "the training annotations (under root)",
                ),
                p(
                    "val",
                    Ty::PathStr,
                    "\"Charades/Charades_v1_test.csv\"",
                    "the test annotations (under root)",
                ),
                opt(
                    "train_videos",
                    Ty::int(1),
                    "training videos for the cost estimate (default 7,985)",
                ),
                opt(
                    "val_videos",
                    Ty::int(1),
                    "test videos for the cost estimate (default 1,863)",
                ),
            ],
        },
        Function {
            name: "synthetic",
            family: "source",
            doc: "the built-in generator of labelled videos: a class-defining object persists while nuisance factors \
                  change",
            params: vec![
                p("classes", Ty::int(2), "10", "number of classes"),
                p(
                    "train_per_class",
                    Ty::int(1),
                    "20",
                    "training videos per class",
                ),
                p(
                    "val_per_class",
                    Ty::int(1),
                    "10",
                    "validation videos per class",
                ),
                p("frames", Ty::int(1), "64", "frames per video"),
                p("fps", Ty::positive(), "16", "frame rate"),
                p("width", Ty::int(8), "64", "frame width in pixels"),
                p("height", Ty::int(8), "64", "frame height in pixels"),
                p(
                    "nuisance",
                    probability,
                    "0.5",
                    "how strongly nuisance factors vary within a video (0: static)",
                ),
                p(
                    "distractors",
                    Ty::int(0),
                    "1",
                    "distractor objects per video",
                ),
                p("seed", Ty::int(0), "0", "generator seed"),
            ],
        },
        // Environment.
        Function {
            name: "env",
            family: "env",
            doc: "the value of an environment variable, or `default` when it is not set",
            params: vec![
                pos(req("name", Ty::Str, "variable name")),
                opt("default", Ty::Str, "value when unset"),
            ],
        },
    ]
});
