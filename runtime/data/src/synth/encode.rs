//! Writes YUV frames as an H.264 mp4: OpenH264's encoder (Constrained Baseline, fixed QP, one IDR every
//! `keyframe_interval` frames, no frame skipping, so the file has exactly one sample per input frame) and the
//! `mp4` crate's muxer. The result is byte-for-byte deterministic for the same frames and settings.

use crate::error::{DataError, Result};
use mp4::{AvcConfig, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig, TrackType};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, QpRange,
    RateControlMode, UsageType,
};
use openh264::formats::YUVSlices;
use std::io::Cursor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeSettings {
    pub fps: f64,
    /// Quantiser (lower is better quality and larger files; 26 is visually clean, 12 near lossless).
    pub qp: u8,
    pub keyframe_interval: u32,
}

/// Encodes frames one at a time and muxes them into an in-memory mp4.
pub struct H264Mp4Encoder {
    encoder: Encoder,
    width: usize,
    height: usize,
    settings: EncodeSettings,
    /// Timescale ticks per frame.
    frame_ticks: u32,
    timescale: u32,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    samples: Vec<(Vec<u8>, bool)>,
}

fn encode_error(e: impl std::fmt::Display) -> DataError {
    DataError::Encode(e.to_string())
}

/// Splits an Annex B buffer into NAL units (without start codes).
fn split_annexb(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        // A four-byte start code leaves one more zero before the next unit.
        while end > s && data[end - 1] == 0 && k + 1 < starts.len() {
            end -= 1;
        }
        nals.push(&data[s..end]);
    }
    nals
}

impl H264Mp4Encoder {
    pub fn new(width: usize, height: usize, settings: EncodeSettings) -> Result<H264Mp4Encoder> {
        if !width.is_multiple_of(2) || !height.is_multiple_of(2) || width < 16 || height < 16 {
            return Err(DataError::Config(format!(
                "video size {width}x{height}: both sides must be even and at least 16"
            )));
        }
        if !(settings.fps > 0.0 && settings.fps <= 240.0) {
            return Err(DataError::Config(format!(
                "frame rate {} is outside (0, 240]",
                settings.fps
            )));
        }
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            // Buffer-based rate control clips every picture's QP to [min, max]: with min = max, a fixed QP.
            .rate_control_mode(RateControlMode::Bufferbased)
            .bitrate(BitRate::from_bps(50_000_000))
            .qp(QpRange::new(settings.qp, settings.qp))
            .max_frame_rate(FrameRate::from_hz(settings.fps as f32))
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                settings.keyframe_interval.max(1),
            ))
            .skip_frames(false)
            .scene_change_detect(false)
            .adaptive_quantization(false)
            .background_detection(false)
            .complexity(Complexity::Medium)
            .num_threads(1);
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), config).map_err(encode_error)?;
        // Integer frame rates get an exact timescale; others a microsecond clock.
        let (timescale, frame_ticks) = if settings.fps.fract() == 0.0 {
            (settings.fps as u32 * 1000, 1000)
        } else {
            (1_000_000, (1e6 / settings.fps).round() as u32)
        };
        Ok(H264Mp4Encoder {
            encoder,
            width,
            height,
            settings,
            frame_ticks,
            timescale,
            sps: None,
            pps: None,
            samples: Vec::new(),
        })
    }

    /// Encodes one frame given as packed YUV 4:2:0 planes.
    pub fn push(&mut self, y: &[u8], u: &[u8], v: &[u8]) -> Result<()> {
        let (w, h) = (self.width, self.height);
        let source = YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        let index = self.samples.len();
        let force_idr = (index as u32).is_multiple_of(self.settings.keyframe_interval.max(1));
        if force_idr && index > 0 {
            self.encoder.force_intra_frame();
        }
        let stream = self.encoder.encode(&source).map_err(encode_error)?;
        let annexb = stream.to_vec();
        let mut sample = Vec::with_capacity(annexb.len());
        let mut sync = false;
        for nal in split_annexb(&annexb) {
            if nal.is_empty() {
                continue;
            }
            match nal[0] & 0x1f {
                7 => {
                    self.sps.get_or_insert_with(|| nal.to_vec());
                }
                8 => {
                    self.pps.get_or_insert_with(|| nal.to_vec());
                }
                t => {
                    if t == 5 {
                        sync = true;
                    }
                    sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    sample.extend_from_slice(nal);
                }
            }
        }
        if sample.is_empty() {
            return Err(DataError::Encode(format!(
                "the encoder produced no picture for frame {index}"
            )));
        }
        self.samples.push((sample, sync));
        Ok(())
    }

    /// Finishes the file and returns its bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        let (sps, pps) = match (self.sps, self.pps) {
            (Some(s), Some(p)) => (s, p),
            _ => {
                return Err(DataError::Encode(
                    "no parameter sets came out of the encoder".into(),
                ));
            }
        };
        let brand = |s: &str| s.parse().map_err(encode_error);
        let config = Mp4Config {
            major_brand: brand("isom")?,
            minor_version: 512,
            compatible_brands: vec![
                brand("isom")?,
                brand("iso2")?,
                brand("avc1")?,
                brand("mp41")?,
            ],
            timescale: 1000,
        };
        let mut writer =
            Mp4Writer::write_start(Cursor::new(Vec::new()), &config).map_err(encode_error)?;
        writer
            .add_track(&TrackConfig {
                track_type: TrackType::Video,
                timescale: self.timescale,
                language: "und".into(),
                media_conf: MediaConfig::AvcConfig(AvcConfig {
                    width: self.width as u16,
                    height: self.height as u16,
                    seq_param_set: sps,
                    pic_param_set: pps,
                }),
            })
            .map_err(encode_error)?;
        for (i, (bytes, sync)) in self.samples.into_iter().enumerate() {
            let sample = Mp4Sample {
                start_time: i as u64 * self.frame_ticks as u64,
                duration: self.frame_ticks,
                rendering_offset: 0,
                is_sync: sync,
                bytes: bytes.into(),
            };
            writer.write_sample(1, &sample).map_err(encode_error)?;
        }
        writer.write_end().map_err(encode_error)?;
        Ok(writer.into_writer().into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4,
        ];
        assert_eq!(
            split_annexb(&data),
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4][..]]
        );
    }

    #[test]
    fn rejects_odd_sizes() {
        let s = EncodeSettings {
            fps: 10.0,
            qp: 20,
            keyframe_interval: 8,
        };
        assert!(H264Mp4Encoder::new(33, 32, s).is_err());
        assert!(H264Mp4Encoder::new(32, 32, EncodeSettings { fps: 0.0, ..s }).is_err());
    }
}
