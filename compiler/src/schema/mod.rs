//! What the language means: every block, setting and function, with its type, unit, range, default and
//! documentation. The checker, `vst explain` and `docs/language.md` all read these tables, so a setting exists in
//! exactly one place.

pub(crate) mod functions;
mod settings;
pub(crate) mod types;

pub use functions::{Function, Param, ParamDefault, all as all_functions, function, functions_of};
pub use settings::{
    BLOCKS, EvalKind, GROUPS, OBJECTIVES, REPORT_KEYS, ReportKey, Scope, Setting, settings,
};
pub use types::Ty;
