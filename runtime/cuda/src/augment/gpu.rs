//! The launcher: compiles `source.cu` with NVRTC for the device, uploads a [`ClipPlan`]'s uint8 frames and tables,
//! runs the kernels in the order `reference::render` mirrors, and downloads the float32 clip.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::{Ptx, sys as nvrtc};

use super::plan::{ClipPlan, ColorArgs, LUMA_LANES, Planes};
use crate::error::{CudaError, CudaResult};
use crate::kernels::{elementwise_config, nvrtc_cubin, nvrtc_options};

/// The augmentation kernels' CUDA C++ source.
pub const SOURCE: &str = include_str!("source.cu");

/// Every kernel [`GpuAugment`] launches; each is defined in [`SOURCE`] as `extern "C" __global__`.
pub const KERNEL_NAMES: &[&str] = &[
    "vst_aug_resample_yuv",
    "vst_aug_resample_rgb",
    "vst_aug_color",
    "vst_aug_luma_partials",
    "vst_aug_luma_mean",
    "vst_aug_blur",
    "vst_aug_normalize",
    "vst_aug_difference",
];

/// NVRTC options: CUBIN for the device's architecture, IEEE division and square root, no flush-to-zero, and no
/// FMA contraction — each kernel then rounds exactly where the CPU code does.
pub fn compile_options(major: i32, minor: i32) -> Vec<String> {
    nvrtc_options(major, minor, false)
}

/// Compiles [`SOURCE`] to a CUBIN for compute capability `major.minor` (needs libnvrtc only, no GPU).
pub fn compile_cubin(major: i32, minor: i32) -> CudaResult<Vec<u8>> {
    nvrtc_cubin(SOURCE, "vst_augment.cu", compile_options(major, minor))
}

/// T/S/C augmentation of clips on one GPU.
pub struct GpuAugment {
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
}

impl GpuAugment {
    /// Opens device `index` (after the same driver probe as the backend) and compiles the kernels.
    pub fn new(index: usize) -> CudaResult<GpuAugment> {
        crate::probe::probe_device(index)?;
        // SAFETY: only tries to dlopen the library (cudarc panics on first use when it is missing).
        if !unsafe { nvrtc::is_culib_present() } {
            return Err(CudaError::MissingLibrary {
                library: "NVRTC (libnvrtc.so.13)",
                hint: "part of the CUDA toolkit, or pip's nvidia-cuda-nvrtc",
            });
        }
        let ctx = CudaContext::new(index).map_err(|e| CudaError::call("opening the device", e))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| CudaError::call("reading the compute capability", e))?;
        let module = ctx
            .load_module(Ptx::from_binary(compile_cubin(major, minor)?))
            .map_err(|e| CudaError::call("loading the augmentation kernels", e))?;
        let mut functions = HashMap::new();
        for &name in KERNEL_NAMES {
            let f = module
                .load_function(name)
                .map_err(|e| CudaError::call("finding an augmentation kernel", e))?;
            functions.insert(name, f);
        }
        let stream = ctx
            .new_stream()
            .map_err(|e| CudaError::call("creating a stream", e))?;
        Ok(GpuAugment { stream, functions })
    }

    /// The same compiled kernels on a stream of their own (one per loader thread: clips render concurrently).
    pub fn on_new_stream(&self) -> CudaResult<GpuAugment> {
        let stream = self
            .stream
            .context()
            .new_stream()
            .map_err(|e| CudaError::call("creating a stream", e))?;
        Ok(GpuAugment {
            stream,
            functions: self.functions.clone(),
        })
    }

    fn upload<T: DeviceRepr>(&self, data: &[T]) -> CudaResult<CudaSlice<T>> {
        self.stream
            .clone_htod(data)
            .map_err(|e| CudaError::call("uploading a clip", e))
    }

    fn zeros<T: DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        n: usize,
    ) -> CudaResult<CudaSlice<T>> {
        self.stream
            .alloc_zeros(n.max(1))
            .map_err(|e| CudaError::call("allocating augmentation buffers", e))
    }

    /// Runs `plan` on the GPU: upload, kernels, download. Returns `plan.output_len()` values, the layout of
    /// vst-data's `render_clip`.
    pub fn render(&self, plan: &ClipPlan) -> CudaResult<Vec<f32>> {
        let launch_err = |name: &'static str| {
            move |e| CudaError::Call {
                what: "launching an augmentation kernel",
                message: format!("{name}: {e:?}"),
            }
        };
        let f = |name: &'static str| &self.functions[name];
        let size = plan.size as i32;
        let (w, h) = (plan.input.width as i32, plan.input.height as i32);
        let frames = plan.input.frames as i64;
        let pixels = plan.pixels() as i64;
        let index = self.upload(&plan.tables.index)?;
        let weight = self.upload(&plan.tables.weight)?;
        let mut work = self.zeros::<f32>(plan.pixels() * 3)?;
        // SAFETY (every launch below): the argument lists match the kernels' signatures in source.cu, and each
        // buffer holds what the kernel indexes — `work` pixels × 3 values, the planes `frames` frames of the
        // plan's dimensions (checked by PackedFrames::pack), the tables 8 and 4 × size entries.
        match &plan.input.planes {
            Planes::Yuv420 {
                y,
                u,
                v,
                chroma_width,
                chroma_height,
            } => {
                let (y, u, v) = (self.upload(y)?, self.upload(u)?, self.upload(v)?);
                let (cw, ch) = (*chroma_width as i32, *chroma_height as i32);
                let mut b = self.stream.launch_builder(f("vst_aug_resample_yuv"));
                b.arg(&mut work)
                    .arg(&y)
                    .arg(&u)
                    .arg(&v)
                    .arg(&frames)
                    .arg(&w)
                    .arg(&h)
                    .arg(&cw)
                    .arg(&ch)
                    .arg(&size)
                    .arg(&index)
                    .arg(&weight);
                unsafe { b.launch(elementwise_config(plan.pixels())) }
                    .map_err(launch_err("vst_aug_resample_yuv"))?;
            }
            Planes::Rgb8(rgb) => {
                let rgb = self.upload(rgb)?;
                let mut b = self.stream.launch_builder(f("vst_aug_resample_rgb"));
                b.arg(&mut work)
                    .arg(&rgb)
                    .arg(&frames)
                    .arg(&w)
                    .arg(&h)
                    .arg(&size)
                    .arg(&index)
                    .arg(&weight);
                unsafe { b.launch(elementwise_config(plan.pixels() * 3)) }
                    .map_err(launch_err("vst_aug_resample_rgb"))?;
            }
        }
        let mut mean = self.zeros::<f32>(1)?;
        let color = |work: &mut CudaSlice<f32>, args: &ColorArgs, mean: &CudaSlice<f32>| {
            let mut b = self.stream.launch_builder(f("vst_aug_color"));
            b.arg(work).arg(&pixels).arg(args).arg(mean);
            unsafe { b.launch(elementwise_config(plan.pixels())) }
                .map(|_| ())
                .map_err(launch_err("vst_aug_color"))
        };
        color(&mut work, &plan.color.before_contrast, &mean)?;
        if plan.color.needs_mean {
            let mut partials = self.zeros::<f64>(LUMA_LANES)?;
            let chunk = plan.luma_chunk() as i64;
            let mut b = self.stream.launch_builder(f("vst_aug_luma_partials"));
            b.arg(&work).arg(&pixels).arg(&chunk).arg(&mut partials);
            unsafe { b.launch(elementwise_config(LUMA_LANES)) }
                .map_err(launch_err("vst_aug_luma_partials"))?;
            let mut b = self.stream.launch_builder(f("vst_aug_luma_mean"));
            b.arg(&partials).arg(&pixels).arg(&mut mean);
            unsafe { b.launch(LaunchConfig::for_num_elems(1)) }
                .map_err(launch_err("vst_aug_luma_mean"))?;
        }
        color(&mut work, &plan.color.from_contrast, &mean)?;
        if let Some(taps) = &plan.blur {
            let taps_gpu = self.upload(taps)?;
            let radius = (taps.len() / 2) as i32;
            let mut across = self.zeros::<f32>(plan.pixels() * 3)?;
            let blur = |out: &mut CudaSlice<f32>, input: &CudaSlice<f32>, vertical: i32| {
                let mut b = self.stream.launch_builder(f("vst_aug_blur"));
                b.arg(out)
                    .arg(input)
                    .arg(&frames)
                    .arg(&size)
                    .arg(&taps_gpu)
                    .arg(&radius)
                    .arg(&vertical);
                unsafe { b.launch(elementwise_config(plan.pixels() * 3)) }
                    .map(|_| ())
                    .map_err(launch_err("vst_aug_blur"))
            };
            blur(&mut across, &work, 0)?;
            blur(&mut work, &across, 1)?;
        }
        let mut out = self.zeros::<f32>(plan.output_len())?;
        let (m, s) = (plan.mean, plan.inv_std);
        if plan.difference {
            let (n, plane) = (
                plan.output_frames as i64,
                (plan.size * plan.size * 3) as i64,
            );
            let mut b = self.stream.launch_builder(f("vst_aug_difference"));
            b.arg(&mut out)
                .arg(&work)
                .arg(&n)
                .arg(&plane)
                .arg(&s[0])
                .arg(&s[1])
                .arg(&s[2]);
            unsafe { b.launch(elementwise_config(plan.output_len())) }
                .map_err(launch_err("vst_aug_difference"))?;
        } else {
            let n = plan.output_len() as i64;
            let mut b = self.stream.launch_builder(f("vst_aug_normalize"));
            b.arg(&mut out)
                .arg(&work)
                .arg(&n)
                .arg(&m[0])
                .arg(&m[1])
                .arg(&m[2])
                .arg(&s[0])
                .arg(&s[1])
                .arg(&s[2]);
            unsafe { b.launch(elementwise_config(plan.output_len())) }
                .map_err(launch_err("vst_aug_normalize"))?;
        }
        self.stream
            .clone_dtoh(&out)
            .map_err(|e| CudaError::call("downloading an augmented clip", e))
    }
}
