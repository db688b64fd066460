//! Blocks and settings: the top-level blocks, evaluation declarations, datasets and the statement lists inside
//! blocks.

use super::*;
use crate::check::value::Value;
use crate::diagnostic::{Diagnostic, Kind, closest};
use crate::schema::{
    BLOCKS, DATASET_SOURCES, EVAL_KIND_WORDS, EvalKind, GROUPS, Scope, Ty, settings,
};
use crate::source::FileId;
use crate::syntax::Span;
use crate::syntax::ast::{Block, Expr, File, Label, Stmt, StmtKind};

impl Collector<'_, '_> {
    // -----------------------------------------------------------------------------------------------------------
    // Pass 1: evaluation blocks (other statements may name them before they are declared).

    pub(super) fn declare_evals(&mut self, _file: FileId, file: &File) {
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
                        Diagnostic::error(
                            Kind::BlockHeader,
                            "an evaluation is named with a plain name, not a string",
                        )
                        .at(s.span)
                        .help("e.g. `evaluate linear { ... }`"),
                    );
                    continue;
                }
                None => {
                    self.error(
                        Diagnostic::error(Kind::BlockHeader, "an `evaluate` block needs a name")
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
                        .check(value, &Ty::Word(EVAL_KIND_WORDS), "kind");
                    if let Some(Value::Word(w)) = v {
                        kind = EvalKind::from_name(&w);
                    }
                }
            }
            let Some(kind) = kind else {
                self.error(
                    Diagnostic::error(
                        Kind::UnknownEvaluationKind,
                        format!("unknown evaluation `{}`", name.name),
                    )
                    .at(name.span)
                    .suggest(closest(&name.name, EvalKind::ALL.iter().map(|k| k.name())))
                    .help(
                        "name it `linear`, `knn` or `finetune`, or give its kind: `kind: linear`",
                    ),
                );
                self.poisoned.push(name.name.clone());
                continue;
            };
            match self.recipe.eval_named(&name.name) {
                Some(i) if self.recipe.evals[i].kind != kind => {
                    let first = self.recipe.evals[i].span;
                    self.error(
                        Diagnostic::error(
                            Kind::ConflictingEvaluationKind,
                            format!("evaluation `{}` is declared with two kinds", name.name),
                        )
                        .at(name.span)
                        .secondary(
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

    pub(super) fn file(&mut self, file_id: FileId, file: &File) {
        let mut pretrain_blocks: Option<Span> = None;
        for stmt in &file.stmts {
            match &stmt.kind {
                StmtKind::Use(_) => {}
                StmtKind::Data { name, value } => self.dataset(file_id, name, value),
                StmtKind::Block(block) => self.top_block(stmt, block, &mut pretrain_blocks),
                StmtKind::Entry { key, .. } => {
                    let mut d =
                        Diagnostic::error(Kind::MisplacedStatement, "settings go inside a block")
                            .at(key.span);
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
                            Kind::MisplacedStatement,
                            "`axis` declares a sweep axis and belongs in `sweep { ... }`",
                        )
                        .at(name.span),
                    );
                }
                StmtKind::Call { name, .. } => {
                    let d = if name.name == "exclude" {
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            "`exclude(...)` belongs in `sweep { ... }`",
                        )
                        .at(name.span)
                    } else {
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            format!("unexpected statement `{}(...)`", name.name),
                        )
                        .at(name.span)
                    };
                    self.error(d);
                }
            }
        }
    }

    pub(super) fn dataset(&mut self, file: FileId, name: &crate::syntax::ast::Ident, value: &Expr) {
        if let Some(previous) = self
            .recipe
            .datasets
            .iter()
            .find(|d| d.name == name.name && d.name_span.file == file)
        {
            let first = previous.name_span;
            self.error(
                Diagnostic::error(
                    Kind::DuplicateDataset,
                    format!("dataset `{}` is declared twice", name.name),
                )
                .at(name.span)
                .secondary(first, "first declared here"),
            );
            return;
        }
        let Some(call) = self.typer().call(value, DATASET_SOURCES, &name.name) else {
            return;
        };
        let Some(mut call) = self.typer().complete(call) else {
            return;
        };
        if !self.transcode(value, &mut call) {
            return;
        }
        self.recipe.datasets.push(DatasetDecl {
            name: name.name.clone(),
            name_span: name.span,
            value: call,
        });
    }

    pub(super) fn no_label_or_args(&mut self, block: &Block) {
        if let Some(label) = &block.label {
            self.error(
                Diagnostic::error(
                    Kind::BlockHeader,
                    format!("`{}` takes no name", block.kind.name),
                )
                .at(label.span()),
            );
        }
        if let Some(args) = &block.args {
            self.error(
                Diagnostic::error(
                    Kind::BlockHeader,
                    format!("`{}` takes no arguments", block.kind.name),
                )
                .at(args.span),
            );
        }
    }

    pub(super) fn top_block(
        &mut self,
        stmt: &Stmt,
        block: &Block,
        pretrain_in_file: &mut Option<Span>,
    ) {
        let header = header_span(block, stmt);
        match block.kind.name.as_str() {
            "pretrain" => {
                self.no_label_or_args(block);
                if let Some(first) = *pretrain_in_file {
                    self.error(
                        Diagnostic::error(
                            Kind::DuplicateBlock,
                            "a second `pretrain` block in this file",
                        )
                        .at(header)
                        .secondary(first, "the first one")
                        .help("put all pre-training settings in one block"),
                    );
                    return;
                }
                *pretrain_in_file = Some(header);
                if self.recipe.pretrain.is_none() || header.file == self.recipe.root {
                    self.recipe.pretrain = Some(header);
                }
                let ctx = Ctx::pretrain(None, false, "pretrain");
                self.settings_body(&block.body, ctx);
            }
            "evaluate" => {
                if let Some(args) = &block.args {
                    self.error(
                        Diagnostic::error(Kind::BlockHeader, "`evaluate` takes no arguments")
                            .at(args.span),
                    );
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
                        Diagnostic::error(Kind::DuplicateBlock, "a recipe has one `sweep` block")
                            .at(header)
                            .secondary(first, "the sweep is declared here")
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
                        Diagnostic::error(Kind::BlockHeader, "`when` takes conditions, not a name")
                            .at(label.span()),
                    );
                }
                self.when_block(stmt, block, false);
            }
            "report" => self.report(stmt, block),
            other => {
                let d = Diagnostic::error(Kind::UnknownBlock, format!("unknown block `{other}`"))
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

    pub(super) fn when_block(&mut self, stmt: &Stmt, block: &Block, in_sweep: bool) {
        let header = header_span(block, stmt);
        let Some(args) = &block.args else {
            self.error(
                Diagnostic::error(Kind::MalformedCondition, "`when` needs conditions")
                    .at(header)
                    .help("e.g. `when(objective: moco) { schedule.lr: 0.4 per 512 }`"),
            );
            return;
        };
        if args.items.is_empty() {
            self.error(
                Diagnostic::error(
                    Kind::MalformedCondition,
                    "`when` needs at least one condition",
                )
                .at(args.span),
            );
            return;
        }
        let index = self.recipe.whens.len();
        self.recipe.whens.push(When {
            span: header,
            in_sweep,
            clauses: Vec::new(),
            args: args.items.clone(),
        });
        let ctx = Ctx::pretrain(Some(index), true, "when");
        self.settings_body(&block.body, ctx);
    }

    /// A list of settings in `ctx`.
    pub(super) fn settings_body(&mut self, body: &[Stmt], ctx: Ctx<'_>) {
        for stmt in body {
            match &stmt.kind {
                StmtKind::Entry { key, value } => self.entry(stmt, key, value, ctx),
                StmtKind::Block(block) => self.nested_block(stmt, block, ctx),
                StmtKind::Use(_) => {
                    self.error(
                        Diagnostic::error(Kind::UseNotFirst, "`use` belongs at the top of a file")
                            .at(stmt.span),
                    );
                }
                StmtKind::Data { name, .. } => {
                    self.error(
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            "datasets are declared at the top level, not inside a block",
                        )
                        .at(name.span),
                    );
                }
                StmtKind::Axis { name, .. } => {
                    self.error(
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            "`axis` belongs in `sweep { ... }`",
                        )
                        .at(name.span),
                    );
                }
                StmtKind::Call { name, .. } => {
                    self.error(
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            format!("unexpected `{}(...)` in `{}`", name.name, ctx.block),
                        )
                        .at(name.span),
                    );
                }
            }
        }
    }

    pub(super) fn nested_block(&mut self, stmt: &Stmt, block: &Block, ctx: Ctx<'_>) {
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
                    Diagnostic::error(
                        Kind::BlockHeader,
                        "name the evaluation: `evaluate NAME { ... }`",
                    )
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
                Diagnostic::error(Kind::NestedWhen, "`when` blocks do not nest")
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
        let d = Diagnostic::error(
            Kind::UnknownBlock,
            format!("unexpected block `{name}` in `{}`", ctx.block),
        )
        .at(block.kind.span)
        .suggest(closest(name, candidates));
        self.error(d);
    }

    pub(super) fn unknown_eval(&mut self, name: &str, span: Span) {
        if self.is_poisoned(name) {
            return;
        }
        let names: Vec<&str> = self.recipe.evals.iter().map(|e| e.name.as_str()).collect();
        let d = Diagnostic::error(
            Kind::UndeclaredEvaluation,
            format!("no evaluation named `{name}`"),
        )
        .at(span)
        .suggest(closest(name, names))
        .help("declare it with `evaluate NAME { ... }`");
        self.error(d);
    }
}
