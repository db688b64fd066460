//! Eager tensor operations (no autodiff): shape checks, then one backend kernel. The op graph records these and
//! uses them again in its backward rules; code that needs no gradient (momentum encoders' updates, Sinkhorn,
//! evaluation) can call them directly.

pub mod conv;
pub mod elementwise;
pub mod layout;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod softmax;

use crate::error::Result;
use crate::storage::Storage;
use crate::tensor::Tensor;

/// Wraps a kernel's output with the device of `like`.
pub(crate) fn wrap(like: &Tensor, storage: Storage, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_storage(storage, shape, like.device())
}
