//! The little H.264 bitstream knowledge the demuxer needs: converting mp4's length-prefixed samples to the
//! Annex B byte stream decoders take, telling reference pictures from non-reference ones, and reading the few
//! sequence parameters that decide whether OpenH264 can decode a stream at all.

/// Annex B start code.
const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Appends the NAL units of one mp4 sample (each prefixed by its `length_size`-byte big-endian length) to `out`
/// in Annex B form.
pub fn append_annexb(sample: &[u8], length_size: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < length_size {
            return Err(format!(
                "{} stray bytes after the last NAL unit",
                rest.len()
            ));
        }
        let len = rest[..length_size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[length_size..];
        if len > rest.len() {
            return Err(format!(
                "NAL unit of {len} bytes overruns its sample ({} bytes left)",
                rest.len()
            ));
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(())
}

/// Iterates over the NAL units of a length-prefixed sample (stopping at the first malformed length).
pub fn nal_units(sample: &[u8], length_size: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = sample;
    std::iter::from_fn(move || {
        if rest.len() < length_size || length_size == 0 {
            return None;
        }
        let len = rest[..length_size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        if len == 0 || len > rest.len() - length_size {
            return None;
        }
        let nal = &rest[length_size..length_size + len];
        rest = &rest[length_size + len..];
        Some(nal)
    })
}

/// NAL unit types of coded slices (non-IDR and IDR).
fn is_slice(nal_type: u8) -> bool {
    nal_type == 1 || nal_type == 5
}

/// Whether a sample holds a picture other pictures may reference (nal_ref_idc ≠ 0 on any of its slices).
/// Samples without slices count as reference so that they are never dropped.
pub fn is_reference(sample: &[u8], length_size: usize) -> bool {
    let mut any_slice = false;
    for nal in nal_units(sample, length_size) {
        let nal_type = nal[0] & 0x1f;
        if is_slice(nal_type) {
            any_slice = true;
            if nal[0] & 0x60 != 0 {
                return true;
            }
        }
    }
    !any_slice
}

/// The parts of a sequence parameter set that decide decodability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    pub profile_idc: u8,
    pub chroma_format_idc: u32,
    pub bit_depth_luma: u32,
    pub bit_depth_chroma: u32,
    pub frame_mbs_only: bool,
    pub width_mbs: u32,
    pub height_map_units: u32,
}

impl SpsInfo {
    /// Why OpenH264 cannot decode this stream, if it cannot: it decodes progressive 8-bit 4:2:0 only.
    pub fn openh264_limitation(&self) -> Option<String> {
        if self.chroma_format_idc != 1 {
            return Some(format!(
                "chroma format {} (only 4:2:0 is supported)",
                self.chroma_format_idc
            ));
        }
        if self.bit_depth_luma != 8 || self.bit_depth_chroma != 8 {
            return Some(format!(
                "{}-bit samples (only 8-bit is supported)",
                self.bit_depth_luma
            ));
        }
        if !self.frame_mbs_only {
            return Some("interlaced coding (only progressive frames are supported)".into());
        }
        None
    }
}

/// Reads bits of an RBSP (emulation prevention bytes already removed).
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or("sequence parameter set ends early")?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(b as u32)
    }
    fn bits(&mut self, n: u32) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }
    fn ue(&mut self) -> Result<u32, String> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err("malformed exp-Golomb code".into());
            }
        }
        Ok(((1u64 << zeros) - 1 + self.bits(zeros)? as u64) as u32)
    }
    fn se(&mut self) -> Result<i32, String> {
        let k = self.ue()? as i64;
        Ok(if k % 2 == 1 {
            ((k + 1) / 2) as i32
        } else {
            -(k / 2) as i32
        })
    }
}

/// Removes emulation prevention bytes (00 00 03 → 00 00).
fn rbsp(nal_payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal_payload.len());
    let mut zeros = 0;
    for &b in nal_payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Parses a sequence parameter set NAL unit (with its one-byte NAL header).
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, String> {
    if nal.len() < 4 || nal[0] & 0x1f != 7 {
        return Err("not a sequence parameter set".into());
    }
    let data = rbsp(&nal[1..]);
    let mut r = BitReader {
        data: &data,
        pos: 0,
    };
    let profile_idc = r.bits(8)? as u8;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    let (mut chroma_format_idc, mut bit_depth_luma, mut bit_depth_chroma) = (1, 8, 8);
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        bit_depth_luma = r.ue()? + 8;
        bit_depth_chroma = r.ue()? + 8;
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err("num_ref_frames_in_pic_order_cnt_cycle out of range".into());
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        2 => {}
        other => return Err(format!("pic_order_cnt_type {other} out of range")),
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()? + 1;
    let height_map_units = r.ue()? + 1;
    let frame_mbs_only = r.bit()? == 1;
    Ok(SpsInfo {
        profile_idc,
        chroma_format_idc,
        bit_depth_luma,
        bit_depth_chroma,
        frame_mbs_only,
        width_mbs,
        height_map_units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_conversion_and_errors() {
        let sample = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        let mut out = Vec::new();
        append_annexb(&sample, 4, &mut out).unwrap();
        assert_eq!(out, vec![0, 0, 0, 1, 0x65, 0xAA, 0, 0, 0, 1, 0x41]);
        let err = append_annexb(&[0, 0, 0, 9, 1], 4, &mut Vec::new()).unwrap_err();
        assert!(err.contains("overruns"), "{err}");
    }

    #[test]
    fn reference_detection_reads_nal_ref_idc() {
        // IDR slice, nal_ref_idc 3.
        assert!(is_reference(&[0, 0, 0, 1, 0x65], 4));
        // Non-IDR slice with nal_ref_idc 0 (a disposable B picture).
        assert!(!is_reference(&[0, 0, 0, 1, 0x01], 4));
        // SEI + non-reference slice.
        assert!(!is_reference(&[0, 0, 0, 1, 0x06, 0, 0, 0, 1, 0x01], 4));
    }

    #[test]
    fn parses_the_sps_of_the_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let baseline = crate::video::mp4_demux::Mp4Video::open(&dir.join("baseline.mp4")).unwrap();
        let info = baseline.sps.unwrap();
        assert_eq!(info.profile_idc, 66);
        assert_eq!((info.width_mbs, info.height_map_units), (4, 3));
        assert!(info.frame_mbs_only);
        assert_eq!(info.openh264_limitation(), None);
        let high = crate::video::mp4_demux::Mp4Video::open(&dir.join("bframes.mp4"))
            .unwrap()
            .sps
            .unwrap();
        assert_eq!(
            (
                high.profile_idc,
                high.chroma_format_idc,
                high.bit_depth_luma
            ),
            (100, 1, 8)
        );
        let ten_bit = SpsInfo {
            bit_depth_luma: 10,
            bit_depth_chroma: 10,
            ..high
        };
        assert!(ten_bit.openh264_limitation().unwrap().contains("10-bit"));
    }
}
