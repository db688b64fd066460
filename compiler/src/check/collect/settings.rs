//! One setting: its key resolved against the schema to a target, and its value type-checked.

use super::*;
use crate::check::value::Value;
use crate::diagnostic::{Diagnostic, Kind, closest};
use crate::schema::{self, GROUPS, Ty, settings};
use crate::syntax::ast::{Expr, Path, Stmt};

impl Collector<'_, '_> {
    /// Resolves a key written in `ctx` to a target, reporting unknown keys.
    pub(super) fn target(&mut self, key: &Path, ctx: Ctx<'_>) -> Option<Target> {
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
            if let Some(arg) = call_param(&setting.ty, arg).map(|p| p.name) {
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
                Diagnostic::error(
                    Kind::UnknownArgument,
                    format!("`{head}` has no argument `{arg}`"),
                )
                .at(key.span)
                .suggest(closest(arg, params.iter().copied()).map(|s| format!("{head}.{s}"))),
            );
            return None;
        }
        if scope == ScopeRef::Pretrain && GROUPS.iter().any(|(g, _)| *g == full) {
            self.error(
                Diagnostic::error(
                    Kind::GroupNotSetting,
                    format!("`{full}` is a group of settings, not a setting"),
                )
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
        let mut d = Diagnostic::error(
            Kind::UnknownKey,
            format!("unknown key `{relative}` in `{block}`"),
        )
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
        if let Some(help) = renamed(&full) {
            d = d.help(help);
        }
        self.error(d);
        None
    }

    pub(super) fn entry(&mut self, stmt: &Stmt, key: &Path, value: &Expr, ctx: Ctx<'_>) {
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
                Diagnostic::error(
                    Kind::DuplicateSetting,
                    format!("`{}` is set twice", target.name),
                )
                .label(key.span, "set again here")
                .secondary(first, "first set here"),
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
}

/// Settings an earlier version of the language had, and what replaced them.
fn renamed(key: &str) -> Option<&'static str> {
    match key {
        "sync_bn" => Some(
            "`sync_bn` (devices sharing batch-norm statistics) became `bn_batch` (videos per batch-norm batch): \
             `sync_bn: all` is `bn_batch: all`; a group of G devices of B/D videos each is `bn_batch: G·B/D`",
        ),
        _ => None,
    }
}
