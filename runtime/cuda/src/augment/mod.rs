//! T/S/C augmentation on the GPU: the CPU decodes a clip's frames and ships them as uint8; NVRTC kernels
//! (`source.cu`) resample the crop, apply colour jitter, grayscale and blur, and normalise, with the same random
//! draws as vst-data's CPU path (the draw is made on the host by `vst_data::augment::draw_clip`).
//!
//! - `plan`: what one clip's augmentation uploads, computed by vst-data's own functions.
//! - `gpu`: compiles the kernels and runs a plan on a device.
//! - `renderer`: the kernels as the loader's clip renderer (`vst run --augment-on gpu`).
//! - `reference`: the kernels mirrored on the CPU, element by element; tested against vst-data's `render_clip`
//!   here, and compared with the kernels by `vst-cuda-check augment` on a GPU machine.
//!
//! Status: compiled by NVRTC in tests (where libnvrtc is present) but never yet run on a GPU.

pub mod gpu;
pub mod plan;
pub mod reference;
pub mod renderer;

pub use gpu::GpuAugment;
pub use plan::ClipPlan;
pub use renderer::GpuClipRenderer;

#[cfg(test)]
mod tests;
