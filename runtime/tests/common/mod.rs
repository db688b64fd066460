//! Helpers shared by vst-runtime's integration tests: PyTorch fixtures (written by
//! scripts/make_model_fixtures.py), loaded on the CPU. The fixture type and the float32 tolerance checks live in
//! `vst_engine::test_support`, shared with vst-engine's tests.
#![allow(dead_code)]

use std::path::PathBuf;

use vst_engine::Device;
use vst_engine::test_support::Fixture;

pub fn fixture_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file)
}

/// Loads a fixture file of tests/fixtures onto the CPU.
pub fn load_fixture(file: &str) -> Fixture {
    Fixture::load_from(&fixture_path(file), &Device::cpu())
}
