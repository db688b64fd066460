//! 3D max pooling on channels-last tensors.

use super::wrap;
use crate::backend::Pool3dGeometry;
use crate::error::{Result, arg_err, shape_err};
use crate::tensor::Tensor;

/// Kernel, stride and padding (per axis T, H, W) of a 3D max-pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool3dSpec {
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
}

impl Pool3dSpec {
    pub fn new(kernel: [usize; 3], stride: [usize; 3], padding: [usize; 3]) -> Self {
        Pool3dSpec {
            kernel,
            stride,
            padding,
        }
    }

    pub fn geometry(&self, x: &[usize]) -> Result<Pool3dGeometry> {
        if x.len() != 5 {
            return shape_err("max_pool3d", format!("needs x N×T×H×W×C, got {x:?}"));
        }
        if self.kernel.contains(&0) || self.stride.contains(&0) {
            return arg_err("max_pool3d", "kernel and stride must be positive");
        }
        for a in 0..3 {
            if 2 * self.padding[a] > self.kernel[a] {
                return arg_err(
                    "max_pool3d",
                    format!(
                        "padding {:?} exceeds half the kernel {:?}",
                        self.padding, self.kernel
                    ),
                );
            }
            if x[1 + a] + 2 * self.padding[a] < self.kernel[a] {
                return shape_err(
                    "max_pool3d",
                    format!(
                        "kernel {:?} is larger than the padded input {x:?}",
                        self.kernel
                    ),
                );
            }
        }
        Ok(Pool3dGeometry {
            batch: x[0],
            input: [x[1], x[2], x[3]],
            channels: x[4],
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        })
    }
}

impl Tensor {
    pub fn max_pool3d(&self, spec: &Pool3dSpec) -> Result<Tensor> {
        let g = spec.geometry(self.shape())?;
        let s = self
            .device()
            .backend()
            .max_pool3d_forward(self.storage(), &g)?;
        wrap(self, s, &g.y_shape())
    }
}

/// Input gradient of a max-pool from its input, output and output gradient.
pub fn max_pool3d_backward(
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    g: &Pool3dGeometry,
) -> Result<Tensor> {
    let s = x
        .device()
        .backend()
        .max_pool3d_backward(x.storage(), y.storage(), dy.storage(), g)?;
    wrap(x, s, x.shape())
}
