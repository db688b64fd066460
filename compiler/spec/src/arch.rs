//! The Slow-only ResNet as a table of layers, by pure arithmetic: what every convolution of the backbone is (name,
//! channels, kernel, stride, padding, output size) and how many forward multiply-adds one clip costs.
//!
//! One table serves two readers: the compiler's cost estimate and the runtime's model builder, so the network that
//! is trained and the network that is costed cannot drift apart. Layer names follow PySlowFast
//! (`s1.pathway0_stem.conv`, `s2.pathway0_res0.branch2.a`, ...) so checkpoints and logs line up with the official code.
//!
//! Architecture (Feichtenhofer et al., "SlowFast Networks", Slow pathway alone): stem conv 1×7×7 stride 1×2×2 and
//! max-pool 1×3×3 stride 1×2×2; four stages res2..res5, one [`StageSpec`] row each in a table per depth
//! ([`DepthSpec::of`]): block count, widths, temporal kernel (3 in res4 and res5), spatial stride (2 from res3 on);
//! no temporal downsampling anywhere.
//!
//! The cost follows the fvcore convention the paper's "41.9 GFLOPs" uses: a convolution counts its multiply-adds, an
//! inference-mode batch norm with affine parameters counts 2 per output element; pooling and ReLU count nothing.
//! fvcore and the paper call this count FLOPs, but it counts multiply-adds (one multiply-add is two floating-point
//! operations), so `vst` prints it as MACs: 41.9 GMACs per clip for Slow R-50 8×224².

use crate::config::BackboneSpec;
use serde::{Deserialize, Serialize};

mod stages;
pub use stages::{DepthSpec, StageSpec};

/// Why a backbone cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchError {
    #[error("unsupported ResNet depth {0} (supported: 18, 34, 50, 101)")]
    Depth(u32),
    #[error(
        "width multiplier {width} gives {channels} channels for a {base}-channel layer; it must give a whole number of at least 1"
    )]
    Width {
        width: f64,
        base: u32,
        channels: f64,
    },
    #[error("a clip needs at least 1 frame")]
    Frames,
    #[error("input {height}×{width} is too small: layer `{layer}` would have no output")]
    TooSmall {
        height: u32,
        width: u32,
        layer: String,
    },
}

/// Basic blocks (two 3×3 convs; ResNet-18/34) or bottlenecks (1×1, 3×3, 1×1; ResNet-50/101).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Basic,
    Bottleneck,
}

/// A 3D convolution without bias, always followed by a batch norm (named `bn`). Sizes are `[T, H, W]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvLayer {
    pub name: String,
    /// Name of the batch norm that follows the convolution.
    pub bn: String,
    pub in_channels: u32,
    pub out_channels: u32,
    pub kernel: [u32; 3],
    pub stride: [u32; 3],
    pub padding: [u32; 3],
    pub input: [u32; 3],
    pub output: [u32; 3],
}

impl ConvLayer {
    /// Multiply-adds of one forward pass on one clip.
    pub fn macs(&self) -> u64 {
        let [kt, kh, kw] = self.kernel;
        // Saturating: absurd inputs give a huge count, never an overflow.
        self.output_elements()
            .saturating_mul(u64::from(self.in_channels))
            .saturating_mul(u64::from(kt) * u64::from(kh) * u64::from(kw))
    }

    /// Elements of the output activation (channels × T × H × W).
    pub fn output_elements(&self) -> u64 {
        let [t, h, w] = self.output;
        u64::from(self.out_channels)
            .saturating_mul(u64::from(t))
            .saturating_mul(u64::from(h))
            .saturating_mul(u64::from(w))
    }
}

/// The stem's max-pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolLayer {
    pub name: String,
    pub channels: u32,
    pub kernel: [u32; 3],
    pub stride: [u32; 3],
    pub padding: [u32; 3],
    pub input: [u32; 3],
    pub output: [u32; 3],
}

/// A residual block: `branch2` (the convs in order, each followed by BN, ReLU between them and after the sum) plus
/// the shortcut, which is a projection conv (`branch1`) where the shape changes and the identity elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResBlock {
    /// e.g. `s3.pathway0_res0`.
    pub name: String,
    pub kind: BlockKind,
    pub branch1: Option<ConvLayer>,
    pub branch2: Vec<ConvLayer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// `s2` .. `s5` (the paper's res2 .. res5).
    pub name: String,
    pub blocks: Vec<ResBlock>,
}

/// A Slow-only ResNet for one input size. The features after global average pooling have `feature_dim` channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowResNet {
    pub depth: u32,
    pub kind: BlockKind,
    /// Input clip `[T, H, W]` (3 colour channels).
    pub input: [u32; 3],
    pub stem: ConvLayer,
    pub pool: PoolLayer,
    pub stages: Vec<Stage>,
    pub feature_dim: u32,
    /// Size of the last stage's output `[T, H, W]`, before global average pooling.
    pub output: [u32; 3],
}

/// Output length of one axis: ⌊(n + 2p − k) / s⌋ + 1, or None when the kernel does not fit.
fn axis_out(n: u32, k: u32, s: u32, p: u32) -> Option<u32> {
    let padded = n.saturating_add(p.saturating_mul(2));
    if padded < k || s == 0 {
        return None;
    }
    Some((padded - k) / s + 1)
}

fn out_size(
    input: [u32; 3],
    kernel: [u32; 3],
    stride: [u32; 3],
    padding: [u32; 3],
) -> Option<[u32; 3]> {
    let mut out = [0; 3];
    for axis in 0..3 {
        out[axis] = axis_out(input[axis], kernel[axis], stride[axis], padding[axis])?;
        if out[axis] == 0 {
            return None;
        }
    }
    Some(out)
}

/// `base × width` as a channel count, which must be whole and at least 1.
pub fn scaled_channels(base: u32, width: f64) -> Result<u32, ArchError> {
    let channels = f64::from(base) * width;
    let rounded = channels.round();
    if !channels.is_finite()
        || rounded < 1.0
        || rounded > f64::from(u32::MAX)
        || (channels - rounded).abs() > 1e-9
    {
        return Err(ArchError::Width {
            width,
            base,
            channels,
        });
    }
    Ok(rounded as u32)
}

/// A convolution before the builder places it: "same" padding and the input and output sizes are added by
/// [`Builder::conv`].
struct ConvSpec {
    name: String,
    /// Name of the batch norm that follows.
    bn: String,
    in_channels: u32,
    out_channels: u32,
    kernel: [u32; 3],
    stride: [u32; 3],
}

/// Places convolutions one after another; remembers the clip size only to name it in errors.
struct Builder {
    height: u32,
    width: u32,
}

impl Builder {
    fn conv(&self, spec: ConvSpec, input: [u32; 3]) -> Result<ConvLayer, ArchError> {
        // "Same" padding for odd kernels, as PySlowFast pads every conv.
        let kernel = spec.kernel;
        let padding = [kernel[0] / 2, kernel[1] / 2, kernel[2] / 2];
        let output =
            out_size(input, kernel, spec.stride, padding).ok_or_else(|| ArchError::TooSmall {
                height: self.height,
                width: self.width,
                layer: spec.name.clone(),
            })?;
        Ok(ConvLayer {
            name: spec.name,
            bn: spec.bn,
            in_channels: spec.in_channels,
            out_channels: spec.out_channels,
            kernel,
            stride: spec.stride,
            padding,
            input,
            output,
        })
    }

    /// Block `index` of stage `row`, taking `dim_in` channels of size `input`, with the stage's `inner` and
    /// `dim_out` channels (width multiplier applied).
    fn block(
        &self,
        kind: BlockKind,
        row: &StageSpec,
        index: u32,
        [dim_in, inner, dim_out]: [u32; 3],
        input: [u32; 3],
    ) -> Result<ResBlock, ArchError> {
        let block_name = format!("{}.pathway0_res{index}", row.name);
        let temporal = row.temporal_kernel;
        let spatial_stride = if index == 0 { row.spatial_stride } else { 1 };
        let stride = [1, spatial_stride, spatial_stride];
        // branch2's convs in order: (suffix, output channels, kernel, stride); each takes the previous one's output.
        let branch2_specs: &[(&str, u32, [u32; 3], [u32; 3])] = match kind {
            // 1×1 reduce (temporal in res4/res5), 3×3 (carries the stride), 1×1 expand.
            BlockKind::Bottleneck => &[
                ("a", inner, [temporal, 1, 1], [1, 1, 1]),
                ("b", inner, [1, 3, 3], stride),
                ("c", dim_out, [1, 1, 1], [1, 1, 1]),
            ],
            // Two 3×3 convs, the first temporal in res4/res5 and carrying the stride.
            BlockKind::Basic => &[
                ("a", inner, [temporal, 3, 3], stride),
                ("b", inner, [1, 3, 3], [1, 1, 1]),
            ],
        };
        let mut branch2 = Vec::with_capacity(branch2_specs.len());
        let (mut channels, mut size) = (dim_in, input);
        for &(suffix, out_channels, kernel, stride) in branch2_specs {
            let conv = self.conv(
                ConvSpec {
                    name: format!("{block_name}.branch2.{suffix}"),
                    bn: format!("{block_name}.branch2.{suffix}_bn"),
                    in_channels: channels,
                    out_channels,
                    kernel,
                    stride,
                },
                size,
            )?;
            (channels, size) = (conv.out_channels, conv.output);
            branch2.push(conv);
        }
        // A projection shortcut where the shape changes, the identity elsewhere.
        let branch1 = if dim_in != dim_out || spatial_stride != 1 {
            Some(self.conv(
                ConvSpec {
                    name: format!("{block_name}.branch1"),
                    bn: format!("{block_name}.branch1_bn"),
                    in_channels: dim_in,
                    out_channels: dim_out,
                    kernel: [1, 1, 1],
                    stride,
                },
                input,
            )?)
        } else {
            None
        };
        Ok(ResBlock {
            name: block_name,
            kind,
            branch1,
            branch2,
        })
    }
}

impl SlowResNet {
    /// The backbone on square `crop`×`crop` clips of `backbone.frames` frames.
    pub fn new(backbone: &BackboneSpec, crop: u32) -> Result<SlowResNet, ArchError> {
        SlowResNet::with_input(backbone, crop, crop)
    }

    /// The backbone on clips of `backbone.frames` frames of `height`×`width` pixels.
    pub fn with_input(
        backbone: &BackboneSpec,
        height: u32,
        width: u32,
    ) -> Result<SlowResNet, ArchError> {
        let spec = DepthSpec::of(backbone.depth)?;
        if backbone.frames == 0 {
            return Err(ArchError::Frames);
        }
        let b = Builder { height, width };
        let input = [backbone.frames, height, width];
        let stem_channels = scaled_channels(64, backbone.width)?;

        let stem = b.conv(
            ConvSpec {
                name: "s1.pathway0_stem.conv".into(),
                bn: "s1.pathway0_stem.bn".into(),
                in_channels: 3,
                out_channels: stem_channels,
                kernel: [1, 7, 7],
                stride: [1, 2, 2],
            },
            input,
        )?;
        let (pool_kernel, pool_stride, pool_padding) = ([1, 3, 3], [1, 2, 2], [0, 1, 1]);
        let pool_out =
            out_size(stem.output, pool_kernel, pool_stride, pool_padding).ok_or_else(|| {
                ArchError::TooSmall {
                    height,
                    width,
                    layer: "s1.pathway0_stem.pool_layer".into(),
                }
            })?;
        let pool = PoolLayer {
            name: "s1.pathway0_stem.pool_layer".into(),
            channels: stem_channels,
            kernel: pool_kernel,
            stride: pool_stride,
            padding: pool_padding,
            input: stem.output,
            output: pool_out,
        };

        let mut stages = Vec::with_capacity(spec.stages.len());
        let mut dim_in = stem_channels;
        let mut size = pool_out;
        for row in &spec.stages {
            let inner = scaled_channels(row.inner_width, backbone.width)?;
            let dim_out = scaled_channels(row.output_width, backbone.width)?;
            let mut blocks = Vec::with_capacity(row.blocks as usize);
            for index in 0..row.blocks {
                let block = b.block(spec.kind, row, index, [dim_in, inner, dim_out], size)?;
                size = block.branch2.last().map(|c| c.output).unwrap_or(size);
                dim_in = dim_out;
                blocks.push(block);
            }
            stages.push(Stage {
                name: row.name.into(),
                blocks,
            });
        }

        Ok(SlowResNet {
            depth: backbone.depth,
            kind: spec.kind,
            input,
            stem,
            pool,
            stages,
            feature_dim: dim_in,
            output: size,
        })
    }

    /// Every convolution in forward order (stem, then per block: branch1 before branch2).
    pub fn conv_layers(&self) -> Vec<&ConvLayer> {
        let mut layers = vec![&self.stem];
        for stage in &self.stages {
            for block in &stage.blocks {
                layers.extend(block.branch1.iter());
                layers.extend(block.branch2.iter());
            }
        }
        layers
    }

    /// Multiply-adds of all convolutions for one clip.
    pub fn conv_macs(&self) -> u64 {
        self.conv_layers()
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.macs()))
    }

    /// Forward multiply-adds per clip in billions (GMACs), in the fvcore convention: conv multiply-adds plus 2 per
    /// batch-norm output element. The paper calls the same number GFLOPs (41.9 for Slow R-50 8×224²).
    pub fn forward_gmacs(&self) -> f64 {
        let bn: f64 = self
            .conv_layers()
            .iter()
            .map(|c| 2.0 * c.output_elements() as f64)
            .sum();
        (self.conv_macs() as f64 + bn) / 1e9
    }

    /// Learnable parameters of the backbone (conv weights plus BN scale and shift).
    pub fn parameters(&self) -> u64 {
        self.conv_layers()
            .iter()
            .map(|c| {
                let [kt, kh, kw] = c.kernel;
                u64::from(c.in_channels)
                    .saturating_mul(u64::from(c.out_channels))
                    .saturating_mul(u64::from(kt) * u64::from(kh) * u64::from(kw))
                    .saturating_add(2 * u64::from(c.out_channels))
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// Multiply-adds, given in billions (a [`crate::Cost`]'s GMACs, [`SlowResNet::forward_gmacs`]), with the SI prefix
/// folded into the unit: `8.04 EMACs`, `41.9 GMACs`, `500 MMACs`. fvcore and the paper call these counts FLOPs;
/// they are multiply-adds.
pub fn macs_text(gmacs: f64) -> String {
    let macs = gmacs * 1e9;
    let (scaled, unit) = [
        (1e18, "EMACs"),
        (1e15, "PMACs"),
        (1e12, "TMACs"),
        (1e9, "GMACs"),
        (1e6, "MMACs"),
        (1e3, "kMACs"),
    ]
    .iter()
    .find(|(scale, _)| macs.abs() >= *scale)
    .map(|(scale, u)| (macs / scale, *u))
    .unwrap_or((macs, "MACs"));
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backbone(depth: u32, frames: u32, width: f64) -> BackboneSpec {
        BackboneSpec {
            depth,
            frames,
            stride: 8,
            width,
        }
    }

    #[test]
    fn multiply_adds_read_with_their_unit() {
        assert_eq!(macs_text(8.04e9), "8.04 EMACs");
        assert_eq!(macs_text(41.9), "41.9 GMACs");
        assert_eq!(macs_text(0.0144), "14.4 MMACs");
        assert_eq!(macs_text(2e-6), "2.00 kMACs");
        assert_eq!(macs_text(0.0), "0.00 MACs");
    }

    #[test]
    fn slow_r50_8x8_at_224_is_41_9_gmacs_the_papers_gflops() {
        let net = SlowResNet::new(&backbone(50, 8, 1.0), 224).unwrap();
        let gmacs = net.forward_gmacs();
        assert!((gmacs - 41.9).abs() < 0.05, "got {gmacs}");
        assert_eq!(net.feature_dim, 2048);
        assert_eq!(net.output, [8, 7, 7]);
        assert_eq!(net.stem.output, [8, 112, 112]);
        assert_eq!(net.pool.output, [8, 56, 56]);
    }

    #[test]
    fn slow_r50_has_pyslowfast_names_and_temporal_kernels_only_in_res4_res5() {
        let net = SlowResNet::new(&backbone(50, 8, 1.0), 224).unwrap();
        let names: Vec<&str> = net.conv_layers().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[0], "s1.pathway0_stem.conv");
        assert_eq!(names[1], "s2.pathway0_res0.branch1");
        assert_eq!(names[2], "s2.pathway0_res0.branch2.a");
        assert_eq!(
            net.stages
                .iter()
                .map(|s| s.blocks.len())
                .collect::<Vec<_>>(),
            vec![3, 4, 6, 3]
        );
        // 1 stem + 16 blocks × 3 convs + 4 projections.
        assert_eq!(names.len(), 1 + 16 * 3 + 4);
        for conv in net.conv_layers() {
            let temporal = conv.name.ends_with("branch2.a")
                && (conv.name.starts_with("s4") || conv.name.starts_with("s5"));
            assert_eq!(
                conv.kernel[0],
                if temporal { 3 } else { 1 },
                "{}",
                conv.name
            );
            assert_eq!(conv.stride[0], 1, "no temporal downsampling: {}", conv.name);
            assert_eq!(conv.output[0], 8, "{}", conv.name);
        }
        // The stride-2 conv of a bottleneck is its 3×3.
        let s3 = &net.stages[1].blocks[0];
        assert_eq!(s3.branch2[1].stride, [1, 2, 2]);
        assert_eq!(s3.branch2[0].stride, [1, 1, 1]);
        assert_eq!(s3.branch1.as_ref().unwrap().stride, [1, 2, 2]);
    }

    #[test]
    fn slow_r50_parameter_count_matches_resnet50_without_fc() {
        // PySlowFast's Slow R-50 8×8 has 32.45M parameters, 0.82M of them in its 400-way classifier.
        let net = SlowResNet::new(&backbone(50, 8, 1.0), 224).unwrap();
        let params = net.parameters() as f64 / 1e6;
        assert!((params - 31.6).abs() < 0.2, "got {params}M");
    }

    #[test]
    fn basic_blocks_for_r18_and_width_multiplier_scales_all_channels() {
        let net = SlowResNet::new(&backbone(18, 4, 0.125), 64).unwrap();
        assert_eq!(net.kind, BlockKind::Basic);
        assert_eq!(net.stem.out_channels, 8);
        assert_eq!(net.feature_dim, 64);
        assert_eq!(
            net.stages
                .iter()
                .map(|s| s.blocks.len())
                .collect::<Vec<_>>(),
            vec![2, 2, 2, 2]
        );
        // res2 keeps its width at stride 1: no projection; res3 changes both.
        assert!(net.stages[0].blocks[0].branch1.is_none());
        assert!(net.stages[1].blocks[0].branch1.is_some());
        let a = &net.stages[2].blocks[1].branch2[0];
        assert_eq!(a.kernel, [3, 3, 3]);
        assert_eq!(a.name, "s4.pathway0_res1.branch2.a");
        assert_eq!(net.output, [4, 2, 2]);
        // Full-width R-18 costs less than more.
        let r18 = SlowResNet::new(&backbone(18, 8, 1.0), 224)
            .unwrap()
            .forward_gmacs();
        let r101 = SlowResNet::new(&backbone(101, 8, 1.0), 224)
            .unwrap()
            .forward_gmacs();
        assert!(r18 < 41.9 && r101 > 41.9);
    }

    #[test]
    fn gmacs_scale_with_frames_and_pixels() {
        let base = SlowResNet::new(&backbone(50, 8, 1.0), 224)
            .unwrap()
            .forward_gmacs();
        let long = SlowResNet::new(&backbone(50, 16, 1.0), 224)
            .unwrap()
            .forward_gmacs();
        assert!((long / base - 2.0).abs() < 1e-9);
        let wide = SlowResNet::new(&backbone(50, 8, 0.5), 224)
            .unwrap()
            .forward_gmacs();
        assert!(wide < base / 3.0 && wide > base / 5.0);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(
            SlowResNet::new(&backbone(42, 8, 1.0), 224).unwrap_err(),
            ArchError::Depth(42)
        );
        assert!(matches!(
            SlowResNet::new(&backbone(50, 8, 0.1), 224),
            Err(ArchError::Width { .. })
        ));
        assert!(matches!(
            SlowResNet::new(&backbone(50, 0, 1.0), 224),
            Err(ArchError::Frames)
        ));
        assert!(matches!(
            SlowResNet::new(&backbone(50, 8, 1.0), 0),
            Err(ArchError::TooSmall { .. })
        ));
    }
}
