//! Asking cuDNN for the algorithms of one convolution pass: timed on the real buffers (`AlgoSearch::Benchmark`)
//! or from its heuristics, reduced to [`Candidate`]s and chosen by [`choose`].

use std::sync::Arc;

use cudarc::cudnn::sys;

use super::descriptors::Descriptors;
use super::{AlgoChoice, Candidate, ConvPass, Convolutions, choose};
use crate::allocator::Pool;
use crate::device::{Shared, allocate};
use crate::error::{CudaError, CudaResult};
use crate::options::{AlgoSearch, Precision};

/// A failing algorithm search means cuDNN cannot run the convolution this way (the caller may try another layout).
fn find_check(what: &'static str, s: sys::cudnnStatus_t) -> CudaResult<()> {
    use sys::cudnnStatus_t as S;
    match s {
        S::CUDNN_STATUS_SUCCESS => Ok(()),
        // cuDNN cannot run this pass in this layout: the backend may retry it channels-first.
        S::CUDNN_STATUS_NOT_SUPPORTED | S::CUDNN_STATUS_BAD_PARAM => {
            Err(CudaError::NoConvAlgorithm(format!("{what} returned {s:?}")))
        }
        // Anything else (an allocation failure, a failed execution, a sticky device error) is a real error: read
        // as "no algorithm" it would switch the pass to channels-first for good and hide the fault.
        _ => Err(CudaError::Call {
            what,
            message: format!("{s:?}"),
        }),
    }
}

/// Most algorithms one query asks cuDNN for.
const MAX_CANDIDATES: usize = 16;

/// One cuDNN algorithm query — `query(capacity, &mut found, perf)`, a Find or Get call writing at most `capacity`
/// perf results and their count — reduced to [`Candidate`]s.
///
/// # Safety
/// `query` must write at most `capacity` results of type `P` at `perf`, and `P` must be a plain C struct (valid
/// when zeroed).
unsafe fn query_candidates<P: Copy>(
    what: &'static str,
    to_candidate: fn(&P) -> Candidate,
    query: impl FnOnce(i32, &mut i32, *mut P) -> sys::cudnnStatus_t,
) -> CudaResult<Vec<Candidate>> {
    // SAFETY: `P` is a plain C struct (the caller's promise).
    let mut perf = [unsafe { std::mem::zeroed::<P>() }; MAX_CANDIDATES];
    let mut found = 0i32;
    find_check(
        what,
        query(MAX_CANDIDATES as i32, &mut found, perf.as_mut_ptr()),
    )?;
    Ok(perf[..(found.max(0) as usize).min(MAX_CANDIDATES)]
        .iter()
        .map(to_candidate)
        .collect())
}

impl Convolutions {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn search(
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
        // The descriptor is shared by the three passes and `run` leaves the previous pass's chosen math type on
        // it; cuDNN searches only within the descriptor's math type, so reset it to the precision's own (a TF32
        // backward pass searched after an FMA-math forward would otherwise never see tensor-core algorithms).
        // SAFETY: a valid descriptor owned by `d`.
        unsafe {
            super::check(
                "cudnnSetConvolutionMathType",
                sys::cudnnSetConvolutionMathType(d.conv.0, super::math_type(precision)),
            )?;
        }
        let limit = self.options.workspace_limit;
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
                        ConvPass::Forward => query_candidates(
                            "cudnnFindConvolutionForwardAlgorithmEx",
                            fwd_candidate,
                            |n, found, perf| {
                                sys::cudnnFindConvolutionForwardAlgorithmEx(
                                    h, d.x.0, a as _, d.w.0, b as _, d.conv.0, d.y.0, out as _, n,
                                    found, perf, ws, ws_bytes,
                                )
                            },
                        ),
                        ConvPass::BackwardData => query_candidates(
                            "cudnnFindConvolutionBackwardDataAlgorithmEx",
                            bwd_data_candidate,
                            |n, found, perf| {
                                sys::cudnnFindConvolutionBackwardDataAlgorithmEx(
                                    h, d.w.0, b as _, d.y.0, a as _, d.conv.0, d.x.0, out as _, n,
                                    found, perf, ws, ws_bytes,
                                )
                            },
                        ),
                        ConvPass::BackwardFilter => query_candidates(
                            "cudnnFindConvolutionBackwardFilterAlgorithmEx",
                            bwd_filter_candidate,
                            |n, found, perf| {
                                sys::cudnnFindConvolutionBackwardFilterAlgorithmEx(
                                    h, d.x.0, a as _, d.y.0, b as _, d.conv.0, d.w.0, out as _, n,
                                    found, perf, ws, ws_bytes,
                                )
                            },
                        ),
                    }
                }
            }
            // SAFETY: heuristics query only descriptors.
            AlgoSearch::Heuristic => unsafe {
                match pass {
                    ConvPass::Forward => query_candidates(
                        "cudnnGetConvolutionForwardAlgorithm_v7",
                        fwd_candidate,
                        |n, found, perf| {
                            sys::cudnnGetConvolutionForwardAlgorithm_v7(
                                h, d.x.0, d.w.0, d.conv.0, d.y.0, n, found, perf,
                            )
                        },
                    ),
                    ConvPass::BackwardData => query_candidates(
                        "cudnnGetConvolutionBackwardDataAlgorithm_v7",
                        bwd_data_candidate,
                        |n, found, perf| {
                            sys::cudnnGetConvolutionBackwardDataAlgorithm_v7(
                                h, d.w.0, d.y.0, d.conv.0, d.x.0, n, found, perf,
                            )
                        },
                    ),
                    ConvPass::BackwardFilter => query_candidates(
                        "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
                        bwd_filter_candidate,
                        |n, found, perf| {
                            sys::cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                                h, d.x.0, d.y.0, d.conv.0, d.w.0, n, found, perf,
                            )
                        },
                    ),
                }
            },
        }?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The query helper keeps what cuDNN reported (clamped to the capacity it was given) and turns NOT_SUPPORTED
    /// into "no algorithm" (so the backend tries channels-first).
    #[test]
    fn queries_keep_the_reported_candidates_and_fail_as_no_algorithm() {
        let ok = sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS;
        for (reported, kept) in [(0, 0), (3, 3), (MAX_CANDIDATES as i32 + 5, MAX_CANDIDATES)] {
            // SAFETY: the query writes at most `capacity` plain C structs.
            let got = unsafe {
                query_candidates("test", fwd_candidate, |capacity, found, perf| {
                    for i in 0..capacity.min(reported) {
                        let p = &mut *perf.add(i as usize);
                        p.algo = sys::cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
                        p.time = i as f32;
                        p.memory = 64;
                    }
                    *found = reported;
                    ok
                })
            }
            .unwrap();
            assert_eq!(got.len(), kept);
            for (i, c) in got.iter().enumerate() {
                assert_eq!(
                    (c.algo, c.time_ms, c.workspace, c.ok),
                    (2, i as f32, 64, true)
                );
            }
        }
        // SAFETY: writes nothing.
        let failed = unsafe {
            query_candidates(
                "cudnnFindConvolutionForwardAlgorithmEx",
                fwd_candidate,
                |_, _, _: *mut sys::cudnnConvolutionFwdAlgoPerf_t| {
                    sys::cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED
                },
            )
        };
        assert!(matches!(failed, Err(CudaError::NoConvAlgorithm(_))));
        // A failure of any other kind stays an error: never a silent switch to channels-first.
        for status in [
            sys::cudnnStatus_t::CUDNN_STATUS_EXECUTION_FAILED,
            sys::cudnnStatus_t::CUDNN_STATUS_ALLOC_FAILED,
            sys::cudnnStatus_t::CUDNN_STATUS_INTERNAL_ERROR,
        ] {
            // SAFETY: writes nothing.
            let failed = unsafe {
                query_candidates(
                    "cudnnFind",
                    fwd_candidate,
                    |_, _, _: *mut sys::cudnnConvolutionFwdAlgoPerf_t| status,
                )
            };
            assert!(matches!(failed, Err(CudaError::Call { .. })), "{status:?}");
        }
    }
}
