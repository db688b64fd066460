//! The stage tables of the Slow ResNets: res2 .. res5 of each supported depth as data, one row a stage, read by
//! [`super::SlowResNet::with_input`], which adds the stem and turns each row into blocks of convolutions.

use super::{ArchError, BlockKind};

/// One stage of a Slow ResNet, as a row of the paper's Table 1 lists it (channel counts at width multiplier 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSpec {
    /// PySlowFast's name, `s2` .. `s5` (the paper's res2 .. res5).
    pub name: &'static str,
    pub blocks: u32,
    /// Channels inside a block: a bottleneck's 1×1 reduction and 3×3 conv, both convs of a basic block.
    pub inner_width: u32,
    /// Channels a block outputs: 4× the inner width for bottlenecks, the inner width for basic blocks.
    pub output_width: u32,
    /// Temporal kernel of the first conv of every block. The Slow pathway uses 3 only in res4 and res5: earlier
    /// temporal convolutions hurt accuracy (Feichtenhofer et al., "SlowFast Networks", section 3.1).
    pub temporal_kernel: u32,
    /// Spatial stride of the stage's first block (in its 3×3 conv for a bottleneck, its first conv for a basic
    /// block, and in its projection shortcut); every other block has stride 1. Time is never strided.
    pub spatial_stride: u32,
}

/// A supported depth: the kind of block and res2 .. res5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthSpec {
    pub depth: u32,
    pub kind: BlockKind,
    pub stages: [StageSpec; 4],
}

impl DepthSpec {
    /// The table of a supported depth.
    pub fn of(depth: u32) -> Result<DepthSpec, ArchError> {
        let (kind, stages) = match depth {
            18 => (BlockKind::Basic, SLOW_R18),
            34 => (BlockKind::Basic, SLOW_R34),
            50 => (BlockKind::Bottleneck, SLOW_R50),
            101 => (BlockKind::Bottleneck, SLOW_R101),
            other => return Err(ArchError::Depth(other)),
        };
        Ok(DepthSpec {
            depth,
            kind,
            stages,
        })
    }
}

// res2 .. res5 of each depth. R-50 is the Slow pathway's column of Table 1 of "SlowFast Networks"; the others
// change only the block counts (and, for R-18/34, the block kind) as in He et al.'s 2D ResNets.

#[rustfmt::skip]
const SLOW_R18: [StageSpec; 4] = [
    StageSpec { name: "s2", blocks: 2, inner_width: 64,  output_width: 64,  temporal_kernel: 1, spatial_stride: 1 },
    StageSpec { name: "s3", blocks: 2, inner_width: 128, output_width: 128, temporal_kernel: 1, spatial_stride: 2 },
    StageSpec { name: "s4", blocks: 2, inner_width: 256, output_width: 256, temporal_kernel: 3, spatial_stride: 2 },
    StageSpec { name: "s5", blocks: 2, inner_width: 512, output_width: 512, temporal_kernel: 3, spatial_stride: 2 },
];

#[rustfmt::skip]
const SLOW_R34: [StageSpec; 4] = [
    StageSpec { name: "s2", blocks: 3, inner_width: 64,  output_width: 64,  temporal_kernel: 1, spatial_stride: 1 },
    StageSpec { name: "s3", blocks: 4, inner_width: 128, output_width: 128, temporal_kernel: 1, spatial_stride: 2 },
    StageSpec { name: "s4", blocks: 6, inner_width: 256, output_width: 256, temporal_kernel: 3, spatial_stride: 2 },
    StageSpec { name: "s5", blocks: 3, inner_width: 512, output_width: 512, temporal_kernel: 3, spatial_stride: 2 },
];

#[rustfmt::skip]
const SLOW_R50: [StageSpec; 4] = [
    StageSpec { name: "s2", blocks: 3, inner_width: 64,  output_width: 256,  temporal_kernel: 1, spatial_stride: 1 },
    StageSpec { name: "s3", blocks: 4, inner_width: 128, output_width: 512,  temporal_kernel: 1, spatial_stride: 2 },
    StageSpec { name: "s4", blocks: 6, inner_width: 256, output_width: 1024, temporal_kernel: 3, spatial_stride: 2 },
    StageSpec { name: "s5", blocks: 3, inner_width: 512, output_width: 2048, temporal_kernel: 3, spatial_stride: 2 },
];

#[rustfmt::skip]
const SLOW_R101: [StageSpec; 4] = [
    StageSpec { name: "s2", blocks: 3,  inner_width: 64,  output_width: 256,  temporal_kernel: 1, spatial_stride: 1 },
    StageSpec { name: "s3", blocks: 4,  inner_width: 128, output_width: 512,  temporal_kernel: 1, spatial_stride: 2 },
    StageSpec { name: "s4", blocks: 23, inner_width: 256, output_width: 1024, temporal_kernel: 3, spatial_stride: 2 },
    StageSpec { name: "s5", blocks: 3,  inner_width: 512, output_width: 2048, temporal_kernel: 3, spatial_stride: 2 },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_widens_as_its_block_kind_says() {
        for depth in [18, 34, 50, 101] {
            let spec = DepthSpec::of(depth).unwrap();
            let expansion = match spec.kind {
                BlockKind::Basic => 1,
                BlockKind::Bottleneck => 4,
            };
            for (i, row) in spec.stages.iter().enumerate() {
                assert_eq!(row.name, format!("s{}", i + 2));
                assert_eq!(row.inner_width, 64 << i, "R-{depth} {}", row.name);
                assert_eq!(row.output_width, expansion * row.inner_width);
            }
        }
    }
}
