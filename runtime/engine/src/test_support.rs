//! Helpers for fixture tests, shared by the integration tests of vst-engine and of vst-runtime (compiled only with
//! the `test-support` feature, which only their dev-dependencies enable): PyTorch fixture files (written by
//! scripts/make_fixtures.py and scripts/make_model_fixtures.py) and float32 tolerance checks. Where each suite
//! finds its fixtures and on which device it loads them stays in its own `tests/common`.

use std::collections::HashMap;
use std::path::Path;

use crate::{Device, Tensor, io};

/// Norm-wise relative error bound against the PyTorch fixtures (computed in float64 by PyTorch).
pub const FIXTURE_TOL: f32 = 1e-4;

/// The tensors of one fixture file by name, and its `cases` metadata (JSON).
pub struct Fixture {
    pub tensors: HashMap<String, Tensor>,
    pub cases: serde_json::Value,
}

impl Fixture {
    /// Loads the fixture file at `path` onto `device`; panics when it is missing or malformed.
    pub fn load_from(path: &Path, device: &Device) -> Fixture {
        let (list, meta) = io::load_tensors(path, device).expect("fixture file readable");
        let cases = serde_json::from_str(meta.get("cases").expect("fixture metadata has `cases`"))
            .expect("cases JSON");
        Fixture {
            tensors: list.into_iter().collect(),
            cases,
        }
    }

    pub fn get(&self, key: &str) -> Tensor {
        self.tensors
            .get(key)
            .unwrap_or_else(|| panic!("fixture tensor `{key}` missing"))
            .clone()
    }
}

/// max |got − want| / max |want| (a norm-wise relative error, robust to entries near zero).
pub fn rel_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let diff = g
        .iter()
        .zip(&w)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

/// Panics, naming `what`, unless `got` has `want`'s shape and is within `tol` of it by [`rel_err`].
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(
        got.shape(),
        want.shape(),
        "{what}: shape {:?} vs expected {:?}",
        got.shape(),
        want.shape()
    );
    let e = rel_err(got, want);
    assert!(e <= tol, "{what}: relative error {e:.3e} > {tol:.1e}");
}
