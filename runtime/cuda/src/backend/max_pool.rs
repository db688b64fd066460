//! 3D max pooling on channels-last tensors (`vst_max_pool_*`; the gradient goes to the first maximum).

use vst_engine::{Pool3dGeometry, Storage};

use super::CudaBackend;
use crate::geometry::PoolArgs;
use crate::kernels::elementwise_config;

pub(super) fn forward(
    gpu: &CudaBackend,
    x: &Storage,
    g: &Pool3dGeometry,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let n: usize = g.y_shape().iter().product();
        let (out, y) = gpu.out(n)?;
        if n == 0 {
            return Ok(out);
        }
        let args = PoolArgs::new(g);
        gpu.launch("vst_max_pool_forward")
            .arg(&y)
            .arg(&xp)
            .arg(&args)
            .run(elementwise_config(n))?;
        Ok(out)
    })
}

/// The kernel finds each window's first maximum in `x` again, so the forward output is not needed.
pub(super) fn backward(
    gpu: &CudaBackend,
    x: &Storage,
    dy: &Storage,
    g: &Pool3dGeometry,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (xp, gp) = (gpu.ptr(x)?, gpu.ptr(dy)?);
        let (out, dx) = gpu.out(x.len())?;
        if x.is_empty() {
            return Ok(out);
        }
        let args = PoolArgs::new(g);
        gpu.launch("vst_max_pool_backward")
            .arg(&dx)
            .arg(&xp)
            .arg(&gp)
            .arg(&args)
            .run(elementwise_config(x.len()))?;
        Ok(out)
    })
}
