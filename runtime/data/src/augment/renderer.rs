//! Where training clips are rendered once their draws are made: by [`super::render_clip`] on the loader's own
//! thread (the default), or by a renderer another crate supplies — the CUDA backend's augmentation kernels, which
//! take the same decoded frames and the same draw and write the same clip layout.

use super::ClipDraw;
use crate::video::Frame;
use std::sync::Arc;
use vst_spec::Normalize;

/// Renders one training clip (T/S/C after the draw, then normalisation or the temporal difference) into `out`,
/// exactly what [`super::render_clip`] writes there.
pub trait ClipRenderer: Send + Sync {
    /// A short name for logs and run records (`gpu`).
    fn name(&self) -> &'static str;
    /// An error means the renderer itself failed (not the video): the loader stops the epoch with it.
    fn render(
        &self,
        frames: &[&Frame],
        difference: bool,
        draw: &ClipDraw,
        size: usize,
        normalize: &Normalize,
        out: &mut [f32],
    ) -> Result<(), String>;
}

/// A shared renderer in a loader's configuration (compared by identity).
#[derive(Clone)]
pub struct SharedRenderer(pub Arc<dyn ClipRenderer>);

impl std::fmt::Debug for SharedRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedRenderer({})", self.0.name())
    }
}

impl PartialEq for SharedRenderer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
