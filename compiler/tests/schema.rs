//! The language's tables against each other and against what users read: every built-in default checks, every
//! setting and function is documented in docs/language.md, and the paper's tables are addressed by the coordinates
//! the shipped recipes' reports use.

use std::path::Path;
use vst_compiler::check::typecheck::{builtin_value, param_default};
use vst_compiler::expand::default_value;
use vst_compiler::schema::{
    BLOCKS, EvalKind, GROUPS, ParamDefault, REPORT_KEYS, Scope, all_functions, settings,
};
use vst_compiler::{Options, compile};
use vst_spec::JobKind;

const SCOPES: [Scope; 4] = [
    Scope::Pretrain,
    Scope::Eval(EvalKind::Linear),
    Scope::Eval(EvalKind::Knn),
    Scope::Eval(EvalKind::Finetune),
];

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    std::fs::read_to_string(path).expect("docs/language.md")
}

#[test]
fn every_built_in_default_checks_against_its_type() {
    for scope in SCOPES {
        for setting in settings(scope) {
            if let Some(text) = setting.default {
                let value = builtin_value(text, &setting.ty, setting.key);
                assert_eq!(
                    default_value(scope, setting.key),
                    Some(&value),
                    "{}",
                    setting.key
                );
            }
        }
    }
    for function in all_functions() {
        for param in &function.params {
            let has = param_default(function.name, param.name).is_some();
            assert_eq!(
                has,
                matches!(param.default, ParamDefault::Value(_)),
                "{}.{}",
                function.name,
                param.name
            );
        }
    }
}

#[test]
fn the_language_reference_names_every_setting_function_and_argument() {
    let docs = docs();
    for scope in SCOPES {
        for setting in settings(scope) {
            assert!(
                docs.contains(&format!("`{}`", setting.key)),
                "docs/language.md lacks setting `{}`",
                setting.key
            );
            // Pre-training defaults appear with their key, as written in the schema.
            if let (Scope::Pretrain, Some(default)) = (scope, setting.default) {
                let line = docs
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{}` |", setting.key)));
                let line = line.unwrap_or_else(|| panic!("no table row for `{}`", setting.key));
                assert!(
                    line.contains(&format!("`{default}`")),
                    "the row of `{}` lacks its default `{default}`",
                    setting.key
                );
            }
        }
    }
    for function in all_functions() {
        assert!(
            docs.contains(&format!("`{}", function.name)),
            "docs/language.md lacks function `{}`",
            function.name
        );
        for param in &function.params {
            assert!(
                docs.contains(param.name),
                "docs/language.md lacks `{}` of `{}`",
                param.name,
                function.name
            );
        }
    }
    for (block, _) in BLOCKS.iter().chain(GROUPS) {
        assert!(
            docs.contains(&format!("`{block}")),
            "docs/language.md lacks block `{block}`"
        );
    }
    for key in REPORT_KEYS {
        assert!(
            docs.contains(&format!("| `{}` |", key.key)),
            "docs/language.md lacks report key `{}`",
            key.key
        );
    }
    for table in vst_spec::paper::tables() {
        assert!(
            docs.contains(&format!("`{}`", table.key)),
            "docs/language.md lacks paper table `{}`",
            table.key
        );
    }
}

/// A report finds its paper numbers by the recipe's own axis names and value labels: they must match.
#[test]
fn paper_tables_are_addressed_by_the_shipped_recipes_coordinates() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let env = |_: &str| None;
    let mut checked = 0;
    // (Table 10's paper rows include a supervised network and an AVA column, which vst does not train.)
    for recipe in ["table2", "table4", "fig3", "table8", "table11", "table15"] {
        let path = workspace.join(format!("recipes/{recipe}.vst"));
        let c = compile(
            &path,
            &Options {
                env: &env,
                ..Options::system()
            },
        )
        .expect("readable");
        let plan = c.plan.expect("a plan");
        for job in &plan.jobs {
            let JobKind::Report(report) = &job.kind else {
                continue;
            };
            let key = report
                .report
                .paper
                .as_deref()
                .expect("the shipped report names a paper table");
            let table = vst_spec::paper::table(key).expect("known table");
            let metric = &report.report.cell;
            let found = report.cells.iter().filter(|cell| {
                let mut coords = Vec::new();
                if let (Some(k), Some(v)) = (&report.report.rows, &cell.row) {
                    coords.push((k.as_str(), v.as_str()));
                }
                if let (Some(k), Some(v)) = (&report.report.cols, &cell.col) {
                    coords.push((k.as_str(), v.as_str()));
                }
                table.lookup(metric, &coords).is_some()
            });
            // A report `over` an axis has one cell per value of it at the same coordinates: count each once.
            let mut found: Vec<(Option<&String>, Option<&String>)> =
                found.map(|c| (c.row.as_ref(), c.col.as_ref())).collect();
            found.dedup();
            let found = found.len();
            let expected = table.cells.iter().filter(|c| c.metric == metric).count();
            assert_eq!(
                found, expected,
                "{recipe}: {found} of the {expected} cells of paper table `{key}` are addressed"
            );
            checked += 1;
        }
    }
    // Table 2's two reports (K400 linear, UCF101 fine-tune) and Table 11's two (UCF101, HMDB51).
    assert_eq!(checked, 8);
}
