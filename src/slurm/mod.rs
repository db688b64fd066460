//! Running a study's plan on a SLURM cluster: one batch job per vst job, with the plan's dependencies, the site's
//! settings from a cluster file, requeue on SLURM's time-limit warning, and the state SLURM reports (docs/cluster.md).

pub mod cluster;
pub mod record;
pub mod scheduler;
pub mod script;
pub mod status;
pub mod submit;

#[cfg(test)]
mod script_tests;
