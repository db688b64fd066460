//! `vst data preview`: a picture of what a recipe's data settings do. For each of a few videos: one row of frames
//! spread over the whole video (unaugmented, for reference), then one row per clip the loader would make from it
//! (ρ rows, or two for ρ = 1), after T, S and C — exactly the pipeline the loader runs, seeded the same way.

use crate::augment::{CropBox, resample};
use crate::error::Result;
use crate::image::RgbImage;
use crate::list::VideoEntry;
use crate::pipeline::{ClipShape, SampleMode, make_sample};
use crate::rng::{Stream, rng_for};
use crate::video::{Frame, VideoBackend};
use vst_spec::{AugmentSpec, ClipSpec};

const GAP: usize = 2;
const VIDEO_GAP: usize = 10;
const BACKGROUND: [u8; 3] = [24, 24, 24];

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

    // Rows of tiles: each tile is size × size RGB8.
    let mut blocks: Vec<Vec<Vec<Vec<u8>>>> = Vec::new();
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
        let mut rows = vec![overview_row(backend, entry, shape.frames, size)?];
        let plane = size * size * 3;
        for r in 0..sample.rows {
            let difference = sample.clips.clips[r].difference;
            let row = (0..shape.frames)
                .map(|k| {
                    let start = (r * shape.frames + k) * plane;
                    denormalise(&sample.data[start..start + plane], augment, difference)
                })
                .collect();
            rows.push(row);
        }
        blocks.push(rows);
    }
    let columns = shape.frames;
    let rows: usize = blocks.iter().map(|b| b.len()).sum();
    let width = GAP + columns * (size + GAP);
    let height = GAP + rows * (size + GAP) + blocks.len().saturating_sub(1) * VIDEO_GAP;
    let mut image = RgbImage::new(width, height.max(1), BACKGROUND);
    let mut y = GAP;
    for block in &blocks {
        for row in block {
            for (c, tile) in row.iter().enumerate() {
                image.paste(GAP + c * (size + GAP), y, size, size, tile);
            }
            y += size + GAP;
        }
        y += VIDEO_GAP;
    }
    Ok(image)
}

/// T frames evenly spread over the whole video, each fitted (uncropped, letterboxed) into a size² tile.
fn overview_row(
    backend: &dyn VideoBackend,
    entry: &VideoEntry,
    count: usize,
    size: usize,
) -> Result<Vec<Vec<u8>>> {
    let mut reader = backend.open(&entry.path)?;
    let info = reader.info();
    let mut wanted: Vec<usize> = (0..count)
        .map(|k| ((k as f64 + 0.5) * info.frames as f64 / count as f64) as usize)
        .collect();
    wanted.dedup();
    let frames = reader.read_frames(&wanted)?;
    Ok((0..count)
        .map(|k| letterbox(&frames[k.min(frames.len() - 1)], size))
        .collect())
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
