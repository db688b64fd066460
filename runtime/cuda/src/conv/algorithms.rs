//! What a convolution algorithm choice depends on ([`AlgoKey`]), the candidates cuDNN reports, how the fastest
//! usable one is chosen and cached, and the mapping between cuDNN's algorithm and math-type enums and the numbers
//! cached. Pure: unit-tested without cuDNN.

use std::collections::HashMap;

use cudarc::cudnn::sys::{
    cudnnConvolutionBwdDataAlgo_t as BwdDataAlgo, cudnnConvolutionBwdFilterAlgo_t as BwdFilterAlgo,
    cudnnConvolutionFwdAlgo_t as FwdAlgo, cudnnMathType_t,
};
use vst_engine::Conv3dGeometry;

use super::{ConvLayout, ConvPass};
use crate::options::Precision;

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

/// The math type requested of cuDNN: strict FMA for f32 (no TF32, which cuDNN would otherwise allow by
/// default on Ampere and later), tensor cores otherwise.
pub fn math_type(p: Precision) -> cudnnMathType_t {
    match p {
        Precision::F32 => cudnnMathType_t::CUDNN_FMA_MATH,
        Precision::Tf32 => cudnnMathType_t::CUDNN_DEFAULT_MATH,
        Precision::Bf16 => cudnnMathType_t::CUDNN_TENSOR_OP_MATH,
    }
}

pub(super) fn math_from_u32(v: u32) -> cudnnMathType_t {
    match v {
        0 => cudnnMathType_t::CUDNN_DEFAULT_MATH,
        1 => cudnnMathType_t::CUDNN_TENSOR_OP_MATH,
        2 => cudnnMathType_t::CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION,
        _ => cudnnMathType_t::CUDNN_FMA_MATH,
    }
}

pub(super) fn fwd_algo(v: u32) -> FwdAlgo {
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

pub(super) fn bwd_data_algo(v: u32) -> BwdDataAlgo {
    match v {
        0 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
        1 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
        2 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
        3 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
        4 => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
        _ => BwdDataAlgo::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED,
    }
}

pub(super) fn bwd_filter_algo(v: u32) -> BwdFilterAlgo {
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
    use super::super::version_ok;
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
}
