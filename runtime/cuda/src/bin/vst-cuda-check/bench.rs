//! Forward + backward of the Slow R-50 backbone on the GPU through the engine's op graph: stem conv, BN + ReLU,
//! max-pool, 16 bottleneck blocks, global average pool, a scalar loss; every layer from vst-spec's architecture
//! table, the same one the model builder uses. Weights and clips are random (speed does not depend on values).

use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use vst_cuda::CudaBackend;
use vst_engine::{
    BatchNormMode, BatchNormSpec, Conv3dSpec, Device, Graph, ParamStore, Pool3dSpec, Tensor, Var,
};
use vst_spec::BackboneSpec;
use vst_spec::arch::{ConvLayer, SlowResNet};

pub struct BenchArgs {
    pub gpu: usize,
    pub options: vst_cuda::CudaOptions,
    pub batch: usize,
    pub frames: u32,
    pub size: u32,
    pub warmup: usize,
    pub steps: usize,
    pub json: bool,
}

fn usize3(v: [u32; 3]) -> [usize; 3] {
    v.map(|x| x as usize)
}

fn add_conv(
    store: &mut ParamStore,
    layer: &ConvLayer,
    rng: &mut rand_chacha::ChaCha8Rng,
    dev: &Device,
) -> Result<(), String> {
    let [kt, kh, kw] = usize3(layer.kernel);
    let (cin, cout) = (layer.in_channels as usize, layer.out_channels as usize);
    let std = (2.0 / (cin * kt * kh * kw) as f32).sqrt();
    let w = Tensor::randn(&[cout, kt, kh, kw, cin], std, rng, dev).map_err(|e| e.to_string())?;
    store
        .insert_param(&format!("{}.weight", layer.name), w)
        .map_err(|e| e.to_string())?;
    let ones = Tensor::ones(&[cout], dev).map_err(|e| e.to_string())?;
    let zeros = Tensor::zeros(&[cout], dev).map_err(|e| e.to_string())?;
    store
        .insert_param(&format!("{}.weight", layer.bn), ones)
        .map_err(|e| e.to_string())?;
    store
        .insert_param(&format!("{}.bias", layer.bn), zeros)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// conv → BN (train) → optional ReLU.
fn conv_bn(
    g: &mut Graph,
    store: &ParamStore,
    x: &Var,
    layer: &ConvLayer,
    relu: bool,
) -> vst_engine::Result<Var> {
    let w = g.param(store, &format!("{}.weight", layer.name))?;
    let y = g.conv3d(
        x,
        &w,
        &Conv3dSpec::new(usize3(layer.stride), usize3(layer.padding)),
    )?;
    let gamma = g.param(store, &format!("{}.weight", layer.bn))?;
    let beta = g.param(store, &format!("{}.bias", layer.bn))?;
    let spec = BatchNormSpec { eps: 1e-5, relu };
    Ok(g.batch_norm(
        &y,
        Some(&gamma),
        Some(&beta),
        &BatchNormMode::train(),
        &spec,
    )?
    .0)
}

fn backbone_loss(
    g: &mut Graph,
    store: &ParamStore,
    net: &SlowResNet,
    clips: &Tensor,
) -> vst_engine::Result<Var> {
    let x = Var::constant(clips.clone());
    let mut x = conv_bn(g, store, &x, &net.stem, true)?;
    let p = &net.pool;
    x = g.max_pool3d(
        &x,
        &Pool3dSpec::new(usize3(p.kernel), usize3(p.stride), usize3(p.padding)),
    )?;
    for stage in &net.stages {
        for block in &stage.blocks {
            let shortcut = match &block.branch1 {
                Some(proj) => conv_bn(g, store, &x, proj, false)?,
                None => x.clone(),
            };
            let mut h = x.clone();
            let last = block.branch2.len() - 1;
            for (i, layer) in block.branch2.iter().enumerate() {
                h = conv_bn(g, store, &h, layer, i < last)?;
            }
            let sum = g.add(&h, &shortcut)?;
            x = g.relu(&sum)?;
        }
    }
    let features = g.global_avg_pool(&x)?;
    g.mean(&features, &[0, 1], false)
}

pub fn run(a: &BenchArgs) -> Result<(), String> {
    let backend = Arc::new(CudaBackend::with_options(a.gpu, a.options).map_err(|e| e.to_string())?);
    let dev = Device::from_backend(backend.clone());
    let spec = BackboneSpec {
        depth: 50,
        frames: a.frames,
        stride: 8,
        width: 1.0,
    };
    let net = SlowResNet::new(&spec, a.size).map_err(|e| e.to_string())?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut store = ParamStore::new();
    add_conv(&mut store, &net.stem, &mut rng, &dev)?;
    for stage in &net.stages {
        for block in &stage.blocks {
            for layer in block.branch1.iter().chain(&block.branch2) {
                add_conv(&mut store, layer, &mut rng, &dev)?;
            }
        }
    }
    let (t, s) = (a.frames as usize, a.size as usize);
    let clip_shape = [a.batch, t, s, s, 3];
    let host =
        Tensor::randn(&clip_shape, 1.0, &mut rng, &Device::cpu()).map_err(|e| e.to_string())?;
    let host_clips = host.to_vec().map_err(|e| e.to_string())?;

    let step = || -> Result<f32, String> {
        // Each step uploads its clips, as training does (through the copy stream).
        let clips =
            Tensor::from_slice(&host_clips, &clip_shape, &dev).map_err(|e| e.to_string())?;
        let mut g = Graph::new();
        let loss = backbone_loss(&mut g, &store, &net, &clips).map_err(|e| e.to_string())?;
        let value = loss.value().clone();
        let grads = g.backward(&loss).map_err(|e| e.to_string())?;
        drop(grads);
        // Reading the loss synchronises, as a training loop that logs every step does.
        value.to_scalar().map_err(|e| e.to_string())
    };
    for _ in 0..a.warmup {
        step()?;
    }
    backend.synchronize().map_err(|e| e.to_string())?;
    backend.reset_peak_memory();
    let start = Instant::now();
    let mut last = 0.0;
    for _ in 0..a.steps {
        last = step()?;
    }
    backend.synchronize().map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    if !last.is_finite() {
        return Err(format!("the loss is not finite ({last})"));
    }
    let stats = backend.memory_stats();
    let clips_per_s = (a.batch * a.steps) as f64 / seconds;
    let ms_per_step = seconds * 1000.0 / a.steps as f64;
    let peak_gib = stats.peak_in_use as f64 / (1u64 << 30) as f64;
    let info = backend.info();
    if a.json {
        println!(
            "{{\"impl\":\"vst\",\"workload\":\"backbone fwd+bwd\",\"precision\":\"{}\",\"batch\":{},\"frames\":{},\"size\":{},\"clips_per_s\":{:.3},\"ms_per_step\":{:.3},\"peak_mem_gib\":{:.3},\"gpu\":\"{}\",\"channels_first_conv_passes\":{}}}",
            a.options.precision.name(),
            a.batch,
            a.frames,
            a.size,
            clips_per_s,
            ms_per_step,
            peak_gib,
            info.name,
            backend.channels_first_conv_passes()
        );
    } else {
        println!(
            "vst backbone fwd+bwd on {} ({}): {} clips of {}×{}² per step, {:.1} ms/step, {:.2} clips/s, peak {:.2} GiB, {} conv algorithms cached, {} conv passes channels-first",
            info.name,
            a.options.precision.name(),
            a.batch,
            a.frames,
            a.size,
            ms_per_step,
            clips_per_s,
            peak_gib,
            backend.cached_conv_algorithms(),
            backend.channels_first_conv_passes()
        );
    }
    Ok(())
}
