//! Executes a [`vst_spec::Plan`]: the executor and the jobs it runs (pretrain, evaluate, report).
