//! The part of NVIDIA's video decoder API (`libnvcuvid`, shipped with the driver) that decodes H.264: the parser,
//! the decoder and frame mapping. Written from the Video Codec SDK's documented C declarations (`nvcuvid.h`,
//! `cuviddec.h`; the layouts are those of SDK 11–13, whose structs kept their sizes: later fields took reserved
//! slots). The library is opened at run time, like the other CUDA libraries, so that the build needs nothing
//! and a machine without it falls back to the CPU decoder.

use std::ffi::c_void;
use std::sync::OnceLock;

pub type CuResult = i32;
pub type VideoParser = *mut c_void;
pub type VideoDecoder = *mut c_void;

pub const SUCCESS: CuResult = 0;
/// `cudaVideoCodec_H264`.
pub const CODEC_H264: i32 = 4;
/// `cudaVideoChromaFormat_420`.
pub const CHROMA_420: i32 = 1;
/// `cudaVideoSurfaceFormat_NV12`: a Y plane, then one plane of interleaved U and V.
pub const SURFACE_NV12: i32 = 0;
/// `cudaVideoDeinterlaceMode_Weave`: no deinterlacing (the videos are progressive).
pub const DEINTERLACE_WEAVE: i32 = 0;
/// `cudaVideoCreate_PreferCUVID`: the dedicated video engines.
pub const CREATE_PREFER_CUVID: u64 = 0x04;
/// `CUVID_PKT_*` flags of a data packet.
pub const PKT_END_OF_STREAM: u64 = 0x01;
pub const PKT_TIMESTAMP: u64 = 0x02;
pub const PKT_END_OF_PICTURE: u64 = 0x08;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameRate {
    pub numerator: u32,
    pub denominator: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct IntRect {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ShortRect {
    pub left: i16,
    pub top: i16,
    pub right: i16,
    pub bottom: i16,
}

/// `CUVIDEOFORMAT`: what the parser found in a sequence header.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct VideoFormat {
    pub codec: i32,
    pub frame_rate: FrameRate,
    pub progressive_sequence: u8,
    pub bit_depth_luma_minus8: u8,
    pub bit_depth_chroma_minus8: u8,
    pub min_num_decode_surfaces: u8,
    pub coded_width: u32,
    pub coded_height: u32,
    pub display_area: IntRect,
    pub chroma_format: i32,
    pub bitrate: u32,
    pub display_aspect_ratio: [i32; 2],
    /// Video format / full-range bits, colour primaries, transfer, matrix coefficients.
    pub video_signal_description: [u8; 4],
    pub seqhdr_data_length: u32,
}

/// `CUVIDPARSERDISPINFO`: a picture ready in display order.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DisplayInfo {
    pub picture_index: i32,
    pub progressive_frame: i32,
    pub top_field_first: i32,
    pub repeat_first_field: i32,
    pub timestamp: i64,
}

pub type SequenceCallback = unsafe extern "C" fn(*mut c_void, *mut VideoFormat) -> i32;
/// The second argument is a `CUVIDPICPARAMS`, which only the decoder reads: it is passed through untouched.
pub type DecodeCallback = unsafe extern "C" fn(*mut c_void, *mut c_void) -> i32;
pub type DisplayCallback = unsafe extern "C" fn(*mut c_void, *mut DisplayInfo) -> i32;

/// `CUVIDPARSERPARAMS`.
#[repr(C)]
pub struct ParserParams {
    pub codec_type: i32,
    pub max_num_decode_surfaces: u32,
    pub clock_rate: u32,
    pub error_threshold: u32,
    pub max_display_delay: u32,
    /// `bAnnexb : 1` (AV1 only) and 31 reserved bits.
    pub annexb_and_reserved: u32,
    pub reserved1: [u32; 4],
    pub user_data: *mut c_void,
    pub sequence_callback: Option<SequenceCallback>,
    pub decode_picture: Option<DecodeCallback>,
    pub display_picture: Option<DisplayCallback>,
    /// AV1 operating points; later SDKs put their SEI callback in the first reserved slot (both left empty).
    pub operating_point: Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> i32>,
    pub reserved2: [*mut c_void; 6],
    pub ext_video_info: *mut c_void,
}

/// `CUVIDSOURCEDATAPACKET`: one access unit for the parser.
#[repr(C)]
pub struct SourceDataPacket {
    pub flags: u64,
    pub payload_size: u64,
    pub payload: *const u8,
    pub timestamp: i64,
}

/// `CUVIDDECODECREATEINFO`.
#[repr(C)]
pub struct DecodeCreateInfo {
    pub width: u64,
    pub height: u64,
    pub num_decode_surfaces: u64,
    pub codec_type: i32,
    pub chroma_format: i32,
    pub creation_flags: u64,
    pub bit_depth_minus8: u64,
    pub intra_decode_only: u64,
    pub max_width: u64,
    pub max_height: u64,
    pub reserved1: u64,
    pub display_area: ShortRect,
    pub output_format: i32,
    pub deinterlace_mode: i32,
    pub target_width: u64,
    pub target_height: u64,
    pub num_output_surfaces: u64,
    pub vid_lock: *mut c_void,
    pub target_rect: ShortRect,
    pub enable_histogram: u64,
    pub reserved2: [u64; 4],
}

/// `CUVIDPROCPARAMS`: how a decoded picture is mapped for reading.
#[repr(C)]
pub struct ProcParams {
    pub progressive_frame: i32,
    pub second_field: i32,
    pub top_field_first: i32,
    pub unpaired_field: i32,
    pub reserved_flags: u32,
    pub reserved_zero: u32,
    pub raw_input_dptr: u64,
    pub raw_input_pitch: u32,
    pub raw_input_format: u32,
    pub raw_output_dptr: u64,
    pub raw_output_pitch: u32,
    pub reserved1: u32,
    pub output_stream: *mut c_void,
    pub reserved: [u32; 46],
    pub histogram_dptr: *mut u64,
    pub reserved2: [*mut c_void; 1],
}

/// The entry points, resolved once from the driver's `libnvcuvid`.
pub struct Api {
    // Kept open for as long as the function pointers below are used.
    _library: libloading::Library,
    pub create_video_parser: unsafe extern "C" fn(*mut VideoParser, *mut ParserParams) -> CuResult,
    pub parse_video_data: unsafe extern "C" fn(VideoParser, *mut SourceDataPacket) -> CuResult,
    pub destroy_video_parser: unsafe extern "C" fn(VideoParser) -> CuResult,
    pub create_decoder: unsafe extern "C" fn(*mut VideoDecoder, *mut DecodeCreateInfo) -> CuResult,
    pub destroy_decoder: unsafe extern "C" fn(VideoDecoder) -> CuResult,
    pub decode_picture: unsafe extern "C" fn(VideoDecoder, *mut c_void) -> CuResult,
    pub map_video_frame:
        unsafe extern "C" fn(VideoDecoder, i32, *mut u64, *mut u32, *mut ProcParams) -> CuResult,
    pub unmap_video_frame: unsafe extern "C" fn(VideoDecoder, u64) -> CuResult,
}

/// The library file names the driver installs (the versioned name first, as the other CUDA libraries).
const LIBRARY_NAMES: [&str; 2] = ["libnvcuvid.so.1", "libnvcuvid.so"];

impl Api {
    fn load() -> Result<Api, String> {
        let mut errors = Vec::new();
        for name in LIBRARY_NAMES {
            // SAFETY: loading the driver's own library runs only its initialisers.
            match unsafe { libloading::Library::new(name) } {
                Ok(library) => return Api::resolve(library),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        Err(format!(
            "NVIDIA's video decoder library is not loadable ({})",
            errors.join("; ")
        ))
    }

    fn resolve(library: libloading::Library) -> Result<Api, String> {
        // SAFETY: each symbol is looked up by its documented name and given its documented signature.
        unsafe {
            macro_rules! symbol {
                ($name:literal) => {
                    *library
                        .get(concat!($name, "\0").as_bytes())
                        .map_err(|e| format!("libnvcuvid has no `{}`: {e}", $name))?
                };
            }
            Ok(Api {
                create_video_parser: symbol!("cuvidCreateVideoParser"),
                parse_video_data: symbol!("cuvidParseVideoData"),
                destroy_video_parser: symbol!("cuvidDestroyVideoParser"),
                create_decoder: symbol!("cuvidCreateDecoder"),
                destroy_decoder: symbol!("cuvidDestroyDecoder"),
                decode_picture: symbol!("cuvidDecodePicture"),
                map_video_frame: symbol!("cuvidMapVideoFrame64"),
                unmap_video_frame: symbol!("cuvidUnmapVideoFrame64"),
                _library: library,
            })
        }
    }

    /// The library, loaded once per process (or why it cannot be).
    pub fn get() -> Result<&'static Api, String> {
        static API: OnceLock<Result<Api, String>> = OnceLock::new();
        API.get_or_init(Api::load).as_ref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The sizes and offsets of the C declarations on x86-64 Linux, as gcc lays them out: printed with `sizeof` and
    /// `offsetof` by a C program including Debian's `libffmpeg-nvenc-dev` 11.1.5.2 headers (FFmpeg's copy of the
    /// SDK declarations).
    #[test]
    fn layouts_match_the_c_declarations() {
        assert_eq!(size_of::<VideoFormat>(), 64);
        assert_eq!(offset_of!(VideoFormat, coded_width), 16);
        assert_eq!(offset_of!(VideoFormat, display_area), 24);
        assert_eq!(offset_of!(VideoFormat, chroma_format), 40);
        assert_eq!(size_of::<DisplayInfo>(), 24);
        assert_eq!(offset_of!(ParserParams, user_data), 40);
        assert_eq!(offset_of!(ParserParams, ext_video_info), 128);
        assert_eq!(size_of::<ParserParams>(), 136);
        assert_eq!(size_of::<SourceDataPacket>(), 32);
        assert_eq!(offset_of!(DecodeCreateInfo, display_area), 80);
        assert_eq!(offset_of!(DecodeCreateInfo, output_format), 88);
        assert_eq!(offset_of!(DecodeCreateInfo, vid_lock), 120);
        assert_eq!(offset_of!(DecodeCreateInfo, target_rect), 128);
        assert_eq!(size_of::<DecodeCreateInfo>(), 176);
        assert_eq!(offset_of!(ProcParams, output_stream), 56);
        assert_eq!(offset_of!(ProcParams, histogram_dptr), 248);
        assert_eq!(size_of::<ProcParams>(), 264);
    }
}
