//! `vst data prepare` end to end on videos the ffmpeg command line makes here: several sizes, frame rates and
//! codecs (H.264 mp4, MPEG-4 part 2 in mkv, VP9 in webm), a corrupt file and a listed file that does not exist.
//! The copies must decode through our own readers at the asked short side and frame rate, the bad videos must be
//! reported without stopping anything, and an interrupted preparation must redo only what is missing.
//!
//! Needs the `ffmpeg` program (Debian's `ffmpeg` package; .ci/run installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;
use vst_data::list::read_list;
use vst_data::prepare::manifest::{FAILURES_FILE, Manifest};
use vst_data::prepare::settings::{OutputFormat, PrepareSettings};
use vst_data::prepare::{PrepareRequest, PrepareSummary, prepare};
use vst_data::video::VideoReader;
use vst_data::video::jpeg_folder::JpegFolderReader;
use vst_data::video::mp4_demux::Mp4Video;
use vst_data::video::openh264_reader::OpenH264Reader;

const SHORT_SIDE: u32 = 128;
const FPS: u32 = 30;

/// A source video: file, lavfi size, rate, seconds, encoder arguments.
struct Source {
    file: &'static str,
    width: u32,
    height: u32,
    fps: u32,
    seconds: f64,
    codec: &'static [&'static str],
}

const SOURCES: [Source; 3] = [
    Source {
        file: "a.mp4",
        width: 640,
        height: 360,
        fps: 25,
        seconds: 2.0,
        codec: &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
    },
    // Portrait, MPEG-4 part 2 in Matroska, 24 fps.
    Source {
        file: "sub/b.mkv",
        width: 240,
        height: 320,
        fps: 24,
        seconds: 1.5,
        codec: &["-c:v", "mpeg4", "-q:v", "5"],
    },
    // Smaller than the short side (upscaled), VP9 in WebM, 60 fps.
    Source {
        file: "c.webm",
        width: 176,
        height: 96,
        fps: 60,
        seconds: 1.0,
        codec: &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-pix_fmt",
            "yuv420p",
        ],
    },
];

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("the `ffmpeg` program is needed by this test: apt-get install ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// The source copy: three good videos, a corrupt one, and lists that also name a missing one and one video twice.
fn make_source(root: &Path) {
    for s in &SOURCES {
        let path = root.join(s.file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let lavfi = format!(
            "testsrc2=size={}x{}:rate={}:duration={}",
            s.width, s.height, s.fps, s.seconds
        );
        let mut args = vec!["-f", "lavfi", "-i", &lavfi];
        args.extend_from_slice(s.codec);
        let out = path.to_string_lossy().into_owned();
        args.push(&out);
        ffmpeg(&args);
    }
    // Half of a real video's bytes, then garbage: no index, undecodable.
    let good = std::fs::read(root.join("a.mp4")).unwrap();
    let mut corrupt: Vec<u8> = good[..good.len() / 2].iter().rev().copied().collect();
    corrupt.truncate(4096);
    std::fs::write(root.join("corrupt.mp4"), corrupt).unwrap();
    std::fs::write(
        root.join("train.csv"),
        "a.mp4 0\nsub/b.mkv 1\ncorrupt.mp4 2\n",
    )
    .unwrap();
    std::fs::write(root.join("val.csv"), "c.webm 1\nmissing.mp4 0\na.mp4 0\n").unwrap();
}

fn request(root: &Path, out: &Path, format: OutputFormat) -> PrepareRequest {
    PrepareRequest {
        source_root: root.to_path_buf(),
        lists: vec!["train.csv".into(), "val.csv".into()],
        out: out.to_path_buf(),
        settings: PrepareSettings {
            format,
            short_side: SHORT_SIDE,
            fps: FPS,
            keyframe_interval: 16,
            ..Default::default()
        },
        threads: 2,
        ffmpeg: "ffmpeg".into(),
    }
}

fn run(request: &PrepareRequest) -> PrepareSummary {
    prepare(request, &|_| {}).expect("preparation itself never fails on bad videos")
}

/// The output size of a source: short side as asked, long side scaled and rounded to even.
fn expected_size(s: &Source) -> (usize, usize) {
    let scale = |long: u32, short: u32| {
        let exact = long as f64 * SHORT_SIDE as f64 / short as f64;
        ((exact / 2.0).round() * 2.0) as usize
    };
    if s.width <= s.height {
        (SHORT_SIDE as usize, scale(s.height, s.width))
    } else {
        (scale(s.width, s.height), SHORT_SIDE as usize)
    }
}

fn expected_frames(s: &Source) -> usize {
    (s.seconds * FPS as f64).round() as usize
}

fn check_frames(name: &str, reader: &mut dyn VideoReader, s: &Source) {
    let info = reader.info();
    let (w, h) = expected_size(s);
    assert_eq!((info.width, info.height), (w, h), "{name}: size");
    assert!(
        info.frames.abs_diff(expected_frames(s)) <= 1,
        "{name}: {} frames, expected {} ({} s at {FPS} fps)",
        info.frames,
        expected_frames(s),
        s.seconds
    );
    // Every frame decodes, at the size the container states.
    let all: Vec<usize> = (0..info.frames).collect();
    let frames = reader.read_frames(&all).unwrap();
    assert_eq!(frames.len(), info.frames);
    assert!(frames.iter().all(|f| (f.width, f.height) == (w, h)));
    // Consecutive frames of testsrc2 differ: no frame was duplicated or dropped twice in a row by the rate change
    // of a 24 or 25 fps source (at most one in five repeats), and none at all for 60 → 30.
    let repeats = frames.windows(2).filter(|p| p[0] == p[1]).count();
    let allowed = if s.fps >= FPS {
        0
    } else {
        info.frames.div_ceil(5)
    };
    assert!(repeats <= allowed, "{name}: {repeats} repeated frames");
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn listed(list: &Path, root: &Path) -> Vec<(PathBuf, u32)> {
    read_list(list, root)
        .unwrap()
        .into_iter()
        .map(|e| (e.path.strip_prefix(root).unwrap().to_path_buf(), e.label))
        .collect()
}

#[test]
fn prepares_mp4_reports_failures_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (root, out) = (dir.path().join("src"), dir.path().join("prepared"));
    make_source(&root);
    let request = request(&root, &out, OutputFormat::Mp4);
    let summary = run(&request);

    assert_eq!(summary.listed, 5, "a.mp4 is listed twice but prepared once");
    assert_eq!((summary.already_done, summary.prepared_now), (0, 3));
    let failed: Vec<&str> = summary.failures.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(failed.len(), 2, "{:?}", summary.failures);
    assert!(failed.iter().any(|p| p.ends_with("corrupt.mp4")));
    assert!(failed.iter().any(|p| p.ends_with("missing.mp4")));
    let report = std::fs::read_to_string(out.join(FAILURES_FILE)).unwrap();
    assert!(
        report.contains("corrupt.mp4\tffmpeg failed"),
        "failure report:\n{report}"
    );

    for s in &SOURCES {
        let path = out.join(Path::new(s.file).with_extension("mp4"));
        let mut reader = OpenH264Reader::open(&path).unwrap();
        assert!((reader.info().fps - FPS as f64).abs() < 1e-6);
        check_frames(s.file, &mut reader, s);
        // Dense keyframes: one every 16 frames exactly.
        let video = Mp4Video::open(&path).unwrap();
        let expected: Vec<u32> = (0..video.num_frames() as u32).step_by(16).collect();
        assert_eq!(video.sync_samples, expected, "{}: keyframes", s.file);
    }
    assert_eq!(
        listed(&out.join("train.csv"), &out),
        vec![("a.mp4".into(), 0), ("sub/b.mp4".into(), 1)]
    );
    assert_eq!(
        listed(&out.join("val.csv"), &out),
        vec![("c.mp4".into(), 1), ("a.mp4".into(), 0)]
    );
    let manifest = Manifest::read(&out).unwrap().unwrap();
    assert!(manifest.complete);
    assert_eq!((manifest.listed, manifest.prepared), (5, 3));
    assert_eq!(manifest.failures.len(), 2);
    assert!(manifest.ffmpeg.starts_with("ffmpeg version"));
    assert!(
        manifest.describe().contains("short side 128, 30 fps"),
        "{}",
        manifest.describe()
    );

    // Interrupted: one output gone and a torn temporary file left where ffmpeg was writing it.
    let redo = out.join("sub/b.mp4");
    std::fs::remove_file(&redo).unwrap();
    let partial = out.join("sub/.b.mp4.partial");
    std::fs::write(&partial, b"torn").unwrap();
    let kept = [out.join("a.mp4"), out.join("c.mp4")];
    let before: Vec<SystemTime> = kept.iter().map(|p| mtime(p)).collect();
    let again = run(&request);
    assert_eq!((again.already_done, again.prepared_now), (2, 1));
    assert_eq!(
        again.failures.len(),
        2,
        "the bad videos are retried and fail again"
    );
    let after: Vec<SystemTime> = kept.iter().map(|p| mtime(p)).collect();
    assert_eq!(before, after, "finished videos are not redone");
    assert!(
        !partial.exists(),
        "the temporary file was replaced and moved into place"
    );
    check_frames(
        "sub/b.mkv (redone)",
        &mut OpenH264Reader::open(&redo).unwrap(),
        &SOURCES[1],
    );

    // The same folder with other settings is refused, naming the difference.
    let mut other = request.clone();
    other.settings.short_side = 96;
    let err = prepare(&other, &|_| {}).unwrap_err().to_string();
    assert!(err.contains("short_side: 128 there, 96 now"), "{err}");
}

#[test]
fn prepares_jpeg_frame_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (root, out) = (dir.path().join("src"), dir.path().join("frames"));
    make_source(&root);
    let summary = run(&request(&root, &out, OutputFormat::Jpeg));
    assert_eq!((summary.prepared_now, summary.failures.len()), (3, 2));
    for s in &SOURCES {
        let folder = out.join(Path::new(s.file).with_extension(""));
        let mut reader = JpegFolderReader::open(&folder, FPS as f64).unwrap();
        check_frames(s.file, &mut reader, s);
    }
    assert_eq!(
        listed(&out.join("train.csv"), &out),
        vec![("a".into(), 0), ("sub/b".into(), 1)]
    );
}
