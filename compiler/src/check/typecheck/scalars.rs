//! Checking literal values against their type: numbers with their units and ranges, probabilities, durations,
//! epochs, ranges, learning rates, words and paths.

use super::*;

impl Typer<'_> {
    /// The number of a numeric literal, with its unit.
    pub(super) fn literal<'e>(&mut self, expr: &'e Expr, ty: &Ty, key: &str) -> Option<&'e Number> {
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

    pub(super) fn unit_error(&mut self, expr: &Expr, key: &str, expected: &str, found: Unit) {
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

    pub(super) fn int(
        &mut self,
        expr: &Expr,
        min: i64,
        max: i64,
        key: &str,
        pixels: bool,
    ) -> Option<i64> {
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

    pub(super) fn float(&mut self, expr: &Expr, ty: &Ty, key: &str) -> Option<f64> {
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

    pub(super) fn probability(&mut self, expr: &Expr, key: &str) -> Option<f64> {
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

    pub(super) fn seconds(&mut self, expr: &Expr, key: &str) -> Option<f64> {
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

    pub(super) fn epochs(
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

    pub(super) fn range(&mut self, expr: &Expr, of: &Ty, key: &str) -> Option<Value> {
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

    pub(super) fn lr(&mut self, expr: &Expr, zero: bool, key: &str) -> Option<Value> {
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

    pub(super) fn word(
        &mut self,
        expr: &Expr,
        words: &[&str],
        ty: &Ty,
        key: &str,
    ) -> Option<String> {
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

    pub(super) fn path(&mut self, expr: &Expr, key: &str) -> Option<Value> {
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
}
