//! What the language means: every block, setting and function, with its type, unit, range, default and
//! documentation. The checker, `vst explain` and `docs/language.md` all read these tables, so a setting exists in
//! exactly one place — and each scope's settings are declared as the fields of the typed struct `build` receives
//! ([`Pretrain`], [`LinearEval`], [`KnnEval`], [`FinetuneEval`]; see [`typed`]).

mod evaluate;
pub(crate) mod functions;
mod pretrain;
mod settings;
pub mod typed;
pub(crate) mod types;

pub use evaluate::{FinetuneEval, KnnEval, LinearEval};
pub use functions::{
    DATASET_SOURCES, Function, Param, ParamDefault, all as all_functions, function, functions_of,
};
pub use pretrain::{Augment, Byol, Moco, Pretrain, Schedule, SimClr, Swav};
pub use settings::{
    BLOCKS, EVAL_KIND_WORDS, EvalKind, GROUPS, OBJECTIVES, REPORT_KEYS, ReportKey, Scope, Setting,
    axis_label, settings,
};
pub use types::Ty;
