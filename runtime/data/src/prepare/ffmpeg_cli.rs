//! The `ffmpeg` command-line program as the transcoder of `vst data prepare`. It is spawned with an argument vector
//! (never through a shell), one single-threaded process per video, so that preparation scales over cores by running
//! several at once. The CLI is used rather than OpenH264's encoder because inputs come in every codec Kinetics
//! copies hold (H.264, MPEG-4 part 2, VP9, ...), which only FFmpeg decodes, and libx264 packs dense keyframes far
//! smaller than OpenH264's baseline encoder.

use super::settings::{OutputFormat, PrepareSettings};
use crate::error::{DataError, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A located, checked `ffmpeg` program.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    program: PathBuf,
    /// The first line of `ffmpeg -version`, e.g. `ffmpeg version 5.1.6-0+deb12u1 Copyright ...` cut after the
    /// version.
    pub version: String,
}

fn missing_program(program: &Path) -> DataError {
    DataError::Config(format!(
        "the `{}` program was not found: `vst data prepare` transcodes with the ffmpeg command line — install \
         Debian's `ffmpeg` package (`apt-get install ffmpeg`) or pass its path with --ffmpeg",
        program.display()
    ))
}

impl Ffmpeg {
    /// Finds `program` (a name looked up on PATH, or a path), reads its version, and checks that it has the
    /// encoder `format` needs.
    pub fn locate(program: &Path, format: OutputFormat) -> Result<Ffmpeg> {
        let run = |args: &[&str]| -> Result<String> {
            let output = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => missing_program(program),
                    _ => DataError::io(program, e),
                })?;
            if !output.status.success() {
                return Err(DataError::Config(format!(
                    "`{} {}` failed ({})",
                    program.display(),
                    args.join(" "),
                    output.status
                )));
            }
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        };
        let version_text = run(&["-hide_banner", "-version"])?;
        let version = version_text
            .lines()
            .next()
            .and_then(|line| line.split(" Copyright").next())
            .unwrap_or("ffmpeg (unknown version)")
            .trim()
            .to_string();
        let encoder = format.encoder();
        let encoders = run(&["-hide_banner", "-encoders"])?;
        let has_encoder = encoders
            .lines()
            .any(|line| line.split_whitespace().nth(1) == Some(encoder));
        if !has_encoder {
            return Err(DataError::Config(format!(
                "{} has no `{encoder}` encoder, which the {} output needs (Debian's `ffmpeg` package has it)",
                program.display(),
                format.name()
            )));
        }
        Ok(Ffmpeg {
            program: program.to_path_buf(),
            version,
        })
    }

    /// Transcodes `input` into `output` (an mp4 file, or a folder that must exist for JPEG frames). Returns
    /// ffmpeg's complaint (the last lines it printed) on failure.
    pub fn transcode(
        &self,
        input: &Path,
        output: &Path,
        settings: &PrepareSettings,
    ) -> std::result::Result<(), String> {
        let result = Command::new(&self.program)
            .args(arguments(input, output, settings))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        let output = result.map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(3)
            .collect();
        let said = tail.into_iter().rev().collect::<Vec<_>>().join(" / ");
        Err(if said.is_empty() {
            format!("ffmpeg failed ({})", output.status)
        } else {
            format!("ffmpeg failed ({}): {said}", output.status)
        })
    }
}

/// The video filter: constant frame rate first (so that the resize only touches kept frames), then the short side.
fn filter(settings: &PrepareSettings) -> String {
    let s = settings.short_side;
    // `-2`: the long side keeps the aspect ratio, rounded to an even number (4:2:0 needs even sizes).
    let scale =
        format!("scale=w='if(lte(iw,ih),{s},-2)':h='if(lte(iw,ih),-2,{s})':flags=bicubic,setsar=1");
    let pixel_format = match settings.format {
        OutputFormat::Mp4 => "yuv420p",
        // Full-range 4:2:0, what JPEG files hold.
        OutputFormat::Jpeg => "yuvj420p",
    };
    format!("fps={},{scale},format={pixel_format}", settings.fps)
}

/// ffmpeg's argument vector for one video.
pub fn arguments(input: &Path, output: &Path, settings: &PrepareSettings) -> Vec<String> {
    let mut args: Vec<String> = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        // One thread per process: preparation runs one process per core.
        "-threads",
        "1",
        "-filter_threads",
        "1",
        "-i",
    ]
    .map(String::from)
    .to_vec();
    args.push(input.to_string_lossy().into_owned());
    args.extend(["-map", "0:v:0", "-an", "-sn", "-dn", "-threads", "1", "-vf"].map(String::from));
    args.push(filter(settings));
    match settings.format {
        OutputFormat::Mp4 => {
            let keyint = settings.keyframe_interval.to_string();
            args.extend(
                [
                    "-c:v",
                    "libx264",
                    "-preset",
                    settings.preset.as_str(),
                    "-crf",
                    &settings.crf.to_string(),
                    // A keyframe exactly every `keyint` frames, never more rarely and not at scene cuts: a clip
                    // never decodes more than keyint - 1 frames before its first one.
                    "-g",
                    &keyint,
                    "-keyint_min",
                    &keyint,
                    "-sc_threshold",
                    "0",
                    "-movflags",
                    "+faststart",
                    "-f",
                    "mp4",
                ]
                .map(String::from),
            );
            args.push(output.to_string_lossy().into_owned());
        }
        OutputFormat::Jpeg => {
            args.extend(
                [
                    "-c:v",
                    "mjpeg",
                    "-q:v",
                    &settings.jpeg_quality.to_string(),
                    "-start_number",
                    "1",
                    "-f",
                    "image2",
                ]
                .map(String::from),
            );
            args.push(output.join("%06d.jpg").to_string_lossy().into_owned());
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_shell_characters_stay_single_arguments() {
        let settings = PrepareSettings::default();
        let input = Path::new("/data/it's a $(video) ; rm -rf.mp4");
        let args = arguments(input, Path::new("/out/x.mp4"), &settings);
        assert!(
            args.iter()
                .any(|a| a == "/data/it's a $(video) ; rm -rf.mp4")
        );
        assert_eq!(args.last().map(String::as_str), Some("/out/x.mp4"));
        let vf = args.iter().position(|a| a == "-vf").unwrap();
        assert!(
            args[vf + 1].starts_with("fps=30,scale="),
            "{}",
            args[vf + 1]
        );
        assert!(args.iter().any(|a| a == "libx264"));
    }

    #[test]
    fn a_missing_program_names_the_package() {
        let err = Ffmpeg::locate(
            Path::new("/nonexistent/ffmpeg-for-vst-test"),
            OutputFormat::Mp4,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("apt-get install ffmpeg"), "{err}");
        assert!(err.contains("/nonexistent/ffmpeg-for-vst-test"), "{err}");
    }
}
