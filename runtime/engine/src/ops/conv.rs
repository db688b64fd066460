//! 3D convolution on channels-last tensors (x: N×T×H×W×Cin, w: Cout×kT×kH×kW×Cin/groups).

use super::wrap;
use crate::backend::Conv3dGeometry;
use crate::error::{Result, arg_err, shape_err};
use crate::tensor::Tensor;

/// Stride, padding (per axis T, H, W) and groups of a 3D convolution; the kernel size comes from the weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv3dSpec {
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub groups: usize,
}

impl Default for Conv3dSpec {
    fn default() -> Self {
        Conv3dSpec {
            stride: [1, 1, 1],
            padding: [0, 0, 0],
            groups: 1,
        }
    }
}

impl Conv3dSpec {
    pub fn new(stride: [usize; 3], padding: [usize; 3]) -> Self {
        Conv3dSpec {
            stride,
            padding,
            groups: 1,
        }
    }
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// Validates shapes and returns the kernel geometry.
    pub fn geometry(&self, x: &[usize], w: &[usize]) -> Result<Conv3dGeometry> {
        if x.len() != 5 || w.len() != 5 {
            return shape_err(
                "conv3d",
                format!("needs x N×T×H×W×C and w Cout×kT×kH×kW×Cin, got {x:?} and {w:?}"),
            );
        }
        if self.groups == 0 || self.stride.contains(&0) {
            return arg_err(
                "conv3d",
                format!(
                    "stride {:?} and groups {} must be positive",
                    self.stride, self.groups
                ),
            );
        }
        let (cin, cout) = (x[4], w[0]);
        if cin % self.groups != 0 || cout % self.groups != 0 || w[4] * self.groups != cin {
            return shape_err(
                "conv3d",
                format!(
                    "x has {cin} channels, w {:?} with {} groups expects {}",
                    w,
                    self.groups,
                    w[4] * self.groups
                ),
            );
        }
        for a in 0..3 {
            if x[1 + a] + 2 * self.padding[a] < w[1 + a] {
                return shape_err(
                    "conv3d",
                    format!(
                        "kernel {:?} is larger than the padded input {x:?}",
                        &w[1..4]
                    ),
                );
            }
            if w[1 + a] == 0 {
                return shape_err("conv3d", "kernel sizes must be positive");
            }
        }
        Ok(Conv3dGeometry {
            batch: x[0],
            input: [x[1], x[2], x[3]],
            in_channels: cin,
            out_channels: cout,
            kernel: [w[1], w[2], w[3]],
            stride: self.stride,
            padding: self.padding,
            groups: self.groups,
        })
    }
}

impl Tensor {
    /// 3D convolution (no bias: add one with a broadcasting `add` over the channel axis).
    pub fn conv3d(&self, w: &Tensor, spec: &Conv3dSpec) -> Result<Tensor> {
        self.device().check_same(w.device(), "conv3d")?;
        let g = spec.geometry(self.shape(), w.shape())?;
        let s = self
            .device()
            .backend()
            .conv3d_forward(self.storage(), w.storage(), &g)?;
        wrap(self, s, &g.y_shape())
    }
}

/// Input gradient of a convolution from the output gradient `dy`.
pub fn conv3d_backward_data(dy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    let s = dy
        .device()
        .backend()
        .conv3d_backward_data(dy.storage(), w.storage(), g)?;
    wrap(dy, s, &g.x_shape())
}

/// Weight gradient of a convolution from its input `x` and output gradient `dy`.
pub fn conv3d_backward_filter(x: &Tensor, dy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    let s = dy
        .device()
        .backend()
        .conv3d_backward_filter(x.storage(), dy.storage(), g)?;
    wrap(dy, s, &g.w_shape())
}
