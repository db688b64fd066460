//! Checking: keys resolved against the schema, values type-checked, declarations collected.

pub mod collect;
pub mod typecheck;
pub mod value;
