//! The types a setting or argument can have. Each type fixes which literal forms are accepted, the unit, and the
//! allowed range; the checker (`check/typecheck.rs`) turns a value expression into a typed value against one.

/// A value's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// A whole number in `min..=max`; `240k` and `2M` are accepted.
    Int { min: i64, max: i64 },
    /// A plain number (no unit) in the given bounds; `open` bounds exclude the end point.
    Float {
        min: f64,
        max: f64,
        min_open: bool,
        max_open: bool,
    },
    /// A probability in [0, 1]; `80%` is accepted.
    Prob,
    /// `true` or `false`.
    Bool,
    /// A string literal.
    Str,
    /// A file system path: a string, or `env("VAR", default: "...")`.
    PathStr,
    /// A duration: a number with the unit `s` (`10s`), at least 0.
    Seconds,
    /// A number of epochs: `35 epochs` (the unit may be left out when `bare` — for keys named `epochs`).
    Epochs { integer: bool, min: f64, bare: bool },
    /// A size in pixels: a whole number, `px` optional.
    Pixels,
    /// `lo..hi` with `lo <= hi`, each bound of type `of`; a single number means `n..n`.
    Range(Box<Ty>),
    /// A learning rate: `0.1` (used as is) or `4.8 per 512` (stated for a batch of 512, scaled to the global batch);
    /// greater than 0, or at least 0 when `zero` (the start of a warm-up).
    Lr { zero: bool },
    /// One of these names.
    Word(&'static [&'static str]),
    /// The timespan in which a video's clips are drawn: `10s`, or `anywhere`.
    Timespan,
    /// Videos per batch-norm batch: `all`, or a number of videos.
    BnBatch,
    /// Test views `temporal x spatial`, e.g. `10x3`.
    Views,
    /// The name of a dataset declared with `data NAME = ...`.
    Dataset,
    /// A call of one of these functions; a bare name calls it with no arguments.
    Call(&'static [&'static str]),
    /// A list of values of one type; a single value is a one-element list.
    List(Box<Ty>),
    /// One number for all three colour channels, or `[r, g, b]`.
    PerChannel,
}

impl Ty {
    /// A whole number ≥ `min` that fits the 32 bits the runtime stores counts in.
    pub const fn int(min: i64) -> Ty {
        Ty::Int {
            min,
            max: u32::MAX as i64,
        }
    }

    pub const fn positive() -> Ty {
        Ty::Float {
            min: 0.0,
            max: f64::INFINITY,
            min_open: true,
            max_open: false,
        }
    }

    pub const fn non_negative() -> Ty {
        Ty::Float {
            min: 0.0,
            max: f64::INFINITY,
            min_open: false,
            max_open: false,
        }
    }

    pub const fn unit_interval_open_top() -> Ty {
        Ty::Float {
            min: 0.0,
            max: 1.0,
            min_open: false,
            max_open: true,
        }
    }

    /// How the type reads in "expected ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Ty::Int { min, max } if *max >= u32::MAX as i64 => format!("a whole number ≥ {min}"),
            Ty::Int { min, max } => format!("a whole number in {min}..{max}"),
            Ty::Float {
                min,
                max,
                min_open,
                max_open,
            } => {
                let lo = if *min_open {
                    format!("> {min}")
                } else {
                    format!("≥ {min}")
                };
                if max.is_infinite() {
                    format!("a number {lo}")
                } else {
                    let hi = if *max_open {
                        format!("< {max}")
                    } else {
                        format!("≤ {max}")
                    };
                    format!("a number {lo} and {hi}")
                }
            }
            Ty::Prob => "a probability in [0, 1] (e.g. `0.5` or `50%`)".into(),
            Ty::Bool => "`true` or `false`".into(),
            Ty::Str => "a string".into(),
            Ty::PathStr => "a path (a string or `env(\"VAR\", default: \"...\")`)".into(),
            Ty::Seconds => "a duration in seconds (e.g. `10s`)".into(),
            Ty::Epochs { bare: true, .. } => "a number of epochs (e.g. `200`)".into(),
            Ty::Epochs { .. } => "a number of epochs (e.g. `35 epochs`)".into(),
            Ty::Pixels => "a size in pixels (e.g. `224`)".into(),
            Ty::Range(of) => format!("a range `lo..hi` of {}", of.describe_plural()),
            Ty::Lr { .. } => "a learning rate (e.g. `0.1` or `4.8 per 512`)".into(),
            Ty::Word(words) => format!("one of {}", backticked(words)),
            Ty::Timespan => "a timespan (e.g. `10s`) or `anywhere`".into(),
            Ty::BnBatch => "`all` or a number of videos".into(),
            Ty::Views => "test views `temporal x spatial` (e.g. `10x3`)".into(),
            Ty::Dataset => "the name of a dataset declared with `data NAME = ...`".into(),
            Ty::Call(names) => format!("a call of {}", backticked(names)),
            Ty::List(of) => format!("a list of {}", of.describe_plural()),
            Ty::PerChannel => "a number or a list of three numbers `[r, g, b]`".into(),
        }
    }

    fn describe_plural(&self) -> String {
        match self {
            Ty::Pixels => "sizes in pixels".into(),
            Ty::Float { min, max, .. } if *min == 0.0 && *max == 1.0 => {
                "fractions in [0, 1]".into()
            }
            Ty::Float { .. } => "numbers".into(),
            Ty::Call(names) => format!("calls of {}", backticked(names)),
            other => other.describe(),
        }
    }
}

/// `` `a`, `b` and `c` `` (a complete list).
pub(crate) fn backticked_all(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `` `a`, `b` or `c` `` (alternatives).
pub(crate) fn backticked(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
