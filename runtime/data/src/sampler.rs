//! The ρ-clip sampler: which frames each of a video's clips shows. This is where the paper's idea lives — ρ clips
//! from different times of one video are positives of each other.

use crate::rng::DataRng;
use vst_spec::{ClipSpec, TemporalAug, Timespan};

/// The frames of one clip, in the order the clip shows them (they may repeat when a short video loops).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipFrames {
    /// Source frame indices: T of them, or T + 1 when `difference` is set (the clip becomes T frame differences).
    pub frames: Vec<usize>,
    /// Replace the clip by the differences of consecutive frames (Table 7's temporal-difference augmentation).
    pub difference: bool,
}

impl ClipFrames {
    pub fn start(&self) -> usize {
        self.frames[0]
    }
}

/// The clips drawn from one video.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoClips {
    pub clips: Vec<ClipFrames>,
    /// The video was shorter than a clip and its frames were repeated by looping.
    pub looped: bool,
}

impl VideoClips {
    /// All frames any clip needs, ascending and without repeats (what the decoder is asked for).
    pub fn needed_frames(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self
            .clips
            .iter()
            .flat_map(|c| c.frames.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// How many clips a video contributes to a batch for ρ = `count`: ρ = 1 still yields two (two crops of the same
/// moment), otherwise ρ.
pub fn clips_per_video(count: u32) -> usize {
    (count as usize).max(2)
}

/// Frame indices of a clip of `frames` samples `stride` apart (a real stride under frame-rate jitter) from
/// `start`; indices past the end wrap around (looping a short video).
fn clip_indices(start: usize, frames: usize, stride: f64, total: usize) -> Vec<usize> {
    (0..frames)
        .map(|k| (start + (k as f64 * stride).round() as usize) % total)
        .collect()
}

/// Frames spanned by a clip: first to last inclusive.
fn span_frames(frames: usize, stride: f64) -> usize {
    ((frames.saturating_sub(1)) as f64 * stride).round() as usize + 1
}

/// Draws the clips of one training sample.
///
/// - `frames`/`stride`: T and τ of the backbone, τ in the video's own frames (see
///   [`crate::pipeline::ClipShape::stride_in_frames`]); `total` and `fps` describe the video.
/// - ρ = 1 yields two identical clips (one moment, seen through two augmentations later).
/// - [`Timespan::Anywhere`]: starts independent and uniform over the video, distinct when the video allows;
///   [`Timespan::Within`]: all starts lie within that many seconds of each other.
/// - `temporal.random_start == false`: all clips share one start (the paper's "T removed").
pub fn draw_clips(
    rng: &mut DataRng,
    total: usize,
    fps: f64,
    frames: usize,
    stride: f64,
    clips: &ClipSpec,
    temporal: &TemporalAug,
) -> VideoClips {
    let total = total.max(1);
    let count = clips.count.max(1) as usize;
    // Per-clip choices first: the stride (frame-rate jitter) and whether the clip becomes differences.
    let mut strides = Vec::with_capacity(count);
    let mut differences = Vec::with_capacity(count);
    for _ in 0..count {
        let jitter = temporal.frame_rate_jitter.unwrap_or(0.0).clamp(0.0, 1.0);
        strides.push((stride * rng.uniform(1.0 - jitter, 1.0 + jitter)).max(1e-3));
        differences.push(temporal.temporal_difference.is_some_and(|p| rng.chance(p)));
    }
    let lengths: Vec<usize> = (0..count)
        .map(|i| span_frames(frames + differences[i] as usize, strides[i]))
        .collect();
    let longest = *lengths.iter().max().expect("at least one clip");
    let looped = longest > total;
    // Starts: every clip must fit, so all starts lie in 0..=last_start.
    let last_start = total.saturating_sub(longest);
    let (lo, hi) = match clips.span {
        Timespan::Anywhere => (0, last_start),
        Timespan::Within { seconds } => {
            let window = ((seconds.max(0.0) * fps).floor() as usize).min(last_start);
            let lo = rng.below((last_start - window) as u64 + 1) as usize;
            (lo, lo + window)
        }
    };
    let starts: Vec<usize> = if count == 1 || !temporal.random_start {
        vec![lo + rng.below((hi - lo) as u64 + 1) as usize; count]
    } else {
        // In temporal order, as the official decoder returns them (`np.sort` of the start indices): pair rules
        // that name clips — SimCLR's neighbouring pairs, SwAV's codes from clips 0 and 1 — mean positions in time.
        let mut starts = distinct_uniform(rng, lo, hi, count);
        starts.sort_unstable();
        starts
    };
    let mut out: Vec<ClipFrames> = (0..count)
        .map(|i| ClipFrames {
            frames: clip_indices(
                starts[i],
                frames + differences[i] as usize,
                strides[i],
                total,
            ),
            difference: differences[i],
        })
        .collect();
    if count == 1 {
        out.push(out[0].clone());
    }
    VideoClips { clips: out, looped }
}

/// `count` integers uniform in `lo..=hi`, distinct when the range holds enough of them (independent otherwise).
fn distinct_uniform(rng: &mut DataRng, lo: usize, hi: usize, count: usize) -> Vec<usize> {
    let width = hi - lo + 1;
    let mut picked: Vec<usize> = Vec::with_capacity(count);
    for _ in 0..count {
        if picked.len() >= width {
            picked.push(lo + rng.below(width as u64) as usize);
            continue;
        }
        // Uniform over the values not taken yet: draw a rank among the free ones and skip the taken.
        let mut rank = rng.below((width - picked.len()) as u64) as usize;
        let mut taken: Vec<usize> = picked.iter().map(|&p| p - lo).collect();
        taken.sort_unstable();
        taken.dedup();
        for &t in &taken {
            if t <= rank {
                rank += 1;
            }
        }
        picked.push(lo + rank);
    }
    picked
}

/// Something-Something's sampling (PySlowFast's `Ssv2.get_seq_frames`): the video is cut into `frames` equal
/// segments of `(total − 1) / frames` frames, bounds rounded half to even as NumPy's `round`, and one frame is
/// taken from each — uniformly at random within it when training (`rng`, bounds inclusive as `random.randint`),
/// its middle when testing. The clip covers the whole video whatever its length: the clip shape's stride is unused.
pub fn spread_clip(total: usize, frames: usize, rng: Option<&mut DataRng>) -> ClipFrames {
    let total = total.max(1);
    let segment = (total - 1) as f64 / frames.max(1) as f64;
    let bound = |i: usize| ((segment * i as f64).round_ties_even() as usize).min(total - 1);
    let mut rng = rng;
    let frames = (0..frames.max(1))
        .map(|i| {
            let (start, end) = (bound(i), bound(i + 1));
            match rng.as_deref_mut() {
                Some(rng) => start + rng.below((end - start) as u64 + 1) as usize,
                None => (start + end) / 2,
            }
        })
        .collect();
    ClipFrames {
        frames,
        difference: false,
    }
}

/// Test-time clips: `views` starts evenly spread over the video (the centres of `views` equal parts of the range
/// of possible starts), with the nominal stride.
pub fn test_clips(total: usize, frames: usize, stride: f64, views: usize) -> VideoClips {
    let total = total.max(1);
    let length = span_frames(frames, stride);
    let last_start = total.saturating_sub(length);
    let views = views.max(1);
    let clips = (0..views)
        .map(|i| {
            let start = ((i as f64 + 0.5) * last_start as f64 / views as f64).round() as usize;
            ClipFrames {
                frames: clip_indices(start, frames, stride, total),
                difference: false,
            }
        })
        .collect();
    VideoClips {
        clips,
        looped: length > total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};
    use proptest::prelude::*;

    fn temporal(random_start: bool, jitter: Option<f64>, diff: Option<f64>) -> TemporalAug {
        TemporalAug {
            random_start,
            frame_rate_jitter: jitter,
            temporal_difference: diff,
        }
    }

    proptest! {
        #[test]
        fn clips_lie_inside_the_video_and_within_the_span(
            seed in 0u64..1000, total in 1usize..400, fps in 5.0f64..60.0, t in 1usize..10, tau in 1usize..10,
            rho in 1u32..5, seconds in proptest::option::of(0.0f64..5.0), jitter in proptest::option::of(0.0f64..0.6),
            diff in proptest::option::of(0.0f64..1.0), random_start in any::<bool>(),
        ) {
            let span = seconds.map_or(Timespan::Anywhere, |seconds| Timespan::Within { seconds });
            let spec = ClipSpec { count: rho, span };
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let v = draw_clips(&mut rng, total, fps, t, tau as f64, &spec, &temporal(random_start, jitter, diff));
            prop_assert_eq!(v.clips.len(), clips_per_video(rho));
            let longest = v.clips.iter().map(|c| *c.frames.iter().max().unwrap()).max().unwrap();
            prop_assert!(longest < total, "frame {} of a {}-frame video", longest, total);
            for c in &v.clips {
                prop_assert_eq!(c.frames.len(), t + c.difference as usize);
                if !v.looped {
                    // In order, no wrap-around.
                    prop_assert!(c.frames.windows(2).all(|w| w[0] <= w[1]));
                }
            }
            if !v.looped {
                if let Some(seconds) = seconds {
                    let starts: Vec<usize> = v.clips.iter().map(|c| c.start()).collect();
                    let spread = starts.iter().max().unwrap() - starts.iter().min().unwrap();
                    prop_assert!(spread as f64 <= (seconds * fps).floor(), "spread {} > {} s", spread, seconds);
                }
            } else {
                prop_assert!(span_frames(t, tau as f64) > total || jitter.is_some() || diff.is_some());
            }
        }

        #[test]
        fn rho_one_is_two_views_of_the_same_moment(seed in 0u64..1000, total in 1usize..300) {
            let spec = ClipSpec { count: 1, span: Timespan::Anywhere };
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let v = draw_clips(&mut rng, total, 30.0, 8, 4.0, &spec, &temporal(true, None, None));
            prop_assert_eq!(v.clips.len(), 2);
            prop_assert_eq!(&v.clips[0], &v.clips[1]);
        }

        #[test]
        fn clips_come_in_temporal_order(seed in 0u64..1000, rho in 2u32..5, total in 40usize..400) {
            let spec = ClipSpec { count: rho, span: Timespan::Anywhere };
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let v = draw_clips(&mut rng, total, 30.0, 8, 4.0, &spec, &temporal(true, None, None));
            let starts: Vec<usize> = v.clips.iter().map(|c| c.start()).collect();
            prop_assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{:?}", starts);
        }

        #[test]
        fn starts_are_distinct_when_the_video_allows(seed in 0u64..1000, rho in 2u32..5, extra in 0usize..50) {
            // A video with exactly `rho + extra` possible starts for an 8×4 clip.
            let total = span_frames(8, 4.0) + rho as usize - 1 + extra;
            let spec = ClipSpec { count: rho, span: Timespan::Anywhere };
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let v = draw_clips(&mut rng, total, 30.0, 8, 4.0, &spec, &temporal(true, None, None));
            let mut starts: Vec<usize> = v.clips.iter().map(|c| c.start()).collect();
            starts.sort_unstable();
            starts.dedup();
            prop_assert_eq!(starts.len(), rho as usize);
        }
    }

    #[test]
    fn without_random_start_all_clips_share_one_start() {
        let spec = ClipSpec {
            count: 4,
            span: Timespan::Anywhere,
        };
        let mut rng = rng_for(3, Stream::Sample, 0, 0);
        let v = draw_clips(
            &mut rng,
            300,
            30.0,
            8,
            8.0,
            &spec,
            &temporal(false, None, None),
        );
        assert!(v.clips.iter().all(|c| c.frames == v.clips[0].frames));
    }

    #[test]
    fn zero_seconds_is_the_same_moment() {
        let spec = ClipSpec {
            count: 3,
            span: Timespan::Within { seconds: 0.0 },
        };
        let mut rng = rng_for(3, Stream::Sample, 0, 0);
        let v = draw_clips(
            &mut rng,
            300,
            30.0,
            8,
            8.0,
            &spec,
            &temporal(true, None, None),
        );
        assert!(v.clips.iter().all(|c| c.start() == v.clips[0].start()));
    }

    #[test]
    fn global_sampling_covers_the_video() {
        // Over many draws, starts reach both ends of the range of possible starts.
        let spec = ClipSpec {
            count: 2,
            span: Timespan::Anywhere,
        };
        let (mut min, mut max) = (usize::MAX, 0);
        for i in 0..500 {
            let mut rng = rng_for(9, Stream::Sample, 0, i);
            let v = draw_clips(
                &mut rng,
                100,
                30.0,
                8,
                8.0,
                &spec,
                &temporal(true, None, None),
            );
            for c in &v.clips {
                min = min.min(c.start());
                max = max.max(c.start());
            }
        }
        assert_eq!((min, max), (0, 100 - 57));
    }

    #[test]
    fn short_videos_loop_and_say_so() {
        let spec = ClipSpec {
            count: 2,
            span: Timespan::Anywhere,
        };
        let mut rng = rng_for(1, Stream::Sample, 0, 0);
        let v = draw_clips(
            &mut rng,
            10,
            30.0,
            8,
            4.0,
            &spec,
            &temporal(true, None, None),
        );
        assert!(v.looped);
        assert_eq!(v.clips[0].frames, vec![0, 4, 8, 2, 6, 0, 4, 8]);
    }

    #[test]
    fn test_views_spread_evenly() {
        let v = test_clips(100, 8, 4.0, 3);
        let starts: Vec<usize> = v.clips.iter().map(|c| c.start()).collect();
        // 71 possible starts (0..=71): centres of three equal parts.
        assert_eq!(starts, vec![12, 36, 59]);
        assert_eq!(test_clips(100, 8, 4.0, 1).clips[0].start(), 36);
        assert!(test_clips(10, 8, 4.0, 2).looped);
    }

    /// PySlowFast's `get_seq_frames` on a 50-frame video, 8 frames: segment 6.125, bounds
    /// round_half_even(6.125·i) = 0, 6, 12, 18, 24, 31, 37, 43, 49 (6.125·4 = 24.5 → 24); test frames their
    /// floor-middles. Expected values printed by the function's Python with NumPy.
    #[test]
    fn spread_clips_follow_pyslowfast_ssv2_segments() {
        let test = spread_clip(50, 8, None);
        assert_eq!(test.frames, vec![3, 9, 15, 21, 27, 34, 40, 46]);
        let bounds = [0, 6, 12, 18, 24, 31, 37, 43, 49];
        let mut rng = crate::rng::rng_for(7, crate::rng::Stream::Sample, 0, 0);
        for _ in 0..200 {
            let train = spread_clip(50, 8, Some(&mut rng));
            for (i, &f) in train.frames.iter().enumerate() {
                assert!(
                    (bounds[i]..=bounds[i + 1]).contains(&f),
                    "{:?}",
                    train.frames
                );
            }
        }
        // A video shorter than the clip repeats frames rather than reading past its end.
        assert_eq!(spread_clip(3, 8, None).frames, vec![0, 0, 0, 1, 1, 1, 2, 2]);
    }
}
