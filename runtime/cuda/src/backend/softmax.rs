//! Row-wise softmax / log-softmax and their gradients (one block per row); `pick` (one entry per row, for
//! cross-entropy).

use vst_engine::Storage;

use super::CudaBackend;
use crate::error::CudaResult;
use crate::kernels::{elementwise_config, row_config};

pub(super) fn softmax(
    gpu: &CudaBackend,
    x: &Storage,
    rows: usize,
    cols: usize,
    log: bool,
) -> vst_engine::Result<Storage> {
    row_kernel(gpu, "vst_softmax", &[x], rows, cols, log)
}

pub(super) fn softmax_backward(
    gpu: &CudaBackend,
    y: &Storage,
    dy: &Storage,
    rows: usize,
    cols: usize,
    log: bool,
) -> vst_engine::Result<Storage> {
    row_kernel(gpu, "vst_softmax_backward", &[y, dy], rows, cols, log)
}

/// Runs a kernel of the softmax family, `name(out, inputs…, rows, cols, log)` with one block per row, into a new
/// rows × cols output.
fn row_kernel(
    gpu: &CudaBackend,
    name: &'static str,
    inputs: &[&Storage],
    rows: usize,
    cols: usize,
    log: bool,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let inputs = inputs
            .iter()
            .map(|s| gpu.ptr(s))
            .collect::<CudaResult<Vec<u64>>>()?;
        let (out, o) = gpu.out(rows * cols)?;
        if rows * cols == 0 {
            return Ok(out);
        }
        let (r, c, l) = (rows as i64, cols as i64, log as i32);
        let mut launch = gpu.launch(name).arg(&o);
        for input in &inputs {
            launch = launch.arg(input);
        }
        launch.arg(&r).arg(&c).arg(&l).run(row_config(rows))?;
        Ok(out)
    })
}

pub(super) fn pick(
    gpu: &CudaBackend,
    x: &Storage,
    rows: usize,
    cols: usize,
    targets: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let (out, y) = gpu.out(rows)?;
        if rows == 0 {
            return Ok(out);
        }
        let t = gpu.upload_indices(targets)?;
        let (tp, r, c) = (t.ptr(), rows as i64, cols as i64);
        gpu.launch("vst_pick")
            .arg(&y)
            .arg(&xp)
            .arg(&tp)
            .arg(&r)
            .arg(&c)
            .run(elementwise_config(rows))?;
        Ok(out)
    })
}

pub(super) fn pick_backward(
    gpu: &CudaBackend,
    dy: &Storage,
    rows: usize,
    cols: usize,
    targets: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let gp = gpu.ptr(dy)?;
        let (out, o) = gpu.out(rows * cols)?;
        if rows * cols == 0 {
            return Ok(out);
        }
        let t = gpu.upload_indices(targets)?;
        let (tp, r, c) = (t.ptr(), rows as i64, cols as i64);
        gpu.launch("vst_pick_backward")
            .arg(&o)
            .arg(&gp)
            .arg(&tp)
            .arg(&r)
            .arg(&c)
            .run(elementwise_config(rows * cols))?;
        Ok(out)
    })
}
