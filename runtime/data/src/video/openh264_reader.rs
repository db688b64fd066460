//! H.264 in mp4 decoded by OpenH264 (compiled from its bundled C source, so the default build needs no system
//! library). Seeking and frame matching live in [`super::seek`]; this file drives the decoder.

use super::frame::Frame;
use super::mp4_demux::Mp4Video;
use super::seek::{DecodeSession, SeekableMp4};
use super::{VideoBackend, VideoInfo, VideoReader};
use crate::error::{DataError, Result};
use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264_sys2::{
    DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER, SBufferInfo, dsFramePending,
};
use std::path::Path;
use std::ptr::{addr_of_mut, null, null_mut};

pub struct OpenH264Backend;

impl VideoBackend for OpenH264Backend {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>> {
        Ok(Box::new(OpenH264Reader::open(path)?))
    }
    fn name(&self) -> &'static str {
        "openh264"
    }
}

pub struct OpenH264Reader {
    mp4: SeekableMp4,
}

impl OpenH264Reader {
    pub fn open(path: &Path) -> Result<OpenH264Reader> {
        let video = Mp4Video::open(path)?;
        match &video.sps {
            None => {
                return Err(DataError::Corrupt {
                    path: path.to_path_buf(),
                    message: "no sequence parameter set in the avcC box".into(),
                });
            }
            Some(sps) => {
                if let Some(why) = sps.openh264_limitation() {
                    return Err(DataError::Unsupported {
                        path: path.to_path_buf(),
                        message: format!("{why}; build with the `ffmpeg` feature to read it"),
                    });
                }
            }
        }
        Ok(OpenH264Reader {
            mp4: SeekableMp4::new(video),
        })
    }
}

impl VideoReader for OpenH264Reader {
    fn info(&self) -> VideoInfo {
        self.mp4.info()
    }

    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
        self.mp4.read_frames(frames, |path| {
            let decoder =
                Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
                    .map_err(|e| DataError::Corrupt {
                        path: path.to_path_buf(),
                        message: format!("cannot create the OpenH264 decoder: {e}"),
                    })?;
            Ok(Session { decoder })
        })
    }
}

struct Session {
    decoder: Decoder,
}

impl DecodeSession for Session {
    fn decode(
        &mut self,
        access_unit: &[u8],
        tag: u64,
        out: &mut dyn FnMut(u64, Frame),
    ) -> Result<(), String> {
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo {
            uiInBsTimeStamp: tag,
            ..Default::default()
        };
        // SAFETY: the decoder was initialised by `with_api_config`; the input outlives the call; `dst` and `info`
        // are valid for writes. The output planes are copied before the next call into the decoder.
        let state = unsafe {
            self.decoder.raw_api().decode_frame_no_delay(
                access_unit.as_ptr(),
                access_unit.len() as i32,
                addr_of_mut!(dst).cast(),
                &raw mut info,
            )
        };
        if state & !dsFramePending != 0 {
            return Err(format!("OpenH264 reports decoding state {state:#x}"));
        }
        take_picture(&dst, &info, out);
        Ok(())
    }

    fn flush(&mut self, out: &mut dyn FnMut(u64, Frame)) -> Result<(), String> {
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo::default();
        // SAFETY: as in `decode`; a null input of length 0 is OpenH264's end-of-stream call.
        unsafe {
            self.decoder.raw_api().decode_frame2(
                null(),
                0,
                addr_of_mut!(dst).cast(),
                &raw mut info,
            );
        }
        take_picture(&dst, &info, out);
        loop {
            let mut remaining: i32 = 0;
            // SAFETY: the option writes one int.
            unsafe {
                self.decoder.raw_api().get_option(
                    DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
                    addr_of_mut!(remaining).cast(),
                );
            }
            if remaining <= 0 {
                return Ok(());
            }
            let mut dst = [null_mut::<u8>(); 3];
            let mut info = SBufferInfo::default();
            // SAFETY: as in `decode`.
            let state = unsafe {
                self.decoder
                    .raw_api()
                    .flush_frame(addr_of_mut!(dst).cast(), &raw mut info)
            };
            if state & !dsFramePending != 0 || info.iBufferStatus != 1 {
                return Err(format!(
                    "OpenH264 could not flush its {remaining} buffered pictures"
                ));
            }
            take_picture(&dst, &info, out);
        }
    }
}

/// Copies the picture the decoder handed out (if any) and passes it on with its timestamp.
fn take_picture(dst: &[*mut u8; 3], info: &SBufferInfo, out: &mut dyn FnMut(u64, Frame)) {
    if info.iBufferStatus != 1 || dst.iter().any(|p| p.is_null()) {
        return;
    }
    // SAFETY: with iBufferStatus 1 the union holds the system-memory buffer description.
    let sys = unsafe { info.UsrData.sSystemBuffer };
    let (w, h) = (sys.iWidth as usize, sys.iHeight as usize);
    let (ys, cs) = (sys.iStride[0] as usize, sys.iStride[1] as usize);
    let (_, ch) = Frame::chroma_size(w, h);
    // SAFETY: OpenH264 hands out planes of `stride × rows` bytes, valid until the next call into the decoder.
    let (y, u, v) = unsafe {
        (
            std::slice::from_raw_parts(dst[0], ys * h),
            std::slice::from_raw_parts(dst[1], cs * ch),
            std::slice::from_raw_parts(dst[2], cs * ch),
        )
    };
    out(
        info.uiOutYuvTimeStamp,
        Frame::from_yuv_strided(w, h, (y, u, v), (ys, cs, cs)),
    );
}
