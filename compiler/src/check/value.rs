//! Checked values: what a value expression means once its type is known (units applied, names resolved).

use crate::syntax::Span;
use crate::syntax::quote;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A name from a fixed set (`cosine`, `anywhere`, `all`) or a dataset name.
    Word(String),
    Seconds(f64),
    Epochs(f64),
    Range(f64, f64),
    /// `base` (used as is) or `base per n` (stated for a batch of n).
    Lr {
        base: f64,
        per: Option<u32>,
    },
    Views(u32, u32),
    Call(CallValue),
    List(Vec<Value>),
    Channels([f64; 3]),
    /// A path: how it was written (`env("K400_ROOT", default: "...")`) and what it resolved to.
    Path {
        written: String,
        resolved: String,
    },
}

/// A function call with its arguments by name, in the function's parameter order.
#[derive(Debug, Clone, PartialEq)]
pub struct CallValue {
    pub name: String,
    pub args: Vec<(String, Value)>,
    /// Where the call was written (for messages about it); spans never affect equality.
    pub span: Span,
}

impl CallValue {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets an argument, keeping the function's parameter order.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.args.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
            return;
        }
        self.args.push((name.to_string(), value));
        if let Some(function) = crate::schema::function(&self.name) {
            let order = |n: &str| {
                function
                    .params
                    .iter()
                    .position(|p| p.name == n)
                    .unwrap_or(usize::MAX)
            };
            self.args.sort_by_key(|(n, _)| order(n));
        }
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) | Value::Seconds(f) | Value::Epochs(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Epochs(f) if f.fract() == 0.0 => Some(f as i64),
            _ => None,
        }
    }

    pub fn as_word(&self) -> Option<&str> {
        match self {
            Value::Word(w) => Some(w),
            _ => None,
        }
    }

    pub fn as_call(&self) -> Option<&CallValue> {
        match self {
            Value::Call(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// A float the way a person writes it: `0.1`, `4.8`, `1e-6`, `65536`.
pub fn number(v: f64) -> String {
    let tiny_or_huge_fraction = v != 0.0 && v.fract() != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e7);
    if tiny_or_huge_fraction || v.abs() >= 1e16 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(v) => f.write_str(&number(*v)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => f.write_str(&quote(s)),
            Value::Word(w) => f.write_str(w),
            Value::Seconds(v) => write!(f, "{}s", number(*v)),
            Value::Epochs(v) if *v == 1.0 => f.write_str("1 epoch"),
            Value::Epochs(v) => write!(f, "{} epochs", number(*v)),
            Value::Range(lo, hi) => write!(f, "{}..{}", number(*lo), number(*hi)),
            Value::Lr { base, per: None } => f.write_str(&number(*base)),
            Value::Lr { base, per: Some(n) } => write!(f, "{} per {n}", number(*base)),
            Value::Views(a, b) => write!(f, "{a}x{b}"),
            Value::Call(call) => {
                f.write_str(&call.name)?;
                if call.args.is_empty() {
                    return Ok(());
                }
                f.write_str("(")?;
                for (i, (name, value)) in call.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: {value}")?;
                }
                f.write_str(")")
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Channels([r, g, b]) if r == g && g == b => f.write_str(&number(*r)),
            Value::Channels([r, g, b]) => {
                write!(f, "[{}, {}, {}]", number(*r), number(*g), number(*b))
            }
            Value::Path { written, resolved } if written == &quote(resolved) => {
                f.write_str(written)
            }
            Value::Path { written, resolved } => write!(f, "{written} = {}", quote(resolved)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_written() {
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(1e-6), "1e-6");
        assert_eq!(number(65536.0), "65536");
        assert_eq!(number(0.001), "0.001");
        assert_eq!(number(4.8), "4.8");
        assert_eq!(
            Value::Lr {
                base: 4.8,
                per: Some(512)
            }
            .to_string(),
            "4.8 per 512"
        );
        assert_eq!(Value::Epochs(35.0).to_string(), "35 epochs");
    }
}
