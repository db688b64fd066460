//! The statements of all files → the recipe's declarations: datasets, evaluations, settings (each key resolved
//! against the schema, each value type-checked), the sweep (axes, exclusions, per-cell overrides), conditional
//! settings and reports. Nothing is expanded here; `expand` builds the cells from this.

use super::typecheck::{EnvLookup, Typer, describe};
use super::value::{CallValue, Value};
use crate::diagnostic::{Diagnostic, Diagnostics, closest};
use crate::schema::{self, BLOCKS, EvalKind, GROUPS, REPORT_KEYS, Scope, Setting, Ty, settings};
use crate::source::FileId;
use crate::syntax::ast::{Arg, Block, Expr, ExprKind, File, Label, Path, Stmt, StmtKind};
use crate::syntax::{Span, format_expr};
use std::collections::HashMap;
use vst_spec::Expectation;

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
            Some(arg) => arg_type(&self.setting.ty, arg).unwrap_or(Ty::Bool),
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
    args: Vec<Arg>,
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
    args: Vec<Arg>,
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
    body: Vec<Stmt>,
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

/// The type of argument `arg` of a call-valued setting (from the first of its functions that has it).
fn arg_type(ty: &Ty, arg: &str) -> Option<Ty> {
    let Ty::Call(names) = ty else {
        return None;
    };
    names
        .iter()
        .filter_map(|n| schema::function(n))
        .find_map(|f| f.param(arg))
        .map(|p| p.ty.clone())
}

fn arg_static(ty: &Ty, arg: &str) -> Option<&'static str> {
    let Ty::Call(names) = ty else {
        return None;
    };
    names
        .iter()
        .filter_map(|n| schema::function(n))
        .find_map(|f| f.param(arg))
        .map(|p| p.name)
}

pub fn collect(
    files: &[(FileId, File)],
    root: FileId,
    env: EnvLookup<'_>,
    diags: &mut Diagnostics,
) -> Recipe {
    let mut c = Collector {
        recipe: Recipe {
            root,
            ..Recipe::default()
        },
        env,
        diags,
        seen: HashMap::new(),
    };
    for (id, file) in files {
        c.declare_evals(*id, file);
    }
    for (id, file) in files {
        c.file(*id, file);
    }
    c.resolve_conditions();
    c.resolve_reports();
    c.check_when_targets();
    c.recipe
}

struct Collector<'a, 'd> {
    recipe: Recipe,
    env: EnvLookup<'a>,
    diags: &'d mut Diagnostics,
    /// (file, condition, key) → where it was first set, for duplicate keys.
    seen: HashMap<(FileId, Option<usize>, String), Span>,
}

/// Where a statement list sits.
#[derive(Clone, Copy)]
struct Ctx<'p> {
    scope: ScopeRef,
    prefix: &'p str,
    when: Option<usize>,
    /// In a `when` body: `evaluate NAME { ... }` and `evaluate.NAME.key` are allowed.
    evaluate_allowed: bool,
    /// Shown in messages: `pretrain`, `schedule`, `evaluate linear`.
    block: &'p str,
}

fn header_span(block: &Block, stmt: &Stmt) -> Span {
    let end = block
        .args
        .as_ref()
        .map(|a| a.span)
        .or(block.label.as_ref().map(|l| l.span()))
        .unwrap_or(block.kind.span);
    Span {
        file: stmt.span.file,
        start: stmt.span.start,
        end: end.end,
    }
}

impl Collector<'_, '_> {
    fn typer(&mut self) -> Typer<'_> {
        Typer {
            env: self.env,
            diags: self.diags,
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    // -----------------------------------------------------------------------------------------------------------
    // Pass 1: evaluation blocks (other statements may name them before they are declared).

    fn declare_evals(&mut self, _file: FileId, file: &File) {
        for stmt in &file.stmts {
            let StmtKind::Block(block) = &stmt.kind else {
                continue;
            };
            if block.kind.name != "evaluate" {
                continue;
            }
            let name = match &block.label {
                Some(Label::Ident(ident)) => ident,
                Some(Label::Str(s)) => {
                    self.error(
                        Diagnostic::error("an evaluation is named with a plain name, not a string")
                            .at(s.span)
                            .help("e.g. `evaluate linear { ... }`"),
                    );
                    continue;
                }
                None => {
                    self.error(
                        Diagnostic::error("an `evaluate` block needs a name")
                            .at(block.kind.span)
                            .help("e.g. `evaluate linear { ... }` or `evaluate probe { kind: linear ... }`"),
                    );
                    continue;
                }
            };
            // The kind: a `kind:` entry, or the block's name.
            let mut kind = EvalKind::from_name(&name.name);
            for inner in &block.body {
                if let StmtKind::Entry { key, value } = &inner.kind
                    && key.dotted() == "kind"
                {
                    let v = self
                        .typer()
                        .check(value, &Ty::Word(&["linear", "knn"]), "kind");
                    if let Some(Value::Word(w)) = v {
                        kind = EvalKind::from_name(&w);
                    }
                }
            }
            let Some(kind) = kind else {
                self.error(
                    Diagnostic::error(format!("unknown evaluation `{}`", name.name))
                        .at(name.span)
                        .suggest(closest(&name.name, EvalKind::ALL.iter().map(|k| k.name())))
                        .help("name it `linear` or `knn`, or give its kind: `kind: linear`"),
                );
                continue;
            };
            match self.recipe.eval_named(&name.name) {
                Some(i) if self.recipe.evals[i].kind != kind => {
                    let first = self.recipe.evals[i].span;
                    self.error(
                        Diagnostic::error(format!(
                            "evaluation `{}` is declared with two kinds",
                            name.name
                        ))
                        .at(name.span)
                        .note_at(
                            first,
                            format!("declared as `{}` here", self.recipe.evals[i].kind.name()),
                        ),
                    );
                }
                Some(_) => {}
                None => self.recipe.evals.push(EvalDecl {
                    name: name.name.clone(),
                    kind,
                    span: name.span,
                }),
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------
    // Pass 2: everything else.

    fn file(&mut self, file_id: FileId, file: &File) {
        let mut pretrain_blocks: Option<Span> = None;
        for stmt in &file.stmts {
            match &stmt.kind {
                StmtKind::Use(_) => {}
                StmtKind::Data { name, value } => self.dataset(file_id, name, value),
                StmtKind::Block(block) => self.top_block(stmt, block, &mut pretrain_blocks),
                StmtKind::Entry { key, .. } => {
                    let mut d = Diagnostic::error("settings go inside a block").at(key.span);
                    if settings(Scope::Pretrain)
                        .iter()
                        .any(|s| s.key == key.dotted())
                    {
                        d = d.help(format!("put `{}` in `pretrain {{ ... }}`", key.dotted()));
                    }
                    self.error(d);
                }
                StmtKind::Axis { name, .. } => {
                    self.error(
                        Diagnostic::error(
                            "`axis` declares a sweep axis and belongs in `sweep { ... }`",
                        )
                        .at(name.span),
                    );
                }
                StmtKind::Call { name, .. } => {
                    let d = if name.name == "exclude" {
                        Diagnostic::error("`exclude(...)` belongs in `sweep { ... }`").at(name.span)
                    } else {
                        Diagnostic::error(format!("unexpected statement `{}(...)`", name.name))
                            .at(name.span)
                    };
                    self.error(d);
                }
            }
        }
    }

    fn dataset(&mut self, file: FileId, name: &crate::syntax::ast::Ident, value: &Expr) {
        if let Some(previous) = self
            .recipe
            .datasets
            .iter()
            .find(|d| d.name == name.name && d.name_span.file == file)
        {
            let first = previous.name_span;
            self.error(
                Diagnostic::error(format!("dataset `{}` is declared twice", name.name))
                    .at(name.span)
                    .note_at(first, "first declared here"),
            );
            return;
        }
        let Some(call) = self
            .typer()
            .call(value, &["kinetics", "frames", "synthetic"], &name.name)
        else {
            return;
        };
        let Some(call) = self.typer().complete(call) else {
            return;
        };
        self.recipe.datasets.push(DatasetDecl {
            name: name.name.clone(),
            name_span: name.span,
            value: call,
        });
    }

    fn no_label_or_args(&mut self, block: &Block) {
        if let Some(label) = &block.label {
            self.error(
                Diagnostic::error(format!("`{}` takes no name", block.kind.name)).at(label.span()),
            );
        }
        if let Some(args) = &block.args {
            self.error(
                Diagnostic::error(format!("`{}` takes no arguments", block.kind.name))
                    .at(args.span),
            );
        }
    }

    fn top_block(&mut self, stmt: &Stmt, block: &Block, pretrain_in_file: &mut Option<Span>) {
        let header = header_span(block, stmt);
        match block.kind.name.as_str() {
            "pretrain" => {
                self.no_label_or_args(block);
                if let Some(first) = *pretrain_in_file {
                    self.error(
                        Diagnostic::error("a second `pretrain` block in this file")
                            .at(header)
                            .note_at(first, "the first one")
                            .help("put all pre-training settings in one block"),
                    );
                    return;
                }
                *pretrain_in_file = Some(header);
                if self.recipe.pretrain.is_none() || header.file == self.recipe.root {
                    self.recipe.pretrain = Some(header);
                }
                let ctx = Ctx {
                    scope: ScopeRef::Pretrain,
                    prefix: "",
                    when: None,
                    evaluate_allowed: false,
                    block: "pretrain",
                };
                self.settings_body(&block.body, ctx);
            }
            "evaluate" => {
                if let Some(args) = &block.args {
                    self.error(Diagnostic::error("`evaluate` takes no arguments").at(args.span));
                }
                let Some(Label::Ident(name)) = &block.label else {
                    return; // reported in pass 1
                };
                let Some(index) = self.recipe.eval_named(&name.name) else {
                    return;
                };
                let title = format!("evaluate {}", name.name);
                let ctx = Ctx {
                    scope: ScopeRef::Eval(index),
                    prefix: "",
                    when: None,
                    evaluate_allowed: false,
                    block: &title,
                };
                self.settings_body(&block.body, ctx);
            }
            "sweep" => {
                self.no_label_or_args(block);
                if let Some(first) = self.recipe.sweep {
                    self.error(
                        Diagnostic::error("a recipe has one `sweep` block")
                            .at(header)
                            .note_at(first, "the sweep is declared here")
                            .help("put all axes in one block; cells are their cartesian product"),
                    );
                    return;
                }
                self.recipe.sweep = Some(header);
                self.sweep_body(&block.body);
            }
            "when" => {
                if let Some(label) = &block.label {
                    self.error(
                        Diagnostic::error("`when` takes conditions, not a name").at(label.span()),
                    );
                }
                self.when_block(stmt, block, false);
            }
            "report" => self.report(stmt, block),
            other => {
                let d = Diagnostic::error(format!("unknown block `{other}`"))
                    .at(block.kind.span)
                    .suggest(closest(other, BLOCKS.iter().map(|(b, _)| *b)));
                let d = if GROUPS.iter().any(|(g, _)| *g == other) {
                    d.help(format!(
                        "`{other} {{ ... }}` goes inside `pretrain {{ ... }}`"
                    ))
                } else if other == "data" {
                    d.help("declare datasets as `data NAME = source(...)`")
                } else {
                    d
                };
                self.error(d);
            }
        }
    }

    fn when_block(&mut self, stmt: &Stmt, block: &Block, in_sweep: bool) {
        let header = header_span(block, stmt);
        let Some(args) = &block.args else {
            self.error(
                Diagnostic::error("`when` needs conditions")
                    .at(header)
                    .help("e.g. `when(objective: moco) { schedule.lr: 0.4 per 512 }`"),
            );
            return;
        };
        if args.items.is_empty() {
            self.error(Diagnostic::error("`when` needs at least one condition").at(args.span));
            return;
        }
        let index = self.recipe.whens.len();
        self.recipe.whens.push(When {
            span: header,
            in_sweep,
            clauses: Vec::new(),
            args: args.items.clone(),
        });
        let ctx = Ctx {
            scope: ScopeRef::Pretrain,
            prefix: "",
            when: Some(index),
            evaluate_allowed: true,
            block: "when",
        };
        self.settings_body(&block.body, ctx);
    }

    /// A list of settings in `ctx`.
    fn settings_body(&mut self, body: &[Stmt], ctx: Ctx<'_>) {
        for stmt in body {
            match &stmt.kind {
                StmtKind::Entry { key, value } => self.entry(stmt, key, value, ctx),
                StmtKind::Block(block) => self.nested_block(stmt, block, ctx),
                StmtKind::Use(_) => {
                    self.error(
                        Diagnostic::error("`use` belongs at the top of a file").at(stmt.span),
                    );
                }
                StmtKind::Data { name, .. } => {
                    self.error(
                        Diagnostic::error(
                            "datasets are declared at the top level, not inside a block",
                        )
                        .at(name.span),
                    );
                }
                StmtKind::Axis { name, .. } => {
                    self.error(
                        Diagnostic::error("`axis` belongs in `sweep { ... }`").at(name.span),
                    );
                }
                StmtKind::Call { name, .. } => {
                    self.error(
                        Diagnostic::error(format!(
                            "unexpected `{}(...)` in `{}`",
                            name.name, ctx.block
                        ))
                        .at(name.span),
                    );
                }
            }
        }
    }

    fn nested_block(&mut self, stmt: &Stmt, block: &Block, ctx: Ctx<'_>) {
        let name = block.kind.name.as_str();
        if ctx.scope == ScopeRef::Pretrain
            && ctx.prefix.is_empty()
            && GROUPS.iter().any(|(g, _)| *g == name)
        {
            self.no_label_or_args(block);
            let prefix = format!("{name}.");
            let inner = Ctx {
                prefix: &prefix,
                block: name,
                ..ctx
            };
            self.settings_body(&block.body, inner);
            return;
        }
        if ctx.evaluate_allowed && name == "evaluate" {
            let Some(label) = &block.label else {
                self.error(
                    Diagnostic::error("name the evaluation: `evaluate NAME { ... }`")
                        .at(block.kind.span),
                );
                return;
            };
            let Some(index) = self.recipe.eval_named(label.text()) else {
                self.unknown_eval(label.text(), label.span());
                return;
            };
            let title = format!("evaluate {}", label.text());
            let inner = Ctx {
                scope: ScopeRef::Eval(index),
                prefix: "",
                evaluate_allowed: false,
                block: &title,
                ..ctx
            };
            self.settings_body(&block.body, inner);
            return;
        }
        if name == "when" && ctx.block == "when" {
            self.error(
                Diagnostic::error("`when` blocks do not nest")
                    .at(header_span(block, stmt))
                    .help("put all conditions in one: `when(a: x, b: y) { ... }`"),
            );
            return;
        }
        let candidates: Vec<&str> = if ctx.scope == ScopeRef::Pretrain && ctx.prefix.is_empty() {
            GROUPS.iter().map(|(g, _)| *g).collect()
        } else {
            Vec::new()
        };
        let d = Diagnostic::error(format!("unexpected block `{name}` in `{}`", ctx.block))
            .at(block.kind.span)
            .suggest(closest(name, candidates));
        self.error(d);
    }

    fn unknown_eval(&mut self, name: &str, span: Span) {
        let names: Vec<&str> = self.recipe.evals.iter().map(|e| e.name.as_str()).collect();
        let d = Diagnostic::error(format!("no evaluation named `{name}`"))
            .at(span)
            .suggest(closest(name, names))
            .help("declare it with `evaluate NAME { ... }`");
        self.error(d);
    }

    /// Resolves a key written in `ctx` to a target, reporting unknown keys.
    fn target(&mut self, key: &Path, ctx: Ctx<'_>) -> Option<Target> {
        let written = key.dotted();
        let mut scope = ctx.scope;
        let mut full = format!("{}{}", ctx.prefix, written);
        let mut block = ctx.block.to_string();
        let mut shown_prefix = String::new();
        if ctx.evaluate_allowed && full.starts_with("evaluate.") {
            let mut parts = full.splitn(3, '.');
            parts.next();
            let name = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("");
            let Some(index) = self.recipe.eval_named(name) else {
                self.unknown_eval(name, key.span);
                return None;
            };
            scope = ScopeRef::Eval(index);
            shown_prefix = format!("evaluate.{name}.");
            block = format!("evaluate {name}");
            full = rest.to_string();
        }
        let kind = self.recipe.scope_kind(scope);
        let table = settings(kind);
        let name = format!("{shown_prefix}{full}");
        if let Some(setting) = table.iter().find(|s| s.key == full) {
            return Some(Target {
                scope,
                setting,
                arg: None,
                name,
            });
        }
        // An argument of a call-valued setting: `backbone.frames`, `moco.head.layers`.
        if let Some((head, arg)) = full.rsplit_once('.')
            && let Some(setting) = table
                .iter()
                .find(|s| s.key == head && matches!(s.ty, Ty::Call(_)))
        {
            if let Some(arg) = arg_static(&setting.ty, arg) {
                return Some(Target {
                    scope,
                    setting,
                    arg: Some(arg),
                    name,
                });
            }
            let Ty::Call(names) = setting.ty else {
                return None;
            };
            let params: Vec<&str> = names
                .iter()
                .filter_map(|n| schema::function(n))
                .flat_map(|f| f.params.iter().map(|p| p.name))
                .collect();
            self.error(
                Diagnostic::error(format!("`{head}` has no argument `{arg}`"))
                    .at(key.span)
                    .suggest(closest(arg, params.iter().copied()).map(|s| format!("{head}.{s}"))),
            );
            return None;
        }
        if scope == ScopeRef::Pretrain && GROUPS.iter().any(|(g, _)| *g == full) {
            self.error(
                Diagnostic::error(format!("`{full}` is a group of settings, not a setting"))
                    .at(key.span)
                    .help(format!(
                        "write `{full} {{ ... }}`, or set one of its keys: `{full}.KEY: ...`"
                    )),
            );
            return None;
        }
        // Unknown: suggest within the same group; point to the group that has a key of this name.
        let group = full
            .rsplit_once('.')
            .map(|(g, _)| format!("{g}."))
            .unwrap_or_default();
        let last = full.rsplit('.').next().unwrap_or(&full);
        let siblings: Vec<&str> = table
            .iter()
            .filter(|s| s.key.starts_with(&group) && !s.key[group.len()..].contains('.'))
            .map(|s| &s.key[group.len()..])
            .collect();
        let relative = &full[ctx.prefix.len().min(full.len())..];
        let suggestion = closest(last, siblings.iter().copied()).map(|s| {
            let full_key = format!("{group}{s}");
            full_key
                .strip_prefix(ctx.prefix)
                .map(str::to_string)
                .unwrap_or(full_key)
        });
        let mut d = Diagnostic::error(format!("unknown key `{relative}` in `{block}`"))
            .at(key.span)
            .suggest(suggestion.clone());
        if suggestion.is_none() {
            let elsewhere: Vec<&str> = table
                .iter()
                .filter(|s| s.key.rsplit('.').next() == Some(last))
                .map(|s| s.key)
                .collect();
            match elsewhere.as_slice() {
                [] => {}
                [one] if scope == ScopeRef::Pretrain => {
                    let group = one.rsplit_once('.').map(|(g, _)| g).unwrap_or("pretrain");
                    d = d.help(format!(
                        "`{last}` belongs in `{group} {{ ... }}`: write `{one}`"
                    ));
                }
                many => {
                    let groups: Vec<&str> = many
                        .iter()
                        .map(|k| k.rsplit_once('.').map(|(g, _)| g).unwrap_or(k))
                        .collect();
                    d = d.note(format!(
                        "`{last}` is a setting of {}",
                        crate::schema::types::backticked(&groups)
                    ));
                }
            }
        }
        self.error(d);
        None
    }

    fn entry(&mut self, stmt: &Stmt, key: &Path, value: &Expr, ctx: Ctx<'_>) {
        let Some(target) = self.target(key, ctx) else {
            return;
        };
        // Duplicate keys in one block (or one `when`) of one file.
        let scope_name = match target.scope {
            ScopeRef::Pretrain => String::new(),
            ScopeRef::Eval(i) => format!("evaluate.{}.", self.recipe.evals[i].name),
        };
        let dedupe = (
            stmt.span.file,
            ctx.when,
            format!("{scope_name}{}", target.name),
        );
        if let Some(&first) = self.seen.get(&dedupe) {
            self.error(
                Diagnostic::error(format!("`{}` is set twice", target.name))
                    .label(key.span, "set again here")
                    .note_at(first, "first set here"),
            );
            return;
        }
        self.seen.insert(dedupe, key.span);
        let ty = target.ty();
        let Some(value_checked) = self.typer().check(value, &ty, &target.name) else {
            return;
        };
        // Lists of calls are complete values (they replace, never merge): fill their defaults now.
        let value_checked = match value_checked {
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Call(call) => match self.typer().complete(call) {
                            Some(c) => out.push(Value::Call(c)),
                            None => return,
                        },
                        other => out.push(other),
                    }
                }
                Value::List(out)
            }
            other => other,
        };
        self.recipe.assignments.push(Assignment {
            target,
            value: value_checked,
            span: stmt.span,
            value_span: value.span,
            when: ctx.when,
        });
    }

    // -----------------------------------------------------------------------------------------------------------
    // Sweep

    fn sweep_body(&mut self, body: &[Stmt]) {
        for stmt in body {
            match &stmt.kind {
                StmtKind::Entry { key, value } => self.setting_axis(key, value),
                StmtKind::Axis { name, value } => self.label_axis(name, value),
                StmtKind::Call { name, args } if name.name == "exclude" => {
                    if args.items.is_empty() {
                        self.error(Diagnostic::error("`exclude` needs conditions").at(args.span));
                        continue;
                    }
                    self.recipe.excludes.push(Exclude {
                        clauses: Vec::new(),
                        span: stmt.span,
                        args: args.items.clone(),
                    });
                }
                StmtKind::Call { name, .. } => {
                    self.error(
                        Diagnostic::error(format!("unexpected `{}(...)` in `sweep`", name.name))
                            .at(name.span)
                            .suggest(closest(&name.name, ["exclude"])),
                    );
                }
                StmtKind::Block(block) if block.kind.name == "when" => {
                    self.when_block(stmt, block, true)
                }
                StmtKind::Block(block) => {
                    self.error(
                        Diagnostic::error(format!(
                            "unexpected block `{}` in `sweep`",
                            block.kind.name
                        ))
                        .at(block.kind.span)
                        .suggest(closest(&block.kind.name, ["when"])),
                    );
                }
                StmtKind::Use(_) | StmtKind::Data { .. } => {
                    self.error(
                        Diagnostic::error("this statement belongs at the top level of a file")
                            .at(stmt.span),
                    );
                }
            }
        }
    }

    fn axis_values<'e>(&mut self, value: &'e Expr, name: &str) -> Option<&'e [Expr]> {
        match &value.kind {
            ExprKind::List(items) if !items.is_empty() => Some(items.as_slice()),
            ExprKind::List(_) => {
                self.error(
                    Diagnostic::error(format!("the sweep of `{name}` has no values"))
                        .at(value.span),
                );
                None
            }
            _ => {
                self.error(
                    Diagnostic::error(format!(
                        "a sweep axis takes a list of values, found {}",
                        describe(value)
                    ))
                    .at(value.span)
                    .help(format!("write `{name}: [{}]`", format_expr(value))),
                );
                None
            }
        }
    }

    fn push_axis(&mut self, axis: Axis, key_span: Span) {
        if let Some(i) = self.recipe.axis_named(&axis.name) {
            let first = self.recipe.axes[i].span;
            self.error(
                Diagnostic::error(format!("`{}` is swept twice", axis.name))
                    .at(key_span)
                    .note_at(first, "first swept here"),
            );
            return;
        }
        for (i, v) in axis.values.iter().enumerate() {
            if let Some(j) = axis.values[..i].iter().position(|w| w.label == v.label) {
                let first = axis.values[j].span;
                self.error(
                    Diagnostic::error(format!(
                        "`{}` appears twice in the sweep of `{}`",
                        v.label, axis.name
                    ))
                    .at(v.span)
                    .note_at(first, "first here"),
                );
                return;
            }
        }
        self.recipe.axes.push(axis);
    }

    fn setting_axis(&mut self, key: &Path, value: &Expr) {
        let ctx = Ctx {
            scope: ScopeRef::Pretrain,
            prefix: "",
            when: None,
            evaluate_allowed: true,
            block: "pretrain",
        };
        let written = key.dotted();
        let known = {
            let table = settings(Scope::Pretrain);
            table
                .iter()
                .any(|s| s.key == written || written.starts_with(&format!("{}.", s.key)))
                || written.starts_with("evaluate.")
        };
        if !known {
            let keys: Vec<&str> = settings(Scope::Pretrain).iter().map(|s| s.key).collect();
            let d = Diagnostic::error(format!("sweep over unknown key `{written}`"))
                .at(key.span)
                .suggest(closest(&written, keys))
                .help("to sweep something that is not a setting, declare a labelled axis: `axis NAME: [...]` and give \
                       its meaning with `when(NAME: value) { ... }`");
            self.error(d);
            return;
        }
        let Some(target) = self.target(key, ctx) else {
            return;
        };
        let Some(items) = self.axis_values(value, &written) else {
            return;
        };
        let ty = target.ty();
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let Some(mut v) = self.typer().check(item, &ty, &target.name) else {
                return;
            };
            if let Value::List(list) = v {
                let mut done = Vec::new();
                for element in list {
                    match element {
                        Value::Call(call) => match self.typer().complete(call) {
                            Some(c) => done.push(Value::Call(c)),
                            None => return,
                        },
                        other => done.push(other),
                    }
                }
                v = Value::List(done);
            }
            values.push(AxisValue {
                label: format_expr(item),
                value: Some(v),
                span: item.span,
            });
        }
        self.push_axis(
            Axis {
                name: written,
                target: Some(target),
                values,
                span: key.span,
            },
            key.span,
        );
    }

    fn label_axis(&mut self, name: &crate::syntax::ast::Ident, value: &Expr) {
        if settings(Scope::Pretrain).iter().any(|s| s.key == name.name) {
            self.error(
                Diagnostic::error(format!("`{}` is a setting", name.name))
                    .at(name.span)
                    .help(format!("sweep it directly: `{}: [...]`", name.name)),
            );
            return;
        }
        let Some(items) = self.axis_values(value, &name.name) else {
            return;
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let label = match &item.kind {
                ExprKind::Str(s) => s.clone(),
                ExprKind::Path(_) | ExprKind::Number(_) => format_expr(item),
                _ => {
                    self.error(
                        Diagnostic::error(format!("the values of axis `{}` are labels", name.name))
                            .label(item.span, "expected a name, a number or a string"),
                    );
                    return;
                }
            };
            values.push(AxisValue {
                label,
                value: None,
                span: item.span,
            });
        }
        self.push_axis(
            Axis {
                name: name.name.clone(),
                target: None,
                values,
                span: name.span,
            },
            name.span,
        );
    }

    // -----------------------------------------------------------------------------------------------------------
    // Conditions (after all axes are known: a base file's `when` may test an axis of the recipe's sweep)

    fn resolve_conditions(&mut self) {
        for i in 0..self.recipe.whens.len() {
            let args = std::mem::take(&mut self.recipe.whens[i].args);
            let clauses = self.clauses(&args, false);
            self.recipe.whens[i].clauses = clauses;
        }
        for i in 0..self.recipe.excludes.len() {
            let args = std::mem::take(&mut self.recipe.excludes[i].args);
            let clauses = self.clauses(&args, true);
            self.recipe.excludes[i].clauses = clauses;
        }
    }

    fn clauses(&mut self, args: &[Arg], axes_only: bool) -> Vec<Clause> {
        let mut out = Vec::new();
        for arg in args {
            let Some(name) = &arg.name else {
                self.error(
                    Diagnostic::error("a condition is written `key: value`")
                        .at(arg.span)
                        .help("e.g. `objective: moco`"),
                );
                continue;
            };
            let key = name.dotted();
            if let Some(axis) = self.recipe.axis_named(&key) {
                if let Some(value) = self.axis_value_or_never(axis, &arg.value) {
                    out.push(Clause {
                        key: value
                            .map_or(ClauseKey::Never, |value| ClauseKey::Axis { axis, value }),
                        span: arg.span,
                    });
                }
                continue;
            }
            if axes_only {
                let names: Vec<&str> = self.recipe.axes.iter().map(|a| a.name.as_str()).collect();
                let d = Diagnostic::error(format!("`{key}` is not a sweep axis"))
                    .at(name.span)
                    .suggest(closest(&key, names.iter().copied()))
                    .note(if names.is_empty() {
                        "the sweep has no axes".to_string()
                    } else {
                        format!("the axes: {}", crate::schema::types::backticked_all(&names))
                    });
                self.error(d);
                continue;
            }
            let ctx = Ctx {
                scope: ScopeRef::Pretrain,
                prefix: "",
                when: None,
                evaluate_allowed: true,
                block: "pretrain",
            };
            let Some(target) = self.target(name, ctx) else {
                continue;
            };
            if target.arg.is_some() {
                self.error(
                    Diagnostic::error("a condition tests a whole setting, not one argument of it")
                        .at(name.span)
                        .help("sweep the argument (`sweep { backbone.frames: [...] }`) and test the axis"),
                );
                continue;
            }
            let ty = target.ty();
            if let Some(value) = self.typer().check(&arg.value, &ty, &target.name) {
                out.push(Clause {
                    key: ClauseKey::Setting { target, value },
                    span: arg.span,
                });
            }
        }
        out
    }

    /// For a condition: the index of the axis value `expr` names, or `Some(None)` for a valid value of a swept
    /// setting that the sweep leaves out (a base file may configure values a recipe does not sweep).
    fn axis_value_or_never(&mut self, axis: usize, expr: &Expr) -> Option<Option<usize>> {
        if let Some(target) = self.recipe.axes[axis].target.clone() {
            let mut scratch = Diagnostics::default();
            let value = Typer {
                env: self.env,
                diags: &mut scratch,
            }
            .check(expr, &target.ty(), &target.name);
            let label = format_expr(expr);
            let a = &self.recipe.axes[axis];
            let found = a.values.iter().position(|v| {
                v.label == label || (value.is_some() && v.value.as_ref() == value.as_ref())
            });
            if found.is_some() {
                return Some(found);
            }
            if value.is_some() {
                return Some(None);
            }
            for d in scratch.items {
                self.error(d);
            }
            return None;
        }
        self.axis_value(axis, expr).map(Some)
    }

    /// The index of the axis value `expr` names.
    fn axis_value(&mut self, axis: usize, expr: &Expr) -> Option<usize> {
        let a = &self.recipe.axes[axis];
        let found = match &a.target {
            Some(target) => {
                let target = target.clone();
                let mut scratch = Diagnostics::default();
                let value = Typer {
                    env: self.env,
                    diags: &mut scratch,
                }
                .check(expr, &target.ty(), &target.name);
                let a = &self.recipe.axes[axis];
                let label = format_expr(expr);
                a.values.iter().position(|v| {
                    v.label == label || (value.is_some() && v.value.as_ref() == value.as_ref())
                })
            }
            None => {
                let label = match &expr.kind {
                    ExprKind::Str(s) => s.clone(),
                    _ => format_expr(expr),
                };
                a.values.iter().position(|v| v.label == label)
            }
        };
        if found.is_none() {
            let a = &self.recipe.axes[axis];
            let labels: Vec<&str> = a.values.iter().map(|v| v.label.as_str()).collect();
            let shown = format_expr(expr);
            let d = Diagnostic::error(format!(
                "`{shown}` is not a value of the sweep axis `{}`",
                a.name
            ))
            .at(expr.span)
            .suggest(closest(&shown, labels.iter().copied()))
            .note(format!("`{}` takes {}", a.name, labels.join(", ")));
            self.error(d);
        }
        found
    }

    /// A `when` must not set what a condition reads (the conditions would depend on the order of evaluation).
    fn check_when_targets(&mut self) {
        let mut read: Vec<(Target, Span)> = Vec::new();
        for when in &self.recipe.whens {
            for clause in &when.clauses {
                if let ClauseKey::Setting { target, .. } = &clause.key {
                    read.push((target.clone(), clause.span));
                }
            }
        }
        let mut found = Vec::new();
        for a in &self.recipe.assignments {
            if a.when.is_none() {
                continue;
            }
            if let Some((_, span)) = read.iter().find(|(t, _)| t.same_setting(&a.target)) {
                found.push(
                    Diagnostic::error(format!("a `when` block sets `{}`, which a condition tests", a.target.name))
                        .at(a.span)
                        .note_at(*span, "tested here")
                        .help("conditions see the values before any `when` applies; sweep the setting instead"),
                );
            }
        }
        for d in found {
            self.error(d);
        }
    }

    // -----------------------------------------------------------------------------------------------------------
    // Reports

    fn report(&mut self, stmt: &Stmt, block: &Block) {
        let header = header_span(block, stmt);
        if let Some(args) = &block.args {
            self.error(Diagnostic::error("`report` takes a title, not arguments").at(args.span));
        }
        let title = match &block.label {
            Some(label) => label.text().to_string(),
            None => {
                self.error(
                    Diagnostic::error("a report needs a title")
                        .at(block.kind.span)
                        .help("write `report \"Table 2\" { ... }`"),
                );
                return;
            }
        };
        self.recipe.reports.push(ReportDecl {
            title,
            span: header,
            rows: None,
            cols: None,
            over: None,
            cell: None,
            paper: None,
            expect: Vec::new(),
            expect_spans: Vec::new(),
            spans: HashMap::new(),
            body: block.body.clone(),
        });
    }

    fn resolve_reports(&mut self) {
        for i in 0..self.recipe.reports.len() {
            let body = std::mem::take(&mut self.recipe.reports[i].body);
            let mut report = self.recipe.reports[i].clone();
            self.report_body(&mut report, &body);
            self.recipe.reports[i] = report;
        }
    }

    fn axis_ref(&mut self, value: &Expr, key: &str) -> Option<usize> {
        let name = match &value.kind {
            ExprKind::Path(p) => p.dotted(),
            _ => {
                self.error(
                    Diagnostic::error(format!(
                        "`{key}` names a sweep axis, found {}",
                        describe(value)
                    ))
                    .at(value.span),
                );
                return None;
            }
        };
        if let Some(i) = self.recipe.axis_named(&name) {
            return Some(i);
        }
        let names: Vec<&str> = self.recipe.axes.iter().map(|a| a.name.as_str()).collect();
        let d = Diagnostic::error(format!("report {key} `{name}` is not a sweep axis"))
            .at(value.span)
            .suggest(closest(&name, names.iter().copied()))
            .note(if names.is_empty() {
                "the recipe has no sweep".to_string()
            } else {
                format!("the axes: {}", crate::schema::types::backticked_all(&names))
            });
        self.error(d);
        None
    }

    fn report_body(&mut self, report: &mut ReportDecl, body: &[Stmt]) {
        let mut expect_exprs: Option<&Expr> = None;
        for stmt in body {
            let StmtKind::Entry { key, value } = &stmt.kind else {
                self.error(
                    Diagnostic::error("a report holds `key: value` entries only").at(stmt.span),
                );
                continue;
            };
            let name = key.dotted();
            let Some(spec) = REPORT_KEYS.iter().find(|k| k.key == name) else {
                self.error(
                    Diagnostic::error(format!("unknown key `{name}` in `report`"))
                        .at(key.span)
                        .suggest(closest(&name, REPORT_KEYS.iter().map(|k| k.key))),
                );
                continue;
            };
            if let Some(&first) = report.spans.get(spec.key) {
                self.error(
                    Diagnostic::error(format!("`{name}` is set twice"))
                        .label(key.span, "set again here")
                        .note_at(first, "first set here"),
                );
                continue;
            }
            report.spans.insert(spec.key, value.span);
            match spec.key {
                "rows" => report.rows = self.axis_ref(value, "rows"),
                "cols" => report.cols = self.axis_ref(value, "cols"),
                "over" => report.over = self.axis_ref(value, "over"),
                "cell" => report.cell = self.metric(value),
                "paper" => report.paper = self.paper(value),
                _ => expect_exprs = Some(value),
            }
        }
        if report.cell.is_none() && !report.spans.contains_key("cell") {
            self.error(
                Diagnostic::error(format!(
                    "report \"{}\" does not say what goes in its cells",
                    report.title
                ))
                .at(report.span)
                .help("add e.g. `cell: linear.top1`"),
            );
        }
        if let (Some(r), Some(c)) = (report.rows, report.cols)
            && r == c
            && let Some(&span) = report.spans.get("cols")
        {
            self.error(Diagnostic::error("a report's rows and columns are the same axis").at(span));
        }
        if let Some(o) = report.over
            && let Some(&span) = report.spans.get("over")
        {
            for (key, shown) in [("rows", report.rows), ("cols", report.cols)] {
                if shown == Some(o) {
                    let name = &self.recipe.axes[o].name;
                    self.error(
                        Diagnostic::error(format!(
                            "`over: {name}` aggregates the axis that the report's {key} show"
                        ))
                        .at(span)
                        .note_at(report.spans[key], format!("`{key}: {name}` is here"))
                        .help("`over` names a third axis, e.g. `over: seed`"),
                    );
                    report.over = None;
                }
            }
        }
        if let Some(expr) = expect_exprs {
            let items: Vec<&Expr> = match &expr.kind {
                ExprKind::List(items) => items.iter().collect(),
                _ => vec![expr],
            };
            for item in items {
                if let Some(e) = self.expectation(report, item) {
                    report.expect.push(e);
                    report.expect_spans.push(item.span);
                }
            }
        }
    }

    fn metric(&mut self, value: &Expr) -> Option<(usize, String)> {
        let ExprKind::Path(path) = &value.kind else {
            self.error(
                Diagnostic::error(format!("`cell` names a metric, found {}", describe(value)))
                    .at(value.span)
                    .help("e.g. `cell: linear.top1`"),
            );
            return None;
        };
        let [eval, metric] = path.parts.as_slice() else {
            self.error(
                Diagnostic::error("`cell` is `<evaluation>.<metric>`")
                    .at(value.span)
                    .help("e.g. `cell: linear.top1`"),
            );
            return None;
        };
        let Some(index) = self.recipe.eval_named(&eval.name) else {
            self.unknown_eval(&eval.name, eval.span);
            return None;
        };
        let metrics = self.recipe.evals[index].kind.metrics();
        if !metrics.contains(&metric.name.as_str()) {
            self.error(
                Diagnostic::error(format!(
                    "evaluation `{}` reports no metric `{}`",
                    eval.name, metric.name
                ))
                .at(metric.span)
                .suggest(closest(&metric.name, metrics.iter().copied()))
                .note(format!(
                    "its metrics: {}",
                    crate::schema::types::backticked_all(metrics)
                )),
            );
            return None;
        }
        Some((index, metric.name.clone()))
    }

    fn paper(&mut self, value: &Expr) -> Option<String> {
        let key = match &value.kind {
            ExprKind::Path(p) => p.dotted(),
            ExprKind::Str(s) => s.clone(),
            _ => {
                self.error(
                    Diagnostic::error(format!("`paper` names a table, found {}", describe(value)))
                        .at(value.span),
                );
                return None;
            }
        };
        if vst_spec::paper::table(&key).is_some() {
            return Some(key);
        }
        let keys: Vec<&str> = vst_spec::paper::tables().iter().map(|t| t.key).collect();
        self.error(
            Diagnostic::error(format!("the paper has no table `{key}`"))
                .at(value.span)
                .suggest(closest(&key, keys.iter().copied()))
                .note(format!("tables: {}", keys.join(", "))),
        );
        None
    }

    fn expectation(&mut self, report: &ReportDecl, expr: &Expr) -> Option<Expectation> {
        let non_negative = Ty::non_negative();
        match &expr.kind {
            ExprKind::Above {
                axis,
                higher,
                lower,
                by,
                spread,
            } => {
                let name = axis.dotted();
                let cols = report.cols.map(|c| self.recipe.axes[c].name.clone());
                if cols.as_deref() != Some(name.as_str()) {
                    let d = Diagnostic::error(format!(
                        "`above` compares columns, but `{name}` is not the report's `cols`"
                    ))
                    .at(axis.span);
                    let d = match &cols {
                        Some(c) => d.help(format!("write `{c} ... above ...`")),
                        None => d.help(format!("add `cols: {name}`")),
                    };
                    self.error(d);
                    return None;
                }
                let axis_index = report.cols?;
                let hi = self.axis_value(axis_index, higher)?;
                let lo = self.axis_value(axis_index, lower)?;
                let margin = match by {
                    Some(m) => self.typer().check(m, &non_negative, "by")?.as_f64()?,
                    None => 0.0,
                };
                if let Some(spread) = spread {
                    let Some(over) = report.over else {
                        self.error(
                            Diagnostic::error(
                                "`beyond spread` needs the axis the report aggregates (`over`)",
                            )
                            .at(*spread)
                            .note("the spread is the standard deviation over that axis (the seeds)")
                            .help(
                                match report.spans.contains_key("over") {
                                    true => "fix the report's `over` axis".to_string(),
                                    false => "add e.g. `over: seed` to the report".to_string(),
                                },
                            ),
                        );
                        return None;
                    };
                    let over_axis = &self.recipe.axes[over];
                    if over_axis.values.len() < 2 {
                        self.error(
                            Diagnostic::error(format!(
                                "`beyond spread` needs two values of `{}` or more: one has no spread",
                                over_axis.name
                            ))
                            .at(*spread)
                            .note_at(over_axis.span, format!("`{}` is swept here", over_axis.name)),
                        );
                        return None;
                    }
                }
                let labels = &self.recipe.axes[axis_index].values;
                let (higher, lower) = (labels[hi].label.clone(), labels[lo].label.clone());
                Some(match spread {
                    Some(_) => Expectation::AboveBeyondSpread { higher, lower },
                    None => Expectation::Above {
                        higher,
                        lower,
                        margin,
                    },
                })
            }
            ExprKind::Within(tolerance) => {
                let tolerance = self
                    .typer()
                    .check(tolerance, &non_negative, "within")?
                    .as_f64()?;
                if report.paper.is_none() {
                    self.error(
                        Diagnostic::error("`within ... of paper` needs the report's `paper` table")
                            .at(expr.span)
                            .help("add e.g. `paper: table2`"),
                    );
                    return None;
                }
                Some(Expectation::NearPaper { tolerance })
            }
            ExprKind::AtLeast(value) => {
                let value = self.typer().check(
                    value,
                    &Ty::Float {
                        min: f64::MIN,
                        max: f64::MAX,
                        min_open: false,
                        max_open: false,
                    },
                    "at least",
                )?;
                Some(Expectation::AtLeast {
                    value: value.as_f64()?,
                })
            }
            _ => {
                self.error(
                    Diagnostic::error(format!("expected an expectation, found {}", describe(expr)))
                        .at(expr.span)
                        .help(
                            "write `COLS a above b (by m | beyond spread)`, `within t of paper` or \
                             `at least v`",
                        ),
                );
                None
            }
        }
    }
}
