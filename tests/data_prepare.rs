//! `vst data prepare` feeding a recipe: tiny videos made by the ffmpeg command line are prepared (one corrupt video
//! among them is reported and left out), a recipe trains and evaluates on the prepared copy through `kinetics(...)`,
//! and the report names how the copy was made; `vst bench loader` measures the copy. Needs the `ffmpeg` program
//! (.ci/run installs it). A recipe can also ask for the preparation itself (`prepare: transcode(...)`): `vst run`
//! then makes the copy in its prepare job, finishing a half-made one.

use std::path::Path;
use std::process::Command;

mod common;

use common::{Output, assert_contains, scratch, tiny_knn_study, tiny_pretrain, vst_in};

fn make_video(path: &Path, size: &str, rate: u32, pattern: &str) {
    make_video_with(path, size, rate, pattern, &["-c:v", "mpeg4", "-q:v", "4"]);
}

fn make_video_with(path: &Path, size: &str, rate: u32, pattern: &str, codec: &[&str]) {
    let lavfi = format!("{pattern}=size={size}:rate={rate}:duration=1");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(&lavfi)
        .args(codec)
        .arg(path)
        .status()
        .expect("the `ffmpeg` program is needed by this test: apt-get install ffmpeg");
    assert!(status.success(), "ffmpeg could not make {}", path.display());
}

#[test]
fn a_recipe_on_a_prepared_copy_reports_how_it_was_made() {
    let dir = scratch("data-prepare");
    let source = dir.join("source");
    std::fs::create_dir_all(&source).expect("create the source folder");
    // Two classes told apart by their test pattern; 25 fps MPEG-4 part 2 in .avi, 80x60.
    let mut train = String::new();
    let mut val = String::new();
    for (label, pattern) in ["testsrc", "smptebars"].iter().enumerate() {
        for k in 0..3 {
            let name = format!("{pattern}_{k}.avi");
            make_video(&source.join(&name), "80x60", 25, pattern);
            let list = if k < 2 { &mut train } else { &mut val };
            list.push_str(&format!("{name} {label}\n"));
        }
    }
    std::fs::write(source.join("broken.avi"), b"not a video at all").expect("write");
    train.push_str("broken.avi 1\n");
    std::fs::write(source.join("train.csv"), train).expect("write train.csv");
    std::fs::write(source.join("val.csv"), val).expect("write val.csv");

    let Output { code, stdout, .. } = vst_in(
        &dir,
        &[
            "data",
            "prepare",
            "--root",
            "source",
            "--out",
            "prepared",
            "--short-side",
            "32",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_contains(
        &stdout,
        "7 videos listed, 6 prepared now, 0 already prepared, 1 failed",
    );
    assert_contains(&stdout, "broken.avi");

    // The prepared copy feeds the loader benchmark: one row per decode path, with positive rates.
    let Output { code, stdout, .. } = vst_in(
        &dir,
        &[
            "bench",
            "loader",
            "--list",
            "prepared/train.csv",
            "--videos",
            "2",
            "--rounds",
            "1",
            "--frames",
            "2",
            "--stride",
            "2",
            "--size",
            "16",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| openh264 |"))
        .unwrap_or_else(|| panic!("no openh264 row in:\n{stdout}"));
    let rates: Vec<f64> = row
        .split('|')
        .filter_map(|cell| cell.trim().parse().ok())
        .collect();
    assert_eq!(rates.len(), 3, "{row}");
    assert!(rates.iter().all(|r| *r > 0.0), "{row}");

    let recipe = tiny_knn_study(
        r#"data clips = kinetics(root: "prepared", train_videos: 4, val_videos: 2)"#,
        "clips",
        1,
        2,
    );
    std::fs::write(dir.join("prepared.vst"), recipe).expect("write the recipe");
    let Output {
        code,
        stdout,
        stderr,
    } = vst_in(&dir, &["run", "prepared.vst", "--runs", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stdout, "4 train / 2 val videos");
    assert_contains(
        &stdout,
        "The copy was prepared by vst data prepare 0.1.0 with ffmpeg version",
    );
    assert_contains(
        &stdout,
        "H.264 mp4, short side 32, 30 fps, keyframe every 16 frames, x264 crf 18 veryfast; 6 of 7 listed videos, 1 failed.",
    );
}

/// Width, height and frame rate of a video's first stream, by ffprobe (installed with ffmpeg).
fn probe(path: &Path) -> (u32, u32, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height,r_frame_rate", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe comes with ffmpeg");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let fields: Vec<&str> = text.split(',').collect();
    assert_eq!(
        fields.len(),
        3,
        "ffprobe said `{text}` of {}",
        path.display()
    );
    let number = |s: &str| s.parse().unwrap_or_else(|_| panic!("`{s}` in `{text}`"));
    (number(fields[0]), number(fields[1]), fields[2].to_string())
}

#[test]
fn a_recipe_prepares_its_own_copy_and_finishes_a_half_made_one() {
    let dir = scratch("data-prepare-recipe");
    let source = dir.join("raw");
    std::fs::create_dir_all(source.join("b")).expect("create the source folders");
    // Sizes, rates, codecs and containers of a downloaded copy: landscape and portrait, 12 to 30 fps, MPEG-4 part 2
    // in .avi, H.264 in .mp4, VP9 in .webm; and one corrupt file.
    let videos: [(&str, &str, u32, &str, &[&str]); 6] = [
        (
            "a0.avi",
            "80x60",
            25,
            "testsrc",
            &["-c:v", "mpeg4", "-q:v", "4"],
        ),
        (
            "a1.mp4",
            "64x96",
            30,
            "testsrc",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        ),
        (
            "a2.avi",
            "100x50",
            12,
            "testsrc",
            &["-c:v", "mpeg4", "-q:v", "4"],
        ),
        (
            "b/b0.webm",
            "80x60",
            24,
            "smptebars",
            &["-c:v", "libvpx-vp9", "-b:v", "200k"],
        ),
        (
            "b/b1.avi",
            "96x64",
            30,
            "smptebars",
            &["-c:v", "mpeg4", "-q:v", "4"],
        ),
        (
            "b/b2.mp4",
            "80x60",
            15,
            "smptebars",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        ),
    ];
    for (name, size, rate, pattern, codec) in videos {
        make_video_with(&source.join(name), size, rate, pattern, codec);
    }
    std::fs::write(
        source.join("b/broken.mp4"),
        b"\0\0\0\x18ftypmp42 and then nothing",
    )
    .expect("write");
    std::fs::write(
        source.join("train.csv"),
        "a0.avi 0\na1.mp4 0\nb/b0.webm 1\nb/b1.avi 1\nb/broken.mp4 1\n",
    )
    .expect("write train.csv");
    std::fs::write(source.join("val.csv"), "a2.avi 0\nb/b2.mp4 1\n").expect("write val.csv");

    // An earlier preparation into the same folder stopped half-way: only the training list's videos are there, and
    // its manifest says it did not finish.
    let Output { code, stdout, .. } = vst_in(
        &dir,
        &[
            "data",
            "prepare",
            "--root",
            "raw",
            "--out",
            "copy",
            "--short-side",
            "32",
            "--fps",
            "15",
            "--list",
            "train.csv",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    let manifest_path = dir.join("copy/prepare.json");
    let manifest = std::fs::read_to_string(&manifest_path).expect("a manifest");
    std::fs::write(
        &manifest_path,
        manifest.replace("\"complete\": true", "\"complete\": false"),
    )
    .expect("mark the manifest unfinished");
    std::fs::remove_file(dir.join("copy/train.csv")).expect("the copy's list is written last");

    let recipe = tiny_knn_study(
        r#"data clips = kinetics(
  root: "copy",
  train_videos: 4,
  val_videos: 2,
  prepare: transcode("raw", short_side: 32, fps: 15),
)"#,
        "clips",
        1,
        2,
    );
    std::fs::write(dir.join("prepared.vst"), recipe).expect("write the recipe");
    let Output {
        code,
        stdout,
        stderr,
    } = vst_in(&dir, &["run", "prepared.vst", "--runs", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stdout, "4 train / 2 val videos");
    assert_contains(
        &stdout,
        "H.264 mp4, short side 32, 15 fps, keyframe every 16 frames, x264 crf 18 veryfast; 6 of 7 listed videos, 1 failed.",
    );
    assert_contains(
        &stderr,
        "preparing copy from raw (H.264 mp4, short side 32, 15 fps",
    );
    assert_contains(&stderr, "1 of 7 listed videos could not be prepared");

    // The prepare job finished the copy: the training videos were kept, the rest made now.
    let record = std::fs::read_dir(dir.join("runs"))
        .expect("a runs folder")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("done.json")).ok())
        .find(|text| text.contains("\"transcoded\": {"))
        .expect("the prepare job's record");
    let record: serde_json::Value = serde_json::from_str(&record).expect("json");
    let transcoded = &record["result"]["transcoded"];
    assert_eq!(transcoded["already_prepared"], 4, "{record}");
    assert_eq!(transcoded["prepared_now"], 2, "{record}");
    assert_eq!(transcoded["failed"], 1, "{record}");

    // Every video of the copy at the asked short side and rate, whatever its source was.
    for (video, expect_short) in [
        ("a0.mp4", 32),
        ("a1.mp4", 32),
        ("a2.mp4", 32),
        ("b/b0.mp4", 32),
    ] {
        let (w, h, rate) = probe(&dir.join("copy").join(video));
        assert_eq!(w.min(h), expect_short, "{video}: {w}x{h}");
        assert_eq!(rate, "15/1", "{video}");
    }
    let (w, h, _) = probe(&dir.join("copy/a1.mp4"));
    assert!(h > w, "a portrait video stays portrait: {w}x{h}");

    // A second run finds everything done: the preparation is not repeated.
    let Output { code, stderr, .. } = vst_in(&dir, &["run", "prepared.vst", "--runs", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("preparing"), "{stderr}");

    // The source gone (a copy prepared once, the download deleted): a fresh run trains on the finished copy.
    std::fs::rename(dir.join("raw"), dir.join("raw-moved")).expect("move the source away");
    let Output { code, stderr, .. } =
        vst_in(&dir, &["run", "prepared.vst", "--runs", "runs-again"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(
        &stderr,
        "copy is a finished copy; its source raw is not here",
    );

    // The same source as JPEG frame folders for `frames(...)`, extracted at the rate the dataset reads them.
    std::fs::rename(dir.join("raw-moved"), dir.join("raw")).expect("move the source back");
    let recipe = tiny_knn_study(
        r#"data clips = frames(root: "frames", fps: 15, train_videos: 4, val_videos: 2, prepare: transcode("raw", short_side: 32))"#,
        "clips",
        1,
        2,
    );
    std::fs::write(dir.join("frames.vst"), recipe).expect("write the recipe");
    let Output {
        code,
        stdout,
        stderr,
    } = vst_in(&dir, &["run", "frames.vst", "--runs", "runs-frames"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stdout, "4 train / 2 val videos");
    assert_contains(
        &stdout,
        "JPEG frame folders, short side 32, 15 fps, quality 2; 6 of 7 listed videos, 1 failed.",
    );
    // One second of video at 15 fps: 15 frames of short side 32 in each folder.
    let folder = dir.join("frames/b/b1");
    let mut frames: Vec<_> = std::fs::read_dir(&folder)
        .expect("a frame folder per video")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    frames.sort();
    assert_eq!(frames.len(), 15, "{frames:?}");
    let (w, h, _) = probe(&frames[0]);
    assert_eq!((w.min(h), w.max(h)), (32, 48), "{w}x{h}");
}

/// Before anything runs, `vst run` says what the recipe's preparation lacks: its source, or the source's lists.
#[test]
fn a_recipe_preparation_without_its_source_stops_before_any_job() {
    let dir = scratch("data-prepare-missing-source");
    let recipe = format!(
        "data clips = kinetics(root: \"copy\", train_videos: 4, val_videos: 2, prepare: transcode(\"raw\"))\n\n{}",
        tiny_pretrain("clips", 1, 2)
    );
    std::fs::write(dir.join("r.vst"), recipe).expect("write the recipe");
    let Output { code, stderr, .. } = vst_in(&dir, &["run", "r.vst", "--runs", "runs"]);
    assert_ne!(code, 0);
    assert_contains(
        &stderr,
        "dataset `clips`: the source folder raw does not exist",
    );
    assert_contains(&stderr, "the prepare job makes the copy at copy from raw");

    std::fs::create_dir_all(dir.join("raw")).expect("create raw");
    std::fs::write(dir.join("raw/train.csv"), "").expect("write train.csv");
    let Output { code, stderr, .. } = vst_in(&dir, &["run", "r.vst", "--runs", "runs"]);
    assert_ne!(code, 0);
    assert_contains(
        &stderr,
        "the source's video list raw/val.csv does not exist",
    );
    assert!(!dir.join("copy").exists(), "nothing was made");
}
