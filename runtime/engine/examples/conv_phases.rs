//! Times the three passes of one convolution layer separately (no PyTorch): a profiling aid for kernel work.
//! `cargo run --release -p vst-engine --example conv_phases -- N T H W Cin Cout kT kH kW sT sH sW pT pH pW [reps]`

use std::time::Instant;

use vst_engine::{Conv3dSpec, Device, Tensor};

fn main() -> vst_engine::Result<()> {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    if a.len() < 15 {
        eprintln!("usage: conv_phases N T H W Cin Cout kT kH kW sT sH sW pT pH pW [reps]");
        std::process::exit(2);
    }
    let reps = a.get(15).copied().unwrap_or(5);
    let dev = Device::cpu();
    let x = Tensor::full(&[a[0], a[1], a[2], a[3], a[4]], 0.5, &dev)?;
    let w = Tensor::full(&[a[5], a[6], a[7], a[8], a[4]], 0.01, &dev)?;
    let spec = Conv3dSpec::new([a[9], a[10], a[11]], [a[12], a[13], a[14]]);
    let g = spec.geometry(x.shape(), w.shape())?;
    let dy = Tensor::full(&g.y_shape(), 1.0, &dev)?;
    let be = dev.backend();
    // Process CPU time (all threads) per repetition: steadier than wall time on a shared machine.
    let cpu_ms = || -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<f64> = after
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect();
        // utime and stime are fields 14 and 15 of the file (11 and 12 after the command name), in 1/100 s.
        (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 10.0
    };
    let time = |f: &dyn Fn()| {
        let c0 = cpu_ms();
        let mut v: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let cpu = (cpu_ms() - c0) / reps as f64;
        v.sort_by(|a, b| a.total_cmp(b));
        eprint!("[cpu {cpu:.0} ms/rep] ");
        v[v.len() / 2]
    };
    let gf = g.forward_flops() / 1e9;
    let f = time(&|| drop(be.conv3d_forward(x.storage(), w.storage(), &g)));
    let d = time(&|| drop(be.conv3d_backward_data(dy.storage(), w.storage(), &g)));
    let fl = time(&|| drop(be.conv3d_backward_filter(x.storage(), dy.storage(), &g)));
    println!(
        "forward {f:.1} ms ({:.0} GF/s)  backward-data {d:.1} ms ({:.0})  backward-filter {fl:.1} ms ({:.0})  total {:.1} ms",
        gf / f * 1e3,
        gf / d * 1e3,
        gf / fl * 1e3,
        f + d + fl
    );
    Ok(())
}
