//! `vst report FILE --html`: the page of a finished smoke study — its contents, that nothing a recipe says can
//! inject markup, and that a real browser (headless Chromium, installed by `.ci/run`) renders it without errors.

mod common;

use common::{Output, assert_contains, root, scratch, vst_in};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The smoke recipe with its report titled `title`, run to the end in `dir`; the page written to `dir/page`.
fn smoke_page(dir: &Path, title: &str) -> String {
    let source = std::fs::read_to_string(root().join("tests/recipes/smoke.vst")).expect("recipe");
    let source = source.replace("Smoke: every objective at ρ = 1 and 2", title);
    std::fs::write(dir.join("smoke.vst"), source).expect("recipe copy");
    let Output { code, stderr, .. } = vst_in(dir, &["run", "smoke.vst", "--runs", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    write_page(dir)
}

/// `vst report smoke.vst --html` in `dir`: the page it wrote to `dir/page`.
fn write_page(dir: &Path) -> String {
    let args = [
        "report",
        "smoke.vst",
        "--html",
        "--runs",
        "runs",
        "--out",
        "page",
    ];
    let Output {
        code,
        stdout,
        stderr,
    } = vst_in(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stdout, "page/smoke.html");
    std::fs::read_to_string(dir.join("page/smoke.html")).expect("the page")
}

/// The smoke plan: 8 pre-trainings and 8 linear probes (one chart each), 8 kNN evaluations, one report.
const TRAINING_JOBS: usize = 16;

#[test]
fn the_page_has_every_section_and_a_script_in_a_title_stays_text() {
    let dir = scratch("page-escape");
    let page = smoke_page(&dir, "<script>alert('x')</script> & co");
    assert!(!page.contains("<script"), "markup injected:\n{page}");
    assert_contains(
        &page,
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co",
    );
    assert_eq!(page.matches("<table class=\"report\">").count(), 1);
    assert_eq!(page.matches("<figure class=\"plot\">").count(), 1);
    assert_eq!(
        page.matches("<figure class=\"curves\"").count(),
        TRAINING_JOBS
    );
    for section in [
        "id=\"plan\"",
        "id=\"training\"",
        "id=\"evaluations\"",
        "id=\"settings\"",
    ] {
        assert_contains(&page, section);
    }
    assert_contains(&page, "26 jobs: 26 done");
    // The plan as a graph: a box per job.
    assert_eq!(page.matches("<g class=\"node\">").count(), 26);
    // Each cell's changes against the base: the swept objective and ρ, from the sweep.
    assert_contains(&page, "<h3>objective=byol, clips=2</h3>");
    assert_contains(&page, "<td><code>objective</code></td>");
    assert_contains(&page, "swept at");
    // Pre-training curves have the step records' quantities and the per-epoch throughput.
    for panel in ["loss", "learning rate", "embedding std", "clips/s"] {
        assert_contains(&page, &format!("font-weight=\"bold\">{panel}</text>"));
    }
    assert!(!page.contains("resumed at epoch"), "no job resumed");
    // Without --html: the same tables, as Markdown.
    let Output { code, stdout, .. } = vst_in(&dir, &["report", "smoke.vst", "--runs", "runs"]);
    assert_eq!(code, 0);
    assert_contains(&stdout, "## <script>alert('x')</script> & co");
    assert_contains(&stdout, "| objective \\ clips | 1 | 2 |");

    // A job caught mid-way (no done.json yet), that resumed once: the page shows how far it got and marks the
    // resume; regenerating it is all it takes.
    let job = std::fs::read_dir(dir.join("runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .find(|d| {
            std::fs::read_to_string(d.join("job.json"))
                .is_ok_and(|j| j.contains("\"pretrain[objective=moco,clips=1]\""))
        })
        .expect("the pre-training job's folder");
    std::fs::remove_file(job.join("done.json")).expect("done.json");
    let timing = job.join("timing.jsonl");
    let mut records = std::fs::read_to_string(&timing).expect("timing.jsonl");
    records.push_str(
        r#"{"epoch":0,"seconds":1.0,"clips_per_s":8.0,"load_wait_s":0.1,"resumed":true}"#,
    );
    records.push('\n');
    std::fs::write(&timing, records).expect("timing.jsonl");
    let page = write_page(&dir);
    assert_contains(&page, "25 done, 0 running, 1 interrupted");
    assert_contains(&page, "progress: epoch 0.5 of 1");
    assert_contains(&page, "resumed at epoch 0");
    assert!(
        page.matches("class=\"resumed\"").count() >= 4,
        "resume marks"
    );
}

/// Chromium from Debian's package (`.ci/run` installs it), or `VST_CHROMIUM`.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("VST_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "headless Chromium is needed for this test and /usr/bin/chromium is missing: install Debian's \
         package (`apt-get install -y chromium`, as .ci/run does) or point VST_CHROMIUM at a Chromium binary"
    );
    path
}

fn headless(page: &Path, extra: &[String]) -> (String, String) {
    let url = format!("file://{}", page.display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
            "--window-size=1280,2000",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium starts");
    assert!(out.status.success(), "chromium failed: {out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn headless_chromium_renders_the_smoke_page_without_errors() {
    let dir = scratch("page-chromium");
    smoke_page(&dir, "Smoke: every objective at ρ = 1 and 2");
    let page = dir.join("page/smoke.html");
    let (dom, log) = headless(&page, &["--dump-dom".to_string()]);
    // The DOM after rendering: the report table with a row per objective, the plot, one chart per training job.
    assert_eq!(dom.matches("<table class=\"report\">").count(), 1, "{dom}");
    for objective in ["moco", "byol", "simclr", "swav"] {
        assert_contains(&dom, &format!("<tr><th>{objective}</th>"));
    }
    assert_eq!(dom.matches("<figure class=\"plot\">").count(), 1);
    assert_eq!(
        dom.matches("<figure class=\"curves\"").count(),
        TRAINING_JOBS
    );
    assert!(dom.contains("<polyline"), "no curve drawn");
    // No script, so none can fail; and the browser's console stayed silent.
    assert!(!dom.contains("<script"), "{dom}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("smoke-page.png");
    let _ = std::fs::remove_file(&shot);
    headless(&page, &[format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("a screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
