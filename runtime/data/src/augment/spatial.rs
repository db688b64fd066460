//! S: where a clip's crop lies in its source frames (short-side scale jitter, random resized crop, flip — one draw
//! per clip), and the resampling that cuts it out. Scale jitter and crop compose into one rectangle in source
//! pixels, so each output pixel is interpolated once, straight from the decoded YUV planes: colour conversion
//! happens only for pixels that survive the crop, at the output resolution.

use crate::rng::DataRng;
use crate::video::frame::{Frame, Pixels, yuv_to_rgb};
use vst_spec::SpatialAug;

/// A crop rectangle in source pixel coordinates (edges, not centres), and whether to mirror it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub flip: bool,
}

impl CropBox {
    pub fn full(width: usize, height: usize) -> CropBox {
        CropBox {
            x: 0.0,
            y: 0.0,
            width: width as f64,
            height: height as f64,
            flip: false,
        }
    }
}

/// Draws the crop of one training clip from a `width × height` source, following the paper's recipe: scale the
/// short side to a random length in `short_side`, then a random resized crop (area fraction and log-uniform
/// aspect, as torchvision's RandomResizedCrop, 10 tries then a centre crop) or a plain `size`² crop (at a random
/// position, or the centre when `center`), then a horizontal flip with probability `flip`.
pub fn draw_crop(rng: &mut DataRng, width: usize, height: usize, spatial: &SpatialAug) -> CropBox {
    let (w, h) = (width.max(1) as f64, height.max(1) as f64);
    let scale = match spatial.short_side {
        Some(range) => {
            let side = rng
                .range_inclusive(range.lo.round() as i64, range.hi.round() as i64)
                .max(1) as f64;
            side / w.min(h)
        }
        None => 1.0,
    };
    // Work in the scaled frame's integer pixel grid, as an implementation that resizes first would.
    let (sw, sh) = ((w * scale).round().max(1.0), (h * scale).round().max(1.0));
    let (cx, cy, cw, ch) = match &spatial.resized_crop {
        Some(rc) => {
            let area = sw * sh;
            let (log_lo, log_hi) = (rc.aspect.lo.max(1e-6).ln(), rc.aspect.hi.max(1e-6).ln());
            let mut found = None;
            for _ in 0..10 {
                let target = area * rng.uniform(rc.area.lo, rc.area.hi);
                let aspect = rng.uniform(log_lo, log_hi).exp();
                let cw = (target * aspect).sqrt().round();
                let ch = (target / aspect).sqrt().round();
                if cw > 0.0 && ch > 0.0 && cw <= sw && ch <= sh {
                    let x = rng.range_inclusive(0, (sw - cw) as i64) as f64;
                    let y = rng.range_inclusive(0, (sh - ch) as i64) as f64;
                    found = Some((x, y, cw, ch));
                    break;
                }
            }
            found.unwrap_or_else(|| {
                // torchvision's fallback: the largest centre crop whose aspect lies in the range.
                let ratio = sw / sh;
                let (cw, ch) = if ratio < rc.aspect.lo {
                    (sw, (sw / rc.aspect.lo).round())
                } else if ratio > rc.aspect.hi {
                    ((sh * rc.aspect.hi).round(), sh)
                } else {
                    (sw, sh)
                };
                (((sw - cw) / 2.0).floor(), ((sh - ch) / 2.0).floor(), cw, ch)
            })
        }
        None => {
            let size = spatial.size as f64;
            let (cw, ch) = (size.min(sw), size.min(sh));
            if spatial.center {
                (((sw - cw) / 2.0).floor(), ((sh - ch) / 2.0).floor(), cw, ch)
            } else {
                let x = rng.range_inclusive(0, (sw - cw) as i64) as f64;
                let y = rng.range_inclusive(0, (sh - ch) as i64) as f64;
                (x, y, cw, ch)
            }
        }
    };
    let flip = spatial.flip.is_some_and(|p| rng.chance(p));
    // Back to source pixels (the scaled grid maps onto the source exactly, edge to edge).
    let (fx, fy) = (w / sw, h / sh);
    CropBox {
        x: cx * fx,
        y: cy * fy,
        width: cw * fx,
        height: ch * fy,
        flip,
    }
}

/// Test-time crop `index` of `count`: the short side scaled to the view size, then a square of that size at
/// evenly spaced positions along the long side (PySlowFast's three views: left/top, centre, right/bottom). In
/// source pixels the square's side is the short side.
pub fn test_crop(width: usize, height: usize, index: usize, count: usize) -> CropBox {
    let (w, h) = (width.max(1) as f64, height.max(1) as f64);
    let side = w.min(h); // the square in source pixels
    let (free_x, free_y) = (w - side, h - side);
    let position = if count <= 1 {
        0.5
    } else {
        index as f64 / (count - 1) as f64
    };
    CropBox {
        x: (free_x * position).round(),
        y: (free_y * position).round(),
        width: side,
        height: side,
        flip: false,
    }
}

/// Bilinear sampling positions along one axis: for each output pixel, the two source indices and the weight of
/// the second (pixel centres aligned as in `align_corners = false`). Public so that the GPU resampler uses the
/// very same positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Taps {
    pub lo: Vec<u32>,
    pub hi: Vec<u32>,
    pub w: Vec<f32>,
}

impl Taps {
    /// `out` samples covering `[start, start + len)` of a source axis of `n` pixels whose samples sit at
    /// `(i + 0.5) * step` (step 2 for 4:2:0 chroma).
    pub fn new(out: usize, start: f64, len: f64, n: usize, step: f64, mirror: bool) -> Taps {
        let mut taps = Taps {
            lo: Vec::with_capacity(out),
            hi: Vec::with_capacity(out),
            w: Vec::with_capacity(out),
        };
        let last = n.max(1) - 1;
        for i in 0..out {
            let i = if mirror { out - 1 - i } else { i };
            let pos = start + (i as f64 + 0.5) * len / out as f64; // in luma pixel edges
            let p = (pos / step - 0.5).clamp(0.0, last as f64);
            let lo = p.floor() as usize;
            let hi = (lo + 1).min(last);
            taps.lo.push(lo as u32);
            taps.hi.push(hi as u32);
            taps.w.push((p - lo as f64) as f32);
        }
        taps
    }
}

/// Horizontally interpolated copies of source rows, cached: consecutive output rows mostly reuse the same two
/// source rows, so each is interpolated once.
struct RowCache {
    rows: [Option<u32>; 2],
    data: [Vec<f32>; 2],
}

impl RowCache {
    fn new(len: usize) -> RowCache {
        RowCache {
            rows: [None, None],
            data: [vec![0.0; len], vec![0.0; len]],
        }
    }

    /// Forgets the cached rows (a new frame).
    fn clear(&mut self) {
        self.rows = [None, None];
    }

    /// The interpolated row `row` of `plane` (row stride `stride`, `CH` interleaved values per pixel).
    fn get<const CH: usize>(
        &mut self,
        plane: &[u8],
        stride: usize,
        row: u32,
        taps: &Taps,
    ) -> usize {
        if let Some(slot) = self.rows.iter().position(|&r| r == Some(row)) {
            return slot;
        }
        // Replace the slot not holding the other row needed next (the lower-numbered one is done with).
        let slot = match self.rows {
            [None, _] => 0,
            [_, None] => 1,
            [Some(a), Some(b)] => (a > b) as usize,
        };
        let src = &plane[row as usize * stride..];
        let out = &mut self.data[slot];
        for (o, ((&lo, &hi), &w)) in out
            .chunks_exact_mut(CH)
            .zip(taps.lo.iter().zip(&taps.hi).zip(&taps.w))
        {
            for c in 0..CH {
                let a = src[lo as usize * CH + c] as f32;
                let b = src[hi as usize * CH + c] as f32;
                o[c] = a + (b - a) * w;
            }
        }
        self.rows[slot] = Some(row);
        slot
    }

    /// Row `oy` of the output: the two cached source rows blended vertically into `out`.
    fn blend<const CH: usize>(
        &mut self,
        plane: &[u8],
        stride: usize,
        across: &Taps,
        down: &Taps,
        oy: usize,
        out: &mut [f32],
    ) {
        let a = self.get::<CH>(plane, stride, down.lo[oy], across);
        let b = self.get::<CH>(plane, stride, down.hi[oy], across);
        let wy = down.w[oy];
        for ((o, &p), &q) in out.iter_mut().zip(&self.data[a]).zip(&self.data[b]) {
            *o = p + (q - p) * wy;
        }
    }
}

/// Cuts one crop out of every frame of a clip and resizes it to `size × size` RGB in [0, 1]: the sampling
/// positions and row buffers are made once per clip (every frame of a clip has the same crop and, in practice,
/// the same dimensions; a frame of other dimensions gets its own positions).
pub struct Resampler {
    crop: CropBox,
    size: usize,
    dims: Option<(usize, usize)>,
    luma: [Taps; 2],
    chroma: [Taps; 2],
    caches: [RowCache; 3],
    /// Y, U, V of one output row before conversion.
    yuv: [Vec<f32>; 3],
}

impl Resampler {
    pub fn new(crop: &CropBox, size: usize) -> Resampler {
        let empty = || Taps {
            lo: Vec::new(),
            hi: Vec::new(),
            w: Vec::new(),
        };
        Resampler {
            crop: *crop,
            size,
            dims: None,
            luma: [empty(), empty()],
            chroma: [empty(), empty()],
            caches: [
                RowCache::new(size * 3),
                RowCache::new(size),
                RowCache::new(size),
            ],
            yuv: [vec![0.0; size], vec![0.0; size], vec![0.0; size]],
        }
    }

    fn prepare(&mut self, w: usize, h: usize) {
        if self.dims != Some((w, h)) {
            let (c, size) = (&self.crop, self.size);
            let (cw, ch) = Frame::chroma_size(w, h);
            self.luma = [
                Taps::new(size, c.x, c.width, w, 1.0, c.flip),
                Taps::new(size, c.y, c.height, h, 1.0, false),
            ];
            self.chroma = [
                Taps::new(size, c.x, c.width, cw, 2.0, c.flip),
                Taps::new(size, c.y, c.height, ch, 2.0, false),
            ];
            self.dims = Some((w, h));
        }
        self.caches.iter_mut().for_each(RowCache::clear);
    }

    /// Writes the crop of `frame` to `out` (`size² × 3` values, interleaved, row-major), handing each output row
    /// to `on_row` as soon as it is written (while it is in cache). Separable bilinear: source rows are
    /// interpolated horizontally once (and cached), then blended vertically and converted.
    pub fn frame(&mut self, frame: &Frame, out: &mut [f32], mut on_row: impl FnMut(&mut [f32])) {
        let size = self.size;
        debug_assert_eq!(out.len(), size * size * 3);
        let w = frame.width;
        self.prepare(w, frame.height);
        let [lx, ly] = &self.luma;
        let [cx, cy] = &self.chroma;
        match &frame.pixels {
            Pixels::Rgb8(rgb) => {
                let cache = &mut self.caches[0];
                for (oy, row) in out.chunks_exact_mut(size * 3).enumerate() {
                    cache.blend::<3>(rgb, w * 3, lx, ly, oy, row);
                    for o in row.iter_mut() {
                        *o *= 1.0 / 255.0;
                    }
                    on_row(row);
                }
            }
            Pixels::Yuv420 { y, u, v } => {
                let cw = Frame::chroma_size(w, frame.height).0;
                let [yc, uc, vc] = &mut self.caches;
                let [yy, uu, vv] = &mut self.yuv;
                for (oy, row) in out.chunks_exact_mut(size * 3).enumerate() {
                    yc.blend::<1>(y, w, lx, ly, oy, yy);
                    uc.blend::<1>(u, cw, cx, cy, oy, uu);
                    vc.blend::<1>(v, cw, cx, cy, oy, vv);
                    for (((px, &l), &cb), &cr) in
                        row.chunks_exact_mut(3).zip(&*yy).zip(&*uu).zip(&*vv)
                    {
                        let rgb = yuv_to_rgb(l, cb, cr);
                        px[0] = rgb[0].clamp(0.0, 1.0);
                        px[1] = rgb[1].clamp(0.0, 1.0);
                        px[2] = rgb[2].clamp(0.0, 1.0);
                    }
                    on_row(row);
                }
            }
        }
    }
}

/// Cuts `crop` out of `frame` and resizes it to `size × size`, writing RGB in [0, 1] (interleaved, row-major) to
/// `out` (`size² × 3` values). For a clip, [`Resampler`] reuses its set-up across frames.
pub fn resample(frame: &Frame, crop: &CropBox, size: usize, out: &mut [f32]) {
    Resampler::new(crop, size).frame(frame, out, |_| {});
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};
    use proptest::prelude::*;
    use vst_spec::{Range, ResizedCrop};

    fn paper_spatial(size: u32) -> SpatialAug {
        SpatialAug {
            size,
            short_side: Some(Range::new(256.0, 320.0)),
            resized_crop: Some(ResizedCrop {
                area: Range::new(0.2, 0.766),
                aspect: Range::new(0.75, 1.333),
            }),
            flip: Some(0.5),
            center: false,
        }
    }

    proptest! {
        #[test]
        fn crops_lie_inside_the_frame(seed in 0u64..2000, w in 8usize..400, h in 8usize..400, size in 4u32..256,
                                      jitter in any::<bool>(), resized in any::<bool>()) {
            let mut spatial = paper_spatial(size);
            if !jitter { spatial.short_side = None; }
            if !resized { spatial.resized_crop = None; }
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let c = draw_crop(&mut rng, w, h, &spatial);
            let eps = 1e-6;
            prop_assert!(c.x >= -eps && c.y >= -eps && c.width > 0.0 && c.height > 0.0);
            prop_assert!(c.x + c.width <= w as f64 + eps && c.y + c.height <= h as f64 + eps, "{:?} in {}x{}", c, w, h);
        }

        #[test]
        fn resized_crops_respect_area_and_aspect(seed in 0u64..2000) {
            // A frame big enough that the first try always fits: area within range (up to rounding).
            let spatial = SpatialAug { short_side: None, ..paper_spatial(64) };
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let c = draw_crop(&mut rng, 1000, 1000, &spatial);
            let area = c.width * c.height / 1e6;
            prop_assert!((0.2 - 0.01..=0.766 + 0.01).contains(&area), "area {}", area);
            let aspect = c.width / c.height;
            prop_assert!((0.75 - 0.01..=1.333 + 0.01).contains(&aspect), "aspect {}", aspect);
        }

        #[test]
        fn resampled_values_are_in_unit_range(seed in 0u64..200, w in 2usize..40, h in 2usize..40, size in 1usize..24) {
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let y: Vec<u8> = (0..w * h).map(|_| rng.below(256) as u8).collect();
            let (cw, ch) = Frame::chroma_size(w, h);
            let u: Vec<u8> = (0..cw * ch).map(|_| rng.below(256) as u8).collect();
            let v: Vec<u8> = (0..cw * ch).map(|_| rng.below(256) as u8).collect();
            let frame = Frame { width: w, height: h, pixels: Pixels::Yuv420 { y, u, v } };
            let crop = draw_crop(&mut rng, w, h, &SpatialAug { short_side: None, ..paper_spatial(size as u32) });
            let mut out = vec![f32::NAN; size * size * 3];
            resample(&frame, &crop, size, &mut out);
            prop_assert!(out.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }

    #[test]
    fn identity_crop_reproduces_an_rgb_frame_and_flip_mirrors_it() {
        let rgb: Vec<u8> = (0..27).map(|i| (i * 7 % 256) as u8).collect();
        let square = Frame {
            width: 3,
            height: 3,
            pixels: Pixels::Rgb8(rgb[..27].to_vec()),
        };
        let mut out = vec![0.0; 27];
        resample(&square, &CropBox::full(3, 3), 3, &mut out);
        for (o, &e) in out.iter().zip(&rgb[..27]) {
            assert!((o * 255.0 - e as f32).abs() < 1e-3);
        }
        let mut flipped = vec![0.0; 27];
        resample(
            &square,
            &CropBox {
                flip: true,
                ..CropBox::full(3, 3)
            },
            3,
            &mut flipped,
        );
        for row in 0..3 {
            for col in 0..3 {
                for k in 0..3 {
                    assert_eq!(
                        flipped[(row * 3 + col) * 3 + k],
                        out[(row * 3 + 2 - col) * 3 + k]
                    );
                }
            }
        }
    }

    #[test]
    fn test_crops_cover_left_centre_right() {
        let c: Vec<CropBox> = (0..3).map(|i| test_crop(320, 240, i, 3)).collect();
        assert_eq!((c[0].x, c[1].x, c[2].x), (0.0, 40.0, 80.0));
        assert!(
            c.iter()
                .all(|c| c.width == 240.0 && c.height == 240.0 && c.y == 0.0)
        );
        assert_eq!(test_crop(240, 320, 0, 1).y, 40.0);
    }
}
