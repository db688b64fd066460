//! Value expression × type → checked [`Value`], with a diagnostic for every way a value can be wrong: the wrong
//! kind of literal, a missing or wrong unit, out of range, an unknown name or function, a bad argument.

use super::value::{CallValue, Value, number};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind, closest};
use crate::schema::{Function, ParamDefault, Ty, function};
use crate::syntax::ast::{Expr, ExprKind, Number, Unit};
use crate::syntax::{format_expr, quote};

mod call;
mod scalars;

pub use call::{builtin_value, param_default};

/// Sizes in pixels beyond this are mistakes (and would overflow the cost arithmetic).
const MAX_PIXELS: i64 = 65536;
/// Training lengths beyond this are mistakes.
const MAX_EPOCHS: f64 = 1e6;

/// Looks up environment variables (injectable so that tests and snapshots do not depend on the caller's shell).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub struct Typer<'a> {
    pub env: EnvLookup<'a>,
    pub diags: &'a mut Diagnostics,
}

/// How an expression reads in "found ..." messages.
pub fn describe(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Str(_) => "a string".into(),
        ExprKind::Call { name, .. } => format!("a call of `{}`", name.name),
        ExprKind::List(_) => "a list".into(),
        ExprKind::Range(..) => format!("the range `{}`", format_expr(expr)),
        ExprKind::Above { .. } | ExprKind::Within(_) | ExprKind::AtLeast(_) => {
            "an expectation".into()
        }
        _ => format!("`{}`", format_expr(expr)),
    }
}

impl Typer<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn mismatch(&mut self, expr: &Expr, ty: &Ty, key: &str) {
        let d = Diagnostic::error(
            Kind::TypeMismatch,
            format!(
                "`{key}` expects {}, found {}",
                ty.describe(),
                describe(expr)
            ),
        )
        .at(expr.span);
        self.push(d);
    }

    /// Checks `expr` against `ty`; `key` names the setting or argument in messages.
    pub fn check(&mut self, expr: &Expr, ty: &Ty, key: &str) -> Option<Value> {
        match ty {
            Ty::Int { min, max } => self.int(expr, *min, *max, key, false).map(Value::Int),
            Ty::Pixels => self.int(expr, 1, MAX_PIXELS, key, true).map(Value::Int),
            Ty::Float { .. } => self.float(expr, ty, key).map(Value::Float),
            Ty::Prob => self.probability(expr, key).map(Value::Float),
            Ty::Bool => match &expr.kind {
                ExprKind::Path(p) if p.dotted() == "true" => Some(Value::Bool(true)),
                ExprKind::Path(p) if p.dotted() == "false" => Some(Value::Bool(false)),
                _ => {
                    self.mismatch(expr, ty, key);
                    None
                }
            },
            Ty::Str => match &expr.kind {
                ExprKind::Str(s) => Some(Value::Str(s.clone())),
                _ => {
                    self.mismatch(expr, ty, key);
                    None
                }
            },
            Ty::PathStr => self.path(expr, key),
            Ty::Seconds => self.seconds(expr, key).map(Value::Seconds),
            Ty::Epochs { integer, min, bare } => self
                .epochs(expr, *integer, *min, *bare, key)
                .map(Value::Epochs),
            Ty::Range(of) => self.range(expr, of, key),
            Ty::Lr { zero } => self.lr(expr, *zero, key),
            Ty::Word(words) => self.word(expr, words, ty, key).map(Value::Word),
            Ty::Timespan => match &expr.kind {
                ExprKind::Path(p) if p.dotted() == "anywhere" => {
                    Some(Value::Word("anywhere".into()))
                }
                ExprKind::Number(_) => self.seconds(expr, key).map(Value::Seconds),
                _ => {
                    self.mismatch(expr, ty, key);
                    None
                }
            },
            Ty::BnBatch => match &expr.kind {
                ExprKind::Path(_) => self.word(expr, &["all"], ty, key).map(Value::Word),
                ExprKind::Number(_) => self
                    .int(expr, 1, u32::MAX as i64, key, false)
                    .map(Value::Int),
                _ => {
                    self.mismatch(expr, ty, key);
                    None
                }
            },
            Ty::Views => match expr.kind {
                ExprKind::Cross(a, b) => {
                    if a == 0 || b == 0 || a > u32::MAX as u64 || b > u32::MAX as u64 {
                        self.push(
                            Diagnostic::error(
                                Kind::MissingViews,
                                format!("`{key}` needs at least one temporal and one spatial view"),
                            )
                            .at(expr.span),
                        );
                        return None;
                    }
                    Some(Value::Views(a as u32, b as u32))
                }
                _ => {
                    self.mismatch(expr, ty, key);
                    None
                }
            },
            Ty::Dataset => match &expr.kind {
                ExprKind::Path(p) if p.single().is_some() => Some(Value::Word(p.dotted())),
                _ => {
                    self.mismatch(expr, ty, key);
                    None
                }
            },
            Ty::Call(names) => self.call(expr, names, key).map(Value::Call),
            Ty::List(of) => match &expr.kind {
                ExprKind::List(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    let mut ok = true;
                    for item in items {
                        match self.check(item, of, key) {
                            Some(v) => out.push(v),
                            None => ok = false,
                        }
                    }
                    ok.then_some(Value::List(out))
                }
                _ => self.check(expr, of, key).map(|v| Value::List(vec![v])),
            },
            Ty::PerChannel => {
                let channel = Ty::non_negative();
                match &expr.kind {
                    ExprKind::Number(_) => self
                        .float(expr, &channel, key)
                        .map(|v| Value::Channels([v; 3])),
                    ExprKind::List(items) if items.len() == 3 => {
                        let r = self.float(&items[0], &channel, key);
                        let g = self.float(&items[1], &channel, key);
                        let b = self.float(&items[2], &channel, key);
                        Some(Value::Channels([r?, g?, b?]))
                    }
                    _ => {
                        self.mismatch(expr, ty, key);
                        None
                    }
                }
            }
        }
    }
}

fn unit_word(unit: Unit) -> &'static str {
    match unit {
        Unit::Epochs => "epochs",
        Unit::Seconds => "s",
        Unit::Pixels => "px",
        Unit::Percent => "%",
    }
}

fn bounds(ty: &Ty) -> String {
    ty.describe().trim_start_matches("a number ").to_string()
}
