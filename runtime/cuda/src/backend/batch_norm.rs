//! Batch-norm pieces on a rows × channels view: per-channel sums split over the GPU (`vst_bn_reduce`, finished
//! by a reduce pass) and the elementwise passes.

use cudarc::driver::LaunchConfig;
use vst_engine::{ReduceOp, Storage};

use super::CudaBackend;
use crate::error::CudaResult;
use crate::geometry::plan_reduce;
use crate::kernels::{BN_BACKWARD, BN_SUMSQ, elementwise_config};

pub(super) fn centered_sumsq(
    gpu: &CudaBackend,
    x: &Storage,
    mean: &Storage,
    channels: usize,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (xp, mp) = (gpu.ptr(x)?, gpu.ptr(mean)?);
        let rows = x.len().checked_div(channels).unwrap_or(0);
        gpu.bn_reduce(BN_SUMSQ, xp, 0, mp, 0, rows, channels, 1)
    })
}

pub(super) fn affine(
    gpu: &CudaBackend,
    x: &Storage,
    scale: &Storage,
    shift: &Storage,
    channels: usize,
    relu: bool,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (xp, sp, tp) = (gpu.ptr(x)?, gpu.ptr(scale)?, gpu.ptr(shift)?);
        let (out, y) = gpu.out(x.len())?;
        if x.is_empty() || channels == 0 {
            return Ok(out);
        }
        let (n, c, r) = (x.len() as i64, channels as i64, relu as i32);
        gpu.launch("vst_channel_affine")
            .arg(&y)
            .arg(&xp)
            .arg(&sp)
            .arg(&tp)
            .arg(&n)
            .arg(&c)
            .arg(&r)
            .run(elementwise_config(x.len()))?;
        Ok(out)
    })
}

pub(super) fn backward_reduce(
    gpu: &CudaBackend,
    dy: &Storage,
    x: &Storage,
    mean: &Storage,
    relu_y: Option<&Storage>,
    channels: usize,
) -> vst_engine::Result<(Storage, Storage)> {
    gpu.run(|| {
        let (gp, xp, mp, yp) = (
            gpu.ptr(dy)?,
            gpu.ptr(x)?,
            gpu.ptr(mean)?,
            gpu.optional_ptr(relu_y)?,
        );
        let rows = x.len().checked_div(channels).unwrap_or(0);
        let both = gpu.bn_reduce(BN_BACKWARD, xp, gp, mp, yp, rows, channels, 2)?;
        let bp = gpu.ptr(&both)?;
        Ok((
            gpu.copy_part(bp, 0, channels)?,
            gpu.copy_part(bp, channels, channels)?,
        ))
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn backward_data(
    gpu: &CudaBackend,
    dy: &Storage,
    x: &Storage,
    mean: &Storage,
    relu_y: Option<&Storage>,
    a: &Storage,
    b: &Storage,
    d: &Storage,
    channels: usize,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (gp, xp, mp, yp) = (
            gpu.ptr(dy)?,
            gpu.ptr(x)?,
            gpu.ptr(mean)?,
            gpu.optional_ptr(relu_y)?,
        );
        let (ap, bp, dp) = (gpu.ptr(a)?, gpu.ptr(b)?, gpu.ptr(d)?);
        let (out, o) = gpu.out(x.len())?;
        if x.is_empty() || channels == 0 {
            return Ok(out);
        }
        let (n, c) = (x.len() as i64, channels as i64);
        gpu.launch("vst_bn_backward_data")
            .arg(&o)
            .arg(&gp)
            .arg(&xp)
            .arg(&mp)
            .arg(&yp)
            .arg(&ap)
            .arg(&bp)
            .arg(&dp)
            .arg(&n)
            .arg(&c)
            .run(elementwise_config(x.len()))?;
        Ok(out)
    })
}

impl CudaBackend {
    /// Per-channel sums of a rows × channels tensor in `mode` (see `vst_bn_reduce`): `terms` sums per channel.
    #[allow(clippy::too_many_arguments)]
    fn bn_reduce(
        &self,
        mode: i32,
        x: u64,
        dy: u64,
        mean: u64,
        relu_y: u64,
        rows: usize,
        channels: usize,
        terms: usize,
    ) -> CudaResult<Storage> {
        let plan = plan_reduce(1, rows, channels);
        let (partial, partial_ptr) = self.out(plan.chunks * terms * channels)?;
        if channels == 0 {
            return Ok(partial);
        }
        if rows == 0 {
            self.fill_ptr(partial_ptr, plan.chunks * terms * channels, 0.0)?;
            return Ok(partial);
        }
        let (r64, c64, k64) = (rows as i64, channels as i64, plan.chunk as i64);
        self.launch("vst_bn_reduce")
            .arg(&partial_ptr)
            .arg(&x)
            .arg(&dy)
            .arg(&mean)
            .arg(&relu_y)
            .arg(&r64)
            .arg(&c64)
            .arg(&k64)
            .arg(&mode)
            .run(LaunchConfig {
                grid_dim: (channels.div_ceil(32) as u32, plan.chunks as u32, 1),
                block_dim: (32, 8, 1),
                shared_mem_bytes: 0,
            })?;
        if plan.chunks == 1 {
            Ok(partial)
        } else {
            self.reduce_pass(ReduceOp::Sum, partial_ptr, 1, plan.chunks, terms * channels)
        }
    }
}
