//! Typed settings: each scope's settings are declared once, with [`settings!`], as a struct field next to its
//! schema entry (key, type, default, documentation). The macro generates both the schema table the checker and the
//! docs read and the struct `build` receives, so a setting cannot exist in one without the other, and `build` reads
//! fields, not names.
//!
//! Reading a cell's values into the struct is checked: a value of the wrong shape or a missing value for a setting
//! that has a default is a [`ReadError`] (a compiler bug, reported as such), never a silent 0 or `""`.

use crate::check::value::{CallValue, Value};
use std::fmt;
use std::path::PathBuf;
use vst_spec::{Anneal, BnBatch, ClipLoss, Decay, PairRule, Precision, Timespan};

/// A resolved value that does not fit its typed field.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    /// The setting has no value (only required settings may be unset, and `build` checks those first).
    Missing { key: &'static str },
    /// The value's shape is not the field's type.
    Mismatch { key: &'static str, value: String },
}

impl ReadError {
    pub fn key(&self) -> &'static str {
        match self {
            ReadError::Missing { key } | ReadError::Mismatch { key, .. } => key,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing { key } => write!(f, "the setting `{key}` has no value"),
            ReadError::Mismatch { key, value } => {
                write!(
                    f,
                    "the setting `{key}` has a value of the wrong type ({value})"
                )
            }
        }
    }
}

/// The resolved value of each key of one cell's scope.
pub type Values<'v> = dyn Fn(&str) -> Option<&'v Value> + 'v;

/// A Rust type a checked [`Value`] converts to.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;

    /// What an unset setting reads as: nothing (an error), unless the field is an `Option`.
    fn missing() -> Option<Self> {
        None
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        T::from_value(value).map(Some)
    }

    fn missing() -> Option<Self> {
        Some(None)
    }
}

/// Reads one field: the value under `key`, converted.
pub fn read_field<T: FromValue>(values: &Values<'_>, key: &'static str) -> Result<T, ReadError> {
    match values(key) {
        Some(value) => T::from_value(value).ok_or_else(|| ReadError::Mismatch {
            key,
            value: value.to_string(),
        }),
        None => T::missing().ok_or(ReadError::Missing { key }),
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_i64().and_then(|i| u32::try_from(i).ok())
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_i64().and_then(|i| u64::try_from(i).ok())
    }
}

/// Plain numbers, probabilities, seconds and epochs.
impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_f64()
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

/// A name: one of a fixed set, or a dataset's name.
impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_word().map(str::to_string)
    }
}

impl FromValue for CallValue {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_call().cloned()
    }
}

/// A list of calls (the augmentation ops).
impl FromValue for Vec<CallValue> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::List(items) => items.iter().map(CallValue::from_value).collect(),
            _ => None,
        }
    }
}

/// One number per colour channel.
impl FromValue for [f64; 3] {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Channels(c) => Some(*c),
            _ => None,
        }
    }
}

/// Test views `temporal x spatial`.
impl FromValue for (u32, u32) {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Views(t, s) => Some((*t, *s)),
            _ => None,
        }
    }
}

/// A file path as it resolved.
impl FromValue for PathBuf {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Path { resolved, .. } => Some(PathBuf::from(resolved)),
            Value::Str(s) => Some(PathBuf::from(s)),
            _ => None,
        }
    }
}

/// A learning rate as written: `base` (used as is) or `base per n` (stated for a batch of n).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearningRate {
    pub base: f64,
    pub per: Option<u32>,
}

impl FromValue for LearningRate {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Lr { base, per } => Some(LearningRate {
                base: *base,
                per: *per,
            }),
            _ => None,
        }
    }
}

/// How `x per n` scales to the global batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrScaling {
    /// ×(batch / n).
    Linear,
    /// ×√(batch / n).
    Sqrt,
}

/// The self-supervised objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectiveName {
    Moco,
    SimClr,
    Byol,
    Swav,
}

/// A word-valued setting whose words map one to one onto an enum: an accepted word the enum does not know is a
/// read error, never a fallback to some other variant.
macro_rules! word_enum {
    ($ty:ty { $($word:literal => $variant:expr),* $(,)? }) => {
        impl FromValue for $ty {
            fn from_value(value: &Value) -> Option<Self> {
                match value.as_word()? {
                    $($word => Some($variant),)*
                    _ => None,
                }
            }
        }
    };
}

/// `from:` of a fine-tune: where its encoder's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinetuneStart {
    Pretrained,
    Scratch,
}

word_enum!(FinetuneStart { "pretrained" => FinetuneStart::Pretrained, "scratch" => FinetuneStart::Scratch });
word_enum!(Precision {
    "f32" => Precision::F32,
    "tf32" => Precision::Tf32,
    "bf16" => Precision::Bf16,
});
word_enum!(LrScaling { "linear" => LrScaling::Linear, "sqrt" => LrScaling::Sqrt });
word_enum!(ObjectiveName {
    "moco" => ObjectiveName::Moco,
    "simclr" => ObjectiveName::SimClr,
    "byol" => ObjectiveName::Byol,
    "swav" => ObjectiveName::Swav,
});
word_enum!(Anneal { "cosine" => Anneal::Cosine, "none" => Anneal::None });
word_enum!(PairRule {
    "all" => PairRule::AllPairs,
    "consecutive" => PairRule::Consecutive,
    "first_two" => PairRule::FirstTwo,
});
word_enum!(ClipLoss { "sum" => ClipLoss::Sum, "mean" => ClipLoss::Mean });

/// `cosine`, `constant` or `steps(at: [...], factor: f)`: a call (a bare name is a call without arguments).
impl FromValue for Decay {
    fn from_value(value: &Value) -> Option<Self> {
        let call = value.as_call()?;
        match call.name.as_str() {
            "cosine" => Some(Decay::Cosine),
            "constant" => Some(Decay::Constant),
            "steps" => {
                let at = match call.get("at")? {
                    Value::List(items) => items.iter().map(Value::as_f64).collect::<Option<_>>()?,
                    single => vec![single.as_f64()?],
                };
                Some(Decay::Steps {
                    at,
                    factor: call.float("factor")?,
                })
            }
            _ => None,
        }
    }
}

/// `10s` or `anywhere`.
impl FromValue for Timespan {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Seconds(seconds) => Some(Timespan::Within { seconds: *seconds }),
            Value::Word(w) if w == "anywhere" => Some(Timespan::Anywhere),
            _ => None,
        }
    }
}

/// `all` or a number of videos.
impl FromValue for BnBatch {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(n) => u32::try_from(*n)
                .ok()
                .filter(|&videos| videos >= 1)
                .map(|videos| BnBatch::Videos { videos }),
            Value::Word(w) if w == "all" => Some(BnBatch::All),
            _ => None,
        }
    }
}

/// Declares a scope's (or a group's) settings: one struct field per schema entry, plus nested groups whose
/// settings follow the struct's own in documentation order.
///
/// ```ignore
/// settings! {
///     pub struct Schedule {
///         batch: u32 = s("schedule.batch", Ty::int(1), "512", "global batch in videos"),
///     }
/// }
/// ```
///
/// generates `Schedule { pub batch: u32 }`, `Schedule::schema()` (the entries), `Schedule::read(values)` and
/// `Schedule::accepts(key, value)` (whether the field under `key` takes `value`; for tests).
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $field_ty:ty = $setting:expr
            ),* $(,)?
        }
        $(
            groups {
                $( $(#[$group_meta:meta])* $group:ident: $group_ty:ident ),* $(,)?
            }
        )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $field_ty, )*
            $( $( $(#[$group_meta])* pub $group: $group_ty, )* )?
        }

        impl $name {
            /// The schema entries, in documentation order: this struct's own, then each group's.
            pub fn schema() -> Vec<$crate::schema::Setting> {
                #[allow(unused_mut)]
                let mut settings: Vec<$crate::schema::Setting> = vec![$($setting),*];
                $( $( settings.extend($group_ty::schema()); )* )?
                settings
            }

            /// The typed settings of one cell; `values` gives the resolved value of a key.
            pub fn read(
                values: &$crate::schema::typed::Values<'_>,
            ) -> Result<$name, $crate::schema::typed::ReadError> {
                Ok($name {
                    $( $field: $crate::schema::typed::read_field(values, ($setting).key)?, )*
                    $( $( $group: $group_ty::read(values)?, )* )?
                })
            }

            /// Whether the field read from `key` accepts `value`; None when no field reads `key`.
            #[allow(dead_code)]
            pub fn accepts(key: &str, value: &$crate::check::value::Value) -> Option<bool> {
                $(
                    if ($setting).key == key {
                        return Some(
                            <$field_ty as $crate::schema::typed::FromValue>::from_value(value).is_some(),
                        );
                    }
                )*
                $( $( if let Some(accepted) = $group_ty::accepts(key, value) { return Some(accepted); } )* )?
                None
            }
        }
    };
}

pub(crate) use settings;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        EvalKind, FinetuneEval, KnnEval, LinearEval, Pretrain, Scope, Ty, settings,
    };

    /// Every word a word-valued setting accepts converts to its field (an enum that forgot a word would otherwise
    /// make the compiler reject, or worse misread, a recipe the checker accepted).
    #[test]
    fn every_accepted_word_reads_into_its_field() {
        type Accepts = fn(&str, &Value) -> Option<bool>;
        let scopes: [(Scope, Accepts); 4] = [
            (Scope::Pretrain, Pretrain::accepts),
            (Scope::Eval(EvalKind::Linear), LinearEval::accepts),
            (Scope::Eval(EvalKind::Knn), KnnEval::accepts),
            (Scope::Eval(EvalKind::Finetune), FinetuneEval::accepts),
        ];
        for (scope, accepts) in scopes {
            for setting in settings(scope) {
                assert!(
                    accepts(setting.key, &Value::Word("?".into())).is_some(),
                    "{scope:?}: no field reads `{}`",
                    setting.key
                );
                if let Ty::Word(words) = &setting.ty {
                    for word in *words {
                        assert_eq!(
                            accepts(setting.key, &Value::Word(word.to_string())),
                            Some(true),
                            "{scope:?}: `{}: {word}` does not read",
                            setting.key
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_zero() {
        let nothing = |_: &str| None;
        assert_eq!(
            KnnEval::read(&nothing),
            Err(ReadError::Missing { key: "k" }),
            "optional `data` and `kind` read as None, then `k` is missing"
        );
        let wrong = |key: &str| (key == "k").then_some(&Value::Bool(true));
        let err = read_field::<u32>(&wrong, "k").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the setting `k` has a value of the wrong type (true)"
        );
    }

    #[test]
    fn bn_batch_and_timespan_read_their_forms() {
        let videos = BnBatch::from_value(&Value::Int(8));
        assert_eq!(videos, Some(BnBatch::Videos { videos: 8 }));
        assert_eq!(BnBatch::from_value(&Value::Int(0)), None);
        assert_eq!(
            BnBatch::from_value(&Value::Word("all".into())),
            Some(BnBatch::All)
        );
        assert_eq!(BnBatch::from_value(&Value::Word("none".into())), None);
        assert_eq!(
            Timespan::from_value(&Value::Seconds(2.0)),
            Some(Timespan::Within { seconds: 2.0 })
        );
    }
}
