//! Videos decoded by the system's FFmpeg libraries (the `ffmpeg` cargo feature). H.264 in mp4 goes through our
//! own demuxer index and [`super::seek`] exactly like OpenH264, with libavcodec as the decoder; every other codec
//! or container goes through libavformat, with frame indices from a scan of the stream's packet timestamps.

use super::frame::{Frame, Pixels};
use super::mp4_demux::Mp4Video;
use super::seek::{DecodeSession, SeekableMp4};
use super::{VideoBackend, VideoInfo, VideoReader, check_request};
use crate::error::{DataError, Result};
use ffmpeg_next as ff;
use std::path::{Path, PathBuf};

pub struct FfmpegBackend;

impl FfmpegBackend {
    pub fn new() -> Result<FfmpegBackend> {
        ff::init().map_err(|e| DataError::Config(format!("cannot initialise FFmpeg: {e}")))?;
        // Corrupt inputs are reported through our errors; FFmpeg's own log would repeat them on stderr.
        ff::util::log::set_level(ff::util::log::Level::Fatal);
        Ok(FfmpegBackend)
    }
}

impl VideoBackend for FfmpegBackend {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>> {
        match Mp4Video::open(path) {
            Ok(video) => Ok(Box::new(FfmpegMp4Reader {
                mp4: SeekableMp4::new(video),
            })),
            // Not H.264 in mp4 (or an mp4 our demuxer cannot index): let libavformat try.
            Err(DataError::Unsupported { .. } | DataError::Container { .. }) => {
                Ok(Box::new(FfmpegGenericReader::open(path)?))
            }
            Err(e) => Err(e),
        }
    }
    fn name(&self) -> &'static str {
        "ffmpeg"
    }
}

fn corrupt(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One decoder thread per video: the loader runs videos in parallel, which scales better than threads inside one
/// small decode.
fn single_threaded(ctx: &mut ff::codec::context::Context) {
    ctx.set_threading(ff::codec::threading::Config {
        kind: ff::codec::threading::Type::None,
        count: 1,
        ..Default::default()
    });
}

/// Copies a decoded picture: 8-bit limited-range 4:2:0 as it is, anything else through swscale to RGB.
fn to_frame(picture: &ff::frame::Video) -> std::result::Result<Frame, String> {
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    if picture.format() == ff::format::Pixel::YUV420P
        && picture.color_range() != ff::color::Range::JPEG
    {
        let planes = (picture.data(0), picture.data(1), picture.data(2));
        return Ok(Frame::from_yuv_strided(
            w,
            h,
            planes,
            (picture.stride(0), picture.stride(1), picture.stride(2)),
        ));
    }
    let mut scaler = ff::software::scaling::Context::get(
        picture.format(),
        w as u32,
        h as u32,
        ff::format::Pixel::RGB24,
        w as u32,
        h as u32,
        ff::software::scaling::Flags::BILINEAR,
    )
    .map_err(|e| format!("cannot convert {:?} pictures: {e}", picture.format()))?;
    let mut rgb = ff::frame::Video::empty();
    scaler
        .run(picture, &mut rgb)
        .map_err(|e| format!("pixel format conversion failed: {e}"))?;
    let stride = rgb.stride(0);
    let data = rgb.data(0);
    let mut packed = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        packed.extend_from_slice(&data[row * stride..row * stride + w * 3]);
    }
    Ok(Frame {
        width: w,
        height: h,
        pixels: Pixels::Rgb8(packed),
    })
}

/// Sends one packet and passes on every picture it releases, tagged with its presentation timestamp.
fn send_and_receive(
    decoder: &mut ff::decoder::Video,
    packet: Option<&ff::Packet>,
    picture: &mut ff::frame::Video,
    out: &mut dyn FnMut(i64, Frame),
) -> std::result::Result<(), String> {
    let sent = match packet {
        Some(p) => decoder.send_packet(p),
        None => decoder.send_eof(),
    };
    sent.map_err(|e| format!("libavcodec rejected a packet: {e}"))?;
    loop {
        match decoder.receive_frame(picture) {
            Ok(()) => {
                let ts = picture.pts().or(picture.timestamp()).unwrap_or(i64::MIN);
                out(ts, to_frame(picture)?);
            }
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => return Ok(()),
            Err(ff::Error::Eof) => return Ok(()),
            Err(e) => return Err(format!("libavcodec failed to decode: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// H.264 in mp4: our index, libavcodec's decoder.

pub struct FfmpegMp4Reader {
    mp4: SeekableMp4,
}

struct H264Session {
    decoder: ff::decoder::Video,
    picture: ff::frame::Video,
}

impl DecodeSession for H264Session {
    fn decode(
        &mut self,
        access_unit: &[u8],
        tag: u64,
        out: &mut dyn FnMut(u64, Frame),
    ) -> std::result::Result<(), String> {
        let mut packet = ff::Packet::copy(access_unit);
        packet.set_pts(Some(tag as i64));
        packet.set_dts(Some(tag as i64));
        send_and_receive(
            &mut self.decoder,
            Some(&packet),
            &mut self.picture,
            &mut |ts, f| out(ts.max(0) as u64, f),
        )
    }

    fn flush(&mut self, out: &mut dyn FnMut(u64, Frame)) -> std::result::Result<(), String> {
        send_and_receive(&mut self.decoder, None, &mut self.picture, &mut |ts, f| {
            out(ts.max(0) as u64, f)
        })
    }
}

impl VideoReader for FfmpegMp4Reader {
    fn info(&self) -> VideoInfo {
        self.mp4.info()
    }

    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
        self.mp4.read_frames(frames, |path| {
            let codec =
                ff::decoder::find(ff::codec::Id::H264).ok_or_else(|| DataError::Unsupported {
                    path: path.to_path_buf(),
                    message: "this FFmpeg has no H.264 decoder".into(),
                })?;
            let mut ctx = ff::codec::context::Context::new_with_codec(codec);
            single_threaded(&mut ctx);
            let decoder = ctx
                .decoder()
                .video()
                .map_err(|e| corrupt(path, format!("cannot open the decoder: {e}")))?;
            Ok(H264Session {
                decoder,
                picture: ff::frame::Video::empty(),
            })
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Any other codec or container: libavformat demuxes, frames are numbered by sorted packet timestamps.

pub struct FfmpegGenericReader {
    path: PathBuf,
    input: ff::format::context::Input,
    stream: usize,
    decoder: ff::decoder::Video,
    /// Presentation timestamps of all frames, ascending: frame `f` has `pts[f]`.
    pts: Vec<i64>,
    /// Timestamps of keyframes, ascending.
    keyframes: Vec<i64>,
    info: VideoInfo,
}

impl FfmpegGenericReader {
    pub fn open(path: &Path) -> Result<FfmpegGenericReader> {
        let mut input = ff::format::input(&path).map_err(|e| DataError::Container {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let (stream, rate, params) = {
            let s = input
                .streams()
                .best(ff::media::Type::Video)
                .ok_or_else(|| DataError::Container {
                    path: path.to_path_buf(),
                    message: "no video stream".into(),
                })?;
            (s.index(), s.avg_frame_rate(), s.parameters())
        };
        let mut ctx = ff::codec::context::Context::from_parameters(params).map_err(|e| {
            DataError::Unsupported {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        single_threaded(&mut ctx);
        let decoder = ctx.decoder().video().map_err(|e| DataError::Unsupported {
            path: path.to_path_buf(),
            message: format!("no decoder: {e}"),
        })?;
        let (width, height) = (decoder.width() as usize, decoder.height() as usize);

        // Number the frames: one pass over the packets (no decoding).
        let mut pts = Vec::new();
        let mut keyframes = Vec::new();
        for (s, packet) in input.packets() {
            if s.index() != stream {
                continue;
            }
            let ts = packet
                .pts()
                .or(packet.dts())
                .ok_or_else(|| DataError::Unsupported {
                    path: path.to_path_buf(),
                    message: "packets without timestamps".into(),
                })?;
            pts.push(ts);
            if packet.is_key() {
                keyframes.push(ts);
            }
        }
        pts.sort_unstable();
        keyframes.sort_unstable();
        if pts.is_empty() {
            return Err(corrupt(path, "the video stream has no frames"));
        }
        let fps = if rate.denominator() != 0 && rate.numerator() > 0 {
            f64::from(rate)
        } else {
            30.0
        };
        let info = VideoInfo {
            frames: pts.len(),
            fps,
            width,
            height,
        };
        Ok(FfmpegGenericReader {
            path: path.to_path_buf(),
            input,
            stream,
            decoder,
            pts,
            keyframes,
            info,
        })
    }

    fn seek(&mut self, ts: i64) -> Result<()> {
        // SAFETY: the context is open; av_seek_frame takes the stream's own time base.
        let ret = unsafe {
            ff::ffi::av_seek_frame(
                self.input.as_mut_ptr(),
                self.stream as i32,
                ts,
                ff::ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if ret < 0 {
            return Err(corrupt(
                &self.path,
                format!("seek to timestamp {ts} failed ({ret})"),
            ));
        }
        self.decoder.flush();
        Ok(())
    }
}

impl VideoReader for FfmpegGenericReader {
    fn info(&self) -> VideoInfo {
        self.info
    }

    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
        check_request(&self.path, frames, self.pts.len())?;
        let mut slots: Vec<Option<Frame>> = vec![None; frames.len()];
        let mut picture = ff::frame::Video::empty();
        let mut newest: Option<i64> = None; // the latest timestamp decoded in the current pass
        let mut k = 0;
        while k < frames.len() {
            if slots[k].is_some() {
                k += 1;
                continue;
            }
            let target = self.pts[frames[k]];
            let key = self.keyframes[..self.keyframes.partition_point(|&t| t <= target)]
                .last()
                .copied()
                .unwrap_or(i64::MIN);
            if newest.is_none_or(|n| n < key || n > target) {
                self.seek(key.max(self.pts[0]))?;
                newest = None;
            }
            // Decode until the target comes out (or the stream ends).
            let mut eof = false;
            while slots[k].is_none() && !eof {
                let next = self
                    .input
                    .packets()
                    .find(|(s, _)| s.index() == self.stream)
                    .map(|(_, p)| p);
                eof = next.is_none();
                let pts = &self.pts;
                let mut keep = |ts: i64, frame: Frame| {
                    newest = Some(newest.map_or(ts, |n| n.max(ts)));
                    if let Ok(f) = pts.binary_search(&ts)
                        && let Ok(slot) = frames.binary_search(&f)
                    {
                        slots[slot] = Some(frame);
                    }
                };
                send_and_receive(&mut self.decoder, next.as_ref(), &mut picture, &mut keep)
                    .map_err(|m| corrupt(&self.path, m))?;
            }
            if slots[k].is_none() {
                return Err(corrupt(
                    &self.path,
                    format!("frame {} did not come out of the decoder", frames[k]),
                ));
            }
            k += 1;
        }
        Ok(slots
            .into_iter()
            .map(|f| f.expect("every slot was checked"))
            .collect())
    }
}
