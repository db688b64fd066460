//! Pre-extracted frame folders (`000001.jpg`, `000002.jpg`, ... in name order), decoded by zune-jpeg. The fastest
//! format to read: no inter-frame dependencies, so only the wanted frames are decoded.

use super::frame::{Frame, Pixels};
use super::{VideoBackend, VideoInfo, VideoReader, check_request};
use crate::error::{DataError, Result};
use std::path::{Path, PathBuf};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

pub struct JpegFolderBackend {
    /// Frame rate the frames were extracted at (folders do not record it).
    pub fps: f64,
}

impl VideoBackend for JpegFolderBackend {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>> {
        Ok(Box::new(JpegFolderReader::open(path, self.fps)?))
    }
    fn name(&self) -> &'static str {
        "jpeg-folder"
    }
}

pub struct JpegFolderReader {
    folder: PathBuf,
    files: Vec<PathBuf>,
    info: VideoInfo,
}

fn is_jpeg(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
}

impl JpegFolderReader {
    pub fn open(folder: &Path, fps: f64) -> Result<JpegFolderReader> {
        let listing = std::fs::read_dir(folder).map_err(|e| DataError::io(folder, e))?;
        let mut files = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| DataError::io(folder, e))?;
            let path = entry.path();
            if is_jpeg(&path) {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(DataError::Corrupt {
                path: folder.to_path_buf(),
                message: "no .jpg frames in the folder".into(),
            });
        }
        let first = decode(&files[0])?;
        let info = VideoInfo {
            frames: files.len(),
            fps,
            width: first.width,
            height: first.height,
        };
        Ok(JpegFolderReader {
            folder: folder.to_path_buf(),
            files,
            info,
        })
    }
}

/// Decodes one JPEG file to RGB.
pub fn decode(path: &Path) -> Result<Frame> {
    let data = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(&data), options);
    let rgb = decoder.decode().map_err(|e| DataError::Image {
        path: path.to_path_buf(),
        message: format!("{e:?}"),
    })?;
    let info = decoder.info().ok_or_else(|| DataError::Image {
        path: path.to_path_buf(),
        message: "no image header".into(),
    })?;
    let (width, height) = (info.width as usize, info.height as usize);
    if rgb.len() != width * height * 3 {
        return Err(DataError::Image {
            path: path.to_path_buf(),
            message: "unexpected decoded size".into(),
        });
    }
    Ok(Frame {
        width,
        height,
        pixels: Pixels::Rgb8(rgb),
    })
}

impl VideoReader for JpegFolderReader {
    fn info(&self) -> VideoInfo {
        self.info
    }

    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
        check_request(&self.folder, frames, self.files.len())?;
        frames
            .iter()
            .map(|&f| {
                let frame = decode(&self.files[f])?;
                if (frame.width, frame.height) != (self.info.width, self.info.height) {
                    return Err(DataError::Corrupt {
                        path: self.files[f].clone(),
                        message: format!(
                            "frame is {}x{} but the folder's first frame is {}x{}",
                            frame.width, frame.height, self.info.width, self.info.height
                        ),
                    });
                }
                Ok(frame)
            })
            .collect()
    }
}
