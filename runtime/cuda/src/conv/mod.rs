//! 3D convolutions through cuDNN on channels-last tensors, with the algorithm of each (shape, pass, precision)
//! chosen once and cached.
//!
//! Layout: the engine's activations are N×T×H×W×C and its weights Cout×kT×kH×kW×Cin. cuDNN takes exactly these as
//! strided 5D tensor descriptors (dims in N, C, D, H, W order with C innermost in memory) and NHWC-format filter
//! descriptors, so nothing is transposed around a convolution — and channels-last is what cuDNN's tensor-core
//! kernels run on natively (for NCDHW input they would transpose internally).
//!
//! Files: `descriptors` (cuDNN's description of one convolution), `algorithms` (what an algorithm choice depends
//! on and how the fastest usable one is picked), `search` (asking cuDNN for candidates); this file holds the
//! handle and caches and runs a pass.

mod algorithms;
mod descriptors;
mod search;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::cudnn::sys;
use vst_engine::Conv3dGeometry;

pub use algorithms::{AlgoCache, AlgoChoice, AlgoKey, Candidate, choose, math_type};
use algorithms::{bwd_data_algo, bwd_filter_algo, fwd_algo, math_from_u32};
use descriptors::Descriptors;

use crate::allocator::Pool;
use crate::device::{Handle, Shared, allocate};
use crate::error::{CudaError, CudaResult};
use crate::options::{CudaOptions, Precision};

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

fn check(what: &'static str, s: sys::cudnnStatus_t) -> CudaResult<()> {
    if s == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(CudaError::call(what, s))
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
                // The GPU check sets this to log each layer's choice (an algorithm is chosen once per key).
                if std::env::var_os("VST_LOG_CONV_ALGOS").is_some() {
                    eprintln!(
                        "cuDNN {pass:?} {layout:?} {} kernel {:?} stride {:?} {}->{} channels {:?}: algorithm {}, math {:?}, workspace {} MiB",
                        precision.name(),
                        g.kernel,
                        g.stride,
                        g.in_channels,
                        g.out_channels,
                        g.input,
                        c.algo,
                        math_from_u32(c.math),
                        c.workspace >> 20
                    );
                }
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
}
