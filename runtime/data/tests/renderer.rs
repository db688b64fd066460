//! A loader with a clip renderer (what the GPU augmentation plugs into): it renders exactly the training clips, with
//! the CPU path's frames and draws; evaluation views stay on the CPU; a failing renderer stops the epoch without
//! blaming (and replacing) the videos.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use vst_data::augment::renderer::{ClipRenderer, SharedRenderer};
use vst_data::augment::{ClipDraw, render_clip};
use vst_data::list::{VideoEntry, read_list};
use vst_data::loader::{ClipBatch, Loader, LoaderConfig};
use vst_data::metrics::DataMetrics;
use vst_data::pipeline::{ClipShape, SampleMode};
use vst_data::synth;
use vst_data::video::{DecoderKind, Frame};
use vst_spec::{ClipSpec, Normalize, Range, SynthSpec, Timespan};

/// The CPU renderer plus one, so that its work is recognisable in the batch.
struct PlusOne {
    calls: AtomicUsize,
    fail: bool,
}

impl ClipRenderer for PlusOne {
    fn name(&self) -> &'static str {
        "test renderer"
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
        if self.fail {
            return Err("the device is gone".into());
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        render_clip(frames, difference, draw, size, normalize, out);
        out.iter_mut().for_each(|v| *v += 1.0);
        Ok(())
    }
}

const SHAPE: ClipShape = ClipShape {
    frames: 4,
    stride: 2,
    target_fps: None,
    spread: false,
};

fn entries(dir: &std::path::Path) -> Vec<VideoEntry> {
    let spec = SynthSpec {
        classes: 2,
        train_per_class: 3,
        val_per_class: 0,
        frames: 20,
        fps: 8.0,
        width: 48,
        height: 32,
        nuisance: 1.0,
        distractors: 1,
        seed: 5,
    };
    let data = synth::generate(&spec, dir, 2).expect("generate");
    read_list(&data.train_list, &data.root).expect("list")
}

fn batches(
    entries: &[VideoEntry],
    mode: SampleMode,
    renderer: Option<Arc<PlusOne>>,
    metrics: Arc<DataMetrics>,
) -> Result<Vec<ClipBatch>, vst_data::error::DataError> {
    let mut config = LoaderConfig::new(mode, SHAPE, 3, 11);
    config.threads = 2;
    config.renderer = renderer.map(|r| SharedRenderer(r as Arc<dyn ClipRenderer>));
    let backend = DecoderKind::OpenH264.backend().expect("openh264");
    let loader = Loader::new(entries.to_vec(), backend, config, metrics).expect("loader");
    loader.epoch(0).collect()
}

fn pretrain() -> SampleMode {
    let mut augment = vst_data::augment::paper_augment(16, Range::new(20.0, 30.0));
    augment.temporal.temporal_difference = Some(0.5);
    SampleMode::Pretrain {
        clips: ClipSpec {
            count: 2,
            span: Timespan::Anywhere,
        },
        augment,
    }
}

fn renderer(fail: bool) -> Arc<PlusOne> {
    Arc::new(PlusOne {
        calls: AtomicUsize::new(0),
        fail,
    })
}

#[test]
fn the_renderer_renders_every_training_clip_with_the_cpu_paths_draws() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = entries(dir.path());
    let on_cpu = batches(&entries, pretrain(), None, Arc::new(DataMetrics::new())).expect("cpu");
    let plus_one = renderer(false);
    let rendered = batches(
        &entries,
        pretrain(),
        Some(plus_one.clone()),
        Arc::new(DataMetrics::new()),
    )
    .expect("renderer");
    assert_eq!(on_cpu.len(), rendered.len());
    let rows: usize = on_cpu.iter().map(|b| b.shape[0]).sum();
    assert_eq!(plus_one.calls.load(Ordering::Relaxed), rows);
    for (cpu, other) in on_cpu.iter().zip(&rendered) {
        assert_eq!(cpu.shape, other.shape);
        assert_eq!(cpu.labels, other.labels);
        assert!(
            cpu.data
                .iter()
                .zip(&other.data)
                .all(|(a, b)| *b == *a + 1.0),
            "the renderer's output is the batch, made from the same frames and draws"
        );
    }
}

#[test]
fn evaluation_views_stay_on_the_cpu() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = entries(dir.path());
    let test = SampleMode::Test {
        temporal: 2,
        spatial: 1,
        size: 16,
        normalize: Normalize {
            mean: [0.45; 3],
            std: [0.225; 3],
        },
    };
    let plus_one = renderer(false);
    let with = batches(
        &entries,
        test.clone(),
        Some(plus_one.clone()),
        Arc::new(DataMetrics::new()),
    )
    .expect("renderer");
    let without = batches(&entries, test, None, Arc::new(DataMetrics::new())).expect("cpu");
    assert!(with == without);
    assert_eq!(plus_one.calls.load(Ordering::Relaxed), 0);
}

#[test]
fn a_failing_renderer_stops_the_epoch_and_blames_no_video() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = entries(dir.path());
    let metrics = Arc::new(DataMetrics::new());
    let Err(e) = batches(&entries, pretrain(), Some(renderer(true)), metrics.clone()) else {
        panic!("the epoch went on without its renderer")
    };
    assert!(
        e.to_string()
            .contains("rendering a clip on the test renderer: the device is gone"),
        "{e}"
    );
    let counts = metrics.snapshot();
    assert!(counts.skipped.is_empty(), "{:?}", counts.skipped);
    assert_eq!(counts.replaced_samples, 0);
}
