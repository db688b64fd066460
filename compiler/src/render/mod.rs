//! Human-facing views of a compilation: the plan (text, DOT), its per-device split, `vst explain`.

pub mod devices;
pub mod explain;
pub mod plan;
