//! Video datasets, the ρ-clip sampler, T/S/C augmentation, the loader, and the synthetic dataset.

pub mod augment;
pub mod error;
pub mod list;
pub mod rng;
pub mod sampler;
pub mod video;

pub use error::{DataError, Result};
