//! The Slow-only 3D ResNet, built layer by layer from the architecture table of `vst_spec::arch` (the same table
//! the compiler costs), so that the trained network and the costed network are one and the same.
//!
//! Parameters are named as in PySlowFast's state_dict under a prefix (`backbone.` in a [`crate::train::Learner`]):
//! `backbone.s1.pathway0_stem.conv.weight`, `backbone.s2.pathway0_res0.branch2.a_bn.running_mean`, ...

use rand::Rng;
use vst_engine::{Conv3dSpec, Device, Graph, ParamStore, Pool3dSpec, Result as EngineResult, Var};
use vst_spec::BackboneSpec;
use vst_spec::arch::{ConvLayer, SlowResNet};

use super::init::{add_batch_norm, he_conv};
use super::norm::{BnUpdates, Mode, batch_norm};
use super::roles::{ParamRole, ParamRoles};
use super::{ModelError, invalid};

fn to_usize3(v: [u32; 3]) -> [usize; 3] {
    [v[0] as usize, v[1] as usize, v[2] as usize]
}

/// A Slow-only ResNet: stem (conv 1×7×7 + BN + ReLU + max-pool), res2..res5, global average pool → pool5 features.
#[derive(Debug, Clone)]
pub struct SlowResNetModel {
    arch: SlowResNet,
    prefix: String,
}

impl SlowResNetModel {
    /// The backbone of `spec` for `crop`×`crop` clips, its parameters named `{prefix}{pyslowfast name}`.
    pub fn new(spec: &BackboneSpec, crop: u32, prefix: &str) -> Result<Self, ModelError> {
        let arch = SlowResNet::new(spec, crop)?;
        Ok(SlowResNetModel {
            arch,
            prefix: prefix.to_string(),
        })
    }

    /// The architecture table this model was built from.
    pub fn arch(&self) -> &SlowResNet {
        &self.arch
    }

    /// Channels of the pool5 features.
    pub fn feature_dim(&self) -> usize {
        self.arch.feature_dim as usize
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn conv_name(&self, conv: &ConvLayer) -> String {
        format!("{}{}.weight", self.prefix, conv.name)
    }

    fn bn_name(&self, conv: &ConvLayer) -> String {
        format!("{}{}", self.prefix, conv.bn)
    }

    /// Creates every parameter and buffer in `store` (He-initialised convolutions, unit batch norms) and records
    /// their roles.
    pub fn init(
        &self,
        store: &mut ParamStore,
        roles: &mut ParamRoles,
        rng: &mut impl Rng,
        device: &Device,
    ) -> EngineResult<()> {
        for conv in self.arch.conv_layers() {
            let [kt, kh, kw] = to_usize3(conv.kernel);
            let shape = [
                conv.out_channels as usize,
                kt,
                kh,
                kw,
                conv.in_channels as usize,
            ];
            let name = self.conv_name(conv);
            store.insert_param(&name, he_conv(&shape, rng, device)?)?;
            roles.set(&name, ParamRole::Weight);
            add_batch_norm(
                store,
                roles,
                &self.bn_name(conv),
                conv.out_channels as usize,
                device,
            )?;
        }
        Ok(())
    }

    /// Conv (no bias) then batch norm, optionally ReLU.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        &self,
        g: &mut Graph,
        store: &ParamStore,
        x: &Var,
        conv: &ConvLayer,
        relu: bool,
        mode: Mode,
        updates: &mut BnUpdates,
    ) -> EngineResult<Var> {
        let w = g.param(store, &self.conv_name(conv))?;
        let spec = Conv3dSpec::new(to_usize3(conv.stride), to_usize3(conv.padding));
        let y = g.conv3d(x, &w, &spec)?;
        batch_norm(g, store, &y, &self.bn_name(conv), relu, mode, updates)
    }

    /// Pool5 features (N×C) of clips N×T×H×W×3 (channels-last). In training mode the batch norms' statistics are
    /// recorded in `updates`; in evaluation mode they use the running statistics.
    pub fn forward(
        &self,
        g: &mut Graph,
        store: &ParamStore,
        clips: &Var,
        mode: Mode,
        updates: &mut BnUpdates,
    ) -> Result<Var, ModelError> {
        let shape = clips.shape();
        if shape.len() != 5 || shape[4] != self.arch.stem.in_channels as usize {
            return invalid(format!(
                "the backbone takes clips N×T×H×W×{} (channels-last), got {shape:?}",
                self.arch.stem.in_channels
            ));
        }
        let x = self.conv_bn(g, store, clips, &self.arch.stem, true, mode, updates)?;
        let pool = &self.arch.pool;
        let pool_spec = Pool3dSpec::new(
            to_usize3(pool.kernel),
            to_usize3(pool.stride),
            to_usize3(pool.padding),
        );
        let mut x = g.max_pool3d(&x, &pool_spec)?;
        for stage in &self.arch.stages {
            for block in &stage.blocks {
                let shortcut = match &block.branch1 {
                    Some(proj) => self.conv_bn(g, store, &x, proj, false, mode, updates)?,
                    None => x.clone(),
                };
                // Every conv of branch 2 is followed by BN + ReLU except the last, whose ReLU comes after the sum.
                let mut y = x;
                let last = block.branch2.len() - 1;
                for (i, conv) in block.branch2.iter().enumerate() {
                    y = self.conv_bn(g, store, &y, conv, i != last, mode, updates)?;
                }
                let sum = g.add(&y, &shortcut)?;
                x = g.relu(&sum)?;
            }
        }
        Ok(g.global_avg_pool(&x)?)
    }
}
