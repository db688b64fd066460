//! Every kind of finding the compiler reports, each with a stable code (`E…` errors, `W…` warnings), a short
//! title and an explanation. Codes are never reused or renumbered: tools and people search for them.
//! `docs/diagnostics.md` is checked against this list (`compiler/tests/catalogue.rs`), with one example each
//! in `compiler/tests/diagnostics/`.
//!
//! Numbering: E01 syntax and files, E02 blocks and statements, E03 keys, E04 values, E05 the sweep and `when`,
//! E06 reports, E07 settings that do not fit together; W01 warnings.

use super::Severity;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $kind:ident = $code:literal, $title:literal, $explanation:literal; )*) => {
        /// One kind of finding. Every [`Diagnostic`](super::Diagnostic) carries exactly one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $( $(#[$doc])* $kind, )*
        }

        impl Kind {
            /// Every kind, in catalogue order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];

            /// The stable code, e.g. `E0301`.
            pub fn code(self) -> &'static str {
                match self { $(Kind::$kind => $code,)* }
            }

            /// A few words naming the kind, e.g. "unknown key".
            pub fn title(self) -> &'static str {
                match self { $(Kind::$kind => $title,)* }
            }

            /// What the finding means and how to fix it, for `docs/diagnostics.md`.
            pub fn explanation(self) -> &'static str {
                match self { $(Kind::$kind => $explanation,)* }
            }
        }
    };
}

impl Kind {
    /// Errors stop the compilation; warnings do not.
    pub fn severity(self) -> Severity {
        if self.code().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    /// The kind with this code, if any.
    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.code() == code)
    }
}

catalogue! {
    // E01: syntax and files
    Syntax = "E0101", "syntax error",
        "The text cannot be read as a recipe. The error points at the first token that cannot belong where it is \
         and says what was expected there.";
    UnterminatedString = "E0102", "unterminated string",
        "A string opened with `\"` has no closing `\"` on the same line.";
    NumberTooLarge = "E0103", "number too large",
        "A whole number does not fit in 64 bits.";
    Internal = "E0104", "internal error",
        "The compiler met something it does not expect (a parse tree, a built-in default that does not parse). \
         This is a bug in `vst`: please report it. No recipe should produce it, so it has no example.";
    UseNotFirst = "E0105", "`use` after other statements",
        "`use \"file.vst\"` includes shared settings that the including file may then override, so it must come \
         before the other statements, at the top level of the file.";
    IncludeCycle = "E0106", "include cycle",
        "Files include each other in a circle; a recipe is a tree of includes.";
    UnreadableInclude = "E0107", "unreadable include",
        "A file named by `use` cannot be read. Paths are relative to the file that contains the `use`.";

    // E02: blocks and statements
    UnknownBlock = "E0201", "unknown block",
        "A block name is not one the language knows, or the block is not allowed where it is written.";
    MisplacedStatement = "E0202", "misplaced statement",
        "A statement sits in the wrong place: settings go inside blocks, datasets at the top level, `axis` and \
         `exclude(...)` in `sweep { ... }`.";
    BlockHeader = "E0203", "bad block header",
        "A block's name or arguments do not fit its kind: `evaluate NAME { ... }` takes a plain name, \
         `report \"Title\" { ... }` a string title, `when(key: value) { ... }` conditions, the others nothing.";
    DuplicateBlock = "E0204", "duplicate block",
        "A block that may appear once (`pretrain` in a file, `sweep` in a recipe) appears again.";
    UnknownEvaluationKind = "E0205", "unknown evaluation kind",
        "`evaluate NAME` names an evaluation kind by its name (or by `kind:`) and the kind does not exist.";
    UndeclaredEvaluation = "E0206", "undeclared evaluation",
        "A statement refers to an evaluation that no `evaluate NAME { ... }` block declares.";
    ConflictingEvaluationKind = "E0207", "evaluation declared with two kinds",
        "Two `evaluate` blocks with the same name give it different kinds.";
    DuplicateDataset = "E0208", "duplicate dataset",
        "Two `data NAME = ...` statements in one file declare the same name.";
    NestedWhen = "E0209", "nested `when`",
        "`when` blocks do not nest; put all conditions in one `when(a: x, b: y)`.";

    // E03: keys
    UnknownKey = "E0301", "unknown key",
        "A key is not a setting of the block it is written in. The help suggests the closest known key.";
    UnknownArgument = "E0302", "unknown argument",
        "A function (or a call-valued setting) has no argument of this name.";
    GroupNotSetting = "E0303", "group of settings used as a setting",
        "The key names a group of settings (e.g. `schedule`), which takes a block, not a value.";
    DuplicateSetting = "E0304", "setting set twice",
        "The same key is set twice in one place. Later files may override earlier ones, but one file sets a key \
         once (per `when`).";
    MissingSetting = "E0305", "required setting not set",
        "A setting without a default is not set for a job that needs it.";

    // E04: values
    TypeMismatch = "E0401", "wrong type of value",
        "The value is not of the type the key expects (a number, a name, a list, a call, ...).";
    OutOfRange = "E0402", "value out of range",
        "A number is outside the range the key allows, is not finite, or is not whole where it must be.";
    WrongUnit = "E0403", "wrong unit",
        "The value is written in a unit the key does not take (e.g. seconds for a length of training).";
    MissingUnit = "E0404", "missing unit",
        "A duration or a length of training is written as a bare number; write its unit (`2s`, `4 epochs`).";
    EmptyRange = "E0405", "empty range",
        "A range `lo..hi` has its lower end above its upper end.";
    UnknownValue = "E0406", "unknown value",
        "A name is not one of the values the key takes, or (for `data`) no dataset is declared under it. The help \
         suggests the closest one.";
    UnknownFunction = "E0407", "unknown function",
        "A call names a function the key does not take.";
    PositionalArgument = "E0408", "misplaced positional argument",
        "Arguments without a name come first, and a function takes only so many of them.";
    DuplicateArgument = "E0409", "argument given twice",
        "The same argument of a call is given twice (by name, or by position and by name).";
    MissingArgument = "E0410", "missing argument",
        "A call lacks an argument that has no default.";
    UnsetEnvironmentVariable = "E0411", "environment variable not set",
        "`env(\"VAR\")` reads a variable that is not set when the recipe is compiled.";
    MissingViews = "E0412", "views missing",
        "The test views need at least one temporal and one spatial view.";

    // E05: the sweep and `when`
    UnknownSweepKey = "E0501", "sweep over an unknown key",
        "A sweep axis names a key that is not a setting.";
    BadAxis = "E0502", "bad sweep axis",
        "A sweep axis takes a non-empty list of values: settings are swept with `key: [...]`, label axes with \
         `axis name: [...]` and labels that are names, numbers or strings.";
    DuplicateAxis = "E0503", "axis swept twice",
        "The same setting or axis name is swept twice.";
    DuplicateAxisValue = "E0504", "axis value given twice",
        "The same value appears twice in one sweep axis.";
    TooManyCells = "E0505", "too many sweep cells",
        "The sweep's cells (the product of its axes, less its exclusions) exceed the limit.";
    EverythingExcluded = "E0506", "every cell excluded",
        "The exclusions of the sweep leave no cell to run.";
    MalformedCondition = "E0507", "malformed condition",
        "Conditions (of `when` and `exclude`) are written `key: value`, at least one, and test a whole setting \
         or a sweep axis.";
    NotAnAxis = "E0508", "not a sweep axis",
        "A condition or a report names something that is not an axis of the recipe's sweep.";
    NotAnAxisValue = "E0509", "not a value of the axis",
        "A condition tests a sweep axis for a value the axis does not take.";
    WhenSetsCondition = "E0510", "`when` sets what a condition tests",
        "Conditions see the values before any `when` applies, so a `when` must not set a setting that a \
         condition tests; sweep the setting instead.";
    InapplicableArgument = "E0511", "argument does not apply",
        "A setting sets one argument of a call-valued setting whose value, in some cell, has no such argument.";

    // E06: reports
    ReportEntry = "E0601", "bad report entry",
        "A report holds `key: value` entries only.";
    ReportWithoutCell = "E0602", "report without `cell`",
        "A report must say what goes in its cells: `cell: evaluation.metric`.";
    ReportAxes = "E0603", "bad report axes",
        "A report's `rows`, `cols` and `over` name different sweep axes.";
    UnknownMetric = "E0604", "unknown metric",
        "`cell` is `<evaluation>.<metric>` and names a metric the evaluation reports.";
    UnknownPaperTable = "E0605", "unknown paper table",
        "`paper` names one of the tables of numbers of the paper known to `vst`.";
    BadExpectation = "E0606", "bad expectation",
        "An expectation is `COLS a above b (by m | beyond spread)`, `within t of paper` or `at least v`, and \
         needs what it compares: the report's columns, its `over` axis, its `paper` table.";
    NothingToCompare = "E0607", "nothing to compare with the paper",
        "`within ... of paper` needs at least one cell of the report for which the paper table has a number.";

    // E07: settings that do not fit together
    IncompatibleSettings = "E0701", "settings do not fit together",
        "Each setting checks on its own, but together they describe a job that cannot run (e.g. a warm-up \
         longer than training, a clip longer than the videos).";
    DuplicateAugmentation = "E0702", "augmentation given twice",
        "An augmentation (or a crop) appears twice in one list of views.";
    CropTooLarge = "E0703", "crop larger than the frames",
        "A crop does not fit the frames it is taken from.";
    BackboneInvalid = "E0704", "backbone cannot be built",
        "The backbone's arguments describe a network that cannot be built.";
    BadColorJitter = "E0705", "bad colour jitter",
        "`color_jitter` takes either `strength: s` or the four strengths (brightness, contrast, saturation, hue, \
         the hue at most 0.5).";

    // W01: warnings
    UnmatchedWhen = "W0101", "`when` matches no cell",
        "No cell of the sweep satisfies the conditions, so the settings of this `when` are never used.";
    UnmatchedExclusion = "W0102", "exclusion matches no cell",
        "An `exclude(...)` removes no cell of the sweep.";
    SameModel = "W0103", "cells train the same model",
        "Two cells differ only in an axis value that changes nothing: they share one pre-training job.";
    UnreportedAxis = "W0104", "axis missing from a report",
        "A report's rows, columns and `over` leave out a sweep axis: its cells would be mixed in one number.";
    NoEffect = "W0105", "setting without effect",
        "A setting is overridden everywhere, set for an objective no cell trains, or never read.";
    UnusedDataset = "W0106", "unused dataset",
        "A dataset is declared but no job reads it.";
    Suspicious = "W0107", "suspicious settings",
        "The settings can run but probably do not do what was meant (e.g. a MoCo queue longer than the training \
         set).";
}
