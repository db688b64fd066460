//! Frame-exact decoding against the ffmpeg command line: the fixtures (made once by
//! scripts/make_decode_fixtures.py) hold H.264 files, one with B-frames, and the frames ffmpeg decodes at 8 random
//! positions. Each position must decode to the same picture here (PSNR ≥ 40 dB), whichever way it is requested.

use std::path::{Path, PathBuf};
use vst_data::video::frame::{Frame, Pixels, psnr_yuv};
use vst_data::video::{DecoderKind, VideoBackend};

struct Fixture {
    video: PathBuf,
    positions: Vec<usize>,
    frames: Vec<Frame>,
    total: usize,
}

fn fixture(name: &str, ext: &str) -> Fixture {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}_ref.json"))).unwrap(),
    )
    .unwrap();
    let (w, h) = (
        meta["width"].as_u64().unwrap() as usize,
        meta["height"].as_u64().unwrap() as usize,
    );
    let positions: Vec<usize> = meta["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let raw = std::fs::read(dir.join(format!("{name}_ref.yuv"))).unwrap();
    let (ys, cs) = (w * h, (w / 2) * (h / 2));
    let frames = raw
        .chunks(ys + 2 * cs)
        .map(|f| Frame {
            width: w,
            height: h,
            pixels: Pixels::Yuv420 {
                y: f[..ys].to_vec(),
                u: f[ys..ys + cs].to_vec(),
                v: f[ys + cs..].to_vec(),
            },
        })
        .collect::<Vec<_>>();
    assert_eq!(frames.len(), positions.len());
    Fixture {
        video: dir.join(format!("{name}.{ext}")),
        positions,
        frames,
        total: meta["frames"].as_u64().unwrap() as usize,
    }
}

fn check(backend: &dyn VideoBackend, name: &str, ext: &str) {
    let fx = fixture(name, ext);
    let mut reader = backend.open(&fx.video).unwrap();
    assert_eq!(reader.info().frames, fx.total, "{name}: frame count");
    assert!(
        (reader.info().fps - 25.0).abs() < 0.01,
        "{name}: fps {}",
        reader.info().fps
    );
    let expect = |got: &Frame, k: usize, how: &str| {
        let p = psnr_yuv(got, &fx.frames[k]).expect("same size YUV frames");
        assert!(
            p >= 40.0,
            "{name} ({}) frame {} requested {how}: PSNR {p:.1} dB",
            backend.name(),
            fx.positions[k]
        );
    };
    // All at once.
    let all = reader.read_frames(&fx.positions).unwrap();
    for (k, f) in all.iter().enumerate() {
        expect(f, k, "together");
        // The fixture's frames differ from each other, so a frame off by one would fail the check above.
        let other = (k + 1) % fx.frames.len();
        let p = psnr_yuv(f, &fx.frames[other]).unwrap();
        assert!(
            p < 40.0,
            "{name}: frames {} and {} are too alike ({p:.1} dB)",
            fx.positions[k],
            fx.positions[other]
        );
    }
    // One at a time, in a scrambled order (every seek starts afresh).
    let n = fx.positions.len();
    for k in (0..n).map(|i| (i * 5 + 3) % n) {
        let got = reader.read_frames(&[fx.positions[k]]).unwrap();
        expect(&got[0], k, "alone");
    }
    // Pairs a stride apart, as clips ask for them.
    for k in 0..fx.positions.len() - 1 {
        let got = reader
            .read_frames(&[fx.positions[k], fx.positions[k + 1]])
            .unwrap();
        expect(&got[0], k, "in a pair");
        expect(&got[1], k + 1, "in a pair");
    }
}

#[test]
fn openh264_matches_ffmpeg_on_b_frames() {
    check(
        DecoderKind::OpenH264.backend().unwrap().as_ref(),
        "bframes",
        "mp4",
    );
}

#[test]
fn openh264_matches_ffmpeg_on_baseline() {
    check(
        DecoderKind::OpenH264.backend().unwrap().as_ref(),
        "baseline",
        "mp4",
    );
}

#[cfg(feature = "ffmpeg")]
#[test]
fn ffmpeg_matches_ffmpeg_cli() {
    let backend = DecoderKind::Ffmpeg.backend().unwrap();
    check(backend.as_ref(), "bframes", "mp4");
    check(backend.as_ref(), "baseline", "mp4");
    check(backend.as_ref(), "mpeg4", "mkv");
}

#[test]
fn openh264_says_other_codecs_are_unsupported() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let err = DecoderKind::OpenH264
        .backend()
        .unwrap()
        .open(&dir.join("mpeg4.mkv"))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("mpeg4.mkv: not a readable mp4 file"),
        "{err}"
    );
}

#[test]
fn jpeg_frame_folders_read_like_the_video() {
    use vst_data::video::frame::psnr;
    use vst_data::video::jpeg_folder::JpegFolderBackend;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let backend = JpegFolderBackend { fps: 25.0 };
    let mut reader = backend.open(&dir.join("frames")).unwrap();
    let info = reader.info();
    assert_eq!(
        (info.frames, info.width, info.height, info.fps),
        (4, 64, 48, 25.0)
    );
    let reference = std::fs::read(dir.join("frames_ref.rgb")).unwrap();
    let plane = 64 * 48 * 3;
    let got = reader.read_frames(&[0, 2, 3]).unwrap();
    for (frame, index) in got.iter().zip([0usize, 2, 3]) {
        // JPEG (4:2:0, q 2) of this busy content is lossy but close; the other frames are clearly further.
        let rgb = frame.to_rgb8();
        let p = psnr(&rgb, &reference[index * plane..(index + 1) * plane]);
        assert!(p >= 25.0, "frame {index}: {p:.1} dB");
        let q = psnr(
            &rgb,
            &reference[((index + 1) % 4) * plane..((index + 1) % 4 + 1) * plane],
        );
        assert!(
            q < p - 3.0,
            "frame {index}: {q:.1} dB against another frame"
        );
    }
    let err = backend
        .open(&dir.join("no-such-folder"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no-such-folder"), "{err}");
}
