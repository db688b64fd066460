//! `vst data preview`: a picture of what a recipe's data settings do. For each of a few videos: one row of frames
//! spread over the whole video (unaugmented, for reference), then one row per clip the loader would make from it
//! (ρ rows, or two for ρ = 1), after T, S and C — exactly the pipeline the loader runs, seeded the same way.
//! Small clips are scaled up (nearest neighbour, an integer factor) to at least [`MIN_TILE`] pixels a side, and
//! every row is labelled on the left: the video's index in the list, and each clip with its start time.

use crate::augment::{CropBox, resample};
use crate::error::Result;
use crate::glyphs::{draw_text, text_height, text_width};
use crate::image::RgbImage;
use crate::list::VideoEntry;
use crate::pipeline::{ClipShape, SampleMode, make_sample};
use crate::rng::{Stream, rng_for};
use crate::video::{Frame, VideoBackend};
use vst_spec::{AugmentSpec, ClipSpec};

const GAP: usize = 2;
const VIDEO_GAP: usize = 10;
const BACKGROUND: [u8; 3] = [24, 24, 24];
const LABEL: [u8; 3] = [230, 230, 230];
/// Tiles are shown at least this many pixels a side: a 32² clip is scaled ×3.
pub const MIN_TILE: usize = 96;
/// Label text scale (5×7 glyphs → 10×14 pixels).
const TEXT_SCALE: usize = 2;

/// One row of the picture: its label and its size² RGB8 tiles.
type Row = (String, Vec<Vec<u8>>);

/// Renders the preview of `videos` videos of `entries` (picked at random with `seed`, or the first ones when the
/// list is that short). Unreadable videos are passed over (the loader would replace them) and reported in the log.
pub fn render_preview(
    entries: &[VideoEntry],
    backend: &dyn VideoBackend,
    clips: &ClipSpec,
    augment: &AugmentSpec,
    shape: ClipShape,
    videos: usize,
    seed: u64,
) -> Result<RgbImage> {
    let mode = SampleMode::Pretrain {
        clips: clips.clone(),
        augment: augment.clone(),
    };
    mode.check()?;
    let size = mode.size();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    rng_for(seed, Stream::Preview, 0, 0).shuffle(&mut order);

    // Rows of tiles (each tile size × size RGB8), each row with its label.
    let mut blocks: Vec<Vec<Row>> = Vec::new();
    for &index in &order {
        if blocks.len() == videos {
            break;
        }
        let entry = &entries[index];
        let sample = match make_sample(backend, entry, &mode, shape, seed, 0, index as u64) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("preview: skipping {}: {e}", entry.path.display());
                continue;
            }
        };
        let (overview, fps) = overview_row(backend, entry, shape.frames, size)?;
        let mut rows = vec![(format!("video {index}"), overview)];
        let plane = size * size * 3;
        for r in 0..sample.rows {
            let clip = &sample.clips.clips[r];
            let row = (0..shape.frames)
                .map(|k| {
                    let start = (r * shape.frames + k) * plane;
                    denormalise(&sample.data[start..start + plane], augment, clip.difference)
                })
                .collect();
            let seconds = clip.start() as f64 / fps.max(1e-9);
            rows.push((format!("clip {} t={seconds:.2}s", r + 1), row));
        }
        blocks.push(rows);
    }
    Ok(compose(&blocks, shape.frames, size))
}

/// Lays out the labelled rows: labels on the left, tiles scaled up to at least [`MIN_TILE`] a side.
fn compose(blocks: &[Vec<Row>], columns: usize, size: usize) -> RgbImage {
    let scale = MIN_TILE.div_ceil(size.max(1)).max(1);
    let side = size * scale;
    let label_width = blocks
        .iter()
        .flatten()
        .map(|(label, _)| text_width(label, TEXT_SCALE))
        .max()
        .unwrap_or(0)
        + 4 * GAP;
    let rows: usize = blocks.iter().map(|b| b.len()).sum();
    let width = label_width + GAP + columns * (side + GAP);
    let height = GAP + rows * (side + GAP) + blocks.len().saturating_sub(1) * VIDEO_GAP;
    let mut image = RgbImage::new(width, height.max(1), BACKGROUND);
    let mut y = GAP;
    for block in blocks {
        for (label, row) in block {
            let text_y = y + side.saturating_sub(text_height(TEXT_SCALE)) / 2;
            draw_text(&mut image, 2 * GAP, text_y, label, TEXT_SCALE, LABEL);
            for (c, tile) in row.iter().enumerate() {
                let scaled = upscale(tile, size, scale);
                image.paste(label_width + GAP + c * (side + GAP), y, side, side, &scaled);
            }
            y += side + GAP;
        }
        y += VIDEO_GAP;
    }
    image
}

/// A size² RGB8 tile scaled by an integer factor, nearest neighbour (each pixel becomes a scale² block).
fn upscale(tile: &[u8], size: usize, scale: usize) -> Vec<u8> {
    if scale == 1 {
        return tile.to_vec();
    }
    let side = size * scale;
    let mut out = vec![0u8; side * side * 3];
    for y in 0..side {
        for x in 0..side {
            let from = ((y / scale) * size + x / scale) * 3;
            out[(y * side + x) * 3..(y * side + x) * 3 + 3].copy_from_slice(&tile[from..from + 3]);
        }
    }
    out
}

/// T frames evenly spread over the whole video, each fitted (uncropped, letterboxed) into a size² tile; and the
/// video's frame rate.
fn overview_row(
    backend: &dyn VideoBackend,
    entry: &VideoEntry,
    count: usize,
    size: usize,
) -> Result<(Vec<Vec<u8>>, f64)> {
    let mut reader = backend.open(&entry.path)?;
    let info = reader.info();
    let mut wanted: Vec<usize> = (0..count)
        .map(|k| ((k as f64 + 0.5) * info.frames as f64 / count as f64) as usize)
        .collect();
    wanted.dedup();
    let frames = reader.read_frames(&wanted)?;
    let row = (0..count)
        .map(|k| letterbox(&frames[k.min(frames.len() - 1)], size))
        .collect();
    Ok((row, info.fps))
}

fn letterbox(frame: &Frame, size: usize) -> Vec<u8> {
    // Resample the full frame into a square, then shrink it to the frame's aspect inside the tile.
    let (w, h) = (frame.width as f64, frame.height as f64);
    let (tw, th) = if w >= h {
        (size, ((size as f64 * h / w).round() as usize).max(1))
    } else {
        (((size as f64 * w / h).round() as usize).max(1), size)
    };
    let side = tw.max(th);
    let mut square = vec![0f32; side * side * 3];
    resample(
        frame,
        &CropBox::full(frame.width, frame.height),
        side,
        &mut square,
    );
    let mut tile = vec![BACKGROUND[0]; size * size * 3];
    let (ox, oy) = ((size - tw) / 2, (size - th) / 2);
    for y in 0..th {
        for x in 0..tw {
            // Nearest sample of the squashed square.
            let sx = (x * side / tw).min(side - 1);
            let sy = (y * side / th).min(side - 1);
            for k in 0..3 {
                tile[((oy + y) * size + ox + x) * 3 + k] =
                    (square[(sy * side + sx) * 3 + k] * 255.0).round() as u8;
            }
        }
    }
    tile
}

/// Back from the network's normalised values to displayable RGB8 (differences are shown around mid-grey).
fn denormalise(clip_frame: &[f32], augment: &AugmentSpec, difference: bool) -> Vec<u8> {
    let (mean, std) = (augment.normalize.mean, augment.normalize.std);
    clip_frame
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let c = i % 3;
            let v = if difference {
                x as f64 * std[c] + 0.5
            } else {
                x as f64 * std[c] + mean[c]
            };
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tiles_are_scaled_up_by_nearest_neighbour_and_rows_labelled() {
        // One video: a 2-frame overview row and one clip row of 32² tiles, each tile one colour.
        let tile = |v: u8| vec![v; 32 * 32 * 3];
        let blocks = vec![vec![
            ("video 0".to_string(), vec![tile(10), tile(20)]),
            ("clip 1 t=0.50s".to_string(), vec![tile(30), tile(40)]),
        ]];
        let image = compose(&blocks, 2, 32);
        let label_width = text_width("clip 1 t=0.50s", TEXT_SCALE) + 4 * GAP;
        assert_eq!(image.width, label_width + GAP + 2 * (MIN_TILE + GAP));
        assert_eq!(image.height, GAP + 2 * (MIN_TILE + GAP));
        let at = |x: usize, y: usize| image.pixels[(y * image.width + x) * 3];
        // The second tile of the clip row covers 96 × 96 pixels.
        let x0 = label_width + GAP + MIN_TILE + GAP;
        let y0 = GAP + MIN_TILE + GAP;
        assert_eq!((at(x0, y0), at(x0 + 95, y0 + 95)), (40, 40));
        // Labels are drawn in the left column.
        let lit = (0..image.height)
            .flat_map(|y| (0..label_width).map(move |x| (x, y)))
            .filter(|&(x, y)| at(x, y) == LABEL[0])
            .count();
        assert!(lit > 100, "{lit} label pixels");
        assert_eq!(
            upscale(&[1, 2, 3], 1, 2),
            [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]
        );
    }
}
