//! `vst data prepare` feeding a recipe: tiny videos made by the ffmpeg command line are prepared (one corrupt video
//! among them is reported and left out), a recipe trains and evaluates on the prepared copy through `kinetics(...)`,
//! and the report names how the copy was made; `vst bench loader` measures the copy. Needs the `ffmpeg` program
//! (.ci/run installs it).

use std::path::Path;
use std::process::Command;

mod common;

use common::{Output, assert_contains, scratch, tiny_pretrain, vst_in};

fn make_video(path: &Path, size: &str, rate: u32, pattern: &str) {
    let lavfi = format!("{pattern}=size={size}:rate={rate}:duration=1");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(&lavfi)
        .args(["-c:v", "mpeg4", "-q:v", "4"])
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

    let recipe = format!(
        r#"data clips = kinetics(root: "prepared", train_videos: 4, val_videos: 2)

{pretrain}
evaluate knn {{
  k: 1
  views: 1x1
  view_size: 16
}}

report "kNN" {{
  cell: knn.top1
}}
"#,
        pretrain = tiny_pretrain("clips", 1, 2)
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
