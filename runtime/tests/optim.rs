//! SGD (plain, Nesterov) and LARS against PyTorch's SGD and PySlowFast's LARS wrapper, two steps each (so the
//! momentum buffers are exercised), with PySlowFast's parameter groups; and the learning-rate schedule against
//! PySlowFast's formula.

mod common;

use common::load_fixture;
use vst_engine::test_support::assert_close;
use vst_engine::{ParamStore, Tensor};
use vst_runtime::model::{ParamRole, ParamRoles};
use vst_runtime::train::{Optimizer, Schedule};
use vst_spec::{Decay, LrRule, OptimizerSpec, Scaling, ScheduleSpec};

fn role(name: &str) -> ParamRole {
    match name {
        "weight" => ParamRole::Weight,
        "bias" => ParamRole::Bias,
        "bn_scale" => ParamRole::BnScale,
        "bn_shift" => ParamRole::BnShift,
        other => panic!("unknown role {other}"),
    }
}

fn spec(case: &serde_json::Value) -> OptimizerSpec {
    let momentum = case["momentum"].as_f64().unwrap();
    let weight_decay = case["weight_decay"].as_f64().unwrap();
    match case["kind"].as_str().unwrap() {
        "sgd" => OptimizerSpec::Sgd {
            momentum,
            weight_decay,
            nesterov: case["nesterov"].as_bool().unwrap(),
        },
        "lars" => OptimizerSpec::Lars {
            momentum,
            weight_decay,
            trust: case["trust"].as_f64().unwrap(),
            exclude_bn_bias: true,
            nesterov: case["nesterov"].as_bool().unwrap_or(false),
        },
        other => panic!("unknown optimiser {other}"),
    }
}

#[test]
fn two_steps_of_sgd_and_lars_match_pytorch() {
    let fx = load_fixture("optim.safetensors");
    let names: Vec<String> = fx.cases["shapes"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut roles = ParamRoles::new();
    for (n, r) in fx.cases["roles"].as_object().unwrap() {
        roles.set(n, role(r.as_str().unwrap()));
    }
    let cases = fx.cases["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 5);
    for (case_name, case) in cases {
        let mut store = ParamStore::new();
        for n in &names {
            store.insert_param(n, fx.get(&format!("init.{n}"))).unwrap();
        }
        let mut opt = Optimizer::new(&spec(case)).unwrap();
        for (step, lr) in case["lrs"].as_array().unwrap().iter().enumerate() {
            let before: Vec<Tensor> = names
                .iter()
                .map(|n| store.get(n).unwrap().clone())
                .collect();
            let grads: Vec<(String, Tensor)> = names
                .iter()
                .map(|n| (n.clone(), fx.get(&format!("grad{step}.{n}"))))
                .collect();
            opt.step(&mut store, grads, &roles, lr.as_f64().unwrap())
                .unwrap();
            for (n, w0) in names.iter().zip(&before) {
                // Compare the update itself: LARS moves weights by ~1e-3 of their size, below a tolerance on w.
                let want = fx
                    .get(&format!("{case_name}.step{step}.{n}"))
                    .sub(w0)
                    .unwrap();
                let got = store.get(n).unwrap().sub(w0).unwrap();
                assert_close(&format!("{case_name} step {step} {n}"), &got, &want, 2e-4);
            }
        }
    }
}

#[test]
fn learning_rate_follows_pyslowfast_cosine_with_warmup() {
    let fx = load_fixture("optim.safetensors");
    let s = &fx.cases["schedule"];
    let epochs = s["epochs"].as_f64().unwrap();
    let spec = ScheduleSpec {
        epochs: epochs as u32,
        batch: 512,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: false,
        },
        lr: s["base_lr"].as_f64().unwrap(),
        lr_rule: LrRule {
            base: s["base_lr"].as_f64().unwrap(),
            per: 512,
            scaling: Scaling::Linear,
        },
        warmup_epochs: s["warmup_epochs"].as_f64().unwrap(),
        warmup_start_lr: s["warmup_start_lr"].as_f64().unwrap(),
        decay: Decay::Cosine,
    };
    let schedule = Schedule::new(&spec, 200 * 100).unwrap();
    for point in s["at"].as_array().unwrap() {
        let (epoch, want) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
        let got = schedule.lr_at_epoch(epoch);
        assert!(
            (got - want).abs() < 1e-12 * want.max(1.0),
            "epoch {epoch}: {got} vs {want}"
        );
    }
}

#[test]
fn rejects_bad_optimiser_settings() {
    let bad = OptimizerSpec::Sgd {
        momentum: 1.5,
        weight_decay: 0.0,
        nesterov: false,
    };
    assert!(
        Optimizer::new(&bad)
            .unwrap_err()
            .to_string()
            .contains("momentum")
    );
    let bad = OptimizerSpec::Lars {
        momentum: 0.9,
        weight_decay: 0.0,
        trust: 0.0,
        exclude_bn_bias: true,
        nesterov: true,
    };
    assert!(
        Optimizer::new(&bad)
            .unwrap_err()
            .to_string()
            .contains("trust")
    );
}
