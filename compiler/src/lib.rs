//! The `.vst` recipe compiler. Data flows one way: text → AST (with spans) → checked recipe → expanded sweep
//! cells → [`vst_spec::Plan`]. The compiler never touches tensors.

pub mod diagnostic;
pub mod source;
pub mod syntax;
