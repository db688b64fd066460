//! Video readers: every source (H.264 mp4 through OpenH264, any codec through FFmpeg, JPEG frame folders) hands
//! out frames by presentation index, so the sampler and the augmentations never care where frames come from.

pub mod cache;
pub mod frame;
pub mod h264;
pub mod jpeg_folder;
pub mod mp4_demux;
pub mod openh264_reader;
pub mod seek;

#[cfg(feature = "ffmpeg")]
pub mod ffmpeg_reader;

pub use frame::{Frame, Pixels};

use crate::error::{DataError, Result};
use std::path::Path;

/// What the sampler needs to know about a video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    pub frames: usize,
    pub fps: f64,
    pub width: usize,
    pub height: usize,
}

/// An opened video.
pub trait VideoReader: Send {
    fn info(&self) -> VideoInfo;

    /// The frames at presentation indices `frames` (ascending, no repeats, each below `info().frames`), in that
    /// order.
    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>>;
}

/// Opens videos of one kind.
pub trait VideoBackend: Send + Sync {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>>;
    /// A short name for logs and benchmark tables.
    fn name(&self) -> &'static str;
}

/// Which decoder reads container files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderKind {
    /// OpenH264 (built from source, always available): H.264 in mp4.
    OpenH264,
    /// The system's FFmpeg libraries (the `ffmpeg` cargo feature): every codec and container they know.
    Ffmpeg,
    /// NVIDIA's hardware decoder (NVDEC, through the driver's `libnvcuvid`): H.264 in mp4 decoded on the GPU,
    /// falling back to OpenH264 per video where NVDEC cannot read it. Provided by the CUDA backend, which
    /// registers it ([`register_nvdec`]).
    Nvdec,
}

/// Makes the NVDEC backend (from the crate that can reach the GPU).
pub type NvdecFactory = fn() -> Result<Box<dyn VideoBackend>>;

static NVDEC: std::sync::OnceLock<NvdecFactory> = std::sync::OnceLock::new();

/// Lets [`DecoderKind::Nvdec`] make NVDEC backends. The CUDA backend calls this once; vst-data cannot depend on it.
pub fn register_nvdec(factory: NvdecFactory) {
    let _ = NVDEC.set(factory);
}

impl DecoderKind {
    /// FFmpeg when compiled in, OpenH264 otherwise.
    pub fn best_available() -> DecoderKind {
        if cfg!(feature = "ffmpeg") {
            DecoderKind::Ffmpeg
        } else {
            DecoderKind::OpenH264
        }
    }

    pub fn parse(name: &str) -> Result<DecoderKind> {
        match name {
            "openh264" => Ok(DecoderKind::OpenH264),
            "ffmpeg" => Ok(DecoderKind::Ffmpeg),
            "nvdec" => Ok(DecoderKind::Nvdec),
            other => Err(DataError::Config(format!(
                "unknown decoder `{other}` (expected openh264, ffmpeg or nvdec)"
            ))),
        }
    }

    /// A backend for this decoder, or an error saying how to get it.
    pub fn backend(self) -> Result<Box<dyn VideoBackend>> {
        match self {
            DecoderKind::OpenH264 => Ok(Box::new(openh264_reader::OpenH264Backend)),
            #[cfg(feature = "ffmpeg")]
            DecoderKind::Ffmpeg => Ok(Box::new(ffmpeg_reader::FfmpegBackend::new()?)),
            #[cfg(not(feature = "ffmpeg"))]
            DecoderKind::Ffmpeg => Err(DataError::Config(
                "the ffmpeg decoder is not compiled in: rebuild with `--features vst-data/ffmpeg` (needs the \
                 libavcodec/libavformat/libswscale development packages)"
                    .into(),
            )),
            DecoderKind::Nvdec => match NVDEC.get() {
                Some(make) => make(),
                None => Err(DataError::Unavailable(
                    "the NVDEC decoder is provided by the CUDA backend, which this program did not load".into(),
                )),
            },
        }
    }

    /// The name `parse` reads.
    pub fn name(self) -> &'static str {
        match self {
            DecoderKind::OpenH264 => "openh264",
            DecoderKind::Ffmpeg => "ffmpeg",
            DecoderKind::Nvdec => "nvdec",
        }
    }
}

/// Checks the contract of [`VideoReader::read_frames`] on a request.
pub(crate) fn check_request(path: &Path, frames: &[usize], total: usize) -> Result<()> {
    if frames.windows(2).any(|w| w[0] >= w[1]) {
        return Err(DataError::Config(format!(
            "{}: frames must be requested in ascending order without repeats",
            path.display()
        )));
    }
    if let Some(&last) = frames.last()
        && last >= total
    {
        return Err(DataError::Config(format!(
            "{}: frame {last} requested but the video has {total} frames",
            path.display()
        )));
    }
    Ok(())
}
