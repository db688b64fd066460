//! Human-facing views of a compilation: the plan (text, DOT), its per-device split, `vst explain`, what
//! each cell changes against the study's base.

pub mod changes;
pub mod devices;
pub mod explain;
pub mod memory;
pub mod plan;
