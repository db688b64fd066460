//! Training: optimisers (SGD, LARS), schedules (cosine with warm-up, momentum annealing, LR scaling),
//! checkpoints (safetensors, PySlowFast names), and the [`Learner`] the training loop drives.

pub mod checkpoint;
mod error;
pub mod export;
mod export_pytorchvideo;
pub mod learner;
pub mod optim;
pub mod schedule;

pub use error::TrainError;
pub use learner::{Learner, StepStats};
pub use optim::Optimizer;
pub use schedule::{EvalSgd, Schedule, scaled_lr};
