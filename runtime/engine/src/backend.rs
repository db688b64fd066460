//! The `Backend` trait: the kernel-level contract between the engine (tensors, graph, autodiff) and a device.
//!
//! Every method takes and returns [`Storage`] plus plain geometry descriptors, never engine types, so that a backend
//! is a self-contained set of kernels. The granularity follows what cuDNN/cuBLAS offer, so that a CUDA backend can
//! map most methods onto one library call: convolution forward / backward-data / backward-filter, pooling forward /
//! backward (from x, y, dy as cuDNN does), GEMM with transposes, and batch norm split into the reductions and
//! elementwise passes that PyTorch's SyncBN uses (so statistics can be reduced across replicas between them).
//!
//! Layout contract: activations are dense, row-major and channels-last (N×T×H×W×C); a convolution weight is
//! Cout×kT×kH×kW×(Cin/groups) (PyTorch's `channels_last_3d` order of a Cout×Cin×kT×kH×kW weight).
//! Outputs are freshly allocated by the backend and fully written.

use std::fmt;

use crate::error::Result;
use crate::storage::Storage;

/// Elementwise functions of one operand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Relu,
    Exp,
    Log,
    Neg,
    Sqrt,
    Recip,
    Square,
    /// 1 where x > 0, else 0 (the derivative mask of ReLU and of clamps).
    Step,
    /// x · s
    Scale(f32),
    /// x + s
    AddScalar(f32),
    /// max(x, s)
    ClampMin(f32),
    /// x^p
    Powf(f32),
}

/// Elementwise functions of two operands (NumPy broadcasting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// Reductions over axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
}

/// A (batched) matrix product `C[b] = op(A[b]) · op(B[b])`, row-major, where op transposes when asked.
/// `A` is `m×k` after op, `B` is `k×n` after op; a batch of 1 with `a_batch_stride`/`b_batch_stride` 0 broadcasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulGeometry {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    /// Whether A has one matrix per batch entry (false: one matrix shared by every batch entry).
    pub a_batched: bool,
    /// Whether B has one matrix per batch entry (false: one matrix shared by every batch entry).
    pub b_batched: bool,
}

/// Geometry of a 3D convolution on channels-last tensors: x is N×T×H×W×Cin, w is Cout×kT×kH×kW×(Cin/groups),
/// y is N×T'×H'×W'×Cout with `out = (in + 2·pad − kernel) / stride + 1` per axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv3dGeometry {
    pub batch: usize,
    /// Input T, H, W.
    pub input: [usize; 3],
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub groups: usize,
}

impl Conv3dGeometry {
    /// Output T, H, W.
    pub fn output(&self) -> [usize; 3] {
        let mut o = [0; 3];
        for (a, o) in o.iter_mut().enumerate() {
            *o = (self.input[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1;
        }
        o
    }
    pub fn x_shape(&self) -> [usize; 5] {
        [
            self.batch,
            self.input[0],
            self.input[1],
            self.input[2],
            self.in_channels,
        ]
    }
    pub fn w_shape(&self) -> [usize; 5] {
        let [kt, kh, kw] = self.kernel;
        [
            self.out_channels,
            kt,
            kh,
            kw,
            self.in_channels / self.groups,
        ]
    }
    pub fn y_shape(&self) -> [usize; 5] {
        let [t, h, w] = self.output();
        [self.batch, t, h, w, self.out_channels]
    }
    /// Multiply-adds ×2 of the forward pass.
    pub fn forward_flops(&self) -> f64 {
        let [t, h, w] = self.output();
        let k: usize = self.kernel.iter().product::<usize>() * self.in_channels / self.groups;
        2.0 * (self.batch * t * h * w * self.out_channels * k) as f64
    }
}

/// Geometry of a 3D max-pool on channels-last tensors (padding counts as −∞, PyTorch's floor mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool3dGeometry {
    pub batch: usize,
    pub input: [usize; 3],
    pub channels: usize,
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
}

impl Pool3dGeometry {
    pub fn output(&self) -> [usize; 3] {
        let mut o = [0; 3];
        for (a, o) in o.iter_mut().enumerate() {
            *o = (self.input[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1;
        }
        o
    }
    pub fn y_shape(&self) -> [usize; 5] {
        let [t, h, w] = self.output();
        [self.batch, t, h, w, self.channels]
    }
}

/// The kernels a device provides. All tensors are f32. Shapes are passed where the kernel needs them; the engine
/// has validated them, so a backend may treat a mismatch as its own bug and return [`crate::EngineError::Backend`].
pub trait Backend: Send + Sync + fmt::Debug {
    /// Human-readable device name ("cpu", "cuda:0").
    fn name(&self) -> String;

    // ----- memory -----
    /// `len` values of `value`.
    fn fill(&self, len: usize, value: f32) -> Result<Storage>;
    /// Copies host values to the device.
    fn upload(&self, data: &[f32]) -> Result<Storage>;
    /// Copies device values to the host.
    fn download(&self, x: &Storage) -> Result<Vec<f32>>;
    /// A copy of `x` on the same device.
    fn copy(&self, x: &Storage) -> Result<Storage>;

    // ----- elementwise -----
    fn unary(&self, op: UnaryOp, x: &Storage) -> Result<Storage>;
    /// `op(a, b)` with `a`, `b` broadcast to `out_shape`.
    fn binary(
        &self,
        op: BinaryOp,
        a: &Storage,
        a_shape: &[usize],
        b: &Storage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Result<Storage>;
    /// In place: `y = a·y + b·x` (gradient accumulation, SGD, exponential moving averages).
    fn axpby(&self, y: &mut Storage, a: f32, b: f32, x: &Storage) -> Result<()>;
    /// One SGD-with-momentum update in place, exactly these [`Backend::axpby`] calls in this order (`g` is
    /// consumed as scratch): `g += wd·w` if `decay` is `Some(wd)`; `buf = momentum·buf + g`; with Nesterov `g += momentum·buf`
    /// and `w += −lr·g`, else `w += −lr·buf`. A backend may fuse them into one pass giving the same values.
    #[allow(clippy::too_many_arguments)]
    fn sgd_momentum(
        &self,
        w: &mut Storage,
        g: &mut Storage,
        buf: &mut Storage,
        decay: Option<f32>,
        momentum: f32,
        nesterov: bool,
        lr: f32,
    ) -> Result<()> {
        if let Some(wd) = decay {
            self.axpby(g, 1.0, wd, w)?;
        }
        self.axpby(buf, momentum, 1.0, g)?;
        if nesterov {
            self.axpby(g, 1.0, momentum, buf)?;
            self.axpby(w, 1.0, -lr, g)
        } else {
            self.axpby(w, 1.0, -lr, buf)
        }
    }
    /// `dy` where `y > 0`, else 0.
    fn relu_backward(&self, y: &Storage, dy: &Storage) -> Result<Storage>;

    // ----- reductions and broadcasting -----
    /// Reduces `x` (of `shape`) over the sorted, distinct `axes`; the result has those axes removed.
    fn reduce(&self, op: ReduceOp, x: &Storage, shape: &[usize], axes: &[usize])
    -> Result<Storage>;
    /// Expands `x` (of `shape`, size-1 or missing leading axes) to `out_shape`.
    fn broadcast(&self, x: &Storage, shape: &[usize], out_shape: &[usize]) -> Result<Storage>;

    // ----- softmax along the last axis of a rows×cols matrix -----
    fn softmax(&self, x: &Storage, rows: usize, cols: usize, log: bool) -> Result<Storage>;
    /// Gradient of softmax (or log-softmax when `log`) from its output `y` and `dy`.
    fn softmax_backward(
        &self,
        y: &Storage,
        dy: &Storage,
        rows: usize,
        cols: usize,
        log: bool,
    ) -> Result<Storage>;
    /// `out[r] = x[r, targets[r]]` for a rows×cols matrix.
    fn pick(&self, x: &Storage, rows: usize, cols: usize, targets: &[usize]) -> Result<Storage>;
    /// Gradient of `pick`: a rows×cols matrix of zeros with `dy[r]` at `(r, targets[r])`.
    fn pick_backward(
        &self,
        dy: &Storage,
        rows: usize,
        cols: usize,
        targets: &[usize],
    ) -> Result<Storage>;

    // ----- dense linear algebra -----
    fn matmul(&self, a: &Storage, b: &Storage, g: &MatmulGeometry) -> Result<Storage>;

    // ----- layout -----
    /// Dense copy of `x` (of `shape`) with axes reordered: output axis i is input axis `perm[i]`.
    fn permute(&self, x: &Storage, shape: &[usize], perm: &[usize]) -> Result<Storage>;
    /// Concatenation along `axis` of tensors whose shapes agree elsewhere.
    fn concat(&self, parts: &[(&Storage, &[usize])], axis: usize) -> Result<Storage>;
    /// `x[..., start..start+len, ...]` along `axis`.
    fn slice(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        len: usize,
    ) -> Result<Storage>;
    /// Places `x` (of `shape`) at `start` along `axis` in zeros of length `full` along that axis (slice's gradient).
    fn pad_axis(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        full: usize,
    ) -> Result<Storage>;
    /// Selects entries `indices` along `axis`.
    fn index_select(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
    ) -> Result<Storage>;
    /// Gradient of `index_select`: zeros of length `full` along `axis`, `x` entries added at `indices`.
    fn index_add(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
        full: usize,
    ) -> Result<Storage>;

    // ----- 3D convolution (channels-last) -----
    fn conv3d_forward(&self, x: &Storage, w: &Storage, g: &Conv3dGeometry) -> Result<Storage>;
    fn conv3d_backward_data(
        &self,
        dy: &Storage,
        w: &Storage,
        g: &Conv3dGeometry,
    ) -> Result<Storage>;
    fn conv3d_backward_filter(
        &self,
        x: &Storage,
        dy: &Storage,
        g: &Conv3dGeometry,
    ) -> Result<Storage>;

    // ----- 3D max pooling (channels-last) -----
    fn max_pool3d_forward(&self, x: &Storage, g: &Pool3dGeometry) -> Result<Storage>;
    /// Routes `dy` to the (first) maximum of each window, found again from `x` and `y`.
    fn max_pool3d_backward(
        &self,
        x: &Storage,
        y: &Storage,
        dy: &Storage,
        g: &Pool3dGeometry,
    ) -> Result<Storage>;

    // ----- batch norm pieces on a rows×channels view (channels-last) -----
    /// Per channel `Σ (x − mean)²` (the second pass of a two-pass variance; `mean` may be a cross-replica mean).
    fn channel_centered_sumsq(
        &self,
        x: &Storage,
        mean: &Storage,
        channels: usize,
    ) -> Result<Storage>;
    /// `y = x·scale[c] + shift[c]`, then ReLU when `relu` (normalisation and affine folded into scale/shift).
    fn channel_affine(
        &self,
        x: &Storage,
        scale: &Storage,
        shift: &Storage,
        channels: usize,
        relu: bool,
    ) -> Result<Storage>;
    /// Per channel `(Σ g, Σ g·(x − mean))` where `g = dy`, masked by `y > 0` when `relu_y` is given.
    fn batch_norm_backward_reduce(
        &self,
        dy: &Storage,
        x: &Storage,
        mean: &Storage,
        relu_y: Option<&Storage>,
        channels: usize,
    ) -> Result<(Storage, Storage)>;
    /// `dx = a[c]·g + b[c]·(x − mean[c]) + d[c]` with `g` as in [`Backend::batch_norm_backward_reduce`].
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward_data(
        &self,
        dy: &Storage,
        x: &Storage,
        mean: &Storage,
        relu_y: Option<&Storage>,
        a: &Storage,
        b: &Storage,
        d: &Storage,
        channels: usize,
    ) -> Result<Storage>;
}
