//! The loader: batch layout, determinism whatever the thread count, and runs that survive unreadable files.

use std::path::Path;
use std::sync::Arc;
use vst_data::list::{VideoEntry, read_list};
use vst_data::loader::{ClipBatch, Loader, LoaderConfig};
use vst_data::metrics::DataMetrics;
use vst_data::pipeline::{ClipShape, SampleMode, make_sample};
use vst_data::synth;
use vst_data::video::DecoderKind;
use vst_spec::{AugmentSpec, ClipSpec, Normalize, Range, SynthSpec, Timespan};

fn dataset(dir: &Path, classes: u32, per_class: u32) -> Vec<VideoEntry> {
    let spec = SynthSpec {
        classes,
        train_per_class: per_class,
        val_per_class: 0,
        frames: 20,
        fps: 8.0,
        width: 48,
        height: 32,
        nuisance: 1.0,
        distractors: 1,
        seed: 3,
    };
    let data = synth::generate(&spec, dir, 2).unwrap();
    read_list(&data.train_list, &data.root).unwrap()
}

fn augment(size: u32) -> AugmentSpec {
    // The paper's augmentation plus both temporal ones, so every code path of the loader runs.
    let mut spec = vst_data::augment::paper_augment(size, Range::new(20.0, 30.0));
    spec.temporal.frame_rate_jitter = Some(0.3);
    spec.temporal.temporal_difference = Some(0.3);
    spec
}

fn pretrain(rho: u32) -> SampleMode {
    SampleMode::Pretrain {
        clips: ClipSpec {
            count: rho,
            span: Timespan::Anywhere,
        },
        augment: augment(16),
    }
}

const SHAPE: ClipShape = ClipShape {
    frames: 4,
    stride: 2,
    target_fps: None,
    spread: false,
};

fn epoch_batches(
    entries: &[VideoEntry],
    mode: SampleMode,
    threads: usize,
    epoch: u64,
) -> Vec<ClipBatch> {
    let mut config = LoaderConfig::new(mode, SHAPE, 3, 42);
    config.threads = threads;
    config.prefetch = 1;
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let loader = Loader::new(
        entries.to_vec(),
        backend,
        config,
        Arc::new(DataMetrics::new()),
    )
    .unwrap();
    loader.epoch(epoch).collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn batches_are_identical_whatever_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 3, 3);
    let reference = epoch_batches(&entries, pretrain(2), 0, 0);
    assert_eq!(reference.len(), 3);
    for threads in [1, 2, 5] {
        assert!(
            epoch_batches(&entries, pretrain(2), threads, 0) == reference,
            "{threads} threads differ"
        );
    }
    // Another epoch: another order and other draws.
    let next = epoch_batches(&entries, pretrain(2), 2, 1);
    assert!(next != reference);
}

#[test]
fn an_epoch_started_in_its_middle_yields_the_rest_of_the_same_batches() {
    // What a run resumed from a mid-epoch checkpoint relies on.
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 3, 3);
    let whole = epoch_batches(&entries, pretrain(2), 0, 1);
    assert_eq!(whole.len(), 3);
    for threads in [0, 2] {
        let mut config = LoaderConfig::new(pretrain(2), SHAPE, 3, 42);
        config.threads = threads;
        config.prefetch = 1;
        let loader = Loader::new(
            entries.clone(),
            DecoderKind::OpenH264.backend().unwrap(),
            config,
            Arc::new(DataMetrics::new()),
        )
        .unwrap();
        for first in 0..=3 {
            let rest = loader
                .epoch_from(1, first)
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            assert!(
                rest == whole[first..],
                "from batch {first} with {threads} threads"
            );
        }
    }
}

/// The batches of replica `rank` of `replicas` (batch of 4 videos).
fn shard_batches(
    entries: &[VideoEntry],
    shard: Option<(usize, usize)>,
    threads: usize,
) -> Vec<ClipBatch> {
    let mut config = LoaderConfig::new(pretrain(2), SHAPE, 4, 42);
    config.threads = threads;
    config.prefetch = 1;
    config.shard = shard;
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let loader = Loader::new(
        entries.to_vec(),
        backend,
        config,
        Arc::new(DataMetrics::new()),
    )
    .unwrap();
    loader.epoch(1).collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn replicas_load_disjoint_shares_that_make_up_the_single_replicas_batch() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 3, 4);
    let whole = shard_batches(&entries, None, 2);
    assert_eq!(whole.len(), 3);
    for replicas in [2, 4] {
        let shards: Vec<Vec<ClipBatch>> = (0..replicas)
            .map(|rank| shard_batches(&entries, Some((rank, replicas)), 2))
            .collect();
        for (step, reference) in whole.iter().enumerate() {
            let parts: Vec<&ClipBatch> = shards.iter().map(|s| &s[step]).collect();
            // Each replica holds its share of the videos: none twice, none missing, in the single replica's order.
            let mut ids: Vec<usize> = Vec::new();
            for part in &parts {
                assert_eq!(
                    part.shape[0],
                    reference.shape[0] / replicas,
                    "a replica holds B/R videos"
                );
                let mine: Vec<usize> = part
                    .video_indices
                    .iter()
                    .step_by(part.rows_per_video)
                    .copied()
                    .collect();
                assert!(
                    mine.iter().all(|v| !ids.contains(v)),
                    "step {step}: replicas share a video"
                );
                ids.extend(mine);
            }
            let reference_ids: Vec<usize> = reference
                .video_indices
                .iter()
                .step_by(reference.rows_per_video)
                .copied()
                .collect();
            assert_eq!(ids, reference_ids, "step {step}, {replicas} replicas");
            // And the very same clips.
            let data: Vec<f32> = parts.iter().flat_map(|p| p.data.iter().copied()).collect();
            assert!(
                data == reference.data,
                "step {step}, {replicas} replicas: other clips"
            );
        }
    }
    let mut config = LoaderConfig::new(pretrain(2), SHAPE, 4, 42);
    config.shard = Some((0, 3));
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let err = Loader::new(entries, backend, config, Arc::new(DataMetrics::new()))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("does not split over 3 replicas"),
        "{err}"
    );
}

#[test]
fn batch_layout_is_videos_times_clips_channels_last() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 2, 3);
    for (rho, rows) in [(1, 2), (3, 3)] {
        let batches = epoch_batches(&entries, pretrain(rho), 2, 0);
        for b in &batches {
            assert_eq!(b.shape, [3 * rows, 4, 16, 16, 3]);
            assert_eq!(b.data.len(), b.shape.iter().product::<usize>());
            assert_eq!(b.rows_per_video, rows);
            for v in 0..3 {
                let idx = b.video_indices[v * rows];
                for j in 0..rows {
                    // Clip j of video v sits at row v·ρ + j, all with that video's index and label.
                    assert_eq!(b.video_indices[v * rows + j], idx);
                    assert_eq!(b.labels[v * rows + j], entries[idx].label);
                }
            }
        }
        // Every video appears once per epoch.
        let mut seen: Vec<usize> = batches
            .iter()
            .flat_map(|b| b.video_indices.iter().step_by(rows).copied())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
    }
}

#[test]
fn rho_one_gives_two_crops_of_the_same_moment() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 1, 1);
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let mut different_pixels = 0;
    for index in 0..8 {
        let s = make_sample(
            backend.as_ref(),
            &entries[0],
            &pretrain(1),
            SHAPE,
            1,
            0,
            index,
        )
        .unwrap();
        assert_eq!(s.rows, 2);
        assert_eq!(s.clips.clips[0], s.clips.clips[1], "same frames");
        let half = s.data.len() / 2;
        different_pixels += (s.data[..half] != s.data[half..]) as usize;
    }
    assert!(
        different_pixels >= 7,
        "the two views should differ through their own S and C draws"
    );
}

#[test]
fn test_views_are_temporal_times_spatial_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 2, 2);
    let mode = SampleMode::Test {
        temporal: 3,
        spatial: 2,
        size: 16,
        normalize: Normalize {
            mean: [0.45; 3],
            std: [0.225; 3],
        },
    };
    let mut config = LoaderConfig::new(mode, SHAPE, 2, 0);
    config.shuffle = false;
    config.drop_last = false;
    let make = |seed: u64| {
        let mut c = config.clone();
        c.seed = seed;
        let loader = Loader::new(
            entries.clone(),
            DecoderKind::OpenH264.backend().unwrap(),
            c,
            Arc::new(DataMetrics::new()),
        )
        .unwrap();
        loader.epoch(0).collect::<Result<Vec<_>, _>>().unwrap()
    };
    let a = make(0);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].shape, [12, 4, 16, 16, 3]);
    assert_eq!(a[0].video_indices, vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert!(make(7) == a, "test views do not depend on the seed");
}

#[test]
fn a_run_over_bad_files_finishes_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = dataset(dir.path(), 2, 3);
    // A truncated file (its index survives, its frames do not), a file that is not a video, a missing path.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/baseline.mp4");
    let bytes = std::fs::read(&fixture).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "these are my holiday notes, not a video\n").unwrap();
    let missing = dir.path().join("gone/missing.mp4");
    for (path, label) in [(&truncated, 0), (&text, 1), (&missing, 0)] {
        entries.push(VideoEntry {
            path: path.clone(),
            label,
        });
    }
    let mut config = LoaderConfig::new(pretrain(2), SHAPE, 4, 5);
    config.threads = 2;
    config.drop_last = false;
    let metrics = Arc::new(DataMetrics::new());
    let loader = Loader::new(
        entries.clone(),
        DecoderKind::OpenH264.backend().unwrap(),
        config,
        metrics.clone(),
    )
    .unwrap();
    let batches = loader.epoch(0).collect::<Result<Vec<_>, _>>().unwrap();
    let rows: usize = batches.iter().map(|b| b.shape[0]).sum();
    assert_eq!(
        rows,
        entries.len() * 2,
        "every sample was made, bad ones replaced"
    );
    assert!(
        batches
            .iter()
            .all(|b| b.video_indices.iter().all(|&v| v < 6)),
        "only good videos in the batches"
    );
    let counts = metrics.snapshot();
    assert_eq!(counts.skipped.len(), 3, "{:?}", counts.skipped);
    assert_eq!(counts.replaced_samples, 3);
    assert!(
        counts.skipped[&truncated].contains("truncated"),
        "{}",
        counts.skipped[&truncated]
    );
    assert!(
        counts.skipped[&text].contains("not a readable mp4 file"),
        "{}",
        counts.skipped[&text]
    );
    assert!(
        counts.skipped[&missing].contains("No such file"),
        "{}",
        counts.skipped[&missing]
    );
    // The next epoch skips them again without stopping.
    assert_eq!(loader.epoch(1).count(), 3);
}

#[test]
fn short_videos_are_looped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 1, 2);
    let mut config = LoaderConfig::new(
        pretrain(2),
        ClipShape {
            frames: 8,
            stride: 4,
            target_fps: None,
            spread: false,
        },
        2,
        0,
    );
    config.threads = 1;
    let metrics = Arc::new(DataMetrics::new());
    let loader = Loader::new(
        entries,
        DecoderKind::OpenH264.backend().unwrap(),
        config,
        metrics.clone(),
    )
    .unwrap();
    assert_eq!(loader.epoch(0).count(), 1);
    // 8 frames 4 apart span 29 frames; the videos have 20.
    assert_eq!(metrics.snapshot().looped_videos.len(), 2);
}

#[test]
fn stride_counts_frames_of_a_30_fps_video_when_asked() {
    // The test videos run at 8 fps. τ = 6 counted in their own frames spans 12 of them over 3 frames; counted at
    // 30 fps (the official TARGET_FPS, as real datasets are sampled) it is 6 × 8/30 = 1.6 of their frames.
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 1, 1);
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let test = SampleMode::Test {
        temporal: 1,
        spatial: 1,
        size: 16,
        normalize: Normalize {
            mean: [0.45; 3],
            std: [0.225; 3],
        },
    };
    let span = |target_fps| {
        let shape = ClipShape {
            frames: 3,
            stride: 6,
            target_fps,
            spread: false,
        };
        let s = make_sample(backend.as_ref(), &entries[0], &test, shape, 0, 0, 0).unwrap();
        let frames = &s.clips.clips[0].frames;
        frames[frames.len() - 1] - frames[0]
    };
    assert_eq!(span(None), 12);
    assert_eq!(span(Some(30)), 3); // round(2 × 1.6)
}

/// A dataset whose evaluation clips spread over the whole video (SSv2): fine-tuning and test samples take one frame
/// per segment of all 20 frames, while pre-training clips stay τ apart.
#[test]
fn spread_evaluation_clips_cover_the_whole_video() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dataset(dir.path(), 1, 1);
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let spread = ClipShape {
        spread: true,
        ..SHAPE
    };
    let test = SampleMode::Test {
        temporal: 1,
        spatial: 1,
        size: 16,
        normalize: augment(16).normalize,
    };
    let sample = make_sample(backend.as_ref(), &entries[0], &test, spread, 0, 0, 0).unwrap();
    assert_eq!(
        sample.clips.clips[0].frames,
        vst_data::sampler::spread_clip(20, 4, None).frames
    );
    let single = SampleMode::Single {
        augment: augment(16),
    };
    for index in 0..8 {
        let sample =
            make_sample(backend.as_ref(), &entries[0], &single, spread, 1, 0, index).unwrap();
        let frames = &sample.clips.clips[0].frames;
        // One frame from each quarter of the video (segment bounds 0, 5, 10, 14, 19).
        for (i, bounds) in [0..=5, 5..=10, 10..=14, 14..=19].iter().enumerate() {
            assert!(bounds.contains(&frames[i]), "{frames:?}");
        }
    }
    let sample = make_sample(backend.as_ref(), &entries[0], &pretrain(2), spread, 0, 0, 0).unwrap();
    for clip in &sample.clips.clips {
        // τ = 2 under ±30 % frame-rate jitter: 1 to 3 frames apart, never a quarter of the video.
        let apart = clip.frames.windows(2).map(|w| w[1] as i64 - w[0] as i64);
        assert!(
            apart.into_iter().all(|d| (1..=3).contains(&d)),
            "{:?}",
            clip.frames
        );
    }
}
