//! Value expression × type → checked [`Value`], with a diagnostic for every way a value can be wrong: the wrong
//! kind of literal, a missing or wrong unit, out of range, an unknown name or function, a bad argument.

use super::value::{CallValue, Value, number};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind, closest};
use crate::schema::{Function, ParamDefault, Ty, function};
use crate::syntax::ast::{Expr, ExprKind, Number, Unit};
use crate::syntax::{format_expr, quote};
use std::sync::LazyLock;

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
            Ty::SyncBn => match &expr.kind {
                ExprKind::Path(_) => self.word(expr, &["all", "none"], ty, key).map(Value::Word),
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

    /// The number of a numeric literal, with its unit.
    fn literal<'e>(&mut self, expr: &'e Expr, ty: &Ty, key: &str) -> Option<&'e Number> {
        match &expr.kind {
            ExprKind::Number(n) => {
                let v = n.value();
                if !v.is_finite() {
                    self.push(
                        Diagnostic::error(
                            Kind::OutOfRange,
                            format!("`{}` is not a finite number", format_expr(expr)),
                        )
                        .at(expr.span),
                    );
                    return None;
                }
                Some(n)
            }
            _ => {
                self.mismatch(expr, ty, key);
                None
            }
        }
    }

    fn unit_error(&mut self, expr: &Expr, key: &str, expected: &str, found: Unit) {
        self.push(
            Diagnostic::error(
                Kind::WrongUnit,
                format!(
                    "`{key}` expects {expected}, found a value in {}",
                    found.name()
                ),
            )
            .label(
                expr.span,
                format!("unit `{}` does not fit here", unit_word(found)),
            ),
        );
    }

    fn int(&mut self, expr: &Expr, min: i64, max: i64, key: &str, pixels: bool) -> Option<i64> {
        let ty = if pixels {
            Ty::Pixels
        } else {
            Ty::Int { min, max }
        };
        let n = self.literal(expr, &ty, key)?;
        match n.unit {
            None => {}
            Some(Unit::Pixels) if pixels => {}
            Some(unit) => {
                self.unit_error(expr, key, &ty.describe(), unit);
                return None;
            }
        }
        let v = n.value();
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            self.push(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!(
                        "`{key}` expects a whole number, found `{}`",
                        format_expr(expr)
                    ),
                )
                .at(expr.span),
            );
            return None;
        }
        let v = v as i64;
        if v < min || v > max {
            let bound = if v < min {
                format!("at least {min}")
            } else {
                format!("at most {max}")
            };
            self.push(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!("`{key}` must be {bound}, found {v}"),
                )
                .at(expr.span),
            );
            return None;
        }
        Some(v)
    }

    fn float(&mut self, expr: &Expr, ty: &Ty, key: &str) -> Option<f64> {
        let n = self.literal(expr, ty, key)?;
        if let Some(unit) = n.unit {
            self.unit_error(expr, key, &ty.describe(), unit);
            return None;
        }
        let v = n.value();
        if let Ty::Float {
            min,
            max,
            min_open,
            max_open,
        } = *ty
        {
            let below = if min_open { v <= min } else { v < min };
            let above = if max_open { v >= max } else { v > max };
            if below || above {
                let d = Diagnostic::error(
                    Kind::OutOfRange,
                    format!("`{key}` must be {}, found {}", bounds(ty), number(v)),
                )
                .at(expr.span);
                self.push(d);
                return None;
            }
        }
        Some(v)
    }

    fn probability(&mut self, expr: &Expr, key: &str) -> Option<f64> {
        let n = self.literal(expr, &Ty::Prob, key)?;
        let v = match n.unit {
            None => n.value(),
            Some(Unit::Percent) => n.value() / 100.0,
            Some(unit) => {
                self.unit_error(expr, key, "a probability", unit);
                return None;
            }
        };
        if !(0.0..=1.0).contains(&v) {
            self.push(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!(
                        "`{key}` is a probability and must be in [0, 1], found {}",
                        format_expr(expr)
                    ),
                )
                .at(expr.span),
            );
            return None;
        }
        Some(v)
    }

    fn seconds(&mut self, expr: &Expr, key: &str) -> Option<f64> {
        let n = self.literal(expr, &Ty::Seconds, key)?;
        match n.unit {
            Some(Unit::Seconds) => {}
            None => {
                self.push(
                    Diagnostic::error(
                        Kind::MissingUnit,
                        format!("`{key}` is a duration and needs a unit"),
                    )
                    .label(expr.span, "seconds? epochs? frames?")
                    .help(format!("write `{}s` for seconds", format_expr(expr))),
                );
                return None;
            }
            Some(unit) => {
                self.unit_error(expr, key, "a duration in seconds", unit);
                return None;
            }
        }
        let v = n.value();
        if v < 0.0 {
            self.push(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!("`{key}` must not be negative, found {}", format_expr(expr)),
                )
                .at(expr.span),
            );
            return None;
        }
        Some(v)
    }

    fn epochs(
        &mut self,
        expr: &Expr,
        integer: bool,
        min: f64,
        bare: bool,
        key: &str,
    ) -> Option<f64> {
        let n = self.literal(expr, &Ty::Epochs { integer, min, bare }, key)?;
        match n.unit {
            Some(Unit::Epochs) => {}
            None if bare => {}
            None => {
                self.push(
                    Diagnostic::error(
                        Kind::MissingUnit,
                        format!("`{key}` is a length of training and needs a unit"),
                    )
                    .at(expr.span)
                    .help(format!("write `{} epochs`", format_expr(expr))),
                );
                return None;
            }
            Some(unit) => {
                self.unit_error(expr, key, "a number of epochs", unit);
                return None;
            }
        }
        let v = n.value();
        if integer && v.fract() != 0.0 {
            self.push(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!(
                        "`{key}` expects a whole number of epochs, found {}",
                        format_expr(expr)
                    ),
                )
                .at(expr.span),
            );
            return None;
        }
        if v < min || v > MAX_EPOCHS {
            let bound = if v < min {
                format!("at least {}", number(min))
            } else {
                format!("at most {}", number(MAX_EPOCHS))
            };
            self.push(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!("`{key}` must be {bound}, found {}", number(v)),
                )
                .at(expr.span),
            );
            return None;
        }
        Some(v)
    }

    fn range(&mut self, expr: &Expr, of: &Ty, key: &str) -> Option<Value> {
        let (lo, hi) = match &expr.kind {
            ExprKind::Range(lo, hi) => (lo.as_ref(), hi.as_ref()),
            // A single number is the range n..n.
            ExprKind::Number(_) => (expr, expr),
            _ => {
                self.mismatch(expr, &Ty::Range(Box::new(of.clone())), key);
                return None;
            }
        };
        let lo_v = self.check(lo, of, key)?.as_f64()?;
        let hi_v = if std::ptr::eq(lo, hi) {
            lo_v
        } else {
            self.check(hi, of, key)?.as_f64()?
        };
        if lo_v > hi_v {
            self.push(
                Diagnostic::error(
                    Kind::EmptyRange,
                    format!("range `{}` of `{key}` is empty", format_expr(expr)),
                )
                .label(expr.span, "the lower end is above the upper end")
                .help(format!("write `{}..{}`", format_expr(hi), format_expr(lo))),
            );
            return None;
        }
        Some(Value::Range(lo_v, hi_v))
    }

    fn lr(&mut self, expr: &Expr, zero: bool, key: &str) -> Option<Value> {
        let positive = if zero {
            Ty::non_negative()
        } else {
            Ty::positive()
        };
        match &expr.kind {
            ExprKind::Per(value, reference) => {
                let base = self.float(value, &positive, key)?;
                let per = self.int(
                    reference,
                    1,
                    u32::MAX as i64,
                    &format!("{key}` reference batch `"),
                    false,
                )?;
                Some(Value::Lr {
                    base,
                    per: Some(per as u32),
                })
            }
            ExprKind::Number(_) => Some(Value::Lr {
                base: self.float(expr, &positive, key)?,
                per: None,
            }),
            _ => {
                self.mismatch(expr, &Ty::Lr { zero }, key);
                None
            }
        }
    }

    fn word(&mut self, expr: &Expr, words: &[&str], ty: &Ty, key: &str) -> Option<String> {
        match &expr.kind {
            ExprKind::Path(p) => {
                let name = p.dotted();
                if words.contains(&name.as_str()) {
                    Some(name)
                } else {
                    let d = Diagnostic::error(
                        Kind::UnknownValue,
                        format!("unknown value `{name}` for `{key}`"),
                    )
                    .label(expr.span, format!("expected {}", ty.describe()))
                    .suggest(closest(&name, words.iter().copied()));
                    self.push(d);
                    None
                }
            }
            _ => {
                self.mismatch(expr, ty, key);
                None
            }
        }
    }

    fn path(&mut self, expr: &Expr, key: &str) -> Option<Value> {
        match &expr.kind {
            ExprKind::Str(s) => Some(Value::Path {
                written: quote(s),
                resolved: s.clone(),
            }),
            ExprKind::Call { name, .. } if name.name == "env" => {
                let call = self.call(expr, &["env"], key)?;
                let call = self.complete(call)?;
                let var = match call.get("name") {
                    Some(Value::Str(s)) => s.clone(),
                    _ => return None,
                };
                let resolved = match ((self.env)(&var), call.get("default")) {
                    (Some(v), _) => v,
                    (None, Some(Value::Str(default))) => default.clone(),
                    (None, _) => {
                        self.push(
                            Diagnostic::error(
                                Kind::UnsetEnvironmentVariable,
                                format!("environment variable `{var}` is not set"),
                            )
                            .at(expr.span)
                            .help(format!(
                                "set it, or give a default: `env({}, default: \"...\")`",
                                quote(&var)
                            )),
                        );
                        return None;
                    }
                };
                Some(Value::Path {
                    written: format_expr(expr),
                    resolved,
                })
            }
            _ => {
                self.mismatch(expr, &Ty::PathStr, key);
                None
            }
        }
    }

    /// A call of one of `names` with the arguments as given (defaults are filled by [`Typer::complete`]).
    pub fn call(
        &mut self,
        expr: &Expr,
        names: &'static [&'static str],
        key: &str,
    ) -> Option<CallValue> {
        let (name, args) = match &expr.kind {
            ExprKind::Path(p) => match p.single() {
                Some(ident) => (ident, None),
                None => {
                    self.mismatch(expr, &Ty::Call(names), key);
                    return None;
                }
            },
            ExprKind::Call { name, args } => (name, Some(args)),
            _ => {
                self.mismatch(expr, &Ty::Call(names), key);
                return None;
            }
        };
        if !names.contains(&name.name.as_str()) {
            let mut d = Diagnostic::error(
                Kind::UnknownFunction,
                format!("unknown function `{}` for `{key}`", name.name),
            )
            .label(
                name.span,
                format!("expected {}", Ty::Call(names).describe()),
            );
            d = match closest(&name.name, names.iter().copied()) {
                Some(s) => d.suggest(Some(s)),
                None if function(&name.name).is_some() => d.help(format!(
                    "`{}` is a function, but not one that `{key}` takes",
                    name.name
                )),
                None => d,
            };
            self.push(d);
            return None;
        }
        let function = function(&name.name)?;
        let mut value = CallValue {
            name: name.name.clone(),
            args: Vec::new(),
            span: expr.span,
        };
        let Some(args) = args else {
            return Some(value);
        };
        let mut ok = true;
        let mut next_positional = function.params.iter().filter(|p| p.positional);
        let mut seen_named = false;
        for arg in &args.items {
            let param = match &arg.name {
                Some(arg_name) => {
                    seen_named = true;
                    let text = arg_name.dotted();
                    match function.param(&text) {
                        Some(p) => p,
                        None => {
                            let d = Diagnostic::error(
                                Kind::UnknownArgument,
                                format!("`{}` has no argument `{text}`", function.name),
                            )
                            .at(arg_name.span)
                            .suggest(closest(&text, function.params.iter().map(|p| p.name)))
                            .note(format!("its arguments: {}", param_list(function)));
                            self.push(d);
                            ok = false;
                            continue;
                        }
                    }
                }
                None => {
                    if seen_named {
                        self.push(
                            Diagnostic::error(
                                Kind::PositionalArgument,
                                "an argument without a name follows a named one",
                            )
                            .at(arg.span)
                            .help(
                                "give arguments without names first, in order; name the rest"
                                    .to_string(),
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    match next_positional.next() {
                        Some(p) => p,
                        None => {
                            let takes = function.params.iter().filter(|p| p.positional).count();
                            let d = Diagnostic::error(
                                Kind::PositionalArgument,
                                format!(
                                    "`{}` takes {} argument{} without a name",
                                    function.name,
                                    if takes == 0 {
                                        "no".to_string()
                                    } else {
                                        format!("at most {takes}")
                                    },
                                    if takes == 1 { "" } else { "s" }
                                ),
                            )
                            .label(arg.span, "one too many")
                            .note(format!("its arguments: {}", param_list(function)));
                            self.push(d);
                            ok = false;
                            continue;
                        }
                    }
                }
            };
            if value.has(param.name) {
                self.push(
                    Diagnostic::error(
                        Kind::DuplicateArgument,
                        format!(
                            "argument `{}` of `{}` is given twice",
                            param.name, function.name
                        ),
                    )
                    .at(arg.span),
                );
                ok = false;
                continue;
            }
            match self.check(&arg.value, &param.ty, param.name) {
                Some(v) => value.set(param.name, v),
                None => ok = false,
            }
        }
        ok.then_some(value)
    }

    /// Fills in default arguments and reports missing required ones.
    pub fn complete(&mut self, mut call: CallValue) -> Option<CallValue> {
        let function = function(&call.name)?;
        let mut ok = true;
        for param in &function.params {
            if call.has(param.name) {
                continue;
            }
            match &param.default {
                ParamDefault::Value(_) => {
                    if let Some(v) = param_default(function.name, param.name) {
                        call.set(param.name, v.clone());
                    }
                }
                ParamDefault::Optional => {}
                ParamDefault::Required => {
                    self.push(
                        Diagnostic::error(
                            Kind::MissingArgument,
                            format!("`{}` needs the argument `{}`", function.name, param.name),
                        )
                        .label(call.span, format!("{} missing", param.name))
                        .note(format!("`{}`: {}", param.name, param.doc)),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(call)
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

fn param_list(function: &Function) -> String {
    if function.params.is_empty() {
        return "none".into();
    }
    function
        .params
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default of a function's parameter, checked once.
pub fn param_default(function: &str, param: &str) -> Option<&'static Value> {
    PARAM_DEFAULTS
        .iter()
        .find(|((f, p), _)| *f == function && *p == param)
        .map(|(_, v)| v)
}

static PARAM_DEFAULTS: LazyLock<Vec<((&'static str, &'static str), Value)>> = LazyLock::new(|| {
    let mut map = Vec::new();
    for f in crate::schema::functions::all() {
        for p in &f.params {
            if let ParamDefault::Value(text) = p.default {
                let value = builtin_value(text, &p.ty, p.name);
                map.push(((f.name, p.name), value));
            }
        }
    }
    map
});

/// Parses and checks a built-in default. These are constants of the language, covered by tests; a failure here is a
/// bug in the schema, not in a recipe.
pub fn builtin_value(text: &str, ty: &Ty, key: &str) -> Value {
    let mut diags = Diagnostics::default();
    let no_env = |_: &str| None;
    let expr =
        crate::syntax::parse_expr(text, crate::source::FileId::BUILTIN).unwrap_or_else(|d| {
            panic!(
                "built-in default `{text}` of `{key}` does not parse: {}",
                d.message
            )
        });
    let mut typer = Typer {
        env: &no_env,
        diags: &mut diags,
    };
    let value = typer.check(&expr, ty, key);
    let value = match value {
        Some(Value::Call(call)) => typer.complete(call).map(Value::Call),
        Some(Value::List(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Call(call) => typer.complete(call).map(Value::Call),
                other => Some(other),
            })
            .collect::<Option<Vec<_>>>()
            .map(Value::List),
        other => other,
    };
    match value {
        Some(v) if diags.items.is_empty() => v,
        _ => panic!(
            "built-in default `{text}` of `{key}` does not check: {}",
            diags
                .items
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}
