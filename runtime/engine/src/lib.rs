//! vst's tensor engine: f32 tensors on a device, an op graph recorded at run time with reverse-mode autodiff, and
//! the kernels behind a [`Backend`] trait (CPU now, on `gemm` + rayon; CUDA later through the same trait).
//!
//! # Pieces
//! - [`Tensor`]: an immutable, reference-counted, dense row-major f32 array on a [`Device`]. Eager methods
//!   (`conv3d`, `matmul`, `softmax`, `sum`, `add`, ...) compute without recording anything — for code that needs
//!   no gradient (momentum updates, Sinkhorn, evaluation). In-place updates (`axpby_`, `assign_`) copy on write.
//! - [`Graph`] and [`Var`]: one graph per training step. Every op runs eagerly and, if an input needs a gradient,
//!   records a node (a petgraph DAG) with its backward rule. [`Graph::backward`] consumes the graph and returns
//!   [`Gradients`] by parameter name or by leaf. [`Graph::no_grad`] records nothing; [`Graph::detach`] stops
//!   gradients. [`Graph::to_dot`] draws the recorded graph.
//! - [`ParamStore`]: parameters (trainable) and buffers (BN running statistics, queues) by dotted name, in
//!   insertion order; `copy_from` / `ema_update` for momentum encoders, `update_running_stats` for BN,
//!   `save` / `load` as safetensors (buffers listed in the metadata).
//! - [`Backend`]: kernel-level contract (conv3d forward / backward-data / backward-filter, max-pool forward /
//!   backward, GEMM, batch-norm reductions and elementwise passes, softmax, reductions, layout). A CUDA backend
//!   implements it over cuDNN/cuBLAS; [`Storage`] holds any device's memory.
//!
//! # Layout contract
//! Activations are channels-last: video batches N×T×H×W×C (the data pipeline's layout), features N×C.
//! Convolution weights are Cout×kT×kH×kW×(Cin/groups) — PyTorch's Cout×Cin×kT×kH×kW permuted by (0, 2, 3, 4, 1).
//! Linear weights are out×in as in PyTorch. Batch norm normalises over every axis but the last, so the same op
//! serves BN3d and BN1d.
//!
//! # Performance notes
//! - Convolutions pick a path by geometry: pointwise 1×1×1 as one GEMM over all positions; stride-1 kernels as
//!   shifted-window implicit GEMM (no im2col copy); strided or grouped kernels as per-frame im2col tiles. All
//!   products run on `gemm`'s AVX-512 kernels, frames or row blocks spread over rayon's threads.
//! - Parallel reductions split work in a fixed way, so a step repeated on the same machine gives the same bits.
//! - In-place updates copy when the tensor is shared: drop a step's `Var`s (which hold parameter values) before
//!   updating parameters, or each update copies the parameter first.
//! - `cargo bench -p vst-engine --bench layers` times the Slow R-50 layer shapes and a training step against
//!   PyTorch, interleaved (see BENCHMARKS.md); `cargo run --release -p vst-engine --example conv_phases` times the
//!   three passes of one convolution.
//!
//! # Ops on [`Graph`] (all differentiable)
//! conv3d (per-axis kernel/stride/padding, groups), max_pool3d, batch_norm (train with optional cross-replica
//! [`ReplicaSum`], or eval with running statistics; optional fused ReLU), relu, exp, log, sqrt, square, neg,
//! scale, add_scalar, clamp_min, powf, add/sub/mul/div with NumPy broadcasting, broadcast_to, sum/mean over
//! axes, global_avg_pool, matmul/matmul_t (2D and batched), linear, softmax, log_softmax, cross_entropy, pick,
//! l2_normalize, cosine_similarity, reshape, permute/transpose, concat, slice, index_select, detach.
//!
//! # Example: a tiny 3D CNN, one SGD step
//! ```
//! use vst_engine::*;
//! use rand::SeedableRng;
//!
//! # fn main() -> Result<()> {
//! let dev = Device::cpu();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let mut params = ParamStore::new();
//! params.insert_param("conv.weight", Tensor::randn(&[8, 1, 3, 3, 3], 0.2, &mut rng, &dev)?)?;
//! params.insert_param("bn.weight", Tensor::ones(&[8], &dev)?)?;
//! params.insert_param("bn.bias", Tensor::zeros(&[8], &dev)?)?;
//! params.insert_buffer("bn.running_mean", Tensor::zeros(&[8], &dev)?)?;
//! params.insert_buffer("bn.running_var", Tensor::ones(&[8], &dev)?)?;
//! params.insert_param("head.weight", Tensor::randn(&[4, 8], 0.3, &mut rng, &dev)?)?;
//! params.insert_param("head.bias", Tensor::zeros(&[4], &dev)?)?;
//!
//! // Two clips of 4 frames of 8×8 pixels with 3 channels, channels-last; class labels.
//! let clips = Tensor::randn(&[2, 4, 8, 8, 3], 1.0, &mut rng, &dev)?;
//! let labels = [1, 3];
//!
//! let mut g = Graph::new();
//! let x = Var::constant(clips);
//! let w = g.param(&params, "conv.weight")?;
//! let y = g.conv3d(&x, &w, &Conv3dSpec::new([1, 2, 2], [0, 1, 1]))?;
//! let (gamma, beta) = (g.param(&params, "bn.weight")?, g.param(&params, "bn.bias")?);
//! let bn = BatchNormSpec { eps: 1e-5, relu: true };
//! let (y, stats) = g.batch_norm(&y, Some(&gamma), Some(&beta), &BatchNormMode::train(), &bn)?;
//! let y = g.max_pool3d(&y, &Pool3dSpec::new([1, 3, 3], [1, 2, 2], [0, 1, 1]))?;
//! let features = g.global_avg_pool(&y)?; // 2×8
//! let (hw, hb) = (g.param(&params, "head.weight")?, g.param(&params, "head.bias")?);
//! let logits = g.linear(&features, &hw, Some(&hb))?;
//! let loss = g.cross_entropy(&logits, &labels)?;
//! let loss_value = loss.value().to_scalar()?;
//! let grads = g.backward(&loss)?;
//!
//! // Running statistics, then plain SGD: p ← p − lr·∇p.
//! if let Some(stats) = stats {
//!     params.update_running_stats("bn.running_mean", "bn.running_var", &stats, 0.1)?;
//! }
//! for (name, grad) in grads.params() {
//!     params.get_mut(name)?.axpby_(1.0, -0.1, grad)?;
//! }
//! assert!(loss_value.is_finite() && grads.params().count() == 5);
//! # Ok(())
//! # }
//! ```

pub mod backend;
pub mod cpu;
mod device;
mod error;
mod graph;
pub mod io;
pub mod ops;
mod params;
pub mod shape;
mod storage;
mod tensor;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use backend::{
    Backend, BinaryOp, Conv3dGeometry, MatmulGeometry, Pool3dGeometry, ReduceOp, UnaryOp,
};
pub use device::Device;
pub use error::{EngineError, Result};
pub use graph::{Gradients, Graph, Var};
pub use ops::conv::Conv3dSpec;
pub use ops::norm::{BatchNormMode, BatchNormSpec, BatchStats, ReplicaSum};
pub use ops::pool::Pool3dSpec;
pub use params::{ParamKind, ParamStore};
pub use storage::{DeviceMemory, Storage};
pub use tensor::Tensor;
