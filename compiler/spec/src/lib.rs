//! The contract between the compiler and the runtime.
//!
//! The compiler turns recipe text into these types; the runtime reads nothing else. Everything here is plain
//! serde data with every default already filled in, so a job's configuration can be printed, hashed, diffed,
//! snapshot-tested and sent to another machine. Units are fixed by the field names (`_s` seconds, `_epochs`
//! epochs, probabilities in [0, 1]); the compiler checked every range before building these values.

pub mod arch;
pub mod config;
pub mod paper;
pub mod plan;

pub use config::*;
pub use plan::*;
