//! 3D convolutions through cuDNN on channels-last tensors, with the algorithm of each (shape, pass, precision)
//! chosen once and cached.
//!
//! Layout: the engine's activations are N×T×H×W×C and its weights Cout×kT×kH×kW×Cin. cuDNN takes exactly these as
//! strided 5D tensor descriptors (dims in N, C, D, H, W order with C innermost in memory) and NHWC-format filter
//! descriptors, so nothing is transposed around a convolution — and channels-last is what cuDNN's tensor-core
//! kernels run on natively (for NCDHW input they would transpose internally).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::cudnn::sys::{
    self, cudnnConvolutionBwdDataAlgo_t as BwdDataAlgo,
    cudnnConvolutionBwdFilterAlgo_t as BwdFilterAlgo, cudnnConvolutionFwdAlgo_t as FwdAlgo,
    cudnnDataType_t, cudnnMathType_t,
};
use vst_engine::Conv3dGeometry;

use crate::allocator::Pool;
use crate::device::{Handle, Shared, allocate};
use crate::error::{CudaError, CudaResult};
use crate::geometry::{filter_dims, ncdhw_descriptor, ndhwc_descriptor};
use crate::options::{AlgoSearch, CudaOptions, Precision};

/// Which of the three convolution passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvPass {
    Forward,
    BackwardData,
    BackwardFilter,
}

/// How the operands are laid out for cuDNN. The engine's layout is channels-last and is used whenever cuDNN has
/// an algorithm for it; otherwise the backend transposes to channels-first around the call (see `backend/conv.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvLayout {
    ChannelsLast,
    ChannelsFirst,
}

/// What an algorithm choice depends on: the full geometry, the pass, the arithmetic, the determinism demand and
/// the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlgoKey {
    pub geometry: Conv3dGeometry,
    pub pass: ConvPass,
    pub precision: Precision,
    pub deterministic: bool,
    pub layout: ConvLayout,
}

/// A cached choice: cuDNN's algorithm number for the pass, the workspace it needs and the math type it was
/// timed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgoChoice {
    pub algo: u32,
    pub workspace: usize,
    pub math: u32,
}

/// One algorithm as cuDNN reports it, reduced to what the choice needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub algo: u32,
    pub ok: bool,
    pub time_ms: f32,
    pub workspace: usize,
    pub deterministic: bool,
    pub math: u32,
}

/// The fastest usable candidate: succeeded, fits the workspace limit, deterministic when asked. cuDNN lists
/// heuristic results without timings (time < 0): those keep cuDNN's order.
pub fn choose(
    candidates: &[Candidate],
    workspace_limit: usize,
    deterministic: bool,
) -> Option<AlgoChoice> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.ok && c.workspace <= workspace_limit && (c.deterministic || !deterministic)
        })
        .min_by(|(i, a), (j, b)| {
            let ta = if a.time_ms >= 0.0 {
                a.time_ms
            } else {
                f32::INFINITY
            };
            let tb = if b.time_ms >= 0.0 {
                b.time_ms
            } else {
                f32::INFINITY
            };
            ta.total_cmp(&tb).then(i.cmp(j))
        })
        .map(|(_, c)| AlgoChoice {
            algo: c.algo,
            workspace: c.workspace,
            math: c.math,
        })
}

/// Algorithm choices by key.
#[derive(Debug, Default)]
pub struct AlgoCache {
    map: HashMap<AlgoKey, AlgoChoice>,
}

impl AlgoCache {
    pub fn get(&self, key: &AlgoKey) -> Option<AlgoChoice> {
        self.map.get(key).copied()
    }
    pub fn insert(&mut self, key: AlgoKey, choice: AlgoChoice) {
        self.map.insert(key, choice);
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn data_type(p: Precision) -> cudnnDataType_t {
    match p {
        Precision::F32 | Precision::Tf32 => cudnnDataType_t::CUDNN_DATA_FLOAT,
        Precision::Bf16 => cudnnDataType_t::CUDNN_DATA_BFLOAT16,
    }
}

/// The math type requested of cuDNN: strict FMA for f32 (no TF32, which cuDNN would otherwise allow by
/// default on Ampere and later), tensor cores otherwise.
pub fn math_type(p: Precision) -> cudnnMathType_t {
    match p {
        Precision::F32 => cudnnMathType_t::CUDNN_FMA_MATH,
        Precision::Tf32 => cudnnMathType_t::CUDNN_DEFAULT_MATH,
        Precision::Bf16 => cudnnMathType_t::CUDNN_TENSOR_OP_MATH,
    }
}

fn math_from_u32(v: u32) -> cudnnMathType_t {
    match v {
        0 => cudnnMathType_t::CUDNN_DEFAULT_MATH,
        1 => cudnnMathType_t::CUDNN_TENSOR_OP_MATH,
        2 => cudnnMathType_t::CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION,
        _ => cudnnMathType_t::CUDNN_FMA_MATH,
    }
}

/// A failing algorithm search means cuDNN cannot run the convolution this way (the caller may try another layout).
fn find_check(what: &'static str, s: sys::cudnnStatus_t) -> CudaResult<()> {
    if s == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(CudaError::NoConvAlgorithm(format!("{what} returned {s:?}")))
    }
}

fn check(what: &'static str, s: sys::cudnnStatus_t) -> CudaResult<()> {
    if s == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(CudaError::call(what, s))
    }
}

/// The four descriptors of one convolution.
struct Descriptors {
    layout: ConvLayout,
    x: Handle<sys::cudnnTensorDescriptor_t>,
    w: Handle<sys::cudnnFilterDescriptor_t>,
    conv: Handle<sys::cudnnConvolutionDescriptor_t>,
    y: Handle<sys::cudnnTensorDescriptor_t>,
}

impl Drop for Descriptors {
    fn drop(&mut self) {
        // SAFETY: each was created by `Descriptors::new` and is destroyed once.
        unsafe {
            let _ = sys::cudnnDestroyTensorDescriptor(self.x.0);
            let _ = sys::cudnnDestroyFilterDescriptor(self.w.0);
            let _ = sys::cudnnDestroyConvolutionDescriptor(self.conv.0);
            let _ = sys::cudnnDestroyTensorDescriptor(self.y.0);
        }
    }
}

impl Descriptors {
    fn new(g: &Conv3dGeometry, p: Precision, layout: ConvLayout) -> CudaResult<Descriptors> {
        let too_big = || CudaError::Call {
            what: "describing a convolution to cuDNN",
            message: format!("{g:?} has a tensor of more than 2^31 elements"),
        };
        let (describe, filter_format): (fn(_) -> _, _) = match layout {
            ConvLayout::ChannelsLast => (
                ndhwc_descriptor,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NHWC,
            ),
            ConvLayout::ChannelsFirst => (
                ncdhw_descriptor,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
            ),
        };
        let (xd, xs) = describe(g.x_shape()).ok_or_else(too_big)?;
        let (yd, ys) = describe(g.y_shape()).ok_or_else(too_big)?;
        let wd = filter_dims(g);
        let dt = data_type(p);
        let pad = g.padding.map(|v| v as i32);
        let stride = g.stride.map(|v| v as i32);
        let dilation = [1i32; 3];
        // SAFETY: out-pointers are valid; every array has the length passed with it.
        unsafe {
            let mut x = std::ptr::null_mut();
            check(
                "cudnnCreateTensorDescriptor",
                sys::cudnnCreateTensorDescriptor(&mut x),
            )?;
            let mut y = std::ptr::null_mut();
            if let Err(e) = check(
                "cudnnCreateTensorDescriptor",
                sys::cudnnCreateTensorDescriptor(&mut y),
            ) {
                let _ = sys::cudnnDestroyTensorDescriptor(x);
                return Err(e);
            }
            let mut w = std::ptr::null_mut();
            if let Err(e) = check(
                "cudnnCreateFilterDescriptor",
                sys::cudnnCreateFilterDescriptor(&mut w),
            ) {
                let _ = sys::cudnnDestroyTensorDescriptor(x);
                let _ = sys::cudnnDestroyTensorDescriptor(y);
                return Err(e);
            }
            let mut conv = std::ptr::null_mut();
            if let Err(e) = check(
                "cudnnCreateConvolutionDescriptor",
                sys::cudnnCreateConvolutionDescriptor(&mut conv),
            ) {
                let _ = sys::cudnnDestroyTensorDescriptor(x);
                let _ = sys::cudnnDestroyTensorDescriptor(y);
                let _ = sys::cudnnDestroyFilterDescriptor(w);
                return Err(e);
            }
            let d = Descriptors {
                layout,
                x: Handle(x),
                w: Handle(w),
                conv: Handle(conv),
                y: Handle(y),
            };
            check(
                "cudnnSetTensorNdDescriptor (input)",
                sys::cudnnSetTensorNdDescriptor(x, dt, 5, xd.as_ptr(), xs.as_ptr()),
            )?;
            check(
                "cudnnSetTensorNdDescriptor (output)",
                sys::cudnnSetTensorNdDescriptor(y, dt, 5, yd.as_ptr(), ys.as_ptr()),
            )?;
            check(
                "cudnnSetFilterNdDescriptor",
                sys::cudnnSetFilterNdDescriptor(w, dt, filter_format, 5, wd.as_ptr()),
            )?;
            check(
                "cudnnSetConvolutionNdDescriptor",
                sys::cudnnSetConvolutionNdDescriptor(
                    conv,
                    3,
                    pad.as_ptr(),
                    stride.as_ptr(),
                    dilation.as_ptr(),
                    sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                    cudnnDataType_t::CUDNN_DATA_FLOAT,
                ),
            )?;
            check(
                "cudnnSetConvolutionGroupCount",
                sys::cudnnSetConvolutionGroupCount(conv, g.groups as i32),
            )?;
            check(
                "cudnnSetConvolutionMathType",
                sys::cudnnSetConvolutionMathType(conv, math_type(p)),
            )?;
            Ok(d)
        }
    }
}

struct State {
    handle: Handle<sys::cudnnHandle_t>,
    descriptors: HashMap<(Conv3dGeometry, Precision, ConvLayout), Descriptors>,
    algos: AlgoCache,
    /// Convolutions cuDNN cannot run channels-last (they run channels-first).
    channels_first: std::collections::HashSet<(Conv3dGeometry, ConvPass, Precision)>,
}

impl Drop for State {
    fn drop(&mut self) {
        self.descriptors.clear();
        // SAFETY: the handle was created in `Convolutions::new` and is destroyed once.
        let _ = unsafe { sys::cudnnDestroy(self.handle.0) };
    }
}

/// cuDNN convolutions of one device: the handle (bound to the compute stream), descriptors and the algorithm
/// cache, all behind one lock (a cuDNN handle must not be used by two threads at once).
pub(crate) struct Convolutions {
    state: Mutex<State>,
    pub(crate) options: CudaOptions,
}

impl std::fmt::Debug for Convolutions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Convolutions({:?})", self.options)
    }
}

/// cuDNN version as cudnnGetVersion reports it (major·10000 + minor·100 + patch for cuDNN 9).
pub fn version_ok(v: usize) -> bool {
    (90_000..100_000).contains(&v)
}

impl Convolutions {
    pub(crate) fn new(shared: &Shared, options: CudaOptions) -> CudaResult<Convolutions> {
        shared.bind()?;
        // SAFETY: plain library calls with valid out-pointers.
        unsafe {
            let v = sys::cudnnGetVersion();
            if !version_ok(v) {
                return Err(CudaError::LibraryTooOld {
                    library: "cuDNN",
                    found: v.to_string(),
                    needed: "9.0 (and below 10)",
                });
            }
            let mut h = std::ptr::null_mut();
            check("cudnnCreate", sys::cudnnCreate(&mut h))?;
            let state = State {
                handle: Handle(h),
                descriptors: HashMap::new(),
                algos: AlgoCache::default(),
                channels_first: Default::default(),
            };
            check(
                "cudnnSetStream",
                sys::cudnnSetStream(h, shared.compute.cu_stream() as _),
            )?;
            Ok(Convolutions {
                state: Mutex::new(state),
                options,
            })
        }
    }

    /// The layout a pass runs in: channels-last unless it was found unsupported.
    pub(crate) fn layout(&self, pass: ConvPass, g: &Conv3dGeometry, p: Precision) -> ConvLayout {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.channels_first.contains(&(*g, pass, p)) {
            ConvLayout::ChannelsFirst
        } else {
            ConvLayout::ChannelsLast
        }
    }

    /// Records that cuDNN has no channels-last algorithm for this pass.
    pub(crate) fn use_channels_first(&self, pass: ConvPass, g: &Conv3dGeometry, p: Precision) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.channels_first.insert((*g, pass, p));
    }

    pub(crate) fn channels_first_passes(&self) -> usize {
        self.state
            .lock()
            .map(|s| s.channels_first.len())
            .unwrap_or(0)
    }

    pub(crate) fn cached_algorithms(&self) -> usize {
        self.state.lock().map(|s| s.algos.len()).unwrap_or(0)
    }

    /// Runs one pass. Pointers hold data of `precision`'s storage type (f32, or bf16 in bf16 mode):
    /// forward reads (a = x, b = w) and writes out = y; backward-data reads (a = dy, b = w) and writes out = dx;
    /// backward-filter reads (a = x, b = dy) and writes out = dw.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &self,
        shared: &Arc<Shared>,
        pass: ConvPass,
        g: &Conv3dGeometry,
        precision: Precision,
        layout: ConvLayout,
        a: u64,
        b: u64,
        out: u64,
    ) -> CudaResult<()> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *guard;
        let dkey = (*g, precision, layout);
        if let std::collections::hash_map::Entry::Vacant(e) = state.descriptors.entry(dkey) {
            e.insert(Descriptors::new(g, precision, layout)?);
        }
        let d = &state.descriptors[&dkey];
        let h = state.handle.0;
        let key = AlgoKey {
            geometry: *g,
            pass,
            precision,
            deterministic: self.options.deterministic,
            layout,
        };
        let choice = match state.algos.get(&key) {
            Some(c) => c,
            None => {
                let c = self.search(shared, h, d, pass, a, b, out, precision)?;
                state.algos.insert(key, c);
                c
            }
        };
        let (workspace, _) = allocate(shared, Pool::Compute, choice.workspace)?;
        let (one, zero) = (1.0f32, 0.0f32);
        let alpha = &one as *const f32 as *const std::ffi::c_void;
        let beta = &zero as *const f32 as *const std::ffi::c_void;
        let ws = workspace.ptr() as *mut std::ffi::c_void;
        // SAFETY: descriptors match the buffers' sizes (the engine validated the shapes); the workspace has the
        // size the algorithm asked for; alpha/beta are host f32 as cuDNN expects for float and bf16 data.
        unsafe {
            check(
                "cudnnSetConvolutionMathType",
                sys::cudnnSetConvolutionMathType(d.conv.0, math_from_u32(choice.math)),
            )?;
            let status = match pass {
                ConvPass::Forward => sys::cudnnConvolutionForward(
                    h,
                    alpha,
                    d.x.0,
                    a as _,
                    d.w.0,
                    b as _,
                    d.conv.0,
                    fwd_algo(choice.algo),
                    ws,
                    choice.workspace,
                    beta,
                    d.y.0,
                    out as _,
                ),
                ConvPass::BackwardData => sys::cudnnConvolutionBackwardData(
                    h,
                    alpha,
                    d.w.0,
                    b as _,
                    d.y.0,
                    a as _,
                    d.conv.0,
                    bwd_data_algo(choice.algo),
                    ws,
                    choice.workspace,
                    beta,
                    d.x.0,
                    out as _,
                ),
                ConvPass::BackwardFilter => sys::cudnnConvolutionBackwardFilter(
                    h,
                    alpha,
                    d.x.0,
                    a as _,
                    d.y.0,
                    b as _,
                    d.conv.0,
                    bwd_filter_algo(choice.algo),
                    ws,
                    choice.workspace,
                    beta,
                    d.w.0,
                    out as _,
                ),
            };
            check("running a cuDNN convolution", status)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        shared: &Arc<Shared>,
        h: sys::cudnnHandle_t,
        d: &Descriptors,
        pass: ConvPass,
        a: u64,
        b: u64,
        out: u64,
        precision: Precision,
    ) -> CudaResult<AlgoChoice> {
        const N: usize = 16;
        let limit = self.options.workspace_limit;
        let mut found = 0i32;
        let candidates: Vec<Candidate> = match self.options.algo_search {
            AlgoSearch::Benchmark => {
                // Time the candidates with as much workspace as the limit allows (less if memory is short).
                let mut size = limit;
                let workspace = loop {
                    match allocate(shared, Pool::Compute, size) {
                        Ok((m, _)) => break Some(m),
                        Err(_) if size > (16 << 20) => size /= 2,
                        Err(_) => break None,
                    }
                };
                let (ws, ws_bytes) = match &workspace {
                    Some(m) => (m.ptr() as *mut std::ffi::c_void, size),
                    None => (std::ptr::null_mut(), 0),
                };
                // SAFETY: as in `run`; the Find calls write `out` (about to be overwritten anyway).
                unsafe {
                    match pass {
                        ConvPass::Forward => {
                            let mut perf =
                                [std::mem::zeroed::<sys::cudnnConvolutionFwdAlgoPerf_t>(); N];
                            find_check(
                                "cudnnFindConvolutionForwardAlgorithmEx",
                                sys::cudnnFindConvolutionForwardAlgorithmEx(
                                    h,
                                    d.x.0,
                                    a as _,
                                    d.w.0,
                                    b as _,
                                    d.conv.0,
                                    d.y.0,
                                    out as _,
                                    N as i32,
                                    &mut found,
                                    perf.as_mut_ptr(),
                                    ws,
                                    ws_bytes,
                                ),
                            )?;
                            perf[..(found.max(0) as usize).min(N)]
                                .iter()
                                .map(fwd_candidate)
                                .collect()
                        }
                        ConvPass::BackwardData => {
                            let mut perf =
                                [std::mem::zeroed::<sys::cudnnConvolutionBwdDataAlgoPerf_t>(); N];
                            find_check(
                                "cudnnFindConvolutionBackwardDataAlgorithmEx",
                                sys::cudnnFindConvolutionBackwardDataAlgorithmEx(
                                    h,
                                    d.w.0,
                                    b as _,
                                    d.y.0,
                                    a as _,
                                    d.conv.0,
                                    d.x.0,
                                    out as _,
                                    N as i32,
                                    &mut found,
                                    perf.as_mut_ptr(),
                                    ws,
                                    ws_bytes,
                                ),
                            )?;
                            perf[..(found.max(0) as usize).min(N)]
                                .iter()
                                .map(bwd_data_candidate)
                                .collect()
                        }
                        ConvPass::BackwardFilter => {
                            let mut perf =
                                [std::mem::zeroed::<sys::cudnnConvolutionBwdFilterAlgoPerf_t>(); N];
                            find_check(
                                "cudnnFindConvolutionBackwardFilterAlgorithmEx",
                                sys::cudnnFindConvolutionBackwardFilterAlgorithmEx(
                                    h,
                                    d.x.0,
                                    a as _,
                                    d.y.0,
                                    b as _,
                                    d.conv.0,
                                    d.w.0,
                                    out as _,
                                    N as i32,
                                    &mut found,
                                    perf.as_mut_ptr(),
                                    ws,
                                    ws_bytes,
                                ),
                            )?;
                            perf[..(found.max(0) as usize).min(N)]
                                .iter()
                                .map(bwd_filter_candidate)
                                .collect()
                        }
                    }
                }
            }
            // SAFETY: heuristics query only descriptors.
            AlgoSearch::Heuristic => unsafe {
                match pass {
                    ConvPass::Forward => {
                        let mut perf =
                            [std::mem::zeroed::<sys::cudnnConvolutionFwdAlgoPerf_t>(); N];
                        find_check(
                            "cudnnGetConvolutionForwardAlgorithm_v7",
                            sys::cudnnGetConvolutionForwardAlgorithm_v7(
                                h,
                                d.x.0,
                                d.w.0,
                                d.conv.0,
                                d.y.0,
                                N as i32,
                                &mut found,
                                perf.as_mut_ptr(),
                            ),
                        )?;
                        perf[..(found.max(0) as usize).min(N)]
                            .iter()
                            .map(fwd_candidate)
                            .collect()
                    }
                    ConvPass::BackwardData => {
                        let mut perf =
                            [std::mem::zeroed::<sys::cudnnConvolutionBwdDataAlgoPerf_t>(); N];
                        find_check(
                            "cudnnGetConvolutionBackwardDataAlgorithm_v7",
                            sys::cudnnGetConvolutionBackwardDataAlgorithm_v7(
                                h,
                                d.w.0,
                                d.y.0,
                                d.conv.0,
                                d.x.0,
                                N as i32,
                                &mut found,
                                perf.as_mut_ptr(),
                            ),
                        )?;
                        perf[..(found.max(0) as usize).min(N)]
                            .iter()
                            .map(bwd_data_candidate)
                            .collect()
                    }
                    ConvPass::BackwardFilter => {
                        let mut perf =
                            [std::mem::zeroed::<sys::cudnnConvolutionBwdFilterAlgoPerf_t>(); N];
                        find_check(
                            "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
                            sys::cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                                h,
                                d.x.0,
                                d.y.0,
                                d.conv.0,
                                d.w.0,
                                N as i32,
                                &mut found,
                                perf.as_mut_ptr(),
                            ),
                        )?;
                        perf[..(found.max(0) as usize).min(N)]
                            .iter()
                            .map(bwd_filter_candidate)
                            .collect()
                    }
                }
            },
        };
        choose(&candidates, limit, self.options.deterministic).ok_or_else(|| {
            CudaError::NoConvAlgorithm(format!(
                "{pass:?} of {:?} in {} within {} MiB of workspace{}",
                d.layout,
                precision.name(),
                limit >> 20,
                if self.options.deterministic {
                    " (deterministic only)"
                } else {
                    ""
                }
            ))
        })
    }
}

macro_rules! candidate_fn {
    ($name:ident, $perf:ty) => {
        fn $name(p: &$perf) -> Candidate {
            Candidate {
                algo: p.algo as u32,
                ok: p.status == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS,
                time_ms: p.time,
                workspace: p.memory,
                deterministic: p.determinism == sys::cudnnDeterminism_t::CUDNN_DETERMINISTIC,
                math: p.mathType as u32,
            }
        }
    };
}

candidate_fn!(fwd_candidate, sys::cudnnConvolutionFwdAlgoPerf_t);
candidate_fn!(bwd_data_candidate, sys::cudnnConvolutionBwdDataAlgoPerf_t);
candidate_fn!(
    bwd_filter_candidate,
    sys::cudnnConvolutionBwdFilterAlgoPerf_t
);

fn fwd_algo(v: u32) -> FwdAlgo {
    match v {
        0 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
        1 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
        2 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
        3 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT,
        4 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_FFT,
        5 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
        6 => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD,
        _ => FwdAlgo::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED,
    }
}

fn bwd_data_algo(v: u32) -> BwdDataAlgo {
    match v {
        0 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
        1 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
        2 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
        3 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
        4 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
        _ => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED,
    }
}

fn bwd_filter_algo(v: u32) -> BwdFilterAlgo {
    match v {
        0 => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
        1 => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
        2 => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT,
        3 => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3,
        4 => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD,
        5 => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED,
        _ => BwdFilterAlgo::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(algo: u32, ok: bool, time_ms: f32, workspace: usize, deterministic: bool) -> Candidate {
        Candidate {
            algo,
            ok,
            time_ms,
            workspace,
            deterministic,
            math: 0,
        }
    }

    #[test]
    fn the_fastest_usable_algorithm_wins() {
        let c = [
            cand(0, true, 3.0, 0, true),
            cand(1, true, 1.0, 2 << 30, true), // too much workspace
            cand(2, false, 0.5, 0, true),      // failed
            cand(3, true, 2.0, 1 << 20, false),
            cand(4, true, 2.5, 1 << 20, true),
        ];
        assert_eq!(choose(&c, 1 << 30, false).unwrap().algo, 3);
        assert_eq!(choose(&c, 1 << 30, true).unwrap().algo, 4);
        assert_eq!(choose(&c, 0, false).unwrap().algo, 0);
        assert!(choose(&c[1..3], 0, false).is_none());
        // Heuristic lists carry no timings: keep cuDNN's order.
        let h = [cand(7, true, -1.0, 0, true), cand(1, true, -1.0, 0, true)];
        assert_eq!(choose(&h, 0, false).unwrap().algo, 7);
    }

    #[test]
    fn algorithm_cache_keys_separate_every_factor() {
        let g = Conv3dGeometry {
            batch: 8,
            input: [8, 56, 56],
            in_channels: 64,
            out_channels: 64,
            kernel: [1, 3, 3],
            stride: [1, 1, 1],
            padding: [0, 1, 1],
            groups: 1,
        };
        let base = AlgoKey {
            geometry: g,
            pass: ConvPass::Forward,
            precision: Precision::F32,
            deterministic: false,
            layout: ConvLayout::ChannelsLast,
        };
        let mut cache = AlgoCache::default();
        cache.insert(
            base,
            AlgoChoice {
                algo: 1,
                workspace: 0,
                math: 3,
            },
        );
        assert_eq!(cache.get(&base).unwrap().algo, 1);
        let variants = [
            AlgoKey {
                pass: ConvPass::BackwardData,
                ..base
            },
            AlgoKey {
                precision: Precision::Tf32,
                ..base
            },
            AlgoKey {
                deterministic: true,
                ..base
            },
            AlgoKey {
                geometry: Conv3dGeometry { batch: 16, ..g },
                ..base
            },
            AlgoKey {
                geometry: Conv3dGeometry {
                    stride: [1, 2, 2],
                    ..g
                },
                ..base
            },
        ];
        for v in variants {
            assert!(cache.get(&v).is_none(), "{v:?}");
        }
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn f32_mode_forbids_tf32_and_algorithm_numbers_round_trip() {
        assert_eq!(math_type(Precision::F32), cudnnMathType_t::CUDNN_FMA_MATH);
        assert_eq!(
            math_from_u32(math_type(Precision::F32) as u32),
            cudnnMathType_t::CUDNN_FMA_MATH
        );
        assert_eq!(
            math_from_u32(math_type(Precision::Bf16) as u32),
            cudnnMathType_t::CUDNN_TENSOR_OP_MATH
        );
        for v in 0..8 {
            assert_eq!(fwd_algo(v) as u32, v);
        }
        for v in 0..6 {
            assert_eq!(bwd_data_algo(v) as u32, v);
        }
        for v in 0..7 {
            assert_eq!(bwd_filter_algo(v) as u32, v);
        }
        assert!(version_ok(91_300) && !version_ok(8_907) && !version_ok(100_000));
    }

    /// cuDNN's descriptors are host objects: with libcudnn.so.9 on the library path (no GPU needed; pip's
    /// nvidia-cudnn-cu13 has it) cuDNN itself checks that it accepts the channels-last descriptors of every Slow
    /// R-50 convolution in every precision, and computes the same output size as the engine.
    #[test]
    #[ignore = "needs libcudnn.so.9 on the library path (no GPU needed)"]
    fn cudnn_accepts_the_descriptors_of_every_slow_r50_convolution() {
        assert!(
            unsafe { sys::is_culib_present() },
            "libcudnn.so.9 is not loadable"
        );
        assert!(version_ok(unsafe { sys::cudnnGetVersion() }));
        let spec = vst_spec::BackboneSpec {
            depth: 50,
            frames: 8,
            stride: 8,
            width: 1.0,
        };
        let net = vst_spec::arch::SlowResNet::new(&spec, 224).unwrap();
        let mut geometries: Vec<Conv3dGeometry> = net
            .conv_layers()
            .iter()
            .map(|l| Conv3dGeometry {
                batch: 8,
                input: l.input.map(|v| v as usize),
                in_channels: l.in_channels as usize,
                out_channels: l.out_channels as usize,
                kernel: l.kernel.map(|v| v as usize),
                stride: l.stride.map(|v| v as usize),
                padding: l.padding.map(|v| v as usize),
                groups: 1,
            })
            .collect();
        geometries.push(Conv3dGeometry {
            batch: 2,
            input: [4, 9, 9],
            in_channels: 8,
            out_channels: 12,
            kernel: [3, 3, 3],
            stride: [1, 2, 2],
            padding: [1, 1, 1],
            groups: 4,
        });
        for g in &geometries {
            for (p, layout) in [Precision::F32, Precision::Tf32, Precision::Bf16]
                .into_iter()
                .flat_map(|p| {
                    [
                        (p, ConvLayout::ChannelsLast),
                        (p, ConvLayout::ChannelsFirst),
                    ]
                })
            {
                let d =
                    Descriptors::new(g, p, layout).unwrap_or_else(|e| panic!("{g:?} {p:?}: {e}"));
                let mut out = [0i32; 5];
                let status = unsafe {
                    sys::cudnnGetConvolutionNdForwardOutputDim(
                        d.conv.0,
                        d.x.0,
                        d.w.0,
                        5,
                        out.as_mut_ptr(),
                    )
                };
                assert_eq!(status, sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS, "{g:?}");
                let [n, t, h, w, c] = g.y_shape();
                assert_eq!(out, [n, c, t, h, w].map(|v| v as i32), "{g:?}");
            }
        }
    }
}
