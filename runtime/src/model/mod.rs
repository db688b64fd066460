//! The Slow-only 3D ResNet family and the MLP heads, on vst's engine.
//!
//! - [`SlowResNetModel`]: the backbone, built from `vst_spec::arch::SlowResNet` — the same table the compiler uses
//!   for its cost estimate, so the trained network and the costed one cannot drift apart. He initialisation,
//!   batch norm, ReLU, residual blocks (bottleneck for depth 50/101, basic for 18/34), temporal 3×1×1 kernels only
//!   in res4/res5, no temporal downsampling, global average pool → pool5 features.
//! - [`MlpHead`]: projection and predictor heads from an `MlpSpec`.
//! - [`ModelSummary`]: layers, parameters and forward multiply-adds (GMACs) per clip (what `vst model RECIPE` prints).
//!
//! Parameter names are PySlowFast's state_dict names (see `crate::train::checkpoint` for the full mapping), and
//! tensors use the engine's layouts: activations channels-last N×T×H×W×C, convolution weights Cout×kT×kH×kW×Cin.
//!
//! Batch norms in training mode record their batch statistics in [`BnUpdates`] instead of updating the running
//! statistics at once; the trainer applies them only after the step's loss is known to be finite.

mod error;
mod init;
mod mlp;
mod norm;
mod resnet;
mod roles;
mod summary;

pub use error::ModelError;
pub(crate) use error::invalid;
pub use mlp::MlpHead;
pub use norm::{BN_EPS, BN_MOMENTUM, BnUpdates, Mode, batch_norm};
pub use resnet::SlowResNetModel;
pub use roles::{ParamRole, ParamRoles};
pub use summary::{HeadRow, ModelSummary, SummaryRow};
