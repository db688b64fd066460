//! One NVDEC decoding session: a parser that splits the Annex B stream into pictures and calls back into this
//! file, which decodes each picture on the GPU and copies each displayed one back as a YUV 4:2:0 [`Frame`] tagged
//! with the timestamp it was fed with (the seek logic of [`vst_data::video::seek`] matches tags to the frames it
//! wants, exactly as with the CPU decoders).

use super::ffi::{self, Api, DisplayInfo, VideoDecoder, VideoFormat, VideoParser};
use cudarc::driver::CudaContext;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{null, null_mut};
use vst_data::video::seek::DecodeSession;
use vst_data::video::{Frame, Pixels};

/// What the parser's callbacks work on; boxed, so that the pointer the parser holds stays put.
struct Callbacks {
    api: &'static Api,
    decoder: VideoDecoder,
    /// The coded size the decoder was made for.
    coded: (u32, u32),
    /// The picture's displayed size (the SPS cropping applied) and the decoder's even output size.
    display: (usize, usize),
    target: (usize, usize),
    /// Pictures displayed since the caller last took them.
    ready: Vec<(u64, Frame)>,
    /// The first failure inside a callback (callbacks can only say 0 to the parser).
    error: Option<String>,
    /// Host copy of one mapped NV12 surface.
    staging: Vec<u8>,
}

impl Callbacks {
    fn fail(&mut self, message: String) -> i32 {
        self.error.get_or_insert(message);
        0
    }

    /// A sequence header: make (or keep) the decoder; returns the decode surfaces to use, 0 to stop.
    fn sequence(&mut self, format: &VideoFormat) -> i32 {
        if format.codec != ffi::CODEC_H264 {
            return self.fail(format!("NVDEC: codec {} is not H.264", format.codec));
        }
        if format.chroma_format != ffi::CHROMA_420
            || format.bit_depth_luma_minus8 != 0
            || format.bit_depth_chroma_minus8 != 0
        {
            return self.fail(format!(
                "NVDEC: chroma format {} at {} bits is not 8-bit 4:2:0",
                format.chroma_format,
                8 + format.bit_depth_luma_minus8 as u32
            ));
        }
        let surfaces = u32::from(format.min_num_decode_surfaces).max(1);
        let area = format.display_area;
        let display = (
            (area.right - area.left).max(0) as usize,
            (area.bottom - area.top).max(0) as usize,
        );
        if display.0 == 0 || display.1 == 0 {
            return self.fail("NVDEC: the stream's display area is empty".into());
        }
        let coded = (format.coded_width, format.coded_height);
        if !self.decoder.is_null() {
            if coded == self.coded && display == self.display {
                return surfaces as i32;
            }
            // SAFETY: the decoder was made by `create_decoder` and no picture of it is mapped.
            unsafe { (self.api.destroy_decoder)(self.decoder) };
            self.decoder = null_mut();
        }
        let target = (display.0.next_multiple_of(2), display.1.next_multiple_of(2));
        let short = |v: i32| v.clamp(0, i16::MAX as i32) as i16;
        let mut info = ffi::DecodeCreateInfo {
            width: u64::from(coded.0),
            height: u64::from(coded.1),
            num_decode_surfaces: u64::from(surfaces),
            codec_type: ffi::CODEC_H264,
            chroma_format: ffi::CHROMA_420,
            creation_flags: ffi::CREATE_PREFER_CUVID,
            bit_depth_minus8: 0,
            intra_decode_only: 0,
            max_width: u64::from(coded.0),
            max_height: u64::from(coded.1),
            reserved1: 0,
            display_area: ffi::ShortRect {
                left: short(area.left),
                top: short(area.top),
                right: short(area.right),
                bottom: short(area.bottom),
            },
            output_format: ffi::SURFACE_NV12,
            deinterlace_mode: ffi::DEINTERLACE_WEAVE,
            target_width: target.0 as u64,
            target_height: target.1 as u64,
            num_output_surfaces: 2,
            vid_lock: null_mut(),
            target_rect: ffi::ShortRect::default(),
            enable_histogram: 0,
            reserved2: [0; 4],
        };
        let mut decoder: VideoDecoder = null_mut();
        // SAFETY: valid out-pointer and create info; the calling thread has the session's CUDA context current.
        let status = unsafe { (self.api.create_decoder)(&mut decoder, &mut info) };
        if status != ffi::SUCCESS || decoder.is_null() {
            return self.fail(format!(
                "NVDEC cannot make a {}x{} H.264 decoder (CUDA error {status})",
                coded.0, coded.1
            ));
        }
        self.decoder = decoder;
        self.coded = coded;
        self.display = display;
        self.target = target;
        surfaces as i32
    }

    fn decode(&mut self, picture: *mut c_void) -> i32 {
        if self.decoder.is_null() {
            return self.fail("NVDEC: a picture came before any sequence header".into());
        }
        // SAFETY: `picture` is the parser's CUVIDPICPARAMS for this decoder, valid during the callback.
        let status = unsafe { (self.api.decode_picture)(self.decoder, picture) };
        if status != ffi::SUCCESS {
            return self.fail(format!(
                "NVDEC could not decode a picture (CUDA error {status})"
            ));
        }
        1
    }

    /// A picture in display order: map it, copy it back, unmap it.
    fn display(&mut self, info: &DisplayInfo) -> i32 {
        // SAFETY: all-zero is a valid CUVIDPROCPARAMS (integers and null pointers).
        let mut proc: ffi::ProcParams = unsafe { std::mem::zeroed() };
        proc.progressive_frame = info.progressive_frame;
        proc.top_field_first = info.top_field_first;
        let mut surface = 0u64;
        let mut pitch = 0u32;
        // SAFETY: valid out-pointers; the picture index comes from the parser for this decoder.
        let status = unsafe {
            (self.api.map_video_frame)(
                self.decoder,
                info.picture_index,
                &mut surface,
                &mut pitch,
                &mut proc,
            )
        };
        if status != ffi::SUCCESS {
            return self.fail(format!(
                "NVDEC could not map a picture (CUDA error {status})"
            ));
        }
        let pitch = pitch as usize;
        let (tw, th) = self.target;
        // NV12: `th` rows of luma, then th / 2 rows of interleaved chroma, each `pitch` bytes apart.
        let bytes = pitch * (th + th / 2);
        self.staging.resize(bytes, 0);
        // SAFETY: the mapped surface holds `bytes` bytes at `surface` until it is unmapped below.
        let copied =
            unsafe { cudarc::driver::result::memcpy_dtoh_sync(&mut self.staging[..], surface) };
        // SAFETY: unmaps what was mapped above.
        unsafe { (self.api.unmap_video_frame)(self.decoder, surface) };
        if let Err(e) = copied {
            return self.fail(format!("copying a decoded picture from the GPU: {e}"));
        }
        if pitch < tw {
            return self.fail(format!("NVDEC surface pitch {pitch} below its width {tw}"));
        }
        let frame = nv12_to_frame(&self.staging, pitch, th, self.display);
        self.ready.push((info.timestamp as u64, frame));
        1
    }
}

/// A packed YUV 4:2:0 frame of `display` size from an NV12 surface (`pitch` bytes per row, `rows` luma rows).
pub fn nv12_to_frame(nv12: &[u8], pitch: usize, rows: usize, display: (usize, usize)) -> Frame {
    let (width, height) = display;
    let (cw, ch) = Frame::chroma_size(width, height);
    let mut y = Vec::with_capacity(width * height);
    for row in 0..height {
        y.extend_from_slice(&nv12[row * pitch..row * pitch + width]);
    }
    let chroma = &nv12[rows * pitch..];
    let mut u = Vec::with_capacity(cw * ch);
    let mut v = Vec::with_capacity(cw * ch);
    for row in 0..ch {
        let line = &chroma[row * pitch..row * pitch + 2 * cw];
        for pair in line.chunks_exact(2) {
            u.push(pair[0]);
            v.push(pair[1]);
        }
    }
    Frame {
        width,
        height,
        pixels: Pixels::Yuv420 { y, u, v },
    }
}

unsafe extern "C" fn on_sequence(user: *mut c_void, format: *mut VideoFormat) -> i32 {
    // SAFETY: `user` is the session's boxed Callbacks; the parser calls back on the thread that parses.
    let state = unsafe { &mut *(user as *mut Callbacks) };
    let Some(format) = (unsafe { format.as_ref() }) else {
        return state.fail("NVDEC gave no sequence format".into());
    };
    catch_unwind(AssertUnwindSafe(|| state.sequence(format))).unwrap_or(0)
}

unsafe extern "C" fn on_decode(user: *mut c_void, picture: *mut c_void) -> i32 {
    // SAFETY: as in `on_sequence`.
    let state = unsafe { &mut *(user as *mut Callbacks) };
    catch_unwind(AssertUnwindSafe(|| state.decode(picture))).unwrap_or(0)
}

unsafe extern "C" fn on_display(user: *mut c_void, info: *mut DisplayInfo) -> i32 {
    // SAFETY: as in `on_sequence`; a null `info` marks the end of the stream.
    let state = unsafe { &mut *(user as *mut Callbacks) };
    match unsafe { info.as_ref() } {
        Some(info) => catch_unwind(AssertUnwindSafe(|| state.display(info))).unwrap_or(0),
        None => 1,
    }
}

/// A parser and (from the first sequence header on) a decoder, fed from one keyframe onwards.
pub struct NvdecSession {
    parser: VideoParser,
    state: Box<Callbacks>,
}

impl NvdecSession {
    pub fn new(context: &CudaContext) -> Result<NvdecSession, String> {
        let api = Api::get()?;
        context
            .bind_to_thread()
            .map_err(|e| format!("making the GPU's context current: {e}"))?;
        let mut state = Box::new(Callbacks {
            api,
            decoder: null_mut(),
            coded: (0, 0),
            display: (0, 0),
            target: (0, 0),
            ready: Vec::new(),
            error: None,
            staging: Vec::new(),
        });
        // SAFETY: all-zero is a valid CUVIDPARSERPARAMS (integers, null pointers, no callbacks).
        let mut params: ffi::ParserParams = unsafe { std::mem::zeroed() };
        params.codec_type = ffi::CODEC_H264;
        params.max_num_decode_surfaces = 1; // raised by the sequence callback's answer
        params.max_display_delay = 0;
        params.user_data = (&mut *state as *mut Callbacks).cast();
        params.sequence_callback = Some(on_sequence);
        params.decode_picture = Some(on_decode);
        params.display_picture = Some(on_display);
        let mut parser: VideoParser = null_mut();
        // SAFETY: valid out-pointer and parameters; `state` outlives the parser (destroyed first in Drop).
        let status = unsafe { (api.create_video_parser)(&mut parser, &mut params) };
        if status != ffi::SUCCESS || parser.is_null() {
            return Err(format!(
                "NVDEC cannot make an H.264 parser (CUDA error {status})"
            ));
        }
        Ok(NvdecSession { parser, state })
    }

    fn feed(
        &mut self,
        packet: &mut ffi::SourceDataPacket,
        out: &mut dyn FnMut(u64, Frame),
    ) -> Result<(), String> {
        // SAFETY: the parser is live; the payload outlives the call; callbacks reach `self.state`.
        let status = unsafe { (self.state.api.parse_video_data)(self.parser, packet) };
        for (tag, frame) in self.state.ready.drain(..) {
            out(tag, frame);
        }
        if let Some(error) = self.state.error.take() {
            return Err(error);
        }
        if status != ffi::SUCCESS {
            return Err(format!(
                "NVDEC could not parse the stream (CUDA error {status})"
            ));
        }
        Ok(())
    }
}

impl DecodeSession for NvdecSession {
    fn decode(
        &mut self,
        access_unit: &[u8],
        tag: u64,
        out: &mut dyn FnMut(u64, Frame),
    ) -> Result<(), String> {
        let mut packet = ffi::SourceDataPacket {
            flags: ffi::PKT_TIMESTAMP | ffi::PKT_END_OF_PICTURE,
            payload_size: access_unit.len() as u64,
            payload: access_unit.as_ptr(),
            timestamp: tag as i64,
        };
        self.feed(&mut packet, out)
    }

    fn flush(&mut self, out: &mut dyn FnMut(u64, Frame)) -> Result<(), String> {
        let mut packet = ffi::SourceDataPacket {
            flags: ffi::PKT_END_OF_STREAM,
            payload_size: 0,
            payload: null(),
            timestamp: 0,
        };
        self.feed(&mut packet, out)
    }
}

impl Drop for NvdecSession {
    fn drop(&mut self) {
        // SAFETY: destroyed once, parser first (it may still call back into `state`), then the decoder.
        unsafe {
            (self.state.api.destroy_video_parser)(self.parser);
            if !self.state.decoder.is_null() {
                (self.state.api.destroy_decoder)(self.state.decoder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NV12 with padding on every row and an odd display size: the packed planes keep exactly the displayed
    /// pixels, U and V taken from alternate bytes.
    #[test]
    fn nv12_surfaces_unpack_into_packed_planes() {
        let (pitch, rows) = (8, 4);
        let mut nv12 = vec![0u8; pitch * (rows + rows / 2)];
        for r in 0..rows {
            for c in 0..pitch {
                nv12[r * pitch + c] = (10 * r + c) as u8;
            }
        }
        for r in 0..rows / 2 {
            for c in 0..pitch / 2 {
                nv12[(rows + r) * pitch + 2 * c] = (100 + 10 * r + c) as u8;
                nv12[(rows + r) * pitch + 2 * c + 1] = (200 + 10 * r + c) as u8;
            }
        }
        let frame = nv12_to_frame(&nv12, pitch, rows, (5, 3));
        let Pixels::Yuv420 { y, u, v } = frame.pixels else {
            panic!("yuv")
        };
        assert_eq!((frame.width, frame.height), (5, 3));
        assert_eq!(y, [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24]);
        assert_eq!(u, [100, 101, 102, 110, 111, 112]);
        assert_eq!(v, [200, 201, 202, 210, 211, 212]);
    }
}
