//! Reductions over axes (one `vst_reduce_rows`/`vst_reduce_cols` pass per run of reduced axes, in the engine's
//! `reduction_runs` order), and broadcasting (the gradient of a reduction).

use cudarc::driver::LaunchConfig;
use vst_engine::shape::{broadcast_strides, reduction_runs, strides};
use vst_engine::{ReduceOp, Storage};

use super::{CudaBackend, unsupported};
use crate::error::{CudaError, CudaResult};
use crate::geometry::{StridedArgs, plan_reduce};
use crate::kernels;

pub(super) fn reduce(
    gpu: &CudaBackend,
    op: ReduceOp,
    x: &Storage,
    shape: &[usize],
    axes: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let runs = reduction_runs(shape, axes);
        if runs.is_empty() {
            return gpu.copy_part(gpu.ptr(x)?, 0, x.len());
        }
        let mut current: Option<Storage> = None;
        for (outer, r, inner) in runs {
            let src = match &current {
                Some(s) => gpu.ptr(s)?,
                None => gpu.ptr(x)?,
            };
            current = Some(gpu.reduce_pass(op, src, outer, r, inner)?);
        }
        current.ok_or_else(|| unsupported("empty reduction".into()))
    })
}

pub(super) fn broadcast(
    gpu: &CudaBackend,
    x: &Storage,
    shape: &[usize],
    out_shape: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let n: usize = out_shape.iter().product();
        let (out, y) = gpu.out(n)?;
        let args = StridedArgs::new(
            out_shape,
            &strides(out_shape),
            &broadcast_strides(shape, out_shape),
        )
        .ok_or_else(|| {
            unsupported(format!(
                "broadcasting {shape:?} to {out_shape:?} (too many axes)"
            ))
        })?;
        gpu.strided_copy(y, 0, xp, 0, &args, n)?;
        Ok(out)
    })
}

impl CudaBackend {
    /// One reduction pass over outer × r × inner into a new buffer of outer × inner, split along r (and finished
    /// by a second pass) when that keeps more of the GPU busy.
    pub(super) fn reduce_pass(
        &self,
        op: ReduceOp,
        x: u64,
        outer: usize,
        r: usize,
        inner: usize,
    ) -> CudaResult<Storage> {
        let (out, out_ptr) = self.out(outer * inner)?;
        if outer * inner == 0 {
            return Ok(out);
        }
        if r == 0 {
            let init = match op {
                ReduceOp::Sum => 0.0,
                ReduceOp::Max => f32::NEG_INFINITY,
            };
            self.fill_ptr(out_ptr, outer * inner, init)?;
            return Ok(out);
        }
        let plan = plan_reduce(outer, r, inner);
        let (partial, partial_ptr) = if plan.chunks == 1 {
            (None, out_ptr)
        } else {
            let (p, ptr) = self.out(outer * plan.chunks * inner)?;
            (Some(p), ptr)
        };
        let code = kernels::reduce_code(op);
        let (o64, r64, i64_, c64) = (outer as i64, r as i64, inner as i64, plan.chunk as i64);
        let grid_x = if inner == 1 {
            outer
        } else {
            outer * inner.div_ceil(32)
        };
        if grid_x > i32::MAX as usize {
            return Err(CudaError::Call {
                what: "reduce",
                message: format!("{outer}×{r}×{inner} needs too many blocks"),
            });
        }
        if inner == 1 {
            self.launch("vst_reduce_rows")
                .arg(&partial_ptr)
                .arg(&x)
                .arg(&o64)
                .arg(&r64)
                .arg(&c64)
                .arg(&code)
                .run(LaunchConfig {
                    grid_dim: (grid_x as u32, plan.chunks as u32, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                })?;
        } else {
            self.launch("vst_reduce_cols")
                .arg(&partial_ptr)
                .arg(&x)
                .arg(&o64)
                .arg(&r64)
                .arg(&i64_)
                .arg(&c64)
                .arg(&code)
                .run(LaunchConfig {
                    grid_dim: (grid_x as u32, plan.chunks as u32, 1),
                    block_dim: (32, 8, 1),
                    shared_mem_bytes: 0,
                })?;
        }
        match partial {
            None => Ok(out),
            Some(p) => {
                drop(out);
                let ptr = self.ptr(&p)?;
                self.reduce_pass(op, ptr, outer, plan.chunks, inner)
            }
        }
    }
}
