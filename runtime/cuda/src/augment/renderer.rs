//! The GPU augmentation as the loader's clip renderer (`vst run --augment-on gpu`): each loader thread hands a
//! clip's decoded frames and draw to the kernels and gets the rendered clip back, as vst-data's CPU path would
//! write it. Synchronous per clip (upload, kernels, download), one stream per thread; the batch then goes to the
//! training device as usual.

use super::{ClipPlan, GpuAugment};
use crate::error::CudaResult;
use std::sync::Mutex;
use vst_data::augment::ClipDraw;
use vst_data::augment::renderer::ClipRenderer;
use vst_data::video::Frame;
use vst_spec::Normalize;

pub struct GpuClipRenderer {
    /// One kernel set per stream; a thread takes the first one free.
    streams: Vec<Mutex<GpuAugment>>,
}

impl GpuClipRenderer {
    /// Compiles the kernels on device `index` once and gives them `streams` streams (the loader's threads).
    pub fn new(index: usize, streams: usize) -> CudaResult<GpuClipRenderer> {
        let first = GpuAugment::new(index)?;
        let mut all = Vec::with_capacity(streams.max(1));
        for _ in 1..streams.max(1) {
            all.push(Mutex::new(first.on_new_stream()?));
        }
        all.push(Mutex::new(first));
        Ok(GpuClipRenderer { streams: all })
    }

    fn with_stream<R>(&self, f: impl FnOnce(&GpuAugment) -> R) -> R {
        for slot in &self.streams {
            if let Ok(gpu) = slot.try_lock() {
                return f(&gpu);
            }
        }
        // All busy: wait for the first (a poisoned lock only means another thread panicked mid-clip).
        let gpu = self.streams[0].lock().unwrap_or_else(|p| p.into_inner());
        f(&gpu)
    }
}

impl ClipRenderer for GpuClipRenderer {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn render(
        &self,
        frames: &[&Frame],
        difference: bool,
        draw: &ClipDraw,
        size: usize,
        normalize: &Normalize,
        out: &mut [f32],
    ) -> Result<(), String> {
        let plan =
            ClipPlan::new(frames, difference, draw, size, normalize).map_err(|e| e.to_string())?;
        let rendered = self
            .with_stream(|gpu| gpu.render(&plan))
            .map_err(|e| e.to_string())?;
        if rendered.len() != out.len() {
            return Err(format!(
                "the kernels rendered {} values for a clip of {}",
                rendered.len(),
                out.len()
            ));
        }
        out.copy_from_slice(&rendered);
        Ok(())
    }
}
