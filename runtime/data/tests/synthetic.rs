//! The synthetic dataset: deterministic, decodable frame-exactly, and labelled as its lists say.

use vst_data::synth::{self, Split, SynthEncoding};
use vst_data::video::DecoderKind;
use vst_data::video::frame::{Frame, Pixels, psnr_yuv};
use vst_spec::SynthSpec;

fn tiny_spec() -> SynthSpec {
    SynthSpec {
        classes: 3,
        train_per_class: 2,
        val_per_class: 1,
        frames: 24,
        fps: 8.0,
        width: 64,
        height: 48,
        nuisance: 1.0,
        distractors: 2,
        seed: 11,
    }
}

#[test]
fn decoded_frames_match_what_the_generator_rendered() {
    let spec = tiny_spec();
    let dir = tempfile::tempdir().unwrap();
    // A fine quantiser, so that 40 dB measures decoding, not compression.
    let data = synth::generate_with(
        &spec,
        dir.path(),
        2,
        SynthEncoding {
            qp: 12,
            keyframe_interval: 8,
        },
    )
    .unwrap();
    let backend = DecoderKind::OpenH264.backend().unwrap();
    let script = synth::script(&spec, Split::Train, 1, 1);
    let mut reader = backend.open(&data.root.join("train/c01_0001.mp4")).unwrap();
    assert_eq!(reader.info().frames, 24);
    assert!((reader.info().fps - 8.0).abs() < 1e-9);
    // Random positions, requested in a scrambled order and in one go.
    let positions = [17usize, 3, 22, 9, 0, 14, 23, 6];
    let truth: Vec<Frame> = positions
        .iter()
        .map(|&f| {
            let (y, u, v) = synth::frame_yuv(&script, &spec, f);
            Frame {
                width: 64,
                height: 48,
                pixels: Pixels::Yuv420 { y, u, v },
            }
        })
        .collect();
    let mut worst = f64::INFINITY;
    for (k, &f) in positions.iter().enumerate() {
        let got = reader.read_frames(&[f]).unwrap();
        let p = psnr_yuv(&got[0], &truth[k]).unwrap();
        worst = worst.min(p);
        // The neighbouring frame must be clearly worse, or the check would not catch an off-by-one.
        let other = if f + 1 < 24 { f + 1 } else { f - 1 };
        let (y, u, v) = synth::frame_yuv(&script, &spec, other);
        let neighbour = Frame {
            width: 64,
            height: 48,
            pixels: Pixels::Yuv420 { y, u, v },
        };
        let q = psnr_yuv(&got[0], &neighbour).unwrap();
        assert!(
            q < p - 3.0,
            "frame {f}: {p:.1} dB against itself but {q:.1} dB against frame {other}"
        );
    }
    eprintln!("worst PSNR {worst:.1} dB");
    assert!(worst >= 40.0, "worst PSNR {worst:.1} dB");
}

#[test]
fn generation_is_deterministic_and_lists_are_labelled() {
    let mut spec = tiny_spec();
    spec.frames = 6;
    spec.train_per_class = 1;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let da = synth::generate(&spec, a.path(), 1).unwrap();
    let db = synth::generate(&spec, b.path(), 3).unwrap();
    assert!(da.generated && db.generated);
    let list = std::fs::read_to_string(&da.train_list).unwrap();
    assert_eq!(
        list,
        "train/c00_0000.mp4 0\ntrain/c01_0000.mp4 1\ntrain/c02_0000.mp4 2\n"
    );
    for line in list
        .lines()
        .chain(std::fs::read_to_string(&da.val_list).unwrap().lines())
    {
        let path = line.split(' ').next().unwrap();
        let (x, y) = (
            std::fs::read(a.path().join(path)).unwrap(),
            std::fs::read(b.path().join(path)).unwrap(),
        );
        assert_eq!(x, y, "{path} differs between runs");
    }
    // A complete dataset with the same parameters is reused; another seed regenerates it.
    assert!(!synth::generate(&spec, a.path(), 1).unwrap().generated);
    spec.seed += 1;
    assert!(synth::generate(&spec, a.path(), 1).unwrap().generated);
    let other = std::fs::read(a.path().join("train/c00_0000.mp4")).unwrap();
    assert_ne!(
        other,
        std::fs::read(b.path().join("train/c00_0000.mp4")).unwrap()
    );
}

#[test]
fn bad_settings_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tiny_spec();
    spec.width = 63;
    let err = synth::generate(&spec, dir.path(), 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("63x48"), "{err}");
    spec.width = 64;
    spec.classes = 45;
    assert!(
        synth::generate(&spec, dir.path(), 1)
            .unwrap_err()
            .to_string()
            .contains("classes = 45")
    );
}

/// `open_dataset` with a relative synthetic folder (as `vst data preview` and a user's own tools give it) reads the
/// lists the generator wrote there — once joined to the working directory, not twice.
#[test]
fn a_synthetic_dataset_opens_from_a_relative_folder() {
    // A folder of this test's own under the target directory, named relative to the working directory (the
    // package root, where cargo runs tests).
    let cwd = std::env::current_dir().unwrap();
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("relative-synthetic");
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(&target).unwrap();
    let common = cwd
        .ancestors()
        .find(|a| target.starts_with(a))
        .expect("a common ancestor");
    let ups = cwd.strip_prefix(common).unwrap().components().count();
    let mut relative = std::path::PathBuf::new();
    for _ in 0..ups {
        relative.push("..");
    }
    relative.push(target.strip_prefix(common).unwrap());
    assert!(
        relative.is_relative() && relative.join(".").is_dir(),
        "{}",
        relative.display()
    );

    let spec = vst_spec::DatasetSpec {
        name: "tiny".into(),
        source: vst_spec::DataSource::Synthetic(tiny_spec()),
    };
    let opened = vst_data::dataset::open_dataset(&spec, &relative, DecoderKind::OpenH264, 2)
        .unwrap_or_else(|e| panic!("opening from {}: {e}", relative.display()));
    assert_eq!((opened.train.len(), opened.val.len()), (6, 3));
    for entry in opened.train.iter().chain(&opened.val) {
        assert!(entry.path.is_file(), "{}", entry.path.display());
    }
    // Opened again: the complete dataset is found, not generated twice, and reads the same.
    let again =
        vst_data::dataset::open_dataset(&spec, &relative, DecoderKind::OpenH264, 2).unwrap();
    assert_eq!(again.train, opened.train);
}
