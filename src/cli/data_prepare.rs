//! `vst data prepare`: the command line of [`vst_data::prepare`] — its options, a progress bar, and the summary
//! that says how to point a recipe at the copy.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use vst_data::prepare::settings::{OutputFormat, PrepareSettings};
use vst_data::prepare::{PrepareRequest, Progress, prepare};
use vst_runtime::jobs::show_on_bar;

#[derive(Args)]
pub struct PrepareArgs {
    /// The source copy's root (the folder its lists' paths are relative to).
    #[arg(long)]
    root: PathBuf,
    /// The prepared copy's folder (created; rerunning into it resumes).
    #[arg(long)]
    out: PathBuf,
    /// A source list (`path label` lines), relative to --root or absolute; repeat for several.
    #[arg(long = "list", default_values = ["train.csv", "val.csv"])]
    lists: Vec<PathBuf>,
    /// `mp4` (H.264, for `kinetics(...)` datasets) or `jpeg` (frame folders, for `frames(...)` datasets).
    #[arg(long, default_value = "mp4")]
    format: String,
    /// Shorter side of the output frames in pixels (even).
    #[arg(long, default_value_t = PrepareSettings::default().short_side)]
    short_side: u32,
    /// Constant output frame rate.
    #[arg(long, default_value_t = PrepareSettings::default().fps)]
    fps: u32,
    /// mp4: frames from one keyframe to the next.
    #[arg(long, default_value_t = PrepareSettings::default().keyframe_interval)]
    keyframe_interval: u32,
    /// mp4: x264 constant rate factor (lower: better and larger).
    #[arg(long, default_value_t = PrepareSettings::default().crf)]
    crf: u32,
    /// mp4: x264 preset (ultrafast ... veryslow).
    #[arg(long, default_value_t = PrepareSettings::default().preset)]
    preset: String,
    /// jpeg: ffmpeg's -q:v, 2 (best) to 31.
    #[arg(long, default_value_t = PrepareSettings::default().jpeg_quality)]
    jpeg_quality: u32,
    /// Videos transcoded at once (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// The ffmpeg program.
    #[arg(long, default_value = "ffmpeg")]
    ffmpeg: PathBuf,
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>10} [{bar:30}] {pos}/{len} videos  {per_sec}  ETA {eta}  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

pub fn run(args: PrepareArgs) -> Result<()> {
    let format = OutputFormat::parse(&args.format)?;
    let request = PrepareRequest {
        source_root: args.root,
        lists: args.lists,
        out: args.out,
        settings: PrepareSettings {
            format,
            short_side: args.short_side,
            fps: args.fps,
            keyframe_interval: args.keyframe_interval,
            crf: args.crf,
            preset: args.preset,
            jpeg_quality: args.jpeg_quality,
        },
        threads: super::data::threads(args.threads),
        ffmpeg: args.ffmpeg,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(bar_style());
    bar.set_prefix("preparing");
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let summary = prepare(&request, &|event| {
        if let Progress::Finished {
            failure: Some(_), ..
        } = event
        {
            let n = failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(format!("{n} failed"));
        }
        show_on_bar(&bar, &event);
    })
    .with_context(|| format!("preparing {}", request.out.display()))?;
    bar.finish_and_clear();

    println!(
        "{}: {} videos listed, {} prepared now, {} already prepared, {} failed ({:.1} s, {})",
        request.out.display(),
        summary.listed,
        summary.prepared_now,
        summary.already_done,
        summary.failures.len(),
        started.elapsed().as_secs_f64(),
        summary.ffmpeg_version
    );
    if let Some(first) = summary.failures.first() {
        println!(
            "failures are listed in {} (first: {}: {}); they are left out of the copy's lists, and a rerun retries them",
            summary.failures_file.display(),
            first.path,
            first.reason
        );
    }
    let lists: Vec<String> = summary
        .lists
        .iter()
        .map(|l| l.display().to_string())
        .collect();
    println!(
        "lists: {}; manifest: {}",
        lists.join(", "),
        summary.manifest.display()
    );
    let out = request.out.display().to_string().replace('"', "\\\"");
    match format {
        OutputFormat::Mp4 => println!("use it as: kinetics(root: \"{out}\", ...)"),
        OutputFormat::Jpeg => println!(
            "use it as: frames(root: \"{out}\", fps: {}, ...)",
            request.settings.fps
        ),
    }
    Ok(())
}
