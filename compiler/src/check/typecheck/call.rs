//! Checking function calls (`resized_crop(224, area: 0.2..0.766)`): names, positional and named arguments, their
//! types and defaults; and the built-in defaults of the language, checked once.

use super::*;
use std::sync::LazyLock;

impl Typer<'_> {
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
