//! Errors of the data pipeline. Every variant names the file (and, where it applies, the line) it is about, so
//! that a skipped video or a bad list can be found without a debugger.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    List {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// An annotation file that parsed but says something impossible (an unknown class, a missing label).
    #[error("{path}: {message}")]
    Annotation { path: PathBuf, message: String },
    #[error("{path}: not a readable mp4 file: {message}")]
    Container { path: PathBuf, message: String },
    #[error("{path}: unsupported video: {message}")]
    Unsupported { path: PathBuf, message: String },
    #[error("{path}: corrupt or truncated video: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path}: cannot decode image: {message}")]
    Image { path: PathBuf, message: String },
    #[error("{path}: cannot write: {message}")]
    Write { path: PathBuf, message: String },
    #[error("invalid data configuration: {0}")]
    Config(String),
    /// A decoder this machine cannot run (the message says why and what to use instead).
    #[error("{0}")]
    Unavailable(String),
    /// The clip renderer (the GPU augmentation) failed: not the video's fault, so no other video replaces it.
    #[error("rendering a clip on the {0}: {1}")]
    Renderer(&'static str, String),
    #[error("video encoder failed: {0}")]
    Encode(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
