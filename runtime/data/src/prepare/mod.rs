//! `vst data prepare`: turn a Kinetics-style copy (PySlowFast `path label` lists under a root) into one that trains
//! fast — every listed video re-encoded to a short side and a constant frame rate, as H.264 mp4 with dense keyframes
//! or as JPEG frame folders — with lists of the same names for the copy and a manifest of how it was made.
//!
//! Videos are transcoded in parallel (one single-threaded ffmpeg per worker). Each output is written under a
//! temporary name and renamed into place once it checks out, so an existing output is a finished one: a rerun
//! skips those and redoes the rest. A video that cannot be transcoded is recorded as a failure and left out of the
//! copy's lists; it never stops the preparation.

pub mod ffmpeg_cli;
pub mod manifest;
pub mod settings;

use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use crate::list::{format_list, read_list};
use crate::video::jpeg_folder;
use crate::video::mp4_demux::Mp4Video;
use ffmpeg_cli::Ffmpeg;
use manifest::{FAILURES_FILE, Failure, MANIFEST_FILE, Manifest, write_failures};
use settings::{OutputFormat, PrepareSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What to prepare, and how.
#[derive(Debug, Clone)]
pub struct PrepareRequest {
    /// The folder the source lists' paths are relative to.
    pub source_root: PathBuf,
    /// The source lists (relative paths are under `source_root`).
    pub lists: Vec<PathBuf>,
    /// The prepared copy's folder (created).
    pub out: PathBuf,
    pub settings: PrepareSettings,
    /// Videos transcoded at once.
    pub threads: usize,
    /// The ffmpeg program (a name looked up on PATH, or a path).
    pub ffmpeg: PathBuf,
}

/// Progress reports, for a progress bar.
#[derive(Debug)]
pub enum Progress<'a> {
    /// `total` distinct videos, of which `already_done` were prepared by an earlier run.
    Planned { total: usize, already_done: usize },
    /// One video finished now; `failure` says why it could not be prepared.
    Finished {
        source: &'a Path,
        failure: Option<&'a str>,
    },
}

#[derive(Debug)]
pub struct PrepareSummary {
    pub listed: usize,
    pub already_done: usize,
    pub prepared_now: usize,
    pub failures: Vec<Failure>,
    /// The copy's lists.
    pub lists: Vec<PathBuf>,
    pub manifest: PathBuf,
    pub failures_file: PathBuf,
    pub ffmpeg_version: String,
}

/// One output of the copy and the listed video it is made from.
struct Job {
    /// As the list names it (for failure records).
    listed: String,
    source: PathBuf,
    /// Relative to the copy's root.
    output: PathBuf,
}

/// Where a listed video goes in the copy: the same relative path, as `.mp4` or as a folder without extension.
fn output_path(relative: &Path, format: OutputFormat) -> PathBuf {
    match format {
        OutputFormat::Mp4 => relative.with_extension("mp4"),
        OutputFormat::Jpeg => relative.with_extension(""),
    }
}

/// The temporary name an output is written under before it is renamed into place (hidden, next to it, so the
/// rename stays on one file system; deterministic, so a rerun overwrites a leftover one).
fn partial_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.partial"))
}

/// Where a source list's counterpart goes in the copy.
fn output_list_path(list: &Path, source_root: &Path) -> PathBuf {
    let inside = |p: &Path| {
        p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    let relative = if list.is_relative() {
        Some(list)
    } else {
        list.strip_prefix(source_root).ok()
    };
    match relative {
        Some(relative) if inside(relative) => relative.to_path_buf(),
        // Outside the root: keep the name only, at the copy's root.
        _ => PathBuf::from(list.file_name().unwrap_or(list.as_os_str())),
    }
}

pub fn prepare(
    request: &PrepareRequest,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PrepareSummary> {
    let settings = &request.settings;
    settings.validate()?;
    let root = &request.source_root;
    if !root.is_dir() {
        return Err(DataError::Config(format!(
            "the source root {} is not a folder",
            root.display()
        )));
    }
    if request.lists.is_empty() {
        return Err(DataError::Config("no source lists given".into()));
    }
    std::fs::create_dir_all(&request.out).map_err(|e| DataError::io(&request.out, e))?;
    let same_folder = match (root.canonicalize(), request.out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same_folder {
        return Err(DataError::Config(format!(
            "the output folder {} is the source root: prepare into a new folder",
            request.out.display()
        )));
    }
    let ffmpeg = Ffmpeg::locate(&request.ffmpeg, settings.format)?;
    if let Some(previous) = Manifest::read(&request.out)? {
        let differences = settings.differences(&previous.settings);
        if !differences.is_empty() {
            return Err(DataError::Config(format!(
                "{} holds a copy prepared with other settings ({}): prepare into a new folder, or delete it",
                request.out.display(),
                differences.join("; ")
            )));
        }
    }

    // Read the lists and plan one job per distinct output.
    let list_paths: Vec<PathBuf> = request
        .lists
        .iter()
        .map(|l| {
            if l.is_absolute() {
                l.clone()
            } else {
                root.join(l)
            }
        })
        .collect();
    let mut failures: Vec<Failure> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let mut by_output: BTreeMap<PathBuf, usize> = BTreeMap::new();
    // Per list: (listed path, label, output relative path if the video has a job).
    let mut lists: Vec<Vec<(Option<PathBuf>, u32)>> = Vec::new();
    for list in &list_paths {
        let entries = read_list(list, root)?;
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            let listed = entry.path.display().to_string();
            let Ok(relative) = entry.path.strip_prefix(root) else {
                failures.push(Failure {
                    path: listed,
                    reason: format!(
                        "listed outside the source root {}: cannot be placed in the copy",
                        root.display()
                    ),
                });
                rows.push((None, entry.label));
                continue;
            };
            let output = output_path(relative, settings.format);
            match by_output.get(&output) {
                Some(&k) if jobs[k].source != entry.path => {
                    failures.push(Failure {
                        path: listed,
                        reason: format!(
                            "would be written to {} like {}, listed earlier",
                            output.display(),
                            jobs[k].listed
                        ),
                    });
                    rows.push((None, entry.label));
                    continue;
                }
                Some(_) => {}
                None => {
                    by_output.insert(output.clone(), jobs.len());
                    jobs.push(Job {
                        listed,
                        source: entry.path.clone(),
                        output: output.clone(),
                    });
                }
            }
            rows.push((Some(output), entry.label));
        }
        lists.push(rows);
    }

    let mut manifest = Manifest {
        tool: format!("vst data prepare {}", env!("CARGO_PKG_VERSION")),
        ffmpeg: ffmpeg.version.clone(),
        settings: settings.clone(),
        source_root: root.display().to_string(),
        lists: request
            .lists
            .iter()
            .map(|l| l.display().to_string())
            .collect(),
        complete: false,
        listed: jobs.len(),
        prepared: 0,
        failures: Vec::new(),
    };
    manifest.write(&request.out)?;

    let exists = |job: &Job| {
        let path = request.out.join(&job.output);
        match settings.format {
            OutputFormat::Mp4 => path.is_file(),
            OutputFormat::Jpeg => path.is_dir(),
        }
    };
    let pending: Vec<&Job> = jobs.iter().filter(|j| !exists(j)).collect();
    let already_done = jobs.len() - pending.len();
    progress(Progress::Planned {
        total: jobs.len(),
        already_done,
    });

    let next = AtomicUsize::new(0);
    let failed_now: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let workers = request.threads.max(1).min(pending.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = pending.get(k) else { break };
                    let output = request.out.join(&job.output);
                    let result = prepare_one(&ffmpeg, &job.source, &output, settings);
                    progress(Progress::Finished {
                        source: &job.source,
                        failure: result.as_ref().err().map(String::as_str),
                    });
                    if let Err(reason) = result {
                        let mut failed = failed_now.lock().unwrap_or_else(|e| e.into_inner());
                        failed.push(Failure {
                            path: job.listed.clone(),
                            reason,
                        });
                    }
                }
            });
        }
    });
    let mut failed_now = failed_now.into_inner().unwrap_or_else(|e| e.into_inner());
    failed_now.sort_by(|a, b| a.path.cmp(&b.path));
    let prepared_now = pending.len() - failed_now.len();
    failures.extend(failed_now);

    // The copy's lists name the videos it holds.
    let mut written_lists = Vec::new();
    for (list, rows) in request.lists.iter().zip(&lists) {
        let kept: Vec<(String, u32)> = rows
            .iter()
            .filter_map(|(output, label)| {
                let output = output.as_ref()?;
                let job = &jobs[by_output[output]];
                exists(job).then(|| (output.to_string_lossy().into_owned(), *label))
            })
            .collect();
        let path = request.out.join(output_list_path(list, root));
        write_atomic(&path, format_list(&kept).as_bytes())?;
        written_lists.push(path);
    }

    write_failures(&request.out, &failures)?;
    manifest.prepared = jobs.iter().filter(|j| exists(j)).count();
    manifest.failures = failures.clone();
    manifest.complete = true;
    manifest.write(&request.out)?;
    Ok(PrepareSummary {
        listed: jobs.len(),
        already_done,
        prepared_now,
        failures,
        lists: written_lists,
        manifest: request.out.join(MANIFEST_FILE),
        failures_file: request.out.join(FAILURES_FILE),
        ffmpeg_version: ffmpeg.version,
    })
}

/// Transcodes one video to its temporary name, checks the result, and renames it into place.
fn prepare_one(
    ffmpeg: &Ffmpeg,
    source: &Path,
    output: &Path,
    settings: &PrepareSettings,
) -> std::result::Result<(), String> {
    if !source.is_file() {
        return Err("the listed file does not exist".into());
    }
    let dir = output.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let partial = partial_path(output);
    let result = (|| {
        match settings.format {
            OutputFormat::Mp4 => {
                ffmpeg.transcode(source, &partial, settings)?;
                check_mp4(&partial, settings)?;
                // Durable before it becomes visible as finished.
                std::fs::File::open(&partial)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| format!("cannot sync {}: {e}", partial.display()))?;
            }
            OutputFormat::Jpeg => {
                remove_any(&partial)?;
                std::fs::create_dir(&partial)
                    .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
                ffmpeg.transcode(source, &partial, settings)?;
                check_frames(&partial, settings)?;
            }
        }
        std::fs::rename(&partial, output)
            .map_err(|e| format!("cannot move the result to {}: {e}", output.display()))
    })();
    if result.is_err() {
        let _ = remove_any(&partial);
    }
    result
}

fn remove_any(path: &Path) -> std::result::Result<(), String> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// The size a frame must have: the short side as asked.
fn check_size(width: usize, height: usize, settings: &PrepareSettings) -> Result<(), String> {
    if width.min(height) != settings.short_side as usize {
        return Err(format!(
            "ffmpeg wrote {width}x{height} frames, not short side {}",
            settings.short_side
        ));
    }
    Ok(())
}

/// The mp4 opens with our demuxer, has frames at the asked size and rate.
fn check_mp4(path: &Path, settings: &PrepareSettings) -> Result<(), String> {
    let video = Mp4Video::open(path).map_err(|e| format!("the transcoded file: {e}"))?;
    if video.num_frames() == 0 {
        return Err("no frames could be decoded from it".into());
    }
    check_size(video.width, video.height, settings)?;
    if (video.fps - settings.fps as f64).abs() > 0.01 {
        return Err(format!(
            "ffmpeg wrote {:.3} fps, not {}",
            video.fps, settings.fps
        ));
    }
    Ok(())
}

/// The folder holds frames, the first at the asked size.
fn check_frames(dir: &Path, settings: &PrepareSettings) -> Result<(), String> {
    let first = dir.join("000001.jpg");
    if !first.is_file() {
        return Err("no frames could be decoded from it".into());
    }
    let frame = jpeg_folder::decode(&first).map_err(|e| e.to_string())?;
    check_size(frame.width, frame.height, settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_keep_the_relative_path() {
        let rel = Path::new("abseiling/x_000010_000020.avi");
        assert_eq!(
            output_path(rel, OutputFormat::Mp4),
            Path::new("abseiling/x_000010_000020.mp4")
        );
        assert_eq!(
            output_path(rel, OutputFormat::Jpeg),
            Path::new("abseiling/x_000010_000020")
        );
        assert_eq!(
            partial_path(Path::new("/o/a/b.mp4")),
            Path::new("/o/a/.b.mp4.partial")
        );
        assert_eq!(
            output_list_path(Path::new("lists/train.csv"), Path::new("/src")),
            Path::new("lists/train.csv")
        );
        assert_eq!(
            output_list_path(Path::new("/src/lists/val.csv"), Path::new("/src")),
            Path::new("lists/val.csv")
        );
        assert_eq!(
            output_list_path(Path::new("/elsewhere/test.csv"), Path::new("/src")),
            Path::new("test.csv")
        );
    }
}
