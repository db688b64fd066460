//! One sample, start to finish: open the video, draw its clips and augmentations from the sample's own
//! generator, decode exactly the frames the clips need, render every clip. The loader runs this on worker
//! threads; the preview and the benchmark call it directly, so all three see the same data.

use crate::augment::renderer::ClipRenderer;
use crate::augment::{ClipDraw, draw_clip, render_clip, render_view, test_crop};
use crate::error::{DataError, Result};
use crate::list::VideoEntry;
use crate::rng::{Stream, rng_for};
use crate::sampler::{VideoClips, clips_per_video, draw_clips, spread_clip, test_clips};
use crate::video::{Frame, VideoBackend};
use vst_spec::{AugmentSpec, ClipSpec, Normalize, TemporalAug, Timespan};

/// What kind of samples to make.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleMode {
    /// Pre-training: ρ clips per video (two views of one clip for ρ = 1), each with its own T/S/C draw.
    Pretrain {
        clips: ClipSpec,
        augment: AugmentSpec,
    },
    /// Supervised training (e.g. the linear probe): one augmented clip per video.
    Single { augment: AugmentSpec },
    /// Evaluation: `temporal × spatial` fixed views per video (temporal-major), `size`² each, only normalised.
    Test {
        temporal: u32,
        spatial: u32,
        size: u32,
        normalize: Normalize,
    },
}

impl SampleMode {
    /// Rows (clips) each video contributes to a batch.
    pub fn rows_per_video(&self) -> usize {
        match self {
            SampleMode::Pretrain { clips, .. } => clips_per_video(clips.count),
            SampleMode::Single { .. } => 1,
            SampleMode::Test {
                temporal, spatial, ..
            } => (*temporal as usize).max(1) * (*spatial as usize).max(1),
        }
    }

    /// Side of the square clips.
    pub fn size(&self) -> usize {
        match self {
            SampleMode::Pretrain { augment, .. } | SampleMode::Single { augment } => {
                augment.spatial.size as usize
            }
            SampleMode::Test { size, .. } => *size as usize,
        }
    }

    pub fn check(&self) -> Result<()> {
        if self.size() == 0 {
            return Err(DataError::Config("the clip size is 0".into()));
        }
        if let SampleMode::Pretrain { clips, .. } = self
            && clips.count == 0
        {
            return Err(DataError::Config("ρ (clips per video) is 0".into()));
        }
        Ok(())
    }
}

/// Frames per clip and their stride (T and τ of the backbone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipShape {
    pub frames: usize,
    pub stride: usize,
    /// The frame rate τ counts frames in. The official loader resamples every video to `TARGET_FPS` (30) before
    /// taking T frames τ apart, so that a clip spans the same time whatever a video's own rate; `None` counts the
    /// video's own frames (vst's synthetic videos, whose recipes state τ in their frames).
    pub target_fps: Option<u32>,
    /// Evaluation clips (fine-tuning, linear probe, kNN) spread their T frames over the whole video instead of τ
    /// apart: the dataset's own sampling (Something-Something v2, [`crate::sampler::spread_clip`]). Pre-training
    /// clips stay τ apart.
    pub spread: bool,
}

/// The frame rate real videos are sampled at (PySlowFast's `DATA.TARGET_FPS`).
pub const TARGET_FPS: u32 = 30;

impl ClipShape {
    /// The clips `backbone` consumes from videos of `source`: real videos are sampled at [`TARGET_FPS`], the
    /// synthetic ones in their own frames.
    pub fn of(backbone: &vst_spec::BackboneSpec, source: &vst_spec::DataSource) -> ClipShape {
        let target_fps = match source {
            vst_spec::DataSource::Synthetic(_) => None,
            _ => Some(TARGET_FPS),
        };
        ClipShape {
            frames: backbone.frames.max(1) as usize,
            stride: backbone.stride.max(1) as usize,
            target_fps,
            spread: source.spreads_evaluation_clips(),
        }
    }

    /// The stride in the video's own frames for a video at `fps`.
    pub fn stride_in_frames(&self, fps: f64) -> f64 {
        let tau = self.stride.max(1) as f64;
        match self.target_fps {
            Some(target) if fps > 0.0 && target > 0 => tau * fps / f64::from(target),
            _ => tau,
        }
    }
}

/// The clips of one video, rendered.
#[derive(Debug, Clone)]
pub struct Sample {
    /// `rows × T × size × size × 3`, normalised.
    pub data: Vec<f32>,
    pub rows: usize,
    /// The video was shorter than a clip and was looped.
    pub looped: bool,
    /// Which frames each row shows and, for training rows, the augmentation drawn for it.
    pub clips: VideoClips,
    pub draws: Vec<Option<ClipDraw>>,
    /// The video's frame rate (frames per second), to place the clips in time.
    pub fps: f64,
}

impl Sample {
    /// Per row, the time (seconds) of the first and the last frame its clip shows: where a label that varies
    /// through the video (Charades' action intervals) is read. Test views follow their clip (rows are clip-major).
    pub fn row_seconds(&self) -> Vec<(f64, f64)> {
        let clips = &self.clips.clips;
        let fps = if self.fps > 0.0 { self.fps } else { 1.0 };
        (0..self.rows)
            .map(|row| {
                let clip = &clips[row * clips.len() / self.rows.max(1)];
                let first = clip.frames.iter().min().copied().unwrap_or(0);
                let last = clip.frames.iter().max().copied().unwrap_or(0);
                (first as f64 / fps, last as f64 / fps)
            })
            .collect()
    }
}

/// A sample's first half: its clips and augmentation draws, and the decoded frames they need (as decoded: YUV
/// or RGB8, not yet converted). The CPU renderer ([`make_sample`]) and the GPU one (vst-cuda's `augment`) both
/// start from it, so both see the same frames and the same random draws.
#[derive(Debug, Clone)]
pub struct DecodedSample {
    pub clips: VideoClips,
    /// One per row: the training draw, or `None` for test views.
    pub draws: Vec<Option<ClipDraw>>,
    /// Test views: (clip, crop) per row.
    pub views: Vec<(usize, crate::augment::CropBox)>,
    /// The frame numbers decoded, ascending, and the frames.
    pub needed: Vec<usize>,
    pub frames: Vec<Frame>,
    /// The video's frame rate.
    pub fps: f64,
}

impl DecodedSample {
    /// Frame `index` of the video (one of `needed`).
    pub fn frame(&self, index: usize) -> &Frame {
        &self.frames[self.needed.binary_search(&index).expect("requested frame")]
    }

    /// The frames of clip `clip`, in order.
    pub fn clip_frames(&self, clip: usize) -> Vec<&Frame> {
        self.clips.clips[clip]
            .frames
            .iter()
            .map(|&f| self.frame(f))
            .collect()
    }
}

/// Makes sample `index` of `epoch` (the generator is seeded from `(seed, epoch, index)`, so the result does not
/// depend on which thread makes it or when).
pub fn make_sample(
    backend: &dyn VideoBackend,
    entry: &VideoEntry,
    mode: &SampleMode,
    shape: ClipShape,
    seed: u64,
    epoch: u64,
    index: u64,
) -> Result<Sample> {
    let decoded = decode_sample(backend, entry, mode, shape, seed, epoch, index)?;
    render_sample(decoded, mode, shape, None)
}

/// Draws sample `index`'s clips and augmentations and decodes the frames they need.
pub fn decode_sample(
    backend: &dyn VideoBackend,
    entry: &VideoEntry,
    mode: &SampleMode,
    shape: ClipShape,
    seed: u64,
    epoch: u64,
    index: u64,
) -> Result<DecodedSample> {
    let mut reader = backend.open(&entry.path)?;
    let info = reader.info();
    if info.frames == 0 || info.width == 0 || info.height == 0 {
        return Err(DataError::Corrupt {
            path: entry.path.clone(),
            message: "the video has no frames".into(),
        });
    }
    let mut rng = rng_for(seed, Stream::Sample, epoch, index);
    let stride = shape.stride_in_frames(info.fps);
    let (clips, draws, views): (
        VideoClips,
        Vec<Option<ClipDraw>>,
        Vec<(usize, crate::augment::CropBox)>,
    ) = match mode {
        SampleMode::Pretrain { clips, augment } => {
            let v = draw_clips(
                &mut rng,
                info.frames,
                info.fps,
                shape.frames,
                stride,
                clips,
                &augment.temporal,
            );
            let draws = v
                .clips
                .iter()
                .map(|_| Some(draw_clip(&mut rng, info.width, info.height, augment)))
                .collect();
            (v, draws, Vec::new())
        }
        SampleMode::Single { augment } if shape.spread => {
            let v = VideoClips {
                clips: vec![spread_clip(info.frames, shape.frames, Some(&mut rng))],
                looped: info.frames < shape.frames,
            };
            let draws = vec![Some(draw_clip(&mut rng, info.width, info.height, augment))];
            (v, draws, Vec::new())
        }
        SampleMode::Single { augment } => {
            let one = ClipSpec {
                count: 1,
                span: Timespan::Anywhere,
            };
            let temporal = TemporalAug {
                random_start: true,
                ..augment.temporal.clone()
            };
            let mut v = draw_clips(
                &mut rng,
                info.frames,
                info.fps,
                shape.frames,
                stride,
                &one,
                &temporal,
            );
            v.clips.truncate(1);
            let draws = vec![Some(draw_clip(&mut rng, info.width, info.height, augment))];
            (v, draws, Vec::new())
        }
        SampleMode::Test {
            temporal, spatial, ..
        } => {
            let t = match shape.spread {
                // One clip over the whole video; several temporal views would all be this one.
                true => VideoClips {
                    clips: vec![
                        spread_clip(info.frames, shape.frames, None);
                        (*temporal).max(1) as usize
                    ],
                    looped: info.frames < shape.frames,
                },
                false => test_clips(info.frames, shape.frames, stride, *temporal as usize),
            };
            let m = (*spatial as usize).max(1);
            let mut views = Vec::new();
            for c in 0..t.clips.len() {
                for s in 0..m {
                    views.push((c, test_crop(info.width, info.height, s, m)));
                }
            }
            let draws = vec![None; views.len()];
            (t, draws, views)
        }
    };
    let needed = clips.needed_frames();
    let frames = reader.read_frames(&needed)?;
    Ok(DecodedSample {
        clips,
        draws,
        views,
        needed,
        frames,
        fps: info.fps,
    })
}

/// A sample's second half: renders every row of a decoded sample on this thread's CPU, or its training clips by
/// `renderer` when given (evaluation views stay on the CPU: they are cropped, not augmented). Only a renderer can
/// fail.
pub fn render_sample(
    decoded: DecodedSample,
    mode: &SampleMode,
    shape: ClipShape,
    renderer: Option<&dyn ClipRenderer>,
) -> Result<Sample> {
    let size = mode.size();
    let frame_of = |index: usize| decoded.frame(index);
    let (clips, draws, views) = (&decoded.clips, &decoded.draws, &decoded.views);
    let rows = mode.rows_per_video();
    let clip_len = shape.frames * size * size * 3;
    let mut data = vec![0f32; rows * clip_len];
    match mode {
        SampleMode::Test { normalize, .. } => {
            for (row, (c, crop)) in views.iter().enumerate() {
                let frames: Vec<&Frame> = clips.clips[*c]
                    .frames
                    .iter()
                    .map(|&f| frame_of(f))
                    .collect();
                render_view(
                    &frames,
                    crop,
                    size,
                    normalize,
                    &mut data[row * clip_len..(row + 1) * clip_len],
                );
            }
        }
        SampleMode::Pretrain { augment, .. } | SampleMode::Single { augment } => {
            for (row, clip) in clips.clips.iter().enumerate() {
                let frames: Vec<&Frame> = clip.frames.iter().map(|&f| frame_of(f)).collect();
                let draw = draws[row].as_ref().expect("training rows have draws");
                let out = &mut data[row * clip_len..(row + 1) * clip_len];
                match renderer {
                    Some(r) => r
                        .render(
                            &frames,
                            clip.difference,
                            draw,
                            size,
                            &augment.normalize,
                            out,
                        )
                        .map_err(|m| DataError::Renderer(r.name(), m))?,
                    None => render_clip(
                        &frames,
                        clip.difference,
                        draw,
                        size,
                        &augment.normalize,
                        out,
                    ),
                }
            }
        }
    }
    Ok(Sample {
        data,
        rows,
        looped: clips.looped,
        clips: decoded.clips,
        draws: decoded.draws,
        fps: decoded.fps,
    })
}

#[cfg(test)]
mod tests {
    use crate::sampler::{ClipFrames, VideoClips};

    #[test]
    fn rows_are_placed_in_time_by_their_clip() {
        let clip = |frames: Vec<usize>| ClipFrames {
            frames,
            difference: false,
        };
        // Two test clips, two spatial crops each (rows clip-major); the second clip wraps around a short video.
        let sample = super::Sample {
            data: Vec::new(),
            rows: 4,
            looped: true,
            clips: VideoClips {
                clips: vec![clip(vec![0, 5, 10]), clip(vec![20, 25, 2])],
                looped: true,
            },
            draws: vec![None; 4],
            fps: 10.0,
        };
        assert_eq!(
            sample.row_seconds(),
            vec![(0.0, 1.0), (0.0, 1.0), (0.2, 2.5), (0.2, 2.5)]
        );
    }

    #[test]
    fn real_videos_are_sampled_at_30_fps() {
        let shape = |target_fps| super::ClipShape {
            frames: 8,
            stride: 8,
            target_fps,
            spread: false,
        };
        // A 25 fps video: τ = 8 at 30 fps is 6.67 of its own frames, so a clip spans the same 2.1 s.
        assert!((shape(Some(30)).stride_in_frames(25.0) - 8.0 * 25.0 / 30.0).abs() < 1e-12);
        assert_eq!(shape(Some(30)).stride_in_frames(30.0), 8.0);
        assert_eq!(shape(None).stride_in_frames(25.0), 8.0);
    }
}
