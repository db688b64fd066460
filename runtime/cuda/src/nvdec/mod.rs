//! Decoding on the GPU's video engines (NVDEC), for the loader (`vst run --decoder nvdec`): the same frame-exact
//! seeking as the CPU decoders ([`vst_data::video::seek`]) with pictures decoded by NVDEC and copied back as YUV
//! 4:2:0, so the CPU only demuxes, samples and augments (or ships the crop to the GPU augmentation). A video NVDEC
//! cannot read — not an H.264 mp4, not progressive 8-bit 4:2:0, or a decoder error — is read by the CPU decoder
//! instead, that video only, with one warning.
//!
//! Status: compiled and unit-tested here (struct layouts against the SDK's C declarations, NV12 unpacking, the
//! fallback without a driver); never run on a GPU. `vst-cuda-check nvdec` (a step of scripts/gpu-check.sh) checks
//! NVDEC's frames against OpenH264's — both are conforming H.264 decoders, so the pictures must be identical — and
//! measures clips/s.

pub mod ffi;
mod session;

pub use session::{NvdecSession, nv12_to_frame};

use cudarc::driver::CudaContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vst_data::error::{DataError, Result};
use vst_data::video::mp4_demux::Mp4Video;
use vst_data::video::seek::SeekableMp4;
use vst_data::video::{DecoderKind, Frame, VideoBackend, VideoInfo, VideoReader};

/// Why NVDEC cannot run in this process (no driver, no `libnvcuvid`, no GPU), or None when it can.
pub fn unavailable(gpu: usize) -> Option<String> {
    let driver = match crate::probe::probe_driver() {
        Ok(info) => info,
        Err(crate::CudaError::NoDriver) => {
            return Some("no NVIDIA driver on this machine (libcuda.so is not loadable)".into());
        }
        Err(other) => return Some(other.to_string()),
    };
    if let Err(e) = ffi::Api::get() {
        return Some(e);
    }
    (gpu >= driver.device_count)
        .then(|| format!("GPU {gpu} does not exist ({} found)", driver.device_count))
}

/// Lets `DecoderKind::Nvdec` (vst-data) make NVDEC backends on GPU 0 of this process.
pub fn register() {
    vst_data::video::register_nvdec(|| {
        NvdecBackend::new(0)
            .map(|b| Box::new(b) as Box<dyn VideoBackend>)
            .map_err(|e| {
                DataError::Unavailable(format!(
                    "the NVDEC decoder cannot run: {e}; leave out --decoder for the CPU decoder"
                ))
            })
    });
}

/// Opens videos for NVDEC, or for the CPU decoder where NVDEC cannot read them.
pub struct NvdecBackend {
    context: Arc<CudaContext>,
    fallback: Box<dyn VideoBackend>,
}

impl NvdecBackend {
    pub fn new(gpu: usize) -> std::result::Result<NvdecBackend, String> {
        if let Some(why) = unavailable(gpu) {
            return Err(why);
        }
        let context = CudaContext::new(gpu).map_err(|e| format!("opening GPU {gpu}: {e}"))?;
        let fallback = DecoderKind::best_available()
            .backend()
            .map_err(|e| e.to_string())?;
        Ok(NvdecBackend { context, fallback })
    }
}

impl VideoBackend for NvdecBackend {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>> {
        // Only progressive 8-bit 4:2:0 H.264 in mp4 goes to NVDEC (what the NV12 copy-back assumes).
        match Mp4Video::open(path) {
            Ok(video)
                if video
                    .sps
                    .as_ref()
                    .is_some_and(|s| s.openh264_limitation().is_none()) =>
            {
                Ok(Box::new(NvdecReader {
                    path: path.to_path_buf(),
                    mp4: SeekableMp4::new(video),
                    context: self.context.clone(),
                    fallback: None,
                }))
            }
            _ => self.fallback.open(path),
        }
    }

    fn name(&self) -> &'static str {
        "nvdec"
    }
}

/// One video read by NVDEC until NVDEC fails on it, then by the CPU decoder.
struct NvdecReader {
    path: PathBuf,
    mp4: SeekableMp4,
    context: Arc<CudaContext>,
    fallback: Option<Box<dyn VideoReader>>,
}

impl VideoReader for NvdecReader {
    fn info(&self) -> VideoInfo {
        self.mp4.info()
    }

    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
        if let Some(cpu) = &mut self.fallback {
            return cpu.read_frames(frames);
        }
        let context = self.context.clone();
        let result = self.mp4.read_frames(frames, |path| {
            NvdecSession::new(&context).map_err(|message| DataError::Corrupt {
                path: path.to_path_buf(),
                message,
            })
        });
        match result {
            // A request the video cannot answer fails the same way on any decoder.
            Err(DataError::Config(m)) => Err(DataError::Config(m)),
            Err(e) => {
                tracing::warn!(
                    video = %self.path.display(),
                    "NVDEC failed ({e}); this video is read by the CPU decoder"
                );
                let mut cpu = DecoderKind::best_available().backend()?.open(&self.path)?;
                let frames = cpu.read_frames(frames);
                self.fallback = Some(cpu);
                frames
            }
            ok => ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a driver (this machine, CI) NVDEC says why instead of failing later, and `DecoderKind::Nvdec`
    /// reports it as a configuration error.
    #[test]
    fn without_a_driver_nvdec_says_why() {
        register();
        match unavailable(0) {
            Some(why) => {
                assert!(!why.is_empty());
                let Err(e) = DecoderKind::Nvdec.backend() else {
                    panic!("an NVDEC backend without NVDEC")
                };
                assert!(e.to_string().contains("NVDEC"), "{e}");
            }
            // A machine with a GPU and its video library: the backend opens.
            None => assert!(DecoderKind::Nvdec.backend().is_ok()),
        }
    }
}
