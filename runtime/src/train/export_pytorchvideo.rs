//! `vst export --layout pytorchvideo`: the names of pytorchvideo's `create_resnet` model (the structure of its
//! `slow_r50` hub model), and the check that an exported network is one `create_resnet` can build.
//!
//! `create_resnet` returns a `Net` whose `blocks` are the stem (`blocks.0`: `conv`, `norm`), the four stages
//! (`blocks.1` … `blocks.4`, each a `ResStage` of `res_blocks.M`) and the head (`blocks.5`, a `ResNetBasicHead`
//! whose `proj` is the classifier). A `ResBlock` holds its projection shortcut as `branch1_conv` / `branch1_norm`
//! and its bottleneck as `branch2` (`conv_a`, `norm_a`, `conv_b`, `norm_b`, `conv_c`, `norm_c`). The renaming starts
//! from the PySlowFast names of [`super::export`]; only the names change, not the tensors.
//!
//! `create_resnet` builds bottleneck blocks only, with 3-4-6-3, 3-4-23-3 or 3-8-36-3 blocks per stage (depths 50,
//! 101, 152), and derives every stage's width from the stem's (stage i, from 0: `4·stem·2^i` channels out, a
//! quarter of that inside, a projection shortcut in each stage's first block only). A network that differs — the
//! basic blocks of a Slow R-18/34 above all — is refused rather than written under names that would not load.

use std::collections::HashMap;

use serde_json::json;

use super::export::ExportedEntry;

/// The index of the head in `create_resnet`'s `blocks` (stem, four stages; no `stage1_pool` in a Slow network).
const HEAD_BLOCK: usize = 5;

/// PySlowFast's layers inside a residual block and pytorchvideo's names for them.
const BLOCK_LAYERS: [(&str, &str); 8] = [
    ("branch1", "branch1_conv"),
    ("branch1_bn", "branch1_norm"),
    ("branch2.a", "branch2.conv_a"),
    ("branch2.a_bn", "branch2.norm_a"),
    ("branch2.b", "branch2.conv_b"),
    ("branch2.b_bn", "branch2.norm_b"),
    ("branch2.c", "branch2.conv_c"),
    ("branch2.c_bn", "branch2.norm_c"),
];

/// PySlowFast's layers of the stem and pytorchvideo's names for them.
const STEM_LAYERS: [(&str, &str); 2] = [("conv", "conv"), ("bn", "norm")];

/// Blocks per stage of each depth `create_resnet` builds (its `_MODEL_STAGE_DEPTH`).
const DEPTHS: [(u32, [usize; 4]); 3] = [
    (50, [3, 4, 6, 3]),
    (101, [3, 4, 23, 3]),
    (152, [3, 8, 36, 3]),
];

/// The entry fields a renamed layer may have: convolution and linear weights, a linear bias, batch norms.
const FIELDS: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

/// The pytorchvideo name of an exported entry, given its PySlowFast name (`s1.*` … `s5.*`, `head.projection.*`),
/// or None when pytorchvideo's `create_resnet` has no such entry.
pub fn pytorchvideo_name(pyslowfast: &str) -> Option<String> {
    let (path, field) = pyslowfast.rsplit_once('.')?;
    if !FIELDS.contains(&field) {
        return None;
    }
    if let Some(layer) = path.strip_prefix("s1.pathway0_stem.") {
        let (_, renamed) = STEM_LAYERS.iter().find(|(ours, _)| *ours == layer)?;
        return Some(format!("blocks.0.{renamed}.{field}"));
    }
    if path == "head.projection" {
        return matches!(field, "weight" | "bias")
            .then(|| format!("blocks.{HEAD_BLOCK}.proj.{field}"));
    }
    let (stage, rest) = path.split_once(".pathway0_res")?;
    let stage: usize = stage.strip_prefix('s')?.parse().ok()?;
    if !(2..=5).contains(&stage) {
        return None;
    }
    let (block, layer) = rest.split_once('.')?;
    let block: usize = block.parse().ok()?;
    let (_, renamed) = BLOCK_LAYERS.iter().find(|(ours, _)| *ours == layer)?;
    Some(format!(
        "blocks.{}.res_blocks.{block}.{renamed}.{field}",
        stage - 1
    ))
}

/// The arguments of pytorchvideo's `create_resnet` that build the network an export loads into (strictly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResnetArgs {
    pub model_depth: u32,
    pub stem_dim_out: usize,
    pub stem_conv_kernel_size: [usize; 3],
    pub stage_conv_a_kernel_size: [[usize; 3]; 4],
    pub stage_conv_b_kernel_size: [[usize; 3]; 4],
    /// The fine-tuned classifier's classes; None for an encoder alone (`head=None`).
    pub model_num_class: Option<usize>,
}

impl CreateResnetArgs {
    /// The keyword arguments as a JSON object (`head: null` for an encoder alone): `create_resnet(**json.loads(..))`.
    pub fn to_json(&self) -> String {
        let mut args = json!({
            "model_depth": self.model_depth,
            "stem_dim_out": self.stem_dim_out,
            "stem_conv_kernel_size": self.stem_conv_kernel_size,
            "stage_conv_a_kernel_size": self.stage_conv_a_kernel_size,
            "stage_conv_b_kernel_size": self.stage_conv_b_kernel_size,
        });
        match self.model_num_class {
            Some(classes) => args["model_num_class"] = json!(classes),
            None => args["head"] = serde_json::Value::Null,
        }
        args.to_string()
    }

    /// The call as Python source, for the user to paste.
    pub fn to_python(&self) -> String {
        let triple = |k: &[usize; 3]| format!("({}, {}, {})", k[0], k[1], k[2]);
        let stages = |ks: &[[usize; 3]; 4]| {
            let each: Vec<String> = ks.iter().map(triple).collect();
            format!("({})", each.join(", "))
        };
        let head = match self.model_num_class {
            Some(classes) => format!("model_num_class={classes}"),
            None => "head=None".to_string(),
        };
        format!(
            "create_resnet(model_depth={}, stem_dim_out={}, stem_conv_kernel_size={}, stage_conv_a_kernel_size={}, \
             stage_conv_b_kernel_size={}, {head})",
            self.model_depth,
            self.stem_dim_out,
            triple(&self.stem_conv_kernel_size),
            stages(&self.stage_conv_a_kernel_size),
            stages(&self.stage_conv_b_kernel_size),
        )
    }
}

/// The shape of entry `name`, or an error naming what is missing.
fn shape<'a>(shapes: &HashMap<&str, &'a [usize]>, name: &str) -> Result<&'a [usize], String> {
    shapes
        .get(name)
        .copied()
        .ok_or_else(|| format!("`{name}` is missing"))
}

/// The kernel (kT, kH, kW) of a convolution weight in PyTorch's layout.
fn kernel(weight: &[usize]) -> [usize; 3] {
    [weight[2], weight[3], weight[4]]
}

/// The `create_resnet` arguments of the exported PySlowFast-named `entries`, or why `create_resnet` cannot build
/// their network.
pub fn create_resnet_args(entries: &[ExportedEntry]) -> Result<CreateResnetArgs, String> {
    let shapes: HashMap<&str, &[usize]> = entries
        .iter()
        .map(|(name, tensor, _)| (name.as_str(), tensor.shape()))
        .collect();
    let stem = shape(&shapes, "s1.pathway0_stem.conv.weight")?;
    if stem.len() != 5 {
        return Err(format!(
            "the stem convolution has shape {stem:?}, not Cout×Cin×kT×kH×kW"
        ));
    }
    let stem_dim_out = stem[0];
    let mut counts = [0usize; 4];
    for (i, count) in counts.iter_mut().enumerate() {
        while shapes
            .contains_key(format!("s{}.pathway0_res{count}.branch2.a.weight", i + 2).as_str())
        {
            *count += 1;
        }
    }
    if shapes.keys().any(|name| name.contains(".branch2.a."))
        && !shapes.keys().any(|n| n.contains(".branch2.c."))
    {
        let depth = match counts {
            [2, 2, 2, 2] => "a Slow R-18's",
            [3, 4, 6, 3] => "a Slow R-34's",
            _ => "its",
        };
        return Err(format!(
            "this network has basic blocks ({depth}, two 3×3 convolutions each), which pytorchvideo's \
             `create_resnet` cannot build: it makes bottleneck blocks only (depths 50, 101, 152). Export it in \
             PySlowFast's layout (`--layout pyslowfast`) instead"
        ));
    }
    let model_depth = DEPTHS
        .iter()
        .find(|(_, blocks)| *blocks == counts)
        .map(|(depth, _)| *depth)
        .ok_or_else(|| {
            format!(
                "its stages have {counts:?} blocks; pytorchvideo's `create_resnet` builds {} only",
                DEPTHS
                    .iter()
                    .map(|(d, b)| format!("{b:?} (depth {d})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut stage_conv_a_kernel_size = [[0; 3]; 4];
    let mut stage_conv_b_kernel_size = [[0; 3]; 4];
    for (i, &count) in counts.iter().enumerate() {
        let stage = i + 2;
        let (inner, out) = (stem_dim_out << i, (4 * stem_dim_out) << i);
        for block in 0..count {
            let layer = |l: &str| format!("s{stage}.pathway0_res{block}.{l}.weight");
            let (a, b, c) = (
                shape(&shapes, &layer("branch2.a"))?,
                shape(&shapes, &layer("branch2.b"))?,
                shape(&shapes, &layer("branch2.c"))?,
            );
            if a.len() != 5 || b.len() != 5 || c.len() != 5 {
                return Err(format!(
                    "s{stage}.pathway0_res{block} has a convolution that is not 5-D"
                ));
            }
            if a[0] != inner || b[0] != inner || c[0] != out {
                return Err(format!(
                    "s{stage}.pathway0_res{block} has {}/{}/{} output channels where `create_resnet`, from a \
                     {stem_dim_out}-channel stem, builds {inner}/{inner}/{out}",
                    a[0], b[0], c[0]
                ));
            }
            if kernel(c) != [1, 1, 1] {
                return Err(format!(
                    "s{stage}.pathway0_res{block}.branch2.c has kernel {:?}; `create_resnet`'s is 1×1×1",
                    kernel(c)
                ));
            }
            if block == 0 {
                stage_conv_a_kernel_size[i] = kernel(a);
                stage_conv_b_kernel_size[i] = kernel(b);
            } else if kernel(a) != stage_conv_a_kernel_size[i]
                || kernel(b) != stage_conv_b_kernel_size[i]
            {
                return Err(format!(
                    "the blocks of s{stage} differ in their kernels; `create_resnet` gives a stage one kernel"
                ));
            }
            // create_resnet's shortcut: a projection where channels or stride change, i.e. in each first block.
            let projected = shapes.contains_key(layer("branch1").as_str());
            if projected != (block == 0) {
                return Err(format!(
                    "s{stage}.pathway0_res{block} {} a projection shortcut; `create_resnet` gives one to each \
                     stage's first block only",
                    if projected { "has" } else { "lacks" }
                ));
            }
        }
    }
    let model_num_class = match shapes.get("head.projection.weight").copied() {
        None => None,
        Some(&[classes, features]) if features == 32 * stem_dim_out => Some(classes),
        Some(other) => {
            return Err(format!(
                "the classifier has shape {other:?}; `create_resnet`'s head takes {} features",
                32 * stem_dim_out
            ));
        }
    };
    Ok(CreateResnetArgs {
        model_depth,
        stem_dim_out,
        stem_conv_kernel_size: kernel(stem),
        stage_conv_a_kernel_size,
        stage_conv_b_kernel_size,
        model_num_class,
    })
}

/// The exported PySlowFast-named `entries` under pytorchvideo's names (sorted), with the `create_resnet` arguments
/// they load into; an error says why `create_resnet` cannot build the network.
pub fn pytorchvideo_state(
    entries: Vec<ExportedEntry>,
) -> Result<(Vec<ExportedEntry>, CreateResnetArgs), String> {
    let args = create_resnet_args(&entries)?;
    let mut renamed = Vec::with_capacity(entries.len());
    for (name, tensor, buffer) in entries {
        let Some(new) = pytorchvideo_name(&name) else {
            return Err(format!(
                "`{name}` has no place in pytorchvideo's `create_resnet` model"
            ));
        };
        renamed.push((new, tensor, buffer));
    }
    renamed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((renamed, args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vst_engine::{Device, Tensor};

    #[test]
    fn pyslowfast_names_become_create_resnets() {
        for (ours, theirs) in [
            ("s1.pathway0_stem.conv.weight", "blocks.0.conv.weight"),
            (
                "s1.pathway0_stem.bn.running_var",
                "blocks.0.norm.running_var",
            ),
            (
                "s2.pathway0_res0.branch1.weight",
                "blocks.1.res_blocks.0.branch1_conv.weight",
            ),
            (
                "s2.pathway0_res0.branch1_bn.bias",
                "blocks.1.res_blocks.0.branch1_norm.bias",
            ),
            (
                "s3.pathway0_res2.branch2.a.weight",
                "blocks.2.res_blocks.2.branch2.conv_a.weight",
            ),
            (
                "s4.pathway0_res5.branch2.a_bn.weight",
                "blocks.3.res_blocks.5.branch2.norm_a.weight",
            ),
            (
                "s4.pathway0_res22.branch2.b.weight",
                "blocks.3.res_blocks.22.branch2.conv_b.weight",
            ),
            (
                "s5.pathway0_res1.branch2.b_bn.running_mean",
                "blocks.4.res_blocks.1.branch2.norm_b.running_mean",
            ),
            (
                "s5.pathway0_res2.branch2.c.weight",
                "blocks.4.res_blocks.2.branch2.conv_c.weight",
            ),
            (
                "s5.pathway0_res2.branch2.c_bn.bias",
                "blocks.4.res_blocks.2.branch2.norm_c.bias",
            ),
            ("head.projection.weight", "blocks.5.proj.weight"),
            ("head.projection.bias", "blocks.5.proj.bias"),
        ] {
            assert_eq!(pytorchvideo_name(ours).as_deref(), Some(theirs), "{ours}");
        }
        for unknown in [
            "s6.pathway0_res0.branch2.a.weight",
            "s2.pathway1_res0.branch2.a.weight",
            "s2.pathway0_res0.branch2.d.weight",
            "s1.pathway0_stem.pool.weight",
            "s1.pathway0_stem.bn.num_batches_tracked",
            "head.projection.projection.0.weight",
            "head.projection.running_mean",
        ] {
            assert_eq!(pytorchvideo_name(unknown), None, "{unknown}");
        }
    }

    /// PySlowFast-named entries of a Slow ResNet with `counts` blocks per stage and a `stem`-channel stem
    /// (bottlenecks, or basic blocks), zeros of the right shapes.
    fn network(counts: [usize; 4], stem: usize, bottleneck: bool) -> Vec<ExportedEntry> {
        let dev = Device::cpu();
        let mut entries = Vec::new();
        let mut conv = |name: String, shape: [usize; 5]| {
            entries.push((name, Tensor::zeros(&shape, &dev).unwrap(), false));
        };
        conv("s1.pathway0_stem.conv.weight".into(), [stem, 3, 1, 7, 7]);
        let mut dim_in = stem;
        for (i, &count) in counts.iter().enumerate() {
            let t = if i >= 2 { 3 } else { 1 };
            let (inner, out) = (
                stem << i,
                if bottleneck {
                    (4 * stem) << i
                } else {
                    stem << i
                },
            );
            for block in 0..count {
                let name = |l: &str| format!("s{}.pathway0_res{block}.{l}.weight", i + 2);
                let input = if block == 0 { dim_in } else { out };
                if block == 0 {
                    conv(name("branch1"), [out, input, 1, 1, 1]);
                }
                if bottleneck {
                    conv(name("branch2.a"), [inner, input, t, 1, 1]);
                    conv(name("branch2.b"), [inner, inner, 1, 3, 3]);
                    conv(name("branch2.c"), [out, inner, 1, 1, 1]);
                } else {
                    conv(name("branch2.a"), [inner, input, t, 3, 3]);
                    conv(name("branch2.b"), [inner, inner, 1, 3, 3]);
                }
            }
            dim_in = out;
        }
        entries
    }

    #[test]
    fn a_slow_r50_gives_slow_r50s_arguments() {
        let mut entries = network([3, 4, 6, 3], 2, true);
        let dev = Device::cpu();
        entries.push((
            "head.projection.weight".into(),
            Tensor::zeros(&[7, 64], &dev).unwrap(),
            false,
        ));
        let args = create_resnet_args(&entries).expect("expressible");
        assert_eq!(
            args,
            CreateResnetArgs {
                model_depth: 50,
                stem_dim_out: 2,
                stem_conv_kernel_size: [1, 7, 7],
                stage_conv_a_kernel_size: [[1, 1, 1], [1, 1, 1], [3, 1, 1], [3, 1, 1]],
                stage_conv_b_kernel_size: [[1, 3, 3]; 4],
                model_num_class: Some(7),
            }
        );
        assert!(args.to_python().starts_with(
            "create_resnet(model_depth=50, stem_dim_out=2, stem_conv_kernel_size=(1, 7, 7), \
             stage_conv_a_kernel_size=((1, 1, 1), (1, 1, 1), (3, 1, 1), (3, 1, 1))"
        ));
        assert!(args.to_json().contains("\"model_num_class\":7"));
        assert_eq!(
            create_resnet_args(&network([3, 4, 23, 3], 2, true))
                .map(|a| (a.model_depth, a.model_num_class)),
            Ok((101, None))
        );
        assert!(
            create_resnet_args(&network([3, 4, 6, 3], 2, true))
                .unwrap()
                .to_json()
                .contains("\"head\":null")
        );
    }

    #[test]
    fn what_create_resnet_cannot_build_is_refused() {
        for counts in [[2, 2, 2, 2], [3, 4, 6, 3]] {
            let err = pytorchvideo_state(network(counts, 2, false)).unwrap_err();
            assert!(
                err.contains("basic blocks") && err.contains("bottleneck blocks only"),
                "{err}"
            );
        }
        let err = create_resnet_args(&network([2, 2, 2, 2], 2, true)).unwrap_err();
        assert!(err.contains("[2, 2, 2, 2] blocks"), "{err}");
        // A stage narrower than create_resnet derives from the stem.
        let mut entries = network([3, 4, 6, 3], 2, true);
        let dev = Device::cpu();
        entries.retain(|(n, _, _)| n != "s3.pathway0_res1.branch2.c.weight");
        entries.push((
            "s3.pathway0_res1.branch2.c.weight".into(),
            Tensor::zeros(&[8, 4, 1, 1, 1], &dev).unwrap(),
            false,
        ));
        let err = create_resnet_args(&entries).unwrap_err();
        assert!(
            err.contains("s3.pathway0_res1 has 4/4/8 output channels"),
            "{err}"
        );
        // A classifier over another feature width.
        let mut entries = network([3, 4, 6, 3], 2, true);
        entries.push((
            "head.projection.weight".into(),
            Tensor::zeros(&[7, 32], &dev).unwrap(),
            false,
        ));
        assert!(
            create_resnet_args(&entries)
                .unwrap_err()
                .contains("64 features")
        );
    }
}
