//! Backend settings and device names.

use crate::error::{CudaError, CudaResult};

/// Arithmetic used by convolutions and matrix products (everything else, and storage, is f32 always): `f32` (IEEE
/// throughout: cuDNN FMA math, cuBLAS pedantic f32, the CPU backend's results within f32 rounding), `tf32` (TF32
/// tensor cores, f32 accumulation) or `bf16` (operands rounded to bf16, f32 accumulation and results: PyTorch's bf16
/// autocast; storage stays f32, so it saves tensor-core time, not memory). The recipe's `precision` setting.
pub use vst_spec::Precision;

/// How convolution algorithms are chosen (once per shape; the choice is cached).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AlgoSearch {
    /// Time every algorithm on the real operands (`cudnnFind*AlgorithmEx`), as `torch.backends.cudnn.benchmark`.
    #[default]
    Benchmark,
    /// cuDNN's heuristics (`cudnnGet*Algorithm_v7`): no timing runs, sometimes slower kernels.
    Heuristic,
}

/// Settings of a [`crate::CudaBackend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CudaOptions {
    pub precision: Precision,
    pub algo_search: AlgoSearch,
    /// Only deterministic cuDNN algorithms (bitwise-reproducible backward passes; sometimes slower).
    pub deterministic: bool,
    /// Most workspace a convolution algorithm may use.
    pub workspace_limit: usize,
}

impl Default for CudaOptions {
    fn default() -> Self {
        CudaOptions {
            precision: Precision::F32,
            algo_search: AlgoSearch::Benchmark,
            deterministic: false,
            workspace_limit: 1 << 30,
        }
    }
}

/// A parsed device name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceName {
    Cpu,
    Cuda(usize),
}

/// Reads `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
pub fn parse_device(s: &str) -> CudaResult<DeviceName> {
    let s = s.trim();
    match s {
        "cpu" => Ok(DeviceName::Cpu),
        "cuda" => Ok(DeviceName::Cuda(0)),
        _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => Ok(DeviceName::Cuda(i)),
            _ => Err(CudaError::BadDeviceName(s.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse() {
        assert_eq!(parse_device("cpu").unwrap(), DeviceName::Cpu);
        assert_eq!(parse_device("cuda").unwrap(), DeviceName::Cuda(0));
        assert_eq!(parse_device(" cuda:3 ").unwrap(), DeviceName::Cuda(3));
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", "CUDA:0"] {
            let e = parse_device(bad).unwrap_err().to_string();
            assert!(e.contains("expected `cpu`, `cuda` or `cuda:N`"), "{e}");
        }
    }

    #[test]
    fn precisions_parse_and_name_themselves() {
        for p in [Precision::F32, Precision::Tf32, Precision::Bf16] {
            assert_eq!(Precision::parse(p.name()), Some(p));
        }
        assert_eq!(Precision::parse("fp16"), None);
        assert_eq!(CudaOptions::default().precision, Precision::F32);
    }
}
