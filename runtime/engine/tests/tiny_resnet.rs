//! A whole small Slow-style 3D ResNet (stem, max-pool, a strided bottleneck with a temporal 3×1×1 conv and a
//! projection shortcut, an identity bottleneck, global pool, linear head, cross-entropy): loss, every parameter
//! gradient and the updated BN running statistics against PyTorch.

mod common;

use common::load_fixture;
use vst_engine::test_support::{FIXTURE_TOL, assert_close};
use vst_engine::{
    BatchNormMode, BatchNormSpec, Conv3dSpec, Graph, ParamStore, Pool3dSpec, Result, Var,
};

const MOMENTUM: f32 = 0.1;

/// Conv (no bias) + training-mode BN (+ fused ReLU), updating the BN's running statistics.
fn conv_bn(
    g: &mut Graph,
    s: &mut ParamStore,
    x: &Var,
    conv: &str,
    bn: &str,
    spec: Conv3dSpec,
    relu: bool,
) -> Result<Var> {
    let w = g.param(s, &format!("{conv}.weight"))?;
    let y = g.conv3d(x, &w, &spec)?;
    let gamma = g.param(s, &format!("{bn}.weight"))?;
    let beta = g.param(s, &format!("{bn}.bias"))?;
    let (y, stats) = g.batch_norm(
        &y,
        Some(&gamma),
        Some(&beta),
        &BatchNormMode::train(),
        &BatchNormSpec { eps: 1e-5, relu },
    )?;
    if let Some(stats) = stats {
        s.update_running_stats(
            &format!("{bn}.running_mean"),
            &format!("{bn}.running_var"),
            &stats,
            MOMENTUM,
        )?;
    }
    Ok(y)
}

fn bottleneck(
    g: &mut Graph,
    s: &mut ParamStore,
    x: &Var,
    name: &str,
    temporal: bool,
    stride: usize,
) -> Result<Var> {
    let pt = if temporal { 1 } else { 0 };
    let a = conv_bn(
        g,
        s,
        x,
        &format!("{name}.conv_a"),
        &format!("{name}.bn_a"),
        Conv3dSpec::new([1, 1, 1], [pt, 0, 0]),
        true,
    )?;
    let b = conv_bn(
        g,
        s,
        &a,
        &format!("{name}.conv_b"),
        &format!("{name}.bn_b"),
        Conv3dSpec::new([1, stride, stride], [0, 1, 1]),
        true,
    )?;
    let c = conv_bn(
        g,
        s,
        &b,
        &format!("{name}.conv_c"),
        &format!("{name}.bn_c"),
        Conv3dSpec::default(),
        false,
    )?;
    let shortcut = if s.contains(&format!("{name}.shortcut.weight")) {
        conv_bn(
            g,
            s,
            x,
            &format!("{name}.shortcut"),
            &format!("{name}.bn_s"),
            Conv3dSpec::new([1, stride, stride], [0, 0, 0]),
            false,
        )?
    } else {
        x.clone()
    };
    let sum = g.add(&c, &shortcut)?;
    g.relu(&sum)
}

#[test]
fn tiny_slow_resnet_loss_and_gradients_match_pytorch() {
    let fx = load_fixture("tiny_resnet.safetensors");
    let names: Vec<String> = fx.cases["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let targets: Vec<usize> = fx.cases["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut store = ParamStore::new();
    for n in &names {
        let t = fx.get(&format!("param.{n}"));
        if n.contains("running") {
            store.insert_buffer(n, t).unwrap()
        } else {
            store.insert_param(n, t).unwrap()
        }
    }
    let mut g = Graph::new();
    let x = Var::constant(fx.get("input"));
    let y = conv_bn(
        &mut g,
        &mut store,
        &x,
        "stem_conv",
        "stem_bn",
        Conv3dSpec::new([1, 2, 2], [0, 3, 3]),
        true,
    )
    .unwrap();
    let y = g
        .max_pool3d(&y, &Pool3dSpec::new([1, 3, 3], [1, 2, 2], [0, 1, 1]))
        .unwrap();
    let y = bottleneck(&mut g, &mut store, &y, "block1", true, 2).unwrap();
    let y = bottleneck(&mut g, &mut store, &y, "block2", false, 1).unwrap();
    let pooled = g.global_avg_pool(&y).unwrap();
    let (w, b) = (
        g.param(&store, "head.weight").unwrap(),
        g.param(&store, "head.bias").unwrap(),
    );
    let logits = g.linear(&pooled, &w, Some(&b)).unwrap();
    let loss = g.cross_entropy(&logits, &targets).unwrap();
    assert_close(
        "loss",
        &loss.value().reshape(&[1]).unwrap(),
        &fx.get("loss"),
        FIXTURE_TOL,
    );

    let grads = g.backward(&loss).unwrap();
    let mut checked = 0;
    for n in store.trainable_names() {
        let got = grads
            .param(&n)
            .unwrap_or_else(|| panic!("no gradient for {n}"));
        assert_close(
            &format!("grad {n}"),
            got,
            &fx.get(&format!("grad.{n}")),
            FIXTURE_TOL,
        );
        checked += 1;
    }
    assert_eq!(checked, grads.params().count());
    assert_eq!(
        checked, 26,
        "every conv weight, BN gamma and beta, and the head of the network"
    );
    for n in names.iter().filter(|n| n.contains("running")) {
        assert_close(
            &format!("after {n}"),
            store.get(n).unwrap(),
            &fx.get(&format!("after.{n}")),
            FIXTURE_TOL,
        );
    }
}
