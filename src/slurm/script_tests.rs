//! The batch script: resources by job kind, and no way for a recipe's names or paths to run shell code.

use super::cluster::ClusterConfig;
use super::script::{Invocation, Resources, render, shell_quote, slurm_job_name};
use std::path::Path;
use std::process::Command;
use vst_spec::{Job, JobId};

/// A job of `kind` ("prepare", "pretrain", "eval", "report") from the smoke recipe's plan, renamed `name`.
fn job_of(kind: &str, name: &str) -> Job {
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recipes/smoke.vst");
    let compilation = vst_compiler::compile(&recipe, &vst_compiler::Options::system()).unwrap();
    let plan = compilation.plan.expect("smoke.vst has a plan");
    let mut job = plan
        .jobs
        .into_iter()
        .find(|j| j.kind.label() == kind)
        .expect("a job of that kind");
    job.name = name.into();
    job.id = JobId("0123456789abcdef".into());
    job
}

fn report_job(name: &str) -> Job {
    job_of("report", name)
}

const HOSTILE: &str = "it's $(touch pwned) `touch pwned2` \"x\" ${HOME} \n#SBATCH --wrap=evil";

#[test]
fn quoting_takes_every_character_literally() {
    for text in [HOSTILE, "", "'", "a'b'c", "$(x)", "`x`", "\\"] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(text)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), text);
    }
}

#[test]
fn a_hostile_job_name_and_recipe_path_appear_literally_and_run_nothing() {
    let dir = std::env::temp_dir().join(format!("vst-slurm-script-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The "vst" the script runs prints its arguments one per line, so they can be compared.
    let fake_vst = dir.join("print-args");
    std::fs::write(
        &fake_vst,
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&fake_vst)
        .status()
        .unwrap();
    let job = report_job(HOSTILE);
    let recipe = Path::new("it's $(touch pwned3).vst");
    let invocation = Invocation {
        vst: &fake_vst,
        recipe,
        runs: Path::new("runs `touch pwned4`"),
        workdir: &dir,
        pass_on: &["--device=cuda:0".to_string()],
    };
    let text = render(&job, &ClusterConfig::default(), &invocation).unwrap();
    // SLURM reads `#SBATCH` lines up to the first command: the name's line break cannot add one.
    assert!(
        !text.lines().any(|l| l.starts_with("#SBATCH --wrap")),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("touch pwned2")).count(),
        2,
        "{text}"
    );
    assert!(text.contains(&format!("#SBATCH --job-name={}\n", slurm_job_name(HOSTILE))));
    let script = dir.join("slurm.sh");
    std::fs::write(&script, &text).unwrap();
    let out = Command::new("bash").arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!(
        "[run]\n[{}]\n[--only]\n[0123456789abcdef]\n[--no-deps]\n[--runs]\n[runs `touch pwned4`]\n[--device=cuda:0]\n",
        recipe.display()
    );
    assert!(stdout.ends_with(&expected), "{stdout}");
    assert!(
        stdout.contains(&format!("{HOSTILE:?}")),
        "the name is echoed literally: {stdout}"
    );
    let created: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pwned"))
        .collect();
    assert!(
        created.is_empty(),
        "the script ran recipe text: {created:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn paths_sbatch_would_misread_are_refused() {
    let job = report_job("report");
    let invocation = Invocation {
        vst: Path::new("/bin/vst"),
        recipe: Path::new("r.vst"),
        runs: Path::new("runs\"%x"),
        workdir: Path::new("/tmp"),
        pass_on: &[],
    };
    let err = render(&job, &ClusterConfig::default(), &invocation).unwrap_err();
    assert!(err.to_string().contains("cannot hold"), "{err}");
}

#[test]
fn resources_follow_the_job_kind() {
    let config = ClusterConfig {
        gpus_per_node: 8,
        nodes: 2,
        cpus_per_gpu: 10,
        ..ClusterConfig::default()
    };
    let report = Resources::for_job(&report_job("r"), &config);
    assert_eq!(
        (report.nodes, report.gpus_per_node, report.tasks()),
        (1, 0, 1)
    );
    let eval = Resources::for_job(&job_of("eval", "e"), &config);
    assert_eq!((eval.nodes, eval.gpus_per_node, eval.tasks()), (1, 1, 1));
    let pretrain = Resources::for_job(&job_of("pretrain", "p"), &config);
    assert_eq!(
        (pretrain.nodes, pretrain.gpus_per_node, pretrain.tasks()),
        (2, 8, 16)
    );
    let invocation = Invocation {
        vst: Path::new("/bin/vst"),
        recipe: Path::new("r.vst"),
        runs: Path::new("runs"),
        workdir: Path::new("/tmp"),
        pass_on: &[],
    };
    let text = render(&report_job("r"), &config, &invocation).unwrap();
    assert!(
        !text.contains("--gpus-per-node") && !text.contains("srun"),
        "{text}"
    );
    assert!(text.contains("#SBATCH --cpus-per-task=10\n"), "{text}");
    assert!(
        text.contains("#SBATCH --requeue\n#SBATCH --signal=B:USR1@300\n"),
        "{text}"
    );
    let text = render(&job_of("pretrain", "p"), &config, &invocation).unwrap();
    assert!(
        text.contains("#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=8\n"),
        "{text}"
    );
    assert!(text.contains("#SBATCH --gpus-per-node=8\n"), "{text}");
    assert!(text.contains("\nsrun --mpi=pmix '/bin/vst' run 'r.vst' --only '0123456789abcdef' --no-deps --runs 'runs' --replicas=16 &\n"), "{text}");
}
