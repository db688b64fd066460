//! Tensors, a run-time op graph with reverse-mode autodiff, and the kernels behind a `Backend` trait.
