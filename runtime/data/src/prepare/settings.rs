//! How a prepared copy is made. The settings are recorded in its manifest; a rerun into the same folder must use
//! the same ones, so that one copy never mixes two preparations.

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// H.264 in mp4 (`kinetics(root: ...)` datasets read it).
    Mp4,
    /// Folders of JPEG frames `000001.jpg`, ... (`frames(root: ..., fps: ...)` datasets read them).
    Jpeg,
}

impl OutputFormat {
    pub fn parse(name: &str) -> Result<OutputFormat> {
        match name {
            "mp4" => Ok(OutputFormat::Mp4),
            "jpeg" | "jpg" => Ok(OutputFormat::Jpeg),
            other => Err(DataError::Config(format!(
                "unknown output format `{other}` (expected mp4 or jpeg)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Mp4 => "mp4",
            OutputFormat::Jpeg => "jpeg",
        }
    }

    /// The ffmpeg encoder this format needs.
    pub fn encoder(self) -> &'static str {
        match self {
            OutputFormat::Mp4 => "libx264",
            OutputFormat::Jpeg => "mjpeg",
        }
    }
}

/// x264 presets, fastest first.
pub use vst_spec::X264_PRESETS as PRESETS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareSettings {
    pub format: OutputFormat,
    /// The shorter side of every output frame, in pixels (even: 4:2:0 chroma halves it).
    pub short_side: u32,
    /// Constant output frame rate.
    pub fps: u32,
    /// mp4: frames from one keyframe to the next (random access decodes at most this many minus one extra).
    pub keyframe_interval: u32,
    /// mp4: x264's constant rate factor (lower is better quality and larger).
    pub crf: u32,
    /// mp4: x264's speed preset.
    pub preset: String,
    /// JPEG: ffmpeg's `-q:v` (2 is best, 31 worst).
    pub jpeg_quality: u32,
}

impl Default for PrepareSettings {
    fn default() -> Self {
        use vst_spec::transcode_defaults as d;
        PrepareSettings {
            format: OutputFormat::Mp4,
            short_side: d::SHORT_SIDE,
            fps: d::FPS,
            keyframe_interval: d::KEYFRAME_INTERVAL,
            crf: d::CRF,
            preset: d::PRESET.into(),
            jpeg_quality: d::JPEG_QUALITY,
        }
    }
}

impl PrepareSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(DataError::Config(what));
        if self.short_side < 16 || !self.short_side.is_multiple_of(2) {
            return bad(format!(
                "short side {} must be an even number of pixels ≥ 16 (4:2:0 video halves it)",
                self.short_side
            ));
        }
        if self.fps == 0 || self.fps > 240 {
            return bad(format!("frame rate {} must be in 1..=240", self.fps));
        }
        if self.keyframe_interval == 0 || self.keyframe_interval > 600 {
            return bad(format!(
                "keyframe interval {} must be in 1..=600 frames",
                self.keyframe_interval
            ));
        }
        if self.crf > 51 {
            return bad(format!("crf {} must be in 0..=51", self.crf));
        }
        if !PRESETS.contains(&self.preset.as_str()) {
            return bad(format!(
                "unknown x264 preset `{}` (expected one of {})",
                self.preset,
                PRESETS.join(", ")
            ));
        }
        if !(2..=31).contains(&self.jpeg_quality) {
            return bad(format!(
                "JPEG quality {} must be in 2..=31 (2 is best)",
                self.jpeg_quality
            ));
        }
        Ok(())
    }

    /// One line for reports: what the copy is.
    pub fn describe(&self) -> String {
        match self.format {
            OutputFormat::Mp4 => format!(
                "H.264 mp4, short side {}, {} fps, keyframe every {} frames, x264 crf {} {}",
                self.short_side, self.fps, self.keyframe_interval, self.crf, self.preset
            ),
            OutputFormat::Jpeg => format!(
                "JPEG frame folders, short side {}, {} fps, quality {}",
                self.short_side, self.fps, self.jpeg_quality
            ),
        }
    }

    /// The differences from `other`, named for an error message.
    pub fn differences(&self, other: &PrepareSettings) -> Vec<String> {
        let mine = serde_json::to_value(self).unwrap_or_default();
        let theirs = serde_json::to_value(other).unwrap_or_default();
        let (Some(mine), Some(theirs)) = (mine.as_object(), theirs.as_object()) else {
            return vec![];
        };
        mine.iter()
            .filter(|(key, value)| theirs.get(*key) != Some(value))
            .map(|(key, value)| {
                format!(
                    "{key}: {} there, {value} now",
                    theirs.get(key).cloned().unwrap_or_default()
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        PrepareSettings::default().validate().unwrap();
        let odd = PrepareSettings {
            short_side: 321,
            ..Default::default()
        };
        assert!(odd.validate().unwrap_err().to_string().contains("321"));
        let preset = PrepareSettings {
            preset: "warp".into(),
            ..Default::default()
        };
        assert!(preset.validate().unwrap_err().to_string().contains("warp"));
    }

    #[test]
    fn differences_name_the_changed_setting() {
        let a = PrepareSettings::default();
        let b = PrepareSettings {
            short_side: 256,
            ..Default::default()
        };
        assert_eq!(a.differences(&b), vec!["short_side: 256 there, 320 now"]);
        assert!(a.differences(&a).is_empty());
    }
}
