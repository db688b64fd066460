//! Properties of the syntax and the checker, on generated input:
//! - `parse(fmt(ast)) == ast` for generated syntax trees (comments and blank lines included);
//! - the parser never panics, whatever the text;
//! - the highlighting classes (`token_classes`) never panic and cover every non-blank character of what parses;
//! - the whole compiler (includes, checks, expansion, lowering) never panics, on token soup and on random edits of
//!   the shipped recipes.

use proptest::prelude::*;
use std::path::Path as FsPath;
use vst_compiler::load::MemoryLoader;
use vst_compiler::source::FileId;
use vst_compiler::syntax::ast::*;
use vst_compiler::syntax::{Span, Token, TokenClass, format_file, parse, token_classes};
use vst_compiler::{Options, compile};

// ---------------------------------------------------------------------------------------------------------------
// Generators

/// Words with a meaning in some grammar position; identifiers avoid them so that a generated tree has one reading.
const KEYWORDS: &[&str] = &[
    "use", "data", "axis", "per", "above", "by", "within", "of", "paper", "at", "least",
];

fn ident() -> impl Strategy<Value = Ident> {
    "[a-z_][a-z0-9_]{0,6}"
        .prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
        .prop_map(|name| Ident {
            name,
            span: Span::default(),
        })
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec(ident(), 1..3).prop_map(|parts| Path {
        parts,
        span: Span::default(),
    })
}

fn text() -> impl Strategy<Value = String> {
    // Printable ASCII, a few non-ASCII letters, and the characters strings must escape.
    prop::collection::vec(prop_oneof![8 => "[ -~]", 1 => Just("ρ".to_string()), 1 => Just("\n".to_string()), 1 => Just("\t".to_string())], 0..12)
        .prop_map(|parts| parts.concat())
}

fn number() -> impl Strategy<Value = Number> {
    let digits = prop_oneof![
        "[0-9]{1,3}",
        "[0-9]{1,2}\\.[0-9]{1,3}",
        "[1-9]e-?[0-9]",
        "-[0-9]{1,2}(\\.[0-9])?"
    ];
    let scale = prop_oneof![4 => Just(None), 1 => Just(Some(Scale::Thousand)), 1 => Just(Some(Scale::Million))];
    let unit = prop_oneof![
        4 => Just(None),
        1 => Just(Some(Unit::Epochs)),
        1 => Just(Some(Unit::Seconds)),
        1 => Just(Some(Unit::Pixels)),
        1 => Just(Some(Unit::Percent))
    ];
    (digits, scale, unit).prop_map(|(digits, scale, unit)| Number {
        digits,
        scale,
        unit,
    })
}

fn expr_of(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

fn number_expr() -> impl Strategy<Value = Expr> {
    number().prop_map(|n| expr_of(ExprKind::Number(n)))
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        number_expr(),
        text().prop_map(|s| expr_of(ExprKind::Str(s))),
        path().prop_map(|p| expr_of(ExprKind::Path(p))),
        (0u64..1000, 0u64..1000).prop_map(|(a, b)| expr_of(ExprKind::Cross(a, b))),
    ]
}

fn args_of(inner: impl Strategy<Value = Expr> + Clone) -> impl Strategy<Value = Args> {
    prop::collection::vec((prop::option::of(path()), inner), 0..3).prop_map(|items| Args {
        items: items
            .into_iter()
            .map(|(name, value)| Arg {
                name,
                value,
                span: Span::default(),
            })
            .collect(),
        span: Span::default(),
    })
}

fn expr() -> impl Strategy<Value = Expr> + Clone {
    leaf().prop_recursive(3, 24, 4, |inner| {
        let term = prop_oneof![
            3 => leaf(),
            1 => (ident(), args_of(inner.clone())).prop_map(|(name, args)| expr_of(ExprKind::Call { name, args })),
            1 => prop::collection::vec(inner.clone(), 0..3).prop_map(|items| expr_of(ExprKind::List(items))),
        ];
        prop_oneof![
            2 => (ident(), args_of(inner.clone())).prop_map(|(name, args)| expr_of(ExprKind::Call { name, args })),
            2 => prop::collection::vec(inner.clone(), 0..4).prop_map(|items| expr_of(ExprKind::List(items))),
            1 => (number_expr(), number_expr()).prop_map(|(a, b)| expr_of(ExprKind::Range(Box::new(a), Box::new(b)))),
            1 => (number_expr(), number_expr()).prop_map(|(a, b)| expr_of(ExprKind::Per(Box::new(a), Box::new(b)))),
            1 => (path(), term.clone(), term.clone(), prop::option::of(number_expr())).prop_map(|(axis, higher, lower, by)| {
                expr_of(ExprKind::Above { axis, higher: Box::new(higher), lower: Box::new(lower), by: by.map(Box::new), spread: None })
            }),
            1 => (path(), term.clone(), term).prop_map(|(axis, higher, lower)| {
                expr_of(ExprKind::Above { axis, higher: Box::new(higher), lower: Box::new(lower), by: None, spread: Some(Span::default()) })
            }),
            1 => number_expr().prop_map(|n| expr_of(ExprKind::Within(Box::new(n)))),
            1 => number_expr().prop_map(|n| expr_of(ExprKind::AtLeast(Box::new(n)))),
        ]
    })
}

fn comment_text() -> impl Strategy<Value = String> {
    "[ -~]{0,20}".prop_map(|s| s.trim_end().to_string())
}

fn comments() -> impl Strategy<Value = Vec<Comment>> {
    let some = prop::collection::vec((comment_text(), any::<bool>()), 1..3).prop_map(|cs| {
        cs.into_iter()
            .map(|(text, blank_before)| Comment { text, blank_before })
            .collect()
    });
    prop_oneof![4 => Just(Vec::new()), 1 => some]
}

fn trailing() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.2, comment_text())
}

fn simple_stmt_kind() -> impl Strategy<Value = StmtKind> {
    prop_oneof![
        3 => (path(), expr()).prop_map(|(key, value)| StmtKind::Entry { key, value }),
        1 => text().prop_map(|value| StmtKind::Use(StrLit { value, span: Span::default() })),
        1 => (ident(), expr()).prop_map(|(name, value)| StmtKind::Data { name, value }),
        1 => (ident(), expr()).prop_map(|(name, value)| StmtKind::Axis { name, value }),
        1 => (ident(), args_of(expr())).prop_map(|(name, args)| StmtKind::Call { name, args }),
    ]
}

fn stmt_kind() -> impl Strategy<Value = StmtKind> {
    simple_stmt_kind().prop_recursive(2, 16, 4, |inner| {
        let label = prop_oneof![
            ident().prop_map(Label::Ident),
            text().prop_map(|value| Label::Str(StrLit {
                value,
                span: Span::default()
            })),
        ];
        (
            ident(),
            prop::option::of(label),
            prop::option::of(args_of(expr())),
            prop::collection::vec((inner, comments(), trailing(), any::<bool>()), 0..4),
            comments(),
        )
            .prop_map(|(kind, label, args, body, end_comments)| {
                StmtKind::Block(Block {
                    kind,
                    label,
                    args,
                    body: body.into_iter().map(stmt).collect(),
                    end_comments,
                })
            })
    })
}

fn stmt(
    (kind, leading, trailing, blank_before): (StmtKind, Vec<Comment>, Option<String>, bool),
) -> Stmt {
    Stmt {
        leading,
        blank_before,
        trailing,
        kind,
        span: Span::default(),
    }
}

/// Blank lines before the first thing of a body cannot be written; the parser never produces them.
fn normalise_body(stmts: &mut [Stmt], end: &mut [Comment]) {
    let mut first = true;
    for s in stmts.iter_mut() {
        for c in s.leading.iter_mut() {
            if first {
                c.blank_before = false;
            }
            first = false;
        }
        if first {
            s.blank_before = false;
        }
        first = false;
        if let StmtKind::Block(b) = &mut s.kind {
            normalise_body(&mut b.body, &mut b.end_comments);
        }
    }
    for c in end.iter_mut() {
        if first {
            c.blank_before = false;
        }
        first = false;
    }
}

fn file() -> impl Strategy<Value = File> {
    (
        prop::collection::vec((stmt_kind(), comments(), trailing(), any::<bool>()), 1..6),
        comments(),
    )
        .prop_map(|(stmts, end_comments)| {
            let mut f = File {
                stmts: stmts.into_iter().map(stmt).collect(),
                end_comments,
            };
            normalise_body(&mut f.stmts, &mut f.end_comments);
            f
        })
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

proptest! {
    // 512 cases keep the suite at seconds; PROPTEST_CASES=20000 runs a deeper search.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn formatting_then_parsing_gives_the_same_tree(ast in file()) {
        let text = format_file(&ast);
        let parsed = parse(&text, FileId(0));
        prop_assert!(parsed.is_ok(), "does not parse:\n{text}\n{:?}", parsed.err().map(|d| d.message));
        prop_assert_eq!(parsed.ok(), Some(ast), "text:\n{}", text);
    }

    #[test]
    fn formatting_is_idempotent(ast in file()) {
        let once = format_file(&ast);
        let twice = parse(&once, FileId(0)).map(|f| format_file(&f));
        prop_assert_eq!(Ok(once), twice.map_err(|d| d.message));
    }

    #[test]
    fn the_parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text, FileId(0));
    }

    #[test]
    fn the_compiler_never_panics_on_token_soup(tokens in prop::collection::vec(token(), 0..60)) {
        let text = tokens.join(" ");
        compile_text(&text);
    }

    #[test]
    fn the_compiler_never_panics_on_edited_recipes(recipe in 0usize..SHIPPED.len(), edits in prop::collection::vec((any::<prop::sample::Index>(), edit()), 1..4)) {
        let mut text = SHIPPED[recipe].to_string();
        for (at, replacement) in edits {
            let mut cut = at.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let end = (cut + replacement.1).min(text.len());
            let end = (end..=text.len()).find(|&e| text.is_char_boundary(e)).unwrap_or(text.len());
            text.replace_range(cut..end, &replacement.0);
        }
        compile_text(&text);
    }

    #[test]
    fn every_generated_file_is_covered_by_its_token_classes(ast in file()) {
        let text = format_file(&ast);
        let tokens = token_classes(&text, FileId(0)).map_err(|d| d.message);
        prop_assert!(tokens.is_ok(), "{tokens:?}\n{text}");
        prop_assert_eq!(covers(&text, &tokens.unwrap_or_default()), Ok(()), "text:\n{}", text);
    }

    #[test]
    fn token_classes_never_panic_and_cover_what_parses(tokens in prop::collection::vec(token(), 0..60)) {
        let text = tokens.join(" ");
        if let Ok(tokens) = token_classes(&text, FileId(0)) {
            prop_assert_eq!(covers(&text, &tokens), Ok(()), "text:\n{}", text);
        }
    }
}

/// The tokens are in order, do not overlap, hold no blank outside comments and strings, and leave no non-blank
/// character out: what the editor-grammar check (tests/highlighting.rs) relies on.
fn covers(text: &str, tokens: &[Token]) -> Result<(), String> {
    let mut at = 0;
    for t in tokens {
        let piece = text
            .get(t.range.clone())
            .ok_or(format!("{:?} is not on characters", t.range))?;
        let between = text
            .get(at..t.range.start)
            .ok_or(format!("{:?} overlaps", t.range))?;
        if piece.is_empty() || !between.trim().is_empty() {
            return Err(format!("`{between}` before `{piece}` has no class"));
        }
        let may_hold_blanks = matches!(t.class, TokenClass::Comment | TokenClass::String);
        if !may_hold_blanks && piece.contains(char::is_whitespace) {
            return Err(format!("the {} `{piece}` holds a blank", t.class.as_str()));
        }
        at = t.range.end;
    }
    match text[at..].trim() {
        "" => Ok(()),
        rest => Err(format!("`{rest}` at the end has no class")),
    }
}

/// Pieces of the language, for token soup.
fn token() -> impl Strategy<Value = String> {
    let words = [
        "pretrain",
        "evaluate",
        "linear",
        "knn",
        "sweep",
        "when",
        "report",
        "data",
        "use",
        "axis",
        "exclude",
        "schedule",
        "augment",
        "moco",
        "byol",
        "simclr",
        "swav",
        "objective",
        "clips",
        "span",
        "backbone",
        "slow_r18",
        "mlp",
        "head",
        "queue",
        "lr",
        "batch",
        "epochs",
        "warmup",
        "T",
        "S",
        "C",
        "crop",
        "flip",
        "synthetic",
        "kinetics",
        "env",
        "anywhere",
        "per",
        "above",
        "by",
        "within",
        "of",
        "paper",
        "at",
        "least",
        "rows",
        "cols",
        "cell",
        "expect",
        "top1",
        "true",
        "k",
    ];
    prop_oneof![
        3 => prop::sample::select(words.to_vec()).prop_map(str::to_string),
        3 => prop::sample::select(vec!["{", "}", "(", ")", "[", "]", ":", ",", "=", ".", "..", "\n", "#"]).prop_map(str::to_string),
        2 => prop::sample::select(vec!["0", "1", "2", "4", "8", "0.5", "1e-6", "240k", "10s", "35 epochs", "80%", "224px", "10x3", "-1", "\"s\"", "4294967296", "999999M", "1e300", "99999x99999", "65537px"]).prop_map(str::to_string),
    ]
}

/// A replacement and how many bytes it replaces.
fn edit() -> impl Strategy<Value = (String, usize)> {
    (
        prop_oneof![Just(String::new()), token(), "[ -~]{1,3}"],
        0usize..6,
    )
}

const SHIPPED: &[&str] = &[
    include_str!("../../recipes/table2.vst"),
    include_str!("../../recipes/fig3.vst"),
    include_str!("../../recipes/table16.vst"),
    include_str!("../../recipes/mini/base.vst"),
    include_str!("../../tests/recipes/smoke.vst"),
];

fn compile_text(text: &str) {
    let loader = MemoryLoader::new([
        ("recipe.vst", text),
        (
            "base/slow_r50.vst",
            include_str!("../../recipes/base/slow_r50.vst"),
        ),
        ("base/k400.vst", include_str!("../../recipes/base/k400.vst")),
        (
            "base/objectives.vst",
            include_str!("../../recipes/base/objectives.vst"),
        ),
        ("base.vst", include_str!("../../recipes/mini/base.vst")),
    ]);
    let env = |_: &str| None;
    let compilation = compile(
        FsPath::new("recipe.vst"),
        &Options {
            loader: &loader,
            env: &env,
        },
    )
    .expect("in memory");
    // Rendering exercises every span → line:column conversion.
    let _ = compilation.render_diagnostics(false);
    if let Some(plan) = &compilation.plan {
        let _ = vst_compiler::render::plan::text(plan);
        let _ = vst_compiler::render::plan::dot(plan);
    }
}

#[test]
fn shipped_recipes_used_by_the_properties_compile() {
    // The edit property starts from these texts (with includes resolved from memory): they must be valid.
    for (i, text) in SHIPPED.iter().enumerate() {
        if i == 3 {
            continue; // mini/base.vst is shared settings, not a recipe
        }
        let loader = MemoryLoader::new([
            ("recipe.vst", *text),
            (
                "base/slow_r50.vst",
                include_str!("../../recipes/base/slow_r50.vst"),
            ),
            ("base/k400.vst", include_str!("../../recipes/base/k400.vst")),
            (
                "base/objectives.vst",
                include_str!("../../recipes/base/objectives.vst"),
            ),
            (
                "base/downstream.vst",
                include_str!("../../recipes/base/downstream.vst"),
            ),
        ]);
        let env = |_: &str| None;
        let c = compile(
            FsPath::new("recipe.vst"),
            &Options {
                loader: &loader,
                env: &env,
            },
        )
        .expect("in memory");
        assert_eq!(c.render_diagnostics(false), "", "recipe {i}");
    }
}
