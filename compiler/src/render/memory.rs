//! An estimate of the device memory one training step needs, for `vst plan --gpus N`: the activations the backward
//! pass keeps for the clips a device holds at once, plus the weights, gradients and optimiser state.
//!
//! Per clip: the input and, for every convolution, its output and its batch norm's output (the backward pass of
//! conv → BN → ReLU keeps both; vst's fused BN+ReLU keeps its output), in f32. Every view of every video a device
//! holds is in one step's graph at once, so the activations scale with the device's clips. Not counted: the heads'
//! activations (a few kilobytes per clip), transient buffers of single kernels, the CUDA context (~0.5 GiB) and
//! allocator slack — the figure is a lower bound to compare with a device's memory, not a promise.

use vst_spec::{ObjectiveSpec, PretrainJob, arch::SlowResNet};

/// f32.
const BYTES: u64 = 4;
/// Tensors the backward pass keeps per convolution: the conv's output (the BN's input) and the BN's output.
const SAVED_PER_CONV: u64 = 2;

/// What one device needs for one step of `job` holding `clips` clips in one graph, in bytes: (activations, weights
/// and state). With `vst run --low-memory` a graph holds one batch-norm batch of one view.
pub fn training_bytes(job: &PretrainJob, clips: u64) -> Option<(u64, u64)> {
    let net = SlowResNet::new(&job.backbone, job.augment.spatial.size).ok()?;
    let input = u64::from(job.backbone.frames) * u64::from(job.augment.spatial.size).pow(2) * 3;
    let saved: u64 = net
        .conv_layers()
        .iter()
        .map(|l| l.output_elements() * SAVED_PER_CONV)
        .sum();
    let per_clip = (input + saved) * BYTES;
    // Weights, gradients and SGD/LARS momentum; a momentum encoder adds one more copy of the weights.
    let copies = match &job.objective {
        ObjectiveSpec::Moco(_) | ObjectiveSpec::Byol(_) => 4,
        _ => 3,
    };
    Some((per_clip * clips, net.parameters() * BYTES * copies))
}

/// Bytes as GiB with one decimal, or MiB below a GiB.
pub fn gib(bytes: u64) -> String {
    if bytes < 1 << 30 {
        format!("{:.0} MiB", (bytes as f64 / (1u64 << 20) as f64).ceil())
    } else {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    }
}
