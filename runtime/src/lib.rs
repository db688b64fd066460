//! Executes a [`vst_spec::Plan`]: the executor and the jobs it runs (prepare, pretrain, evaluate, report).

pub mod bench;
pub mod distributed;
pub mod executor;
pub mod jobs;
pub mod model;
pub mod objective;
pub mod page;
pub mod report;
pub mod train;
