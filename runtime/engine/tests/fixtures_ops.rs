//! Every generic op against PyTorch: forward value and the gradient of every input.

mod common;

use common::load_fixture;
use serde_json::Value;
use vst_engine::test_support::{FIXTURE_TOL, assert_close};
use vst_engine::{Graph, Result, Var};

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

fn isizes(v: &Value) -> Vec<isize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("integer") as isize)
        .collect()
}

fn run(name: &str, p: &Value, g: &mut Graph, x: &[Var]) -> Result<Var> {
    match name {
        "add_broadcast" => g.add(&x[0], &x[1]),
        "sub_broadcast" => g.sub(&x[0], &x[1]),
        "mul_broadcast" => g.mul(&x[0], &x[1]),
        "div_broadcast" => g.div(&x[0], &x[1]),
        "exp" => g.exp(&x[0]),
        "log" => g.log(&x[0]),
        "sqrt" => g.sqrt(&x[0]),
        "square" => g.square(&x[0]),
        "relu" => g.relu(&x[0]),
        "scale" => g.scale(&x[0], p["s"].as_f64().unwrap() as f32),
        "sum_axis1" | "sum_all" => {
            g.sum(&x[0], &isizes(&p["axes"]), p["keepdim"].as_bool().unwrap())
        }
        "mean_axes02_keepdim" => {
            g.mean(&x[0], &isizes(&p["axes"]), p["keepdim"].as_bool().unwrap())
        }
        "softmax" => g.softmax(&x[0]),
        "log_softmax" => g.log_softmax(&x[0]),
        "cross_entropy" => g.cross_entropy(&x[0], &usizes(&p["targets"])),
        "matmul" | "matmul_ta" | "matmul_tb" | "matmul_batched" | "matmul_batched_shared" => g
            .matmul_t(
                &x[0],
                &x[1],
                p["ta"].as_bool().unwrap(),
                p["tb"].as_bool().unwrap(),
            ),
        "linear" => g.linear(&x[0], &x[1], Some(&x[2])),
        "transpose" => g.transpose(
            &x[0],
            p["a"].as_i64().unwrap() as isize,
            p["b"].as_i64().unwrap() as isize,
        ),
        "permute" => g.permute(&x[0], &usizes(&p["perm"])),
        "concat_axis1" => g.concat(&[&x[0], &x[1]], p["axis"].as_i64().unwrap() as isize),
        "slice_axis1" => g.slice(
            &x[0],
            p["axis"].as_i64().unwrap() as isize,
            p["start"].as_u64().unwrap() as usize,
            p["len"].as_u64().unwrap() as usize,
        ),
        "index_select_axis0" => g.index_select(
            &x[0],
            p["axis"].as_i64().unwrap() as isize,
            &usizes(&p["indices"]),
        ),
        "l2_normalize" => g.l2_normalize(&x[0], p["eps"].as_f64().unwrap() as f32),
        "cosine_similarity" => g.cosine_similarity(&x[0], &x[1], p["eps"].as_f64().unwrap() as f32),
        "global_avg_pool" => g.global_avg_pool(&x[0]),
        "broadcast_to" => g.broadcast_to(&x[0], &usizes(&p["shape"])),
        other => panic!("fixture case `{other}` has no test mapping"),
    }
}

#[test]
fn every_op_matches_pytorch() {
    let fx = load_fixture("ops.safetensors");
    let cases = fx.cases.as_object().expect("cases object");
    assert!(cases.len() >= 30, "fixture lists {} cases", cases.len());
    for (name, p) in cases {
        let n = p["inputs"].as_u64().unwrap() as usize;
        let mut g = Graph::new();
        let xs: Vec<Var> = (0..n)
            .map(|i| g.leaf(fx.get(&format!("{name}.x{i}"))))
            .collect();
        let y = run(name, p, &mut g, &xs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = fx.get(&format!("{name}.y"));
        // PyTorch returns 0-d tensors for full reductions; compare values with the shape we produce.
        let y_val = if want.rank() == 0 {
            y.value().reshape(&[]).unwrap()
        } else {
            y.value().clone()
        };
        assert_close(&format!("{name} forward"), &y_val, &want, FIXTURE_TOL);
        let dy = fx.get(&format!("{name}.dy")).reshape(y.shape()).unwrap();
        let grads = g.backward_with_grad(&y, dy).unwrap();
        for (i, x) in xs.iter().enumerate() {
            let got = grads
                .get(x)
                .unwrap_or_else(|| panic!("{name}: no gradient for input {i}"));
            assert_close(
                &format!("{name} d/dx{i}"),
                got,
                &fx.get(&format!("{name}.dx{i}")),
                FIXTURE_TOL,
            );
        }
    }
}
