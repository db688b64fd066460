//! Frame-exact access to an H.264 mp4, shared by the decoders: which samples to feed, from which keyframe, and
//! which decoded pictures to keep. A decoder only has to decode Annex B access units and carry a tag from each
//! one to the picture it produces (both OpenH264 and libavcodec carry timestamps through their reordering).

use super::frame::Frame;
use super::h264;
use super::mp4_demux::Mp4Video;
use super::{VideoInfo, check_request};
use crate::error::{DataError, Result};
use std::path::Path;

/// A decoder fed from one keyframe onwards.
pub trait DecodeSession {
    /// Decodes one access unit tagged `tag`; passes on every picture that comes out, with its tag.
    fn decode(
        &mut self,
        access_unit: &[u8],
        tag: u64,
        out: &mut dyn FnMut(u64, Frame),
    ) -> Result<(), String>;
    /// Passes on the pictures still held for reordering.
    fn flush(&mut self, out: &mut dyn FnMut(u64, Frame)) -> Result<(), String>;
}

/// Reusable buffers of one reader.
#[derive(Default)]
pub struct Scratch {
    sample: Vec<u8>,
    access_unit: Vec<u8>,
}

/// An indexed H.264 mp4 and its reusable buffers: the state both mp4 readers (OpenH264, libavcodec) hold, and the
/// part of [`super::VideoReader`] they share. Only how a decoder session is made differs between them.
pub struct SeekableMp4 {
    video: Mp4Video,
    scratch: Scratch,
}

impl SeekableMp4 {
    pub fn new(video: Mp4Video) -> SeekableMp4 {
        SeekableMp4 {
            video,
            scratch: Scratch::default(),
        }
    }

    pub fn info(&self) -> VideoInfo {
        VideoInfo {
            frames: self.video.num_frames(),
            fps: self.video.fps,
            width: self.video.width,
            height: self.video.height,
        }
    }

    /// [`super::VideoReader::read_frames`] with decoders from `new_session`, which gets the video's path for its
    /// error messages.
    pub fn read_frames<S: DecodeSession>(
        &mut self,
        frames: &[usize],
        mut new_session: impl FnMut(&Path) -> Result<S>,
    ) -> Result<Vec<Frame>> {
        check_request(self.video.path(), frames, self.video.num_frames())?;
        let path = self.video.path().to_path_buf();
        decode_frames(&mut self.video, frames, &mut self.scratch, || {
            new_session(&path)
        })
    }
}

/// Decodes presentation frames `frames` (ascending, unique) of `video`. Each stretch of wanted frames is decoded
/// from the keyframe before it, continuing instead when the decoder is already past that keyframe; samples that
/// are neither wanted nor referenced by later pictures are not decoded at all.
fn decode_frames<S: DecodeSession>(
    video: &mut Mp4Video,
    frames: &[usize],
    scratch: &mut Scratch,
    mut new_session: impl FnMut() -> Result<S>,
) -> Result<Vec<Frame>> {
    let path = video.path().to_path_buf();
    let corrupt = |message: String| DataError::Corrupt {
        path: path.clone(),
        message,
    };
    // (decode index, output slot), in decode order.
    let mut targets: Vec<(usize, usize)> = frames
        .iter()
        .enumerate()
        .map(|(slot, &f)| (video.decode_index[f] as usize, slot))
        .collect();
    targets.sort_unstable();
    let mut slots: Vec<Option<Frame>> = vec![None; frames.len()];
    let mut keep = |tag: u64, frame: Frame| {
        // Tags are sample index + 1, so that 0 (no timestamp) never matches.
        if let Some(sample) = (tag as usize).checked_sub(1)
            && let Ok(i) = targets.binary_search_by_key(&sample, |t| t.0)
        {
            slots[targets[i].1] = Some(frame);
        }
    };
    let is_target = |sample: usize| targets.binary_search_by_key(&sample, |t| t.0).is_ok();

    let mut session: Option<S> = None;
    let mut next_sample = 0usize; // the first sample not yet fed to `session`
    let mut first_error: Option<String> = None;
    for &(target, _) in &targets {
        if session.is_some() && next_sample > target {
            continue; // decoded on the way to an earlier target
        }
        let keyframe = video.keyframe_for(target);
        let start = match session {
            Some(_) if next_sample >= keyframe => next_sample,
            _ => {
                // A fresh decoder at the keyframe: never more work than decoding through the gap.
                if let Some(mut old) = session.take() {
                    old.flush(&mut keep).map_err(&corrupt)?;
                }
                session = Some(new_session()?);
                keyframe
            }
        };
        let s = session.as_mut().expect("a session was just ensured");
        for sample in start..=target {
            video.read_sample(sample, &mut scratch.sample)?;
            if sample != keyframe
                && !is_target(sample)
                && !h264::is_reference(&scratch.sample, video.length_size)
            {
                continue; // nobody wants it and no later picture refers to it
            }
            scratch.access_unit.clear();
            if sample == start {
                scratch.access_unit.extend_from_slice(&video.parameter_sets);
            }
            h264::append_annexb(&scratch.sample, video.length_size, &mut scratch.access_unit)
                .map_err(|m| corrupt(format!("sample {sample}: {m}")))?;
            if let Err(e) = s.decode(&scratch.access_unit, sample as u64 + 1, &mut keep) {
                first_error.get_or_insert(format!("sample {sample}: {e}"));
            }
        }
        next_sample = target + 1;
    }
    if let Some(mut s) = session.take() {
        s.flush(&mut keep).map_err(&corrupt)?;
    }
    if let Some(e) = first_error {
        return Err(corrupt(e));
    }
    slots
        .into_iter()
        .zip(frames)
        .map(|(f, &index)| {
            f.ok_or_else(|| corrupt(format!("frame {index} did not come out of the decoder")))
        })
        .collect()
}
