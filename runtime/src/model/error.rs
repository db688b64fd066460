//! Errors of model construction and of the objectives: a recipe that cannot be built, or an engine failure.

use thiserror::Error;
use vst_engine::EngineError;
use vst_spec::arch::ArchError;

/// Why a model or an objective could not be built or run.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The backbone's shape (depth, width, frames, crop) does not give a network.
    #[error("backbone: {0}")]
    Arch(#[from] ArchError),
    /// A setting is outside what the model or objective accepts (which setting, what value, what is allowed).
    #[error("{0}")]
    Invalid(String),
    /// A tensor operation failed (shapes, devices, parameter names).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Shorthand for an [`ModelError::Invalid`] result.
pub(crate) fn invalid<T>(message: impl Into<String>) -> Result<T, ModelError> {
    Err(ModelError::Invalid(message.into()))
}
