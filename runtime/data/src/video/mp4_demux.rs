//! The mp4 demuxer: the `mp4` crate parses the boxes; this file turns the video track's sample tables into one
//! index (byte range, decode and presentation time, keyframe flag per sample) so that any frame can be found in
//! O(1) and decoding can start at the right keyframe.

use super::h264;
use crate::error::{DataError, Result};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One coded sample (an access unit) in decode order.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub offset: u64,
    pub size: u32,
    /// Decode and presentation time in track timescale units.
    pub dts: i64,
    pub pts: i64,
    pub sync: bool,
}

/// An opened H.264 mp4 file: its sample index and decoder configuration.
pub struct Mp4Video {
    path: PathBuf,
    file: File,
    /// Samples in decode order.
    pub samples: Vec<Sample>,
    /// `decode_index[f]`: the sample holding presentation frame `f`.
    pub decode_index: Vec<u32>,
    /// `frame_index[s]`: the presentation frame of sample `s`.
    pub frame_index: Vec<u32>,
    /// Decode indices of the sync samples, ascending.
    pub sync_samples: Vec<u32>,
    /// Bytes of the big-endian length before each NAL unit in a sample.
    pub length_size: usize,
    /// SPS and PPS NAL units in Annex B form, fed to the decoder before each keyframe it starts at.
    pub parameter_sets: Vec<u8>,
    pub sps: Option<h264::SpsInfo>,
    pub width: usize,
    pub height: usize,
    pub fps: f64,
}

fn container(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Container {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn corrupt(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl Mp4Video {
    pub fn open(path: &Path) -> Result<Mp4Video> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let file_size = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        // A second handle on the same file reads samples later; the buffered one only serves the header parse.
        let sample_file = file.try_clone().map_err(|e| DataError::io(path, e))?;
        let mp4 = mp4::Mp4Reader::read_header(BufReader::new(file), file_size)
            .map_err(|e| container(path, e.to_string()))?;
        let trak = mp4
            .moov
            .traks
            .iter()
            .find(|t| t.mdia.hdlr.handler_type.value == *b"vide")
            .ok_or_else(|| container(path, "no video track"))?;
        let stbl = &trak.mdia.minf.stbl;
        let avc1 = match (&stbl.stsd.avc1, &stbl.stsd.hev1, &stbl.stsd.vp09) {
            (Some(avc1), _, _) => avc1,
            (None, Some(_), _) => {
                return Err(unsupported(
                    path,
                    "the codec is H.265/HEVC (hev1), not H.264",
                ));
            }
            (None, None, Some(_)) => return Err(unsupported(path, "the codec is VP9, not H.264")),
            _ => {
                return Err(unsupported(
                    path,
                    "the video track's codec is not H.264 (avc1)",
                ));
            }
        };
        let length_size = avc1.avcc.length_size_minus_one as usize % 4 + 1;
        if length_size == 3 {
            return Err(corrupt(path, "invalid NAL length size 3"));
        }
        let mut parameter_sets = Vec::new();
        let mut sps = None;
        for nal in avc1
            .avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avc1.avcc.picture_parameter_sets)
        {
            if nal.bytes.is_empty() {
                continue;
            }
            if nal.bytes[0] & 0x1f == 7 && sps.is_none() {
                sps = Some(
                    h264::parse_sps(&nal.bytes)
                        .map_err(|m| corrupt(path, format!("bad SPS: {m}")))?,
                );
            }
            parameter_sets.extend_from_slice(&[0, 0, 0, 1]);
            parameter_sets.extend_from_slice(&nal.bytes);
        }

        let tables = Tables {
            sample_size: stbl.stsz.sample_size,
            sample_count: stbl.stsz.sample_count,
            sample_sizes: stbl.stsz.sample_sizes.clone(),
            chunk_offsets: match (&stbl.stco, &stbl.co64) {
                (Some(stco), _) => stco.entries.iter().map(|&o| o as u64).collect(),
                (None, Some(co64)) => co64.entries.clone(),
                (None, None) => return Err(corrupt(path, "no chunk offset table (stco/co64)")),
            },
            sample_to_chunk: stbl
                .stsc
                .entries
                .iter()
                .map(|e| (e.first_chunk, e.samples_per_chunk))
                .collect(),
            time_to_sample: stbl
                .stts
                .entries
                .iter()
                .map(|e| (e.sample_count, e.sample_delta))
                .collect(),
            composition_offsets: stbl.ctts.as_ref().map(|c| {
                c.entries
                    .iter()
                    .map(|e| (e.sample_count, e.sample_offset))
                    .collect()
            }),
            sync_samples: stbl.stss.as_ref().map(|s| s.entries.clone()),
        };
        let samples = build_index(path, &tables, file_size)?;
        if samples.is_empty() {
            return Err(corrupt(path, "the video track has no frames"));
        }
        let timescale = trak.mdia.mdhd.timescale;
        if timescale == 0 {
            return Err(corrupt(path, "the video track's timescale is 0"));
        }
        let first = samples[0].dts;
        let last = samples[samples.len() - 1];
        // Duration: up to the end of the last sample, approximated by the mean spacing.
        let span =
            (last.dts - first) as f64 * samples.len() as f64 / (samples.len() - 1).max(1) as f64;
        let fps = if samples.len() > 1 && span > 0.0 {
            samples.len() as f64 * timescale as f64 / span
        } else {
            // A one-frame video: its rate is irrelevant; say 30.
            30.0
        };

        let mut decode_index: Vec<u32> = (0..samples.len() as u32).collect();
        decode_index.sort_by_key(|&s| (samples[s as usize].pts, s));
        let mut frame_index = vec![0u32; samples.len()];
        for (f, &s) in decode_index.iter().enumerate() {
            frame_index[s as usize] = f as u32;
        }
        let mut sync_samples: Vec<u32> = samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.sync)
            .map(|(i, _)| i as u32)
            .collect();
        if sync_samples.first() != Some(&0) {
            // Decoding must be able to start somewhere: the first sample is where a stream starts.
            sync_samples.insert(0, 0);
        }
        Ok(Mp4Video {
            path: path.to_path_buf(),
            file: sample_file,
            samples,
            decode_index,
            frame_index,
            sync_samples,
            length_size,
            parameter_sets,
            sps,
            width: avc1.width as usize,
            height: avc1.height as usize,
            fps,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn num_frames(&self) -> usize {
        self.samples.len()
    }

    /// Reads sample `index` (decode order) into `buf` (replacing its contents).
    pub fn read_sample(&mut self, index: usize, buf: &mut Vec<u8>) -> Result<()> {
        let s = self.samples[index];
        buf.resize(s.size as usize, 0);
        self.file
            .seek(SeekFrom::Start(s.offset))
            .map_err(|e| DataError::io(&self.path, e))?;
        self.file.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                corrupt(
                    &self.path,
                    format!("sample {index} lies beyond the end of the file"),
                )
            } else {
                DataError::io(&self.path, e)
            }
        })
    }

    /// The keyframe to start decoding at so that sample `target` comes out right: the last sync sample at or
    /// before it in decode order that is also not after it in presentation order (open-GOP leading pictures
    /// reference the previous group, so they need an earlier keyframe).
    pub fn keyframe_for(&self, target: usize) -> usize {
        let pts = self.samples[target].pts;
        let upto = self.sync_samples.partition_point(|&s| s as usize <= target);
        for &k in self.sync_samples[..upto].iter().rev() {
            if self.samples[k as usize].pts <= pts {
                return k as usize;
            }
        }
        0
    }
}

fn unsupported(path: &Path, message: &str) -> DataError {
    DataError::Unsupported {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The sample tables of a track, copied out of the `mp4` crate's boxes (whose types it does not export).
struct Tables {
    /// Non-zero when all samples have this size.
    sample_size: u32,
    sample_count: u32,
    sample_sizes: Vec<u32>,
    chunk_offsets: Vec<u64>,
    /// (first chunk, samples per chunk), 1-based chunks.
    sample_to_chunk: Vec<(u32, u32)>,
    /// (sample count, delta).
    time_to_sample: Vec<(u32, u32)>,
    /// (sample count, offset).
    composition_offsets: Option<Vec<(u32, i32)>>,
    /// 1-based sample numbers.
    sync_samples: Option<Vec<u32>>,
}

/// Flattens stsz/stsc/stco/stts/ctts/stss into one entry per sample, checking every count against the others and
/// every byte range against the file.
fn build_index(path: &Path, tables: &Tables, file_size: u64) -> Result<Vec<Sample>> {
    let count = tables.sample_count as usize;
    let size_of = |i: usize| -> Result<u32> {
        if tables.sample_size > 0 {
            Ok(tables.sample_size)
        } else {
            tables
                .sample_sizes
                .get(i)
                .copied()
                .ok_or_else(|| corrupt(path, "stsz lists fewer sizes than samples"))
        }
    };
    let chunk_offsets = &tables.chunk_offsets;
    let sync_default = tables.sync_samples.is_none();

    // Byte ranges from the sample-to-chunk table.
    let mut samples = Vec::with_capacity(count.min(1 << 20));
    let entries = &tables.sample_to_chunk;
    'chunks: for (e, &(first_chunk, samples_per_chunk)) in entries.iter().enumerate() {
        let first = first_chunk as usize;
        let end = entries
            .get(e + 1)
            .map_or(chunk_offsets.len() + 1, |n| n.0 as usize);
        if first == 0 || end < first {
            return Err(corrupt(path, "sample-to-chunk table is out of order"));
        }
        for chunk in first..end {
            let mut offset = *chunk_offsets
                .get(chunk - 1)
                .ok_or_else(|| corrupt(path, "sample-to-chunk table names a missing chunk"))?;
            for _ in 0..samples_per_chunk {
                if samples.len() == count {
                    break 'chunks;
                }
                let size = size_of(samples.len())?;
                if offset + size as u64 > file_size {
                    return Err(corrupt(
                        path,
                        format!(
                            "truncated: frame {} of {count} ends at byte {} but the file has {file_size} bytes",
                            samples.len() + 1,
                            offset + size as u64
                        ),
                    ));
                }
                samples.push(Sample {
                    offset,
                    size,
                    dts: 0,
                    pts: 0,
                    sync: sync_default,
                });
                offset += size as u64;
            }
        }
    }
    if samples.len() != count {
        return Err(corrupt(
            path,
            format!("chunk tables place {} of {count} samples", samples.len()),
        ));
    }

    // Decode times.
    let mut i = 0;
    let mut t: i64 = 0;
    for &(n, delta) in &tables.time_to_sample {
        for _ in 0..n {
            if i == count {
                break;
            }
            samples[i].dts = t;
            t += delta as i64;
            i += 1;
        }
    }
    if i < count {
        return Err(corrupt(
            path,
            format!("time-to-sample table covers {i} of {count} samples"),
        ));
    }
    // Presentation times (composition offsets are signed in version 1 and read as such).
    for s in samples.iter_mut() {
        s.pts = s.dts;
    }
    if let Some(offsets) = &tables.composition_offsets {
        let mut i = 0;
        for &(n, offset) in offsets {
            for _ in 0..n {
                if i == count {
                    break;
                }
                samples[i].pts = samples[i].dts + offset as i64;
                i += 1;
            }
        }
    }
    if let Some(sync) = &tables.sync_samples {
        for &n in sync {
            if n >= 1 && (n as usize) <= count {
                samples[n as usize - 1].sync = true;
            }
        }
    }
    Ok(samples)
}
