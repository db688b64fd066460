//! Weight initialisation as PySlowFast does it (`slowfast/utils/weight_init_helper.py`, via fvcore):
//! convolutions get He/MSRA normal with `fan_out` (std √(2 / (Cout·kT·kH·kW))), linear layers of the MLP heads get
//! Caffe2's Xavier fill (uniform in ±√(3 / fan_in)), biases zero, batch norms γ = 1, β = 0, running mean 0, variance 1.

use rand::Rng;
use vst_engine::{Device, ParamStore, Result, Tensor};

use super::ParamRole;
use super::roles::ParamRoles;

/// He (MSRA) normal for a convolution weight Cout×kT×kH×kW×Cin: std √(2 / fan_out), fan_out = Cout·kT·kH·kW.
pub(crate) fn he_conv(shape: &[usize], rng: &mut impl Rng, device: &Device) -> Result<Tensor> {
    let fan_out: usize = shape[..shape.len() - 1].iter().product();
    let std = (2.0 / fan_out.max(1) as f64).sqrt() as f32;
    Tensor::randn(shape, std, rng, device)
}

/// Caffe2's Xavier fill for a linear weight out×in: uniform in ±√(3 / fan_in).
pub(crate) fn xavier_linear(
    out: usize,
    inp: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Tensor> {
    let bound = (3.0 / inp.max(1) as f64).sqrt() as f32;
    Tensor::rand_uniform(&[out, inp], -bound, bound, rng, device)
}

/// Adds a batch norm over `channels` named `prefix.{weight,bias,running_mean,running_var}`.
pub(crate) fn add_batch_norm(
    store: &mut ParamStore,
    roles: &mut ParamRoles,
    prefix: &str,
    channels: usize,
    device: &Device,
) -> Result<()> {
    let weight = format!("{prefix}.weight");
    let bias = format!("{prefix}.bias");
    store.insert_param(&weight, Tensor::ones(&[channels], device)?)?;
    store.insert_param(&bias, Tensor::zeros(&[channels], device)?)?;
    store.insert_buffer(
        &format!("{prefix}.running_mean"),
        Tensor::zeros(&[channels], device)?,
    )?;
    store.insert_buffer(
        &format!("{prefix}.running_var"),
        Tensor::ones(&[channels], device)?,
    )?;
    roles.set(&weight, ParamRole::BnScale);
    roles.set(&bias, ParamRole::BnShift);
    Ok(())
}
