//! The site's SLURM settings: a JSON file of the user's or the site's (never the recipe's — a recipe shared by a
//! colleague must not choose what your submission runs). Looked up in `--cluster FILE`, `$VST_CLUSTER`, then
//! `~/.config/vst/cluster.json`.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `--partition`; the cluster's default when absent.
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub qos: Option<String>,
    /// `--time` of every job (SLURM's formats: `MM`, `HH:MM:SS`, `D-HH:MM:SS`); the partition's when absent.
    #[serde(default)]
    pub time: Option<String>,
    /// GPUs of a node a training job uses (0: a CPU cluster).
    #[serde(default)]
    pub gpus_per_node: u32,
    /// Nodes of a training job (one task per GPU on each; ranks from SLURM's environment).
    #[serde(default = "one")]
    pub nodes: u32,
    /// Processes per node of a training job: one per GPU by default (1 on a CPU cluster).
    #[serde(default)]
    pub tasks_per_node: Option<u32>,
    /// `srun --mpi=` for training jobs of several processes: `pmix` (Open MPI 4 and 5, Debian's included) or
    /// `pmi2` (MPIs built with SLURM's PMI2).
    #[serde(default = "default_srun_mpi")]
    pub srun_mpi: String,
    /// CPUs per GPU (data loading) — and of a job that has no GPU.
    #[serde(default = "one")]
    pub cpus_per_gpu: u32,
    /// `--mem-per-gpu` (and `--mem` of a job without GPUs), e.g. `64G`; the partition's default when absent.
    #[serde(default)]
    pub mem_per_gpu: Option<String>,
    /// Seconds before the time limit at which SLURM warns the job (USR1): a pre-training then checkpoints after
    /// its current step (so this should exceed a step and a checkpoint's write), stops and requeues itself.
    #[serde(default = "default_signal_seconds")]
    pub signal_seconds: u32,
    /// More `#SBATCH` lines, written as they are (e.g. `--constraint=a100`).
    #[serde(default)]
    pub sbatch: Vec<String>,
    /// Shell lines run before vst (e.g. `module load cuda/12.2`): the site's own, written as they are.
    #[serde(default)]
    pub setup: Vec<String>,
    /// The vst binary jobs run (default: this one).
    #[serde(default)]
    pub vst: Option<PathBuf>,
}

fn one() -> u32 {
    1
}

fn default_srun_mpi() -> String {
    "pmix".into()
}

fn default_signal_seconds() -> u32 {
    300
}

impl Default for ClusterConfig {
    fn default() -> Self {
        serde_json::from_str("{}").unwrap_or_else(|_| unreachable!("every field has a default"))
    }
}

impl ClusterConfig {
    /// Reads the cluster file: `explicit`, else `$VST_CLUSTER`, else `~/.config/vst/cluster.json`, else the
    /// defaults (one CPU per job, the cluster's default partition).
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<(ClusterConfig, Option<PathBuf>)> {
        let path = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => std::env::var_os("VST_CLUSTER")
                .map(PathBuf::from)
                .or_else(|| {
                    let home = std::env::var_os("HOME")?;
                    let path = Path::new(&home).join(".config/vst/cluster.json");
                    path.exists().then_some(path)
                }),
        };
        let Some(path) = path else {
            return Ok((ClusterConfig::default(), None));
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the cluster file {}", path.display()))?;
        let config: ClusterConfig = serde_json::from_str(&text)
            .with_context(|| format!("the cluster file {} is not valid", path.display()))?;
        config
            .check()
            .with_context(|| format!("in the cluster file {}", path.display()))?;
        Ok((config, Some(path)))
    }

    /// Values that end up on `#SBATCH` lines must stay on their line.
    fn check(&self) -> anyhow::Result<()> {
        if self.nodes == 0 || self.cpus_per_gpu == 0 || self.tasks_per_node == Some(0) {
            bail!("`nodes`, `tasks_per_node` and `cpus_per_gpu` must be at least 1");
        }
        if !self
            .srun_mpi
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bail!(
                "`srun_mpi`: {:?} is not an MPI plugin name (pmix, pmi2, ...)",
                self.srun_mpi
            );
        }
        let single_line = [
            &self.partition,
            &self.account,
            &self.qos,
            &self.time,
            &self.mem_per_gpu,
        ]
        .into_iter()
        .flatten()
        .chain(&self.sbatch);
        for value in single_line {
            if value.contains(['\n', '\r']) {
                bail!("{value:?}: an `#SBATCH` value cannot span lines");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_site_file_and_rejects_unknown_fields() {
        let config: ClusterConfig = serde_json::from_str(
            r#"{"partition": "gpu", "gpus_per_node": 8, "nodes": 2, "setup": ["module load cuda"]}"#,
        )
        .unwrap();
        assert_eq!(config.partition.as_deref(), Some("gpu"));
        assert_eq!(
            (config.gpus_per_node, config.nodes, config.cpus_per_gpu),
            (8, 2, 1)
        );
        assert_eq!(config.signal_seconds, 300);
        let typo = serde_json::from_str::<ClusterConfig>(r#"{"partiton": "gpu"}"#).unwrap_err();
        assert!(
            typo.to_string().contains("unknown field `partiton`"),
            "{typo}"
        );
        let bad = ClusterConfig {
            account: Some("a\n#SBATCH --x".into()),
            ..ClusterConfig::default()
        };
        assert!(bad.check().is_err());
    }
}
