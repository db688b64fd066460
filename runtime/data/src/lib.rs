//! Video datasets, the ρ-clip sampler, T/S/C augmentation, the loader, and the synthetic dataset.

// Pixel code indexes several buffers by the same channel index; iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

pub mod augment;
pub mod dataset;
pub mod error;
pub mod formats;
pub mod fsutil;
pub mod glyphs;
pub mod image;
pub mod list;
pub mod loader;
pub mod metrics;
pub mod pipeline;
pub mod prepare;
pub mod preview;
pub mod rng;
pub mod sampler;
pub mod synth;
pub mod video;

pub use error::{DataError, Result};
