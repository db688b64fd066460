//! Video datasets, the ρ-clip sampler, T/S/C augmentation, the loader, and the synthetic dataset.

pub mod augment;
pub mod error;
pub mod fsutil;
pub mod list;
pub mod loader;
pub mod metrics;
pub mod pipeline;
pub mod rng;
pub mod sampler;
pub mod synth;
pub mod video;

pub use error::{DataError, Result};
