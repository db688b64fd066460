//! One synthetic video: a script of everything random about it (drawn once), and a renderer that turns the script
//! into frame `f`.
//!
//! What persists through the whole video — and is all that identifies the class — is the object's silhouette and
//! the texture inside it. Everything else is a nuisance that stays nearly constant over a short moment but changes
//! across the video and has nothing to do with the class: the background (a new scene every few seconds, with a
//! slow pan), global illumination and colour cast, the object's position, scale, rotation and colours, distractor
//! blobs and bars that come and go, and an occluding band sweeping across. Two crops of one moment (ρ = 1) can be
//! matched through any of these; clips from different times (ρ ≥ 2) can only be matched through the object.

use super::shapes::{class_parts, inside, pattern_is_second};
use crate::augment::color::shift_hue;
use crate::rng::DataRng;
use std::f32::consts::TAU;

/// A slow sinusoid over normalised video time t ∈ [0, 1): `amplitude · sin(2π(cycles · t) + phase)`.
#[derive(Debug, Clone, Copy)]
struct Wave {
    amplitude: f32,
    cycles: f32,
    phase: f32,
}

impl Wave {
    fn draw(rng: &mut DataRng, amplitude: f32, cycles: (f64, f64)) -> Wave {
        Wave {
            amplitude,
            cycles: rng.uniform(cycles.0, cycles.1) as f32,
            phase: rng.uniform(0.0, std::f64::consts::TAU) as f32,
        }
    }
    fn at(&self, t: f32) -> f32 {
        self.amplitude * (TAU * self.cycles * t + self.phase).sin()
    }
}

fn random_color(rng: &mut DataRng) -> [f32; 3] {
    [rng.unit() as f32, rng.unit() as f32, rng.unit() as f32]
}

fn luma(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// A colour with luma in `lo..hi` (rejection sampling; falls back to a grey of the middle luma).
fn color_with_luma(rng: &mut DataRng, lo: f32, hi: f32) -> [f32; 3] {
    for _ in 0..64 {
        let c = random_color(rng);
        if (lo..hi).contains(&luma(c)) {
            return c;
        }
    }
    [(lo + hi) / 2.0; 3]
}

/// A background scene: a colour gradient with two gratings over it, rendered once with a margin for panning.
struct Backdrop {
    width: usize,
    height: usize,
    rgb: Vec<f32>,
    /// Pan velocity in pixels per frame, and the frame at which the pan is centred.
    velocity: (f32, f32),
    centre_frame: f32,
    /// First frame of the scene.
    start: usize,
}

impl Backdrop {
    fn draw(rng: &mut DataRng, width: usize, height: usize, margin: usize) -> Vec<f32> {
        let (bw, bh) = (width + 2 * margin, height + 2 * margin);
        let c1 = random_color(rng);
        let c2 = random_color(rng);
        let c3 = random_color(rng);
        let c4 = random_color(rng);
        let gradient_angle = rng.uniform(0.0, std::f64::consts::TAU) as f32;
        let mut gratings = Vec::new();
        for (color, square) in [(c3, rng.chance(0.5)), (c4, rng.chance(0.5))] {
            let angle = rng.uniform(0.0, std::f64::consts::PI) as f32;
            // Cycles across the frame width: coarse to fine.
            let freq = rng.uniform(1.5, 7.0) as f32 / width as f32;
            let phase = rng.uniform(0.0, std::f64::consts::TAU) as f32;
            let strength = rng.uniform(0.15, 0.4) as f32;
            gratings.push((
                color,
                square,
                angle.cos() * freq,
                angle.sin() * freq,
                phase,
                strength,
            ));
        }
        let (gx, gy) = (gradient_angle.cos(), gradient_angle.sin());
        let diag = ((bw * bw + bh * bh) as f32).sqrt();
        let mut rgb = vec![0f32; bw * bh * 3];
        for y in 0..bh {
            for x in 0..bw {
                let s = (((x as f32 - bw as f32 / 2.0) * gx + (y as f32 - bh as f32 / 2.0) * gy)
                    / diag
                    + 0.5)
                    .clamp(0.0, 1.0);
                let mut c = [0f32; 3];
                for k in 0..3 {
                    c[k] = c1[k] + (c2[k] - c1[k]) * s;
                }
                for &(color, square, fx, fy, phase, strength) in &gratings {
                    let w = (TAU * (fx * x as f32 + fy * y as f32) + phase).sin();
                    let w = if square { w.signum() } else { w };
                    let a = strength * (0.5 + 0.5 * w);
                    for k in 0..3 {
                        c[k] += (color[k] - c[k]) * a;
                    }
                }
                rgb[(y * bw + x) * 3..(y * bw + x) * 3 + 3].copy_from_slice(&c);
            }
        }
        rgb
    }

    /// Bilinear sample at (x, y) of the full backdrop.
    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let x = x.clamp(0.0, (self.width - 1) as f32);
        let y = y.clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xx: usize, yy: usize, k: usize| self.rgb[(yy * self.width + xx) * 3 + k];
        let mut c = [0f32; 3];
        for (k, ck) in c.iter_mut().enumerate() {
            let top = at(x0, y0, k) + (at(x1, y0, k) - at(x0, y0, k)) * fx;
            let bottom = at(x0, y1, k) + (at(x1, y1, k) - at(x0, y1, k)) * fx;
            *ck = top + (bottom - top) * fy;
        }
        c
    }
}

/// A distractor: a soft blob or a thin bar, visible for part of the video, drifting.
struct Distractor {
    bar: bool,
    color: [f32; 3],
    /// Half-extents in pixels (bars: half-length, half-thickness).
    size: (f32, f32),
    angle: f32,
    position: (f32, f32),
    velocity: (f32, f32),
    /// Visible during [appear, vanish) in normalised time.
    appear: f32,
    vanish: f32,
    in_front: bool,
}

/// A band sweeping across the frame, partially hiding whatever is behind it.
struct Occluder {
    vertical: bool,
    color: [f32; 3],
    half_width: f32,
    /// Position of the band's centre as a fraction of the frame, as a function of time: sweeps from −0.2 to 1.2.
    speed: f32,
    offset: f32,
}

/// Everything random about one video.
pub struct VideoScript {
    pub class: u32,
    shape: usize,
    pattern: usize,
    width: usize,
    height: usize,
    frames: usize,
    backdrops: Vec<Backdrop>,
    margin: usize,
    fade: usize,
    gain: Wave,
    cast: [Wave; 3],
    /// Object: base half-size in pixels, centre path, scale, rotation, colours.
    radius: f32,
    centre: (f32, f32),
    path: (Wave, Wave),
    scale: Wave,
    angle: f32,
    turn: Wave,
    light: [f32; 3],
    dark: [f32; 3],
    outline: [f32; 3],
    hue_drift: Wave,
    distractors: Vec<Distractor>,
    occluder: Option<Occluder>,
}

impl VideoScript {
    /// Draws a video of `class`; `nuisance` in [0, 1] scales how much the nuisance factors change over time.
    pub fn draw(
        rng: &mut DataRng,
        class: u32,
        width: usize,
        height: usize,
        frames: usize,
        nuisance: f64,
        distractors: u32,
    ) -> VideoScript {
        let n = nuisance.clamp(0.0, 1.0) as f32;
        let short = width.min(height) as f32;
        let (shape, pattern) = class_parts(class);
        let frames = frames.max(1);

        // Scenes: 1 + 3·nuisance of them on average, cut at jittered even positions, cross-faded.
        let scenes = 1 + (3.0 * n + rng.uniform(-0.5, 0.5) as f32).round().max(0.0) as usize;
        let scenes = scenes.min(frames.div_ceil(4)).max(1);
        let margin = (0.2 * short * n).round() as usize + 1;
        let mut backdrops = Vec::with_capacity(scenes);
        let scene_len = frames as f32 / scenes as f32;
        for s in 0..scenes {
            let start = if s == 0 {
                0
            } else {
                ((s as f32 + rng.uniform(-0.2, 0.2) as f32) * scene_len)
                    .round()
                    .clamp(1.0, frames as f32 - 1.0) as usize
            };
            let rgb = Backdrop::draw(rng, width, height, margin);
            // Pan over the scene at most across the margin.
            let reach = margin as f32 / (scene_len / 2.0).max(1.0);
            let velocity = (
                rng.uniform(-1.0, 1.0) as f32 * reach,
                rng.uniform(-1.0, 1.0) as f32 * reach,
            );
            backdrops.push(Backdrop {
                width: width + 2 * margin,
                height: height + 2 * margin,
                rgb,
                velocity,
                centre_frame: start as f32 + scene_len / 2.0,
                start,
            });
        }
        backdrops.sort_by_key(|b| b.start);
        let fade = ((scene_len / 6.0).round() as usize).clamp(1, 4);

        let radius = rng.uniform(0.28, 0.36) as f32 * short;
        let scale = Wave::draw(rng, 0.25 * n, (0.5, 1.5));
        let reach = radius * (1.0 + scale.amplitude) * 1.05;
        let free = (
            (width as f32 / 2.0 - reach).max(0.0),
            (height as f32 / 2.0 - reach).max(0.0),
        );
        let (ax, ay) = (rng.uniform(0.6, 1.0) as f32, rng.uniform(0.6, 1.0) as f32);
        let path = (
            Wave::draw(rng, free.0 * n * ax, (0.5, 1.5)),
            Wave::draw(rng, free.1 * n * ay, (0.5, 1.5)),
        );
        // Without motion the object still sits at a random place.
        let centre = (
            width as f32 / 2.0
                + rng.uniform(-1.0, 1.0) as f32 * (free.0 - path.0.amplitude.abs()).max(0.0),
            height as f32 / 2.0
                + rng.uniform(-1.0, 1.0) as f32 * (free.1 - path.1.amplitude.abs()).max(0.0),
        );
        let angle = rng.uniform(-0.15, 0.15) as f32;
        let turn = Wave::draw(rng, 0.25 * n, (0.3, 1.0));
        let light = color_with_luma(rng, 0.6, 0.95);
        let dark = color_with_luma(rng, 0.05, 0.3);
        let outline = if rng.chance(0.5) {
            [0.02; 3]
        } else {
            [0.98; 3]
        };
        let hue_drift = Wave::draw(rng, 0.3 * n, (0.3, 1.0));
        let gain = Wave::draw(rng, 0.35 * n, (0.5, 1.5));
        let cast = [
            Wave::draw(rng, 0.15 * n, (0.5, 1.5)),
            Wave::draw(rng, 0.15 * n, (0.5, 1.5)),
            Wave::draw(rng, 0.15 * n, (0.5, 1.5)),
        ];

        let mut ds = Vec::with_capacity(distractors as usize);
        for _ in 0..distractors {
            let bar = rng.chance(0.4);
            let size = if bar {
                (
                    rng.uniform(0.15, 0.3) as f32 * short,
                    rng.uniform(0.02, 0.04) as f32 * short,
                )
            } else {
                (
                    rng.uniform(0.06, 0.12) as f32 * short,
                    rng.uniform(0.04, 0.1) as f32 * short,
                )
            };
            let appear = rng.uniform(0.0, 0.7) as f32;
            let speed = short * 0.6 * n; // pixels per video
            ds.push(Distractor {
                bar,
                color: random_color(rng),
                size,
                angle: rng.uniform(0.0, std::f64::consts::PI) as f32,
                position: (
                    rng.uniform(0.0, width as f64) as f32,
                    rng.uniform(0.0, height as f64) as f32,
                ),
                velocity: (
                    rng.uniform(-1.0, 1.0) as f32 * speed,
                    rng.uniform(-1.0, 1.0) as f32 * speed,
                ),
                appear,
                vanish: appear + rng.uniform(0.25, 0.6) as f32,
                in_front: rng.chance(0.5),
            });
        }
        let occluder = rng.chance(0.2 + 0.6 * n as f64).then(|| {
            let vertical = rng.chance(0.5);
            Occluder {
                vertical,
                color: random_color(rng),
                half_width: rng.uniform(0.04, 0.08) as f32,
                speed: rng.uniform(0.7, 1.4) as f32 * if rng.chance(0.5) { 1.0 } else { -1.0 },
                offset: rng.unit() as f32,
            }
        });
        VideoScript {
            class,
            shape,
            pattern,
            width,
            height,
            frames,
            backdrops,
            margin,
            fade,
            gain,
            cast,
            radius,
            centre,
            path,
            scale,
            angle,
            turn,
            light,
            dark,
            outline,
            hue_drift,
            distractors: ds,
            occluder,
        }
    }

    fn backdrop_at(&self, b: &Backdrop, frame: f32, x: f32, y: f32) -> [f32; 3] {
        let dx = (b.velocity.0 * (frame - b.centre_frame))
            .clamp(-(self.margin as f32), self.margin as f32);
        let dy = (b.velocity.1 * (frame - b.centre_frame))
            .clamp(-(self.margin as f32), self.margin as f32);
        b.sample(x + self.margin as f32 + dx, y + self.margin as f32 + dy)
    }

    /// Renders frame `frame` as interleaved RGB8 into `out` (`width × height × 3`).
    pub fn render(&self, frame: usize, out: &mut [u8]) {
        let (w, h) = (self.width, self.height);
        let t = frame as f32 / self.frames as f32;
        let f = frame as f32;
        let mut rgb = vec![0f32; w * h * 3];

        // Background: the current scene, cross-faded from the previous one just after a cut.
        let current = self
            .backdrops
            .iter()
            .rposition(|b| b.start <= frame)
            .unwrap_or(0);
        let fade_in = if current > 0 && frame < self.backdrops[current].start + self.fade {
            (frame - self.backdrops[current].start + 1) as f32 / (self.fade + 1) as f32
        } else {
            1.0
        };
        for y in 0..h {
            for x in 0..w {
                let mut c = self.backdrop_at(&self.backdrops[current], f, x as f32, y as f32);
                if fade_in < 1.0 {
                    let p = self.backdrop_at(&self.backdrops[current - 1], f, x as f32, y as f32);
                    for k in 0..3 {
                        c[k] = p[k] + (c[k] - p[k]) * fade_in;
                    }
                }
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
            }
        }

        for d in self.distractors.iter().filter(|d| !d.in_front) {
            self.draw_distractor(d, t, &mut rgb);
        }
        self.draw_object(t, &mut rgb);
        for d in self.distractors.iter().filter(|d| d.in_front) {
            self.draw_distractor(d, t, &mut rgb);
        }
        if let Some(o) = &self.occluder {
            let centre = ((o.offset + o.speed * t).rem_euclid(1.4)) - 0.2;
            for y in 0..h {
                for x in 0..w {
                    let along = if o.vertical {
                        x as f32 / w as f32
                    } else {
                        y as f32 / h as f32
                    };
                    let d = (along - centre).abs() - o.half_width;
                    let extent = if o.vertical { w } else { h } as f32;
                    let alpha = (0.5 - d * extent).clamp(0.0, 1.0); // one-pixel soft edge
                    if alpha > 0.0 {
                        let p = &mut rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
                        for k in 0..3 {
                            p[k] += (o.color[k] - p[k]) * alpha;
                        }
                    }
                }
            }
        }

        // Global illumination and colour cast.
        let gain = 1.0 + self.gain.at(t);
        let cast = [
            1.0 + self.cast[0].at(t),
            1.0 + self.cast[1].at(t),
            1.0 + self.cast[2].at(t),
        ];
        for (o, chunk) in out.chunks_exact_mut(3).zip(rgb.chunks_exact(3)) {
            for k in 0..3 {
                o[k] = (chunk[k] * gain * cast[k] * 255.0)
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
        }
    }

    fn draw_object(&self, t: f32, rgb: &mut [f32]) {
        let (w, h) = (self.width, self.height);
        let radius = self.radius * (1.0 + self.scale.at(t));
        let (cx, cy) = (
            self.centre.0 + self.path.0.at(t),
            self.centre.1 + self.path.1.at(t),
        );
        let angle = self.angle + self.turn.at(t);
        let (cos, sin) = (angle.cos(), angle.sin());
        let drift = self.hue_drift.at(t);
        let light = shift_hue(self.light, drift);
        let dark = shift_hue(self.dark, drift);
        // Outline: one pixel around the silhouette, in object units.
        let rim = 1.3 / radius;
        let reach = radius * 1.45;
        let (x0, x1) = (
            (cx - reach).floor().max(0.0) as usize,
            ((cx + reach).ceil() as usize).min(w),
        );
        let (y0, y1) = (
            (cy - reach).floor().max(0.0) as usize,
            ((cy + reach).ceil() as usize).min(h),
        );
        const SUB: [(f32, f32); 4] = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)];
        for y in y0..y1 {
            for x in x0..x1 {
                let mut acc = [0f32; 3];
                let mut cover = 0.0;
                for &(sx, sy) in &SUB {
                    let (px, py) = ((x as f32 + sx - cx) / radius, (y as f32 + sy - cy) / radius);
                    // Into object coordinates (undo the rotation).
                    let (u, v) = (px * cos + py * sin, -px * sin + py * cos);
                    let color = if inside(self.shape, u, v) {
                        let shrink = 1.0 + rim;
                        if inside(self.shape, u * shrink, v * shrink) {
                            if pattern_is_second(self.pattern, u, v) {
                                dark
                            } else {
                                light
                            }
                        } else {
                            self.outline
                        }
                    } else {
                        continue;
                    };
                    for k in 0..3 {
                        acc[k] += color[k];
                    }
                    cover += 1.0;
                }
                if cover > 0.0 {
                    let alpha = cover / 4.0;
                    let p = &mut rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
                    for k in 0..3 {
                        p[k] = p[k] * (1.0 - alpha) + acc[k] / 4.0;
                    }
                }
            }
        }
    }

    fn draw_distractor(&self, d: &Distractor, t: f32, rgb: &mut [f32]) {
        if t < d.appear || t >= d.vanish {
            return;
        }
        let (w, h) = (self.width as f32, self.height as f32);
        // Drift and bounce off the frame edges (reflection of the unbounded path).
        let bounce = |p: f32, extent: f32| {
            let period = 2.0 * extent;
            let q = p.rem_euclid(period);
            if q > extent { period - q } else { q }
        };
        let cx = bounce(d.position.0 + d.velocity.0 * t, w);
        let cy = bounce(d.position.1 + d.velocity.1 * t, h);
        let (cos, sin) = (d.angle.cos(), d.angle.sin());
        let reach = d.size.0.max(d.size.1) * 1.6;
        let (x0, x1) = (
            (cx - reach).floor().max(0.0) as usize,
            ((cx + reach).ceil().max(0.0) as usize).min(self.width),
        );
        let (y0, y1) = (
            (cy - reach).floor().max(0.0) as usize,
            ((cy + reach).ceil().max(0.0) as usize).min(self.height),
        );
        for y in y0..y1 {
            for x in x0..x1 {
                let (px, py) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                let (u, v) = (px * cos + py * sin, -px * sin + py * cos);
                let alpha = if d.bar {
                    let du = u.abs() - d.size.0;
                    let dv = v.abs() - d.size.1;
                    (0.5 - du.max(dv)).clamp(0.0, 1.0)
                } else {
                    let r2 = (u / d.size.0).powi(2) + (v / d.size.1).powi(2);
                    (1.4 * (-r2).exp()).min(1.0) * ((2.5 - r2) * 2.0).clamp(0.0, 1.0)
                };
                if alpha > 0.0 {
                    let p = &mut rgb[(y * self.width + x) * 3..(y * self.width + x) * 3 + 3];
                    for k in 0..3 {
                        p[k] += (d.color[k] - p[k]) * alpha;
                    }
                }
            }
        }
    }
}
