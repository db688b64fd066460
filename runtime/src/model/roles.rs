//! What each trainable parameter is, so that the optimiser can treat batch-norm parameters and biases apart
//! (LARS excludes them from its trust-ratio scaling and from weight decay; SGD excludes batch norms from weight decay).

use std::collections::BTreeMap;

/// The kind of a trainable parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRole {
    /// A convolution or linear weight (including SwAV's prototypes).
    Weight,
    /// A linear layer's bias.
    Bias,
    /// A batch norm's scale γ.
    BnScale,
    /// A batch norm's shift β.
    BnShift,
}

impl ParamRole {
    /// True for batch-norm scale and shift.
    pub fn is_batch_norm(self) -> bool {
        matches!(self, ParamRole::BnScale | ParamRole::BnShift)
    }
}

/// Roles of named parameters, filled in by the model builders as they create parameters.
#[derive(Debug, Clone, Default)]
pub struct ParamRoles {
    roles: BTreeMap<String, ParamRole>,
}

impl ParamRoles {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&mut self, name: &str, role: ParamRole) {
        self.roles.insert(name.to_string(), role);
    }

    /// The role of `name`, if a builder registered it.
    pub fn get(&self, name: &str) -> Option<ParamRole> {
        self.roles.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.roles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, ParamRole)> {
        self.roles.iter().map(|(n, r)| (n.as_str(), *r))
    }
}
