//! A job's identity: the content hash of everything that determines its output.

use serde::Serialize;
use vst_spec::*;

/// A job's id: blake3 over the canonical JSON of its configuration, its inputs' ids and [`RESULTS_VERSION`]
/// (first 16 hex digits: 64 bits, plenty for the jobs of one machine's `runs/`). Every float is canonicalised
/// first ([`canonical_json`]), so that a computed `0.75 × 0.8 = 0.6000000000000001` is the same job as `0.6`.
pub fn job_id(kind: &JobKind, deps: &[JobId]) -> JobId {
    #[derive(Serialize)]
    struct Identity<'a> {
        results_version: u32,
        kind: &'a JobKind,
        deps: &'a [JobId],
    }
    let identity = Identity {
        results_version: RESULTS_VERSION,
        kind,
        deps,
    };
    // Serialising plain data cannot fail; the Debug form is a stable fallback all the same.
    let bytes =
        canonical_json(&identity).unwrap_or_else(|| format!("{kind:?}{deps:?}").into_bytes());
    let hash = blake3::hash(&bytes);
    JobId(hash.to_hex()[..16].to_string())
}

/// Significant digits a float keeps in a job's identity: far more than any setting means, far fewer than the
/// 15–17 at which floating-point arithmetic leaves its noise.
pub const HASH_SIGNIFICANT_DIGITS: usize = 12;

/// `x` rounded to [`HASH_SIGNIFICANT_DIGITS`] significant digits (the nearest f64 to that decimal), and -0 as 0.
/// A float that already has at most that many digits is returned unchanged.
pub fn canonical_f64(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    let text = format!("{x:.prec$e}", prec = HASH_SIGNIFICANT_DIGITS - 1);
    text.parse().unwrap_or(x)
}

/// `value` as compact JSON (fields in declaration order, as serde writes them) with every float replaced by
/// [`canonical_f64`] of it; integers and strings are untouched. None only if `value` cannot be serialised.
///
/// Floats are rewritten in the JSON text rather than in a `serde_json::Value`, whose maps would reorder the
/// fields (changing every id). A float with at most 12 significant digits is written exactly as before, so ids
/// of plans without arithmetic noise do not change.
pub fn canonical_json<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    let json = serde_json::to_string(value).ok()?;
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // A string, copied as is: up to the closing quote that no backslash escapes.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.push_str(&json[start..i]);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = &json[start..i];
                let is_float = number.contains(['.', 'e', 'E']);
                match number.parse::<f64>() {
                    Ok(x) if is_float => {
                        out.push_str(&serde_json::to_string(&canonical_f64(x)).ok()?)
                    }
                    _ => out.push_str(number),
                }
            }
            _ => {
                // Structure and literals (`{`, `:`, `true`, `null`...): ASCII outside strings.
                out.push(bytes[i] as char);
                i += 1;
            }
        }
    }
    Some(out.into_bytes())
}
