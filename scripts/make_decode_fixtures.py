#!/usr/bin/env python3
"""Makes the committed decoding fixtures of vst-data (run once; needs the ffmpeg command line with libx264).

- bframes.mp4: H.264 High profile with B-frames (b-pyramid) and several GOPs, 64x48, 48 frames, as x264 writes it;
- bframes_ref.yuv: the frames at 8 random presentation positions as the ffmpeg command line decodes them
  (raw yuv420p, concatenated), and bframes_ref.json with their indices;
- baseline.mp4 / baseline_ref.*: the same for a Constrained Baseline stream (no B-frames, what OpenH264 writes),
  with the index (moov) before the data, so that a truncated copy keeps its index but loses frames;
- mpeg4.mkv / mpeg4_ref.*: MPEG-4 Part 2 with B-frames in Matroska, for the `ffmpeg` feature's generic path;
- frames/000001.jpg ...: the first 4 frames of baseline.mp4 as a JPEG frame folder (and frames_ref.rgb: the same
  frames decoded from the mp4 by ffmpeg, as RGB24).

The Rust test decodes the same positions (in a random order) and compares them with these frames (PSNR >= 40 dB).
"""
import json
import pathlib
import random
import subprocess

OUT = pathlib.Path(__file__).resolve().parent.parent / "runtime" / "data" / "tests" / "fixtures"
W, H, N = 64, 48, 48


def run(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make(name, codec_args, seed, ext="mp4"):
    mp4 = OUT / f"{name}.{ext}"
    run("-f", "lavfi", "-i", f"life=size={W}x{H}:rate=25:ratio=0.3:seed=7:mold=8:life_color=#40e040:death_color=#c03030",
        "-frames:v", str(N), *codec_args, "-pix_fmt", "yuv420p", str(mp4))
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(mp4), "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], check=True, capture_output=True).stdout
    frame_bytes = W * H * 3 // 2
    assert len(raw) == N * frame_bytes, (len(raw), N * frame_bytes)
    positions = sorted(random.Random(seed).sample(range(N), 8))
    (OUT / f"{name}_ref.yuv").write_bytes(b"".join(raw[p * frame_bytes:(p + 1) * frame_bytes] for p in positions))
    (OUT / f"{name}_ref.json").write_text(json.dumps(
        {"width": W, "height": H, "frames": N, "positions": positions}, indent=1) + "\n")


OUT.mkdir(parents=True, exist_ok=True)
make("bframes", ["-c:v", "libx264", "-profile:v", "high", "-preset", "medium", "-bf", "3", "-b_strategy", "0", "-g", "24",
                 "-keyint_min", "24", "-sc_threshold", "0", "-crf", "30"], seed=5)
make("baseline", ["-c:v", "libx264", "-profile:v", "baseline", "-g", "30", "-crf", "30", "-movflags", "+faststart"], seed=6)
make("mpeg4", ["-c:v", "mpeg4", "-bf", "2", "-g", "20", "-q:v", "12"], seed=7, ext="mkv")

frames = OUT / "frames"
frames.mkdir(exist_ok=True)
for old in frames.glob("*.jpg"):
    old.unlink()
run("-i", str(OUT / "baseline.mp4"), "-frames:v", "4", "-q:v", "2", str(frames / "%06d.jpg"))
rgb = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(OUT / "baseline.mp4"), "-frames:v", "4",
                      "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
assert len(rgb) == 4 * W * H * 3
(OUT / "frames_ref.rgb").write_bytes(rgb)
