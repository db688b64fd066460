//! What collecting produces: the recipe's declarations (datasets, evaluations, settings, the sweep's axes,
//! `when` blocks, reports), with the spans they were written at.

use crate::check::value::{CallValue, Value};
use crate::schema::{self, EvalKind, Scope, Setting, Ty};
use crate::source::FileId;
use crate::syntax::Span;
use crate::syntax::ast::{Arg, Stmt};
use std::collections::HashMap;
use vst_spec::Expectation;

/// The axis a dataset declared with several official splits sweeps (`ucf101(split: [1, 2, 3])`).
pub const SPLIT_AXIS: &str = "split";

#[derive(Debug, Clone)]
pub struct DatasetDecl {
    pub name: String,
    pub name_span: Span,
    pub value: CallValue,
}

#[derive(Debug, Clone)]
pub struct EvalDecl {
    pub name: String,
    pub kind: EvalKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeRef {
    Pretrain,
    /// Index into [`Recipe::evals`].
    Eval(usize),
}

/// A setting (or one argument of a call-valued setting) in a scope.
#[derive(Debug, Clone)]
pub struct Target {
    pub scope: ScopeRef,
    pub setting: &'static Setting,
    pub arg: Option<&'static str>,
    /// As the user addresses it: `schedule.lr`, `backbone.frames`, `evaluate.linear.epochs`.
    pub name: String,
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.scope == other.scope && self.setting.key == other.setting.key && self.arg == other.arg
    }
}

impl Target {
    /// The type a value assigned to this target must have.
    pub fn ty(&self) -> Ty {
        match self.arg {
            None => self.setting.ty.clone(),
            Some(arg) => call_param(&self.setting.ty, arg)
                .map(|p| p.ty.clone())
                .unwrap_or(Ty::Bool),
        }
    }

    pub fn same_setting(&self, other: &Target) -> bool {
        self.scope == other.scope && self.setting.key == other.setting.key
    }
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub target: Target,
    pub value: Value,
    /// The whole `key: value` statement.
    pub span: Span,
    pub value_span: Span,
    /// Index into [`Recipe::whens`] when the assignment is conditional.
    pub when: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct When {
    /// `when(...)` header.
    pub span: Span,
    /// Inside `sweep { ... }`: a per-cell override, applied after the sweep's values.
    pub in_sweep: bool,
    pub clauses: Vec<Clause>,
    pub(super) args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub struct Clause {
    pub key: ClauseKey,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ClauseKey {
    /// The cell's value on a sweep axis is the axis's `value`-th value.
    Axis { axis: usize, value: usize },
    /// The setting's value before any conditional setting (not swept) equals `value`.
    Setting { target: Target, value: Value },
    /// A valid value of a swept setting that the sweep does not include: the condition never holds.
    Never,
}

#[derive(Debug, Clone)]
pub struct Axis {
    /// The key as written (`clips`, `moco.anneal`, a label axis's name).
    pub name: String,
    /// The setting it sweeps; None for a label axis (`axis NAME: [...]`).
    pub target: Option<Target>,
    pub values: Vec<AxisValue>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct AxisValue {
    /// How the value is shown in job names and report tables.
    pub label: String,
    pub value: Option<Value>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Exclude {
    pub clauses: Vec<Clause>,
    pub span: Span,
    pub(super) args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub struct ReportDecl {
    pub title: String,
    pub span: Span,
    pub rows: Option<usize>,
    pub cols: Option<usize>,
    /// The axis each table cell aggregates (mean ± s.d.), e.g. `seed`.
    pub over: Option<usize>,
    /// Evaluation (index into [`Recipe::evals`]) and metric of each cell.
    pub cell: Option<(usize, String)>,
    pub paper: Option<String>,
    pub expect: Vec<Expectation>,
    /// Where each of [`ReportDecl::expect`] is written (same order).
    pub expect_spans: Vec<Span>,
    pub spans: HashMap<&'static str, Span>,
    pub(super) body: Vec<Stmt>,
}

#[derive(Debug, Default)]
pub struct Recipe {
    pub root: FileId,
    pub datasets: Vec<DatasetDecl>,
    pub evals: Vec<EvalDecl>,
    pub assignments: Vec<Assignment>,
    pub whens: Vec<When>,
    pub sweep: Option<Span>,
    pub axes: Vec<Axis>,
    pub excludes: Vec<Exclude>,
    pub reports: Vec<ReportDecl>,
    /// The first `pretrain` block of the root file (else of any file): where messages about defaults point.
    pub pretrain: Option<Span>,
}

impl Recipe {
    pub fn scope_kind(&self, scope: ScopeRef) -> Scope {
        match scope {
            ScopeRef::Pretrain => Scope::Pretrain,
            ScopeRef::Eval(i) => Scope::Eval(
                self.evals
                    .get(i)
                    .map(|e| e.kind)
                    .unwrap_or(EvalKind::Linear),
            ),
        }
    }

    pub fn axis_named(&self, name: &str) -> Option<usize> {
        self.axes.iter().position(|a| a.name == name)
    }

    pub fn eval_named(&self, name: &str) -> Option<usize> {
        self.evals.iter().position(|e| e.name == name)
    }

    pub fn dataset(&self, name: &str) -> Option<&DatasetDecl> {
        self.datasets.iter().rev().find(|d| d.name == name)
    }
}

/// Argument `arg` of a call-valued setting (from the first of its functions that has it).
pub(super) fn call_param(ty: &Ty, arg: &str) -> Option<&'static schema::Param> {
    let Ty::Call(names) = ty else {
        return None;
    };
    names
        .iter()
        .filter_map(|n| schema::function(n))
        .find_map(|f| f.param(arg))
}
