//! Tensor files in the safetensors format (f32, little-endian), written atomically.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::device::Device;
use crate::error::{EngineError, Result};
use crate::tensor::Tensor;

fn io_err(path: &Path, message: impl Into<String>) -> EngineError {
    EngineError::Io {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Named tensors (in name order) and the string metadata of a tensor file.
pub type TensorFile = (Vec<(String, Tensor)>, HashMap<String, String>);

/// Reads every tensor of a safetensors file (f32 only), with the file's metadata.
pub fn load_tensors(path: &Path, device: &Device) -> Result<TensorFile> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| io_err(path, e.to_string()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| io_err(path, e.to_string()))?;
    let mut out = Vec::new();
    let mut names: Vec<String> = st.names().iter().map(|s| s.to_string()).collect();
    names.sort();
    for name in names {
        let view = st.tensor(&name).map_err(|e| io_err(path, e.to_string()))?;
        if view.dtype() != Dtype::F32 {
            return Err(io_err(
                path,
                format!(
                    "tensor `{name}` is {:?}; only F32 is supported",
                    view.dtype()
                ),
            ));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.push((name, Tensor::from_vec(data, view.shape(), device)?));
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

/// Writes tensors (and string metadata) to a safetensors file: temp file in the same directory, fsync, rename.
pub fn save_tensors(
    path: &Path,
    tensors: &[(&str, &Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let mut host: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let bytes: Vec<u8> = t.to_vec()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        host.push((name.to_string(), t.shape().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(host.len());
    for (name, shape, bytes) in &host {
        let v = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| io_err(path, e.to_string()))?;
        views.push((name.clone(), v));
    }
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    let buf =
        safetensors::tensor::serialize(views, meta).map_err(|e| io_err(path, e.to_string()))?;
    write_atomically(path, &buf)
}

/// Writes a whole file so that readers see either the old or the new content, never a partial one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| io_err(path, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, e.to_string()));
    }
    Ok(())
}
