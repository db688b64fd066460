//! Errors of training: bad input, a diverged step, a checkpoint that cannot be read or does not fit.

use thiserror::Error;
use vst_engine::EngineError;

use crate::model::ModelError;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The step's loss or gradient was NaN or infinite; nothing was updated.
    #[error(
        "step {step}: non-finite {what} ({value}); the step was rejected and the model left unchanged (a diverged run: lower the learning rate, or check the input clips)"
    )]
    NonFinite {
        step: u64,
        what: &'static str,
        value: f64,
    },
    /// A checkpoint could not be written, read, or does not belong to this learner.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    /// The caller passed something the learner cannot take (clip shape, step index).
    #[error("{0}")]
    Input(String),
    /// The replicas could not agree (a collective failed, or their parameters diverged).
    #[error("replicas: {0}")]
    Replicas(String),
}

pub(crate) fn input_err<T>(message: impl Into<String>) -> Result<T, TrainError> {
    Err(TrainError::Input(message.into()))
}

/// A setting the trainer cannot use, reported as a [`ModelError::Invalid`].
pub(crate) fn invalid_setting<T>(message: impl Into<String>) -> Result<T, TrainError> {
    Err(TrainError::Model(ModelError::Invalid(message.into())))
}
