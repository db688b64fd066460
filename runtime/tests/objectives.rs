//! The four objectives against PyTorch references (scripts/make_model_fixtures.py): loss and gradients with
//! respect to the embeddings (and SwAV's prototypes), for ρ ∈ {1, 2, 3, 4}. The default settings' references
//! follow the official code's structure (one backward per query clip or clip pair, gradients accumulating; SwAV's
//! single loss); the other pair rules and `clip_loss: mean` are checked against row-by-row loops.

mod common;

use common::load_fixture;
use vst_engine::test_support::{FIXTURE_TOL, Fixture, assert_close};
use vst_engine::{Gradients, Graph, Tensor, Var};
use vst_runtime::objective::byol::byol_loss;
use vst_runtime::objective::moco::{MocoLoss, moco_loss};
use vst_runtime::objective::simclr::simclr_loss;
use vst_runtime::objective::swav::{SwavLoss, sinkhorn, swav_loss};
use vst_runtime::objective::{ClipLayout, ClipLoss, PairRule};

fn rule(case: &serde_json::Value) -> PairRule {
    match case["rule"].as_str().unwrap() {
        "all_pairs" => PairRule::AllPairs,
        "consecutive" => PairRule::Consecutive,
        "first_two" => PairRule::FirstTwo,
        other => panic!("unknown rule {other}"),
    }
}

fn reduction(case: &serde_json::Value) -> ClipLoss {
    match case["reduction"].as_str().unwrap() {
        "sum" => ClipLoss::Sum,
        "mean" => ClipLoss::Mean,
        other => panic!("unknown reduction {other}"),
    }
}

fn layout(case: &serde_json::Value) -> ClipLayout {
    ClipLayout::new(
        case["videos"].as_u64().unwrap() as usize,
        case["views"].as_u64().unwrap() as usize,
    )
    .unwrap()
}

fn f(case: &serde_json::Value, key: &str) -> f32 {
    case[key].as_f64().unwrap() as f32
}

fn cases(fx: &Fixture, kind: &str) -> Vec<(String, serde_json::Value)> {
    let all = fx.cases.as_object().unwrap();
    let list: Vec<_> = all
        .iter()
        .filter(|(_, c)| c["kind"] == kind)
        .map(|(n, c)| (n.clone(), c.clone()))
        .collect();
    assert!(!list.is_empty(), "no {kind} cases");
    list
}

fn scalar_close(what: &str, got: &Tensor, want: &Tensor) {
    let (g, w) = (got.to_scalar().unwrap(), want.to_vec().unwrap()[0]);
    assert!(
        (g - w).abs() <= FIXTURE_TOL * w.abs().max(1.0),
        "{what}: loss {g} vs PyTorch {w}"
    );
}

/// Checks `loss` against the case's PyTorch loss (`{name}.loss`) and its gradient with respect to `input`
/// (reported as `{name} {label}`) against the fixture's `{name}.{key}`; returns all the gradients.
fn check_loss_and_gradient(
    fx: &Fixture,
    name: &str,
    g: Graph,
    loss: &Var,
    input: &Var,
    label: &str,
    key: &str,
) -> Gradients {
    scalar_close(name, loss.value(), &fx.get(&format!("{name}.loss")));
    let grads = g.backward(loss).unwrap();
    assert_close(
        &format!("{name} {label}"),
        grads.get(input).unwrap(),
        &fx.get(&format!("{name}.{key}")),
        FIXTURE_TOL,
    );
    grads
}

#[test]
fn simclr_matches_pytorch_for_every_rho_and_pair_rule() {
    let fx = load_fixture("objectives.safetensors");
    let list = cases(&fx, "simclr");
    // ρ = 1, 2: the official rule and the mean; ρ = 3, 4: also all pairs summed and consecutive averaged.
    assert_eq!(list.len(), 12);
    for (name, case) in list {
        let mut g = Graph::new();
        let z = g.leaf(fx.get(&format!("{name}.z")));
        let loss = simclr_loss(
            &mut g,
            &z,
            &layout(&case),
            f(&case, "temperature"),
            rule(&case),
            reduction(&case),
        )
        .unwrap();
        check_loss_and_gradient(&fx, &name, g, &loss, &z, "dz", "dz");
    }
}

#[test]
fn moco_matches_pytorch_for_every_rho_and_pair_rule() {
    let fx = load_fixture("objectives.safetensors");
    let list = cases(&fx, "moco");
    assert_eq!(list.len(), 10);
    for (name, case) in list {
        let mut g = Graph::new();
        let q = g.leaf(fx.get(&format!("{name}.q")));
        let loss = moco_loss(
            &mut g,
            &q,
            &fx.get(&format!("{name}.keys")),
            &fx.get(&format!("{name}.queue")),
            &layout(&case),
            &MocoLoss {
                temperature: f(&case, "temperature"),
                rule: rule(&case),
                reduction: reduction(&case),
            },
        )
        .unwrap();
        check_loss_and_gradient(&fx, &name, g, &loss, &q, "dq", "dq");
    }
}

#[test]
fn byol_matches_pytorch_for_every_rho() {
    let fx = load_fixture("objectives.safetensors");
    let list = cases(&fx, "byol");
    assert_eq!(list.len(), 8);
    for (name, case) in list {
        let mut g = Graph::new();
        let p = g.leaf(fx.get(&format!("{name}.predictions")));
        let loss = byol_loss(
            &mut g,
            &p,
            &fx.get(&format!("{name}.targets")),
            &layout(&case),
            reduction(&case),
        )
        .unwrap();
        check_loss_and_gradient(&fx, &name, g, &loss, &p, "dp", "dpredictions");
    }
}

#[test]
fn swav_matches_pytorch_for_every_rho_pair_rule_and_queue() {
    let fx = load_fixture("objectives.safetensors");
    let list = cases(&fx, "swav");
    assert_eq!(list.len(), 11);
    for (name, case) in list {
        let settings = SwavLoss {
            temperature: f(&case, "temperature"),
            epsilon: f(&case, "epsilon"),
            iterations: case["iterations"].as_u64().unwrap() as u32,
            rule: rule(&case),
        };
        let queue = fx.tensors.get(&format!("{name}.queue")).cloned();
        let mut g = Graph::new();
        let z = g.leaf(fx.get(&format!("{name}.z")));
        let c = g.leaf(fx.get(&format!("{name}.prototypes")));
        let loss = swav_loss(&mut g, &z, &c, &layout(&case), &settings, queue.as_ref()).unwrap();
        let grads = check_loss_and_gradient(&fx, &name, g, &loss, &z, "dz", "dz");
        assert_close(
            &format!("{name} dprototypes"),
            grads.get(&c).unwrap(),
            &fx.get(&format!("{name}.dprototypes")),
            FIXTURE_TOL,
        );
    }
}

#[test]
fn sinkhorn_codes_match_pytorch_and_are_distributions() {
    let fx = load_fixture("objectives.safetensors");
    let case = &fx.cases["sinkhorn"];
    let codes = sinkhorn(
        &fx.get("sinkhorn.scores"),
        f(case, "epsilon"),
        case["iterations"].as_u64().unwrap() as u32,
    )
    .unwrap();
    assert_close("codes", &codes, &fx.get("sinkhorn.codes"), FIXTURE_TOL);
    for row in codes.sum(&[1], false).unwrap().to_vec().unwrap() {
        assert!((row - 1.0).abs() < 1e-5, "a code sums to {row}");
    }
}

#[test]
fn rho_1_and_rho_2_layouts_are_the_same_two_view_loss() {
    // ρ = 1 (two spatial crops) and ρ = 2 (two clips) are both two views per video; with two views the two pair
    // rules coincide, so SimCLR gives the same value under either rule.
    let fx = load_fixture("objectives.safetensors");
    for name in ["simclr_rho1_all_pairs_mean", "simclr_rho2_all_pairs_mean"] {
        let z = fx.get(&format!("{name}.z"));
        let l = ClipLayout::new(4, 2).unwrap();
        let mut g = Graph::no_grad();
        let a = simclr_loss(
            &mut g,
            &z.clone().into(),
            &l,
            0.1,
            PairRule::AllPairs,
            ClipLoss::Mean,
        );
        let b = simclr_loss(
            &mut g,
            &z.into(),
            &l,
            0.1,
            PairRule::Consecutive,
            ClipLoss::Sum,
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.value().to_scalar().unwrap(),
            b.value().to_scalar().unwrap()
        );
    }
}

#[test]
fn losses_reject_batches_that_do_not_fit_the_layout() {
    let fx = load_fixture("objectives.safetensors");
    let z = fx.get("simclr_rho3_all_pairs_mean.z"); // 12 rows
    let wrong = ClipLayout::new(5, 2).unwrap();
    let mut g = Graph::new();
    let err = simclr_loss(
        &mut g,
        &z.into(),
        &wrong,
        0.1,
        PairRule::AllPairs,
        ClipLoss::Sum,
    )
    .unwrap_err();
    assert!(err.to_string().contains("5 videos × 2 views"), "{err}");
}
