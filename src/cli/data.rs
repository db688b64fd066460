//! `vst data ...`: generate the synthetic dataset; prepare a real one for fast training (`prepare`, in
//! [`super::data_prepare`]); preview the clips a data configuration produces.
//!
//! The preview takes a recipe (`--recipe`: the data, ρ, clip shape and augmentation of one of its pre-training
//! jobs, read where `vst run` keeps them), or the synthetic generator's knobs or a dataset list (the rendering is
//! `vst_data::preview::render_preview`, which takes the resolved specs).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use vst_data::list::read_list;
use vst_data::pipeline::{ClipShape, TARGET_FPS};
use vst_data::preview::render_preview;
use vst_data::synth;
use vst_data::video::DecoderKind;
use vst_data::video::jpeg_folder::JpegFolderBackend;
use vst_spec::{AugmentSpec, ClipSpec, ColorAug, Range, SpatialAug, SynthSpec, Timespan};

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write the synthetic dataset (H.264 mp4 videos, train.csv and val.csv) to a directory.
    Synth {
        /// Output directory (created; an existing complete dataset with the same settings is kept).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        synth: SynthArgs,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Re-encode a Kinetics-style copy (`path label` lists under a root) to a short side and constant frame rate,
    /// as H.264 mp4 with dense keyframes or JPEG frame folders (resumable; see docs/data.md).
    Prepare(Box<super::data_prepare::PrepareArgs>),
    /// Render a PNG of a few videos' clips after augmentation (ρ rows per video, one column per frame).
    Preview(Box<PreviewArgs>),
}

#[derive(Args, Clone)]
struct SynthArgs {
    #[arg(long, default_value_t = synth::default_spec().classes)]
    classes: u32,
    #[arg(long, default_value_t = synth::default_spec().train_per_class)]
    train_per_class: u32,
    #[arg(long, default_value_t = synth::default_spec().val_per_class)]
    val_per_class: u32,
    /// Frames per video.
    #[arg(long, default_value_t = synth::default_spec().frames)]
    frames: u32,
    #[arg(long, default_value_t = synth::default_spec().fps)]
    fps: f64,
    #[arg(long, default_value_t = synth::default_spec().width)]
    width: u32,
    #[arg(long, default_value_t = synth::default_spec().height)]
    height: u32,
    /// How much the nuisance factors change over a video, in [0, 1].
    #[arg(long, default_value_t = synth::default_spec().nuisance)]
    nuisance: f64,
    /// Distractor objects per video.
    #[arg(long, default_value_t = synth::default_spec().distractors)]
    distractors: u32,
    #[arg(long, default_value_t = synth::default_spec().seed)]
    seed: u64,
}

impl SynthArgs {
    fn spec(&self) -> SynthSpec {
        SynthSpec {
            classes: self.classes,
            train_per_class: self.train_per_class,
            val_per_class: self.val_per_class,
            frames: self.frames,
            fps: self.fps,
            width: self.width,
            height: self.height,
            nuisance: self.nuisance,
            distractors: self.distractors,
            seed: self.seed,
        }
    }
}

#[derive(Args)]
struct PreviewArgs {
    /// The PNG to write.
    #[arg(long, default_value = "preview.png")]
    out: PathBuf,
    /// Take the dataset, ρ, clip shape and T/S/C augmentation from this recipe's pre-training (the other data
    /// options are then ignored)
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// With --recipe: the pre-training job to show (its name as `vst plan` prints it; default: the first)
    #[arg(long, requires = "recipe")]
    job: Option<String>,
    /// A dataset list (`path label` lines); without it the synthetic dataset is used.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Root the list's paths are relative to (default: the list's directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The list names folders of JPEG frames extracted at this frame rate.
    #[arg(long)]
    frames_fps: Option<f64>,
    /// Without --recipe: where the synthetic dataset is (generated there if missing).
    #[arg(long, default_value = "data/synthetic", conflicts_with = "recipe")]
    synthetic_dir: PathBuf,
    /// With --recipe: the run directory of `vst run --runs` — a synthetic dataset is read from (or, before any
    /// run, generated into) the folder its prepare job uses there, so `vst run` reuses it.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    #[command(flatten)]
    synth: SynthArgs,
    /// ρ: clips per video.
    #[arg(long, default_value_t = 2)]
    clips: u32,
    /// Maximum time between clip starts in seconds (default: anywhere in the video).
    #[arg(long)]
    within: Option<f64>,
    /// Frames per clip (T).
    #[arg(long, default_value_t = 8)]
    frames_per_clip: u32,
    /// Temporal stride (τ), in source frames.
    #[arg(long, default_value_t = 2)]
    stride: u32,
    /// Crop side in pixels.
    #[arg(long, default_value_t = 96)]
    size: u32,
    /// `paper` (T, S and C of the paper, scale jitter proportional to the crop size) or `none` (centre crops).
    #[arg(long, default_value = "paper")]
    augment: String,
    /// Videos in the picture.
    #[arg(long, default_value_t = 4)]
    videos: usize,
    /// Seed of the clip and augmentation draws (and of which videos are shown).
    #[arg(long, default_value_t = 0)]
    preview_seed: u64,
    /// `openh264`, `ffmpeg` or `nvdec` (default: ffmpeg when compiled in).
    #[arg(long)]
    decoder: Option<String>,
}

/// The paper's augmentation with the short-side jitter [256, 320] scaled to the crop size (224 in the paper).
pub fn paper_augment(size: u32) -> AugmentSpec {
    let scale = size as f64 / 224.0;
    vst_data::augment::paper_augment(
        size,
        Range::new((256.0 * scale).round(), (320.0 * scale).round()),
    )
}

/// The paper's augmentation (same random start, same normalisation) without its random spatial and colour parts:
/// a centre crop of the short side scaled to `size`.
fn no_augment(size: u32) -> AugmentSpec {
    AugmentSpec {
        spatial: SpatialAug {
            size,
            short_side: Some(Range::point(size as f64)),
            resized_crop: None,
            flip: None,
            center: true,
        },
        color: ColorAug {
            jitter: None,
            grayscale: None,
            blur: None,
        },
        ..paper_augment(size)
    }
}

pub(super) fn threads(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub fn run(args: DataArgs) -> Result<()> {
    // Skipped videos are reported through `tracing` warnings.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
    match args.command {
        DataCommand::Synth {
            out,
            synth: s,
            threads: t,
        } => {
            let spec = s.spec();
            let started = std::time::Instant::now();
            let done = synth::generate(&spec, &out, threads(t))?;
            let verb = if done.generated {
                "wrote"
            } else {
                "found complete"
            };
            println!(
                "{verb} {} train + {} val videos ({} classes, {} frames of {}x{} at {} fps) in {} ({:.1} s)",
                spec.classes * spec.train_per_class,
                spec.classes * spec.val_per_class,
                spec.classes,
                spec.frames,
                spec.width,
                spec.height,
                spec.fps,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            println!(
                "lists: {} and {}",
                done.train_list.display(),
                done.val_list.display()
            );
            Ok(())
        }
        DataCommand::Prepare(p) => super::data_prepare::run(*p),
        DataCommand::Preview(p) => preview(*p),
    }
}

fn preview(p: PreviewArgs) -> Result<()> {
    let decoder = match &p.decoder {
        Some(name) => DecoderKind::parse(name)?,
        None => DecoderKind::best_available(),
    };
    if let Some(recipe) = &p.recipe {
        return preview_recipe(&p, recipe, decoder);
    }
    let entries = match &p.list {
        Some(list) => {
            let root = p
                .root
                .clone()
                .unwrap_or_else(|| list.parent().map(PathBuf::from).unwrap_or_default());
            read_list(list, &root)?
        }
        None => {
            let spec = p.synth.spec();
            let done =
                synth::generate(&spec, &p.synthetic_dir, threads(None)).with_context(|| {
                    format!(
                        "preparing the synthetic dataset in {}",
                        p.synthetic_dir.display()
                    )
                })?;
            read_list(&done.train_list, &done.root)?
        }
    };
    if entries.is_empty() {
        bail!("the list has no videos");
    }
    let backend = match p.frames_fps {
        Some(fps) => Box::new(JpegFolderBackend { fps }),
        None => decoder.backend()?,
    };
    let augment = match p.augment.as_str() {
        "paper" => paper_augment(p.size),
        "none" => no_augment(p.size),
        other => bail!("unknown augmentation `{other}` (expected `paper` or `none`)"),
    };
    let clips = ClipSpec {
        count: p.clips,
        span: p
            .within
            .map_or(Timespan::Anywhere, |seconds| Timespan::Within { seconds }),
    };
    let image = render_preview(
        &entries,
        backend.as_ref(),
        &clips,
        &augment,
        // Listed real videos: sampled at the official 30 fps, as a recipe on them would be.
        ClipShape {
            frames: p.frames_per_clip.max(1) as usize,
            stride: p.stride.max(1) as usize,
            target_fps: Some(TARGET_FPS),
            spread: false,
        },
        p.videos,
        p.preview_seed,
    )?;
    image.write_png(&p.out)?;
    println!(
        "wrote {} ({}x{}): per video, a row of frames across the whole video, then {} augmented clip rows",
        p.out.display(),
        image.width,
        image.height,
        vst_data::sampler::clips_per_video(p.clips)
    );
    Ok(())
}

/// `vst data preview --recipe FILE [--job NAME]`: what a recipe's pre-training feeds the encoder.
fn preview_recipe(p: &PreviewArgs, recipe: &std::path::Path, decoder: DecoderKind) -> Result<()> {
    let compilation = vst_compiler::compile(recipe, &vst_compiler::Options::system())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if compilation.has_errors() {
        eprint!("{}", compilation.render_diagnostics(super::color()));
        bail!("`{}` has errors", recipe.display());
    }
    let plan = compilation
        .plan
        .with_context(|| format!("`{}` has no `pretrain` block", recipe.display()))?;
    let job = plan
        .jobs
        .iter()
        .filter_map(|j| match &j.kind {
            vst_spec::JobKind::Pretrain(spec) => Some((j, spec)),
            _ => None,
        })
        .find(|(j, _)| p.job.as_ref().is_none_or(|name| &j.name == name))
        .with_context(|| match &p.job {
            Some(name) => format!("no pre-training job named `{name}` (see `vst plan`)"),
            None => "the recipe has no pre-training job".to_string(),
        })?;
    let (job, spec) = job;
    // The data `vst run` trains this job on, in the place it keeps it: a real dataset's lists (checked as `vst run`
    // checks them), or the synthetic videos in `<runs>/<prepare job id>/synthetic` — read if a run (or an earlier
    // preview) made them, generated there otherwise, so that the run after this preview does not make them again.
    let store = vst_runtime::executor::RunStore::new(&p.runs);
    let options = vst_runtime::jobs::RunnerOptions {
        decoder,
        ..Default::default()
    };
    let synthetic = vst_runtime::jobs::pretrain_synthetic_dir(&plan, job, &store)?;
    if let Some(dir) = synthetic.as_ref().filter(|d| !d.exists()) {
        eprintln!(
            "generating the synthetic dataset `{}` into {} (where `vst run {}` keeps it and will reuse it)",
            spec.dataset.name,
            dir.display(),
            recipe.display()
        );
    }
    let dataset = vst_runtime::jobs::open_pretrain_data(&plan, job, &store, &options)?;
    let image = render_preview(
        &dataset.train,
        dataset.backend()?.as_ref(),
        &spec.clips,
        &spec.augment,
        ClipShape::of(&spec.backbone, &spec.dataset.source),
        p.videos,
        p.preview_seed,
    )?;
    image.write_png(&p.out)?;
    println!(
        "wrote {} ({}x{}) for {}: per video, a row of frames across the whole video, then {} augmented clip rows",
        p.out.display(),
        image.width,
        image.height,
        job.name,
        vst_data::sampler::clips_per_video(spec.clips.count)
    );
    Ok(())
}
