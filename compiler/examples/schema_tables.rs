//! Prints every setting and function of the language as Markdown tables, straight from the schema — a starting
//! point when docs/language.md needs updating: `cargo run -p vst-compiler --example schema_tables`.

use vst_compiler::schema::*;
fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}
fn main() {
    for (title, scope) in [
        ("pretrain", Scope::Pretrain),
        ("linear", Scope::Eval(EvalKind::Linear)),
        ("knn", Scope::Eval(EvalKind::Knn)),
        ("finetune", Scope::Eval(EvalKind::Finetune)),
    ] {
        println!("\n### {title}\n\n| key | type | default | meaning |\n|---|---|---|---|");
        for s in settings(scope) {
            let d = s
                .default
                .map(|d| format!("`{d}`"))
                .unwrap_or("(required)".into());
            println!(
                "| `{}` | {} | {} | {} |",
                s.key,
                esc(&s.ty.describe()),
                esc(&d),
                esc(s.doc)
            );
        }
    }
    for f in vst_compiler::schema::all_functions() {
        println!(
            "\n#### `{}` ({}) — {}\n\n| argument | type | default | meaning |\n|---|---|---|---|",
            f.name, f.family, f.doc
        );
        for p in &f.params {
            let d = match &p.default {
                ParamDefault::Value(v) => format!("`{v}`"),
                ParamDefault::Required => "(required)".into(),
                ParamDefault::Optional => "(none)".into(),
            };
            println!(
                "| `{}`{} | {} | {} | {} |",
                p.name,
                if p.positional { " ¹" } else { "" },
                esc(&p.ty.describe()),
                esc(&d),
                esc(p.doc)
            );
        }
    }
}
