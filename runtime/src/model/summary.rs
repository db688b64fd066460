//! The model summary `vst model RECIPE` prints: every layer of the backbone with its output size, parameters and
//! forward multiply-adds per clip, in GMACs (MMACs for a small backbone), in fvcore's convention, as the paper
//! counts (its "41.9 GFLOPs" for Slow R-50 8×224² are 41.9 G multiply-adds), then the heads of the objective.

use std::fmt;

use vst_spec::arch::{ConvLayer, SlowResNet};
use vst_spec::{BackboneSpec, ObjectiveSpec};

use super::ModelError;
use super::mlp::MlpHead;

/// One row of the summary: a convolution (with its batch norm) or the stem's max-pool.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// PySlowFast name (`s2.pathway0_res0.branch2.a`).
    pub name: String,
    /// Stage (`s1` .. `s5`).
    pub stage: String,
    pub kind: &'static str,
    pub in_channels: u32,
    pub out_channels: u32,
    pub kernel: [u32; 3],
    pub stride: [u32; 3],
    /// Output `[T, H, W]`.
    pub output: [u32; 3],
    /// Trainable values (conv weight, BN scale and shift).
    pub parameters: u64,
    /// Forward multiply-adds for one clip, in billions (conv multiply-adds + 2 per BN output).
    pub gmacs: f64,
}

/// Parameters of one head of the objective.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadRow {
    pub name: String,
    pub layers: u32,
    pub in_dim: usize,
    pub out_dim: usize,
    pub parameters: u64,
}

/// Layers, parameters and cost of a backbone on `crop`² clips, optionally with an objective's heads.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub depth: u32,
    pub frames: u32,
    pub stride: u32,
    pub width: f64,
    pub crop: u32,
    pub rows: Vec<SummaryRow>,
    pub feature_dim: u32,
    /// Trainable values of the backbone.
    pub backbone_parameters: u64,
    /// Forward multiply-adds per clip of the backbone, in billions (the number the paper quotes as GFLOPs).
    pub gmacs: f64,
    pub heads: Vec<HeadRow>,
}

fn conv_row(conv: &ConvLayer) -> SummaryRow {
    let [kt, kh, kw] = conv.kernel;
    SummaryRow {
        name: conv.name.clone(),
        stage: stage_of(&conv.name),
        kind: "conv+bn",
        in_channels: conv.in_channels,
        out_channels: conv.out_channels,
        kernel: conv.kernel,
        stride: conv.stride,
        output: conv.output,
        parameters: u64::from(conv.in_channels)
            * u64::from(conv.out_channels)
            * u64::from(kt * kh * kw)
            + 2 * u64::from(conv.out_channels),
        gmacs: (conv.macs() + 2 * conv.output_elements()) as f64 / 1e9,
    }
}

fn stage_of(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_string()
}

impl ModelSummary {
    /// The backbone of `backbone` on `crop`×`crop` clips.
    pub fn new(backbone: &BackboneSpec, crop: u32) -> Result<ModelSummary, ModelError> {
        let arch = SlowResNet::new(backbone, crop)?;
        let mut rows = Vec::new();
        rows.push(conv_row(&arch.stem));
        let pool = &arch.pool;
        rows.push(SummaryRow {
            name: pool.name.clone(),
            stage: stage_of(&pool.name),
            kind: "max-pool",
            in_channels: pool.channels,
            out_channels: pool.channels,
            kernel: pool.kernel,
            stride: pool.stride,
            output: pool.output,
            parameters: 0,
            gmacs: 0.0,
        });
        for stage in &arch.stages {
            for block in &stage.blocks {
                rows.extend(block.branch1.iter().map(conv_row));
                rows.extend(block.branch2.iter().map(conv_row));
            }
        }
        Ok(ModelSummary {
            depth: backbone.depth,
            frames: backbone.frames,
            stride: backbone.stride,
            width: backbone.width,
            crop,
            backbone_parameters: arch.parameters(),
            gmacs: arch.forward_gmacs(),
            feature_dim: arch.feature_dim,
            rows,
            heads: Vec::new(),
        })
    }

    /// Adds the heads `objective` puts on the pool5 features (and SwAV's prototypes).
    pub fn with_objective(mut self, objective: &ObjectiveSpec) -> Result<ModelSummary, ModelError> {
        let features = self.feature_dim as usize;
        let mut add = |name: &str, head: &MlpHead| {
            self.heads.push(HeadRow {
                name: name.to_string(),
                layers: head.spec().layers,
                in_dim: head.in_dim(),
                out_dim: head.out_dim(),
                parameters: head.parameters(),
            });
        };
        let objective = crate::objective::from_spec(objective);
        let projection = MlpHead::new(objective.head(), features, "projection", true)?;
        let dim = projection.out_dim();
        add("projection", &projection);
        if let Some(spec) = objective.predictor() {
            add("predictor", &MlpHead::new(spec, dim, "predictor", false)?);
        }
        if let Some((name, rows)) = objective.own_layer() {
            self.heads.push(HeadRow {
                name: name.into(),
                layers: 1,
                in_dim: dim,
                out_dim: rows,
                parameters: rows as u64 * dim as u64,
            });
        }
        Ok(self)
    }

    /// Trainable values of the backbone and heads.
    pub fn total_parameters(&self) -> u64 {
        self.backbone_parameters + self.heads.iter().map(|h| h.parameters).sum::<u64>()
    }

    /// The unit of the tables' cost column and the factor from GMACs to it: GMACs, or MMACs for a backbone under
    /// one GMAC per clip (whose layers would all read 0.00x GMACs).
    fn cost_unit(&self) -> (&'static str, f64) {
        if self.gmacs >= 1.0 {
            ("GMACs", 1.0)
        } else {
            ("MMACs", 1e3)
        }
    }

    /// One row per stage (stem, res2..res5): blocks, output size, parameters, multiply-adds.
    pub fn stage_table(&self) -> String {
        let (unit, scale) = self.cost_unit();
        let mut s = String::new();
        s.push_str(&format!(
            "{:<8} {:>6} {:>10} {:>14} {:>12} {:>10}\n",
            "stage", "blocks", "channels", "output T×H×W", "params", unit
        ));
        let mut stages: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !stages.contains(&row.stage.as_str()) {
                stages.push(&row.stage);
            }
        }
        for stage in stages {
            let rows: Vec<&SummaryRow> = self.rows.iter().filter(|r| r.stage == stage).collect();
            let blocks = {
                let mut names: Vec<&str> = rows
                    .iter()
                    .filter_map(|r| r.name.split('.').nth(1))
                    .filter(|b| b.contains("_res"))
                    .collect();
                names.dedup();
                names.len()
            };
            let Some(last) = rows.last() else { continue };
            let label = match stage {
                "s1" => "stem".to_string(),
                s => format!("res{}", s.trim_start_matches('s')),
            };
            let [t, h, w] = last.output;
            s.push_str(&format!(
                "{:<8} {:>6} {:>10} {:>14} {:>12} {:>10.3}\n",
                label,
                if blocks == 0 {
                    "-".into()
                } else {
                    blocks.to_string()
                },
                last.out_channels,
                format!("{t}×{h}×{w}"),
                group_digits(rows.iter().map(|r| r.parameters).sum()),
                rows.iter().map(|r| r.gmacs).sum::<f64>() * scale,
            ));
        }
        s
    }

    /// One row per layer.
    pub fn layer_table(&self) -> String {
        let (unit, scale) = self.cost_unit();
        let mut s = format!(
            "{:<34} {:<9} {:>11} {:>8} {:>8} {:>14} {:>11} {:>8}\n",
            "layer", "kind", "channels", "kernel", "stride", "output T×H×W", "params", unit
        );
        for r in &self.rows {
            let [kt, kh, kw] = r.kernel;
            let [st, sh, sw] = r.stride;
            let [t, h, w] = r.output;
            s.push_str(&format!(
                "{:<34} {:<9} {:>11} {:>8} {:>8} {:>14} {:>11} {:>8.3}\n",
                r.name,
                r.kind,
                format!("{}→{}", r.in_channels, r.out_channels),
                format!("{kt}×{kh}×{kw}"),
                format!("{st}×{sh}×{sw}"),
                format!("{t}×{h}×{w}"),
                group_digits(r.parameters),
                r.gmacs * scale,
            ));
        }
        s
    }
}

/// 31618752 → "31,618,752".
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Slow-only ResNet-{} {}×{} (T×τ), width ×{}, {}×{} crops, {} frames per clip",
            self.depth, self.frames, self.stride, self.width, self.crop, self.crop, self.frames
        )?;
        write!(f, "{}", self.stage_table())?;
        writeln!(
            f,
            "backbone: {} conv layers, {} parameters, pool5 features {}",
            self.rows.iter().filter(|r| r.kind == "conv+bn").count(),
            group_digits(self.backbone_parameters),
            self.feature_dim
        )?;
        for h in &self.heads {
            writeln!(
                f,
                "{}: {} layer(s), {} → {}, {} parameters",
                h.name,
                h.layers,
                h.in_dim,
                h.out_dim,
                group_digits(h.parameters)
            )?;
        }
        if !self.heads.is_empty() {
            writeln!(
                f,
                "total: {} parameters",
                group_digits(self.total_parameters())
            )?;
        }
        writeln!(
            f,
            "forward cost: {} per clip (multiply-adds in fvcore's convention: convolutions + 2 per batch-norm \
             output; the paper calls these FLOPs)",
            vst_spec::arch::macs_text(self.gmacs)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(31618752), "31,618,752");
    }
}
