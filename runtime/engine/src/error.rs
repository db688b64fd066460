//! The engine's error type. Every user-reachable failure (bad shapes, mismatched devices, unknown parameter names,
//! malformed checkpoint files) is reported here with what was expected and what was found, never as a panic.

use thiserror::Error;

/// Errors raised by tensor operations, the op graph, parameter stores and backends.
#[derive(Debug, Error)]
pub enum EngineError {
    /// Operand shapes do not fit the operation.
    #[error("shape error in {op}: {message}")]
    Shape { op: &'static str, message: String },
    /// An argument is outside what the operation accepts (axis out of range, zero stride, ...).
    #[error("invalid argument to {op}: {message}")]
    InvalidArgument { op: &'static str, message: String },
    /// Two operands live on different devices.
    #[error("device mismatch in {op}: {left} vs {right}")]
    DeviceMismatch {
        op: &'static str,
        left: String,
        right: String,
    },
    /// A `Var` from one graph was used in another.
    #[error(
        "in {op}: a variable from another graph was used (build each step's graph from its own variables)"
    )]
    ForeignVar { op: &'static str },
    /// Backward was asked of something it cannot differentiate.
    #[error("autodiff: {0}")]
    Autodiff(String),
    /// A parameter or buffer name is unknown, duplicated, or its tensor does not fit.
    #[error("parameter store: {0}")]
    Params(String),
    /// A backend could not carry out a kernel (out of memory, driver failure, unsupported case).
    #[error("backend {backend}: {message}")]
    Backend { backend: String, message: String },
    /// Reading or writing a tensor file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// Result alias used throughout the engine.
pub type Result<T> = std::result::Result<T, EngineError>;

pub(crate) fn shape_err<T>(op: &'static str, message: impl Into<String>) -> Result<T> {
    Err(EngineError::Shape {
        op,
        message: message.into(),
    })
}

pub(crate) fn arg_err<T>(op: &'static str, message: impl Into<String>) -> Result<T> {
    Err(EngineError::InvalidArgument {
        op,
        message: message.into(),
    })
}
