//! AST → canonical text (`vst fmt`): two-space indentation, one statement per line, `key: value`, comments and
//! single blank lines kept, long lists and calls broken one item per line. Parsing the output gives the same tree.

use super::ast::*;

/// Lines longer than this are broken at list and call boundaries.
const WIDTH: usize = 100;
const INDENT: &str = "  ";

pub fn format_file(file: &File) -> String {
    let mut out = String::new();
    write_body(&mut out, &file.stmts, &file.end_comments, 0);
    out
}

/// A value on one line, canonical spelling (as used in plan cell labels).
pub fn format_expr(expr: &Expr) -> String {
    flat(expr)
}

fn write_comment(out: &mut String, comment: &Comment, indent: &str) {
    if comment.blank_before {
        out.push('\n');
    }
    out.push_str(indent);
    out.push('#');
    out.push_str(&comment.text);
    out.push('\n');
}

fn write_body(out: &mut String, stmts: &[Stmt], end_comments: &[Comment], depth: usize) {
    let indent = INDENT.repeat(depth);
    for stmt in stmts {
        for comment in &stmt.leading {
            write_comment(out, comment, &indent);
        }
        if stmt.blank_before {
            out.push('\n');
        }
        out.push_str(&indent);
        write_stmt(out, stmt, depth);
        if let Some(comment) = &stmt.trailing {
            out.push_str("  #");
            out.push_str(comment);
        }
        out.push('\n');
    }
    for comment in end_comments {
        write_comment(out, comment, &indent);
    }
}

fn write_stmt(out: &mut String, stmt: &Stmt, depth: usize) {
    let column = depth * INDENT.len();
    match &stmt.kind {
        StmtKind::Use(path) => {
            out.push_str("use ");
            out.push_str(&quote(&path.value));
        }
        StmtKind::Data { name, value } => {
            let head = format!("data {} = ", name.name);
            out.push_str(&head);
            write_value(out, value, depth, column + head.len());
        }
        StmtKind::Axis { name, value } => {
            let head = format!("axis {}: ", name.name);
            out.push_str(&head);
            write_value(out, value, depth, column + head.len());
        }
        StmtKind::Call { name, args } => {
            out.push_str(&name.name);
            write_args(out, args, depth, column + name.name.len());
        }
        StmtKind::Entry { key, value } => {
            let head = format!("{}: ", key.dotted());
            out.push_str(&head);
            write_value(out, value, depth, column + head.len());
        }
        StmtKind::Block(block) => {
            out.push_str(&block.kind.name);
            let mut used = column + block.kind.name.len();
            if let Some(label) = &block.label {
                let text = match label {
                    Label::Ident(i) => i.name.clone(),
                    Label::Str(s) => quote(&s.value),
                };
                out.push(' ');
                out.push_str(&text);
                used += 1 + text.len();
            }
            if let Some(args) = &block.args {
                write_args(out, args, depth, used);
            }
            if block.body.is_empty() && block.end_comments.is_empty() {
                out.push_str(" {}");
            } else {
                out.push_str(" {\n");
                write_body(out, &block.body, &block.end_comments, depth + 1);
                out.push_str(&INDENT.repeat(depth));
                out.push('}');
            }
        }
    }
}

/// Writes `expr` starting at `column`; breaks it over lines (at `depth`) when it does not fit.
fn write_value(out: &mut String, expr: &Expr, depth: usize, column: usize) {
    let text = flat(expr);
    if column + text.len() <= WIDTH {
        out.push_str(&text);
        return;
    }
    match &expr.kind {
        ExprKind::List(items) => {
            out.push_str("[\n");
            write_items(out, items.iter(), depth + 1);
            out.push_str(&INDENT.repeat(depth));
            out.push(']');
        }
        ExprKind::Call { name, args } => {
            out.push_str(&name.name);
            write_args(out, args, depth, column + name.name.len());
        }
        _ => out.push_str(&text),
    }
}

fn write_args(out: &mut String, args: &Args, depth: usize, column: usize) {
    let text = flat_args(args);
    if column + text.len() <= WIDTH || args.items.is_empty() {
        out.push_str(&text);
        return;
    }
    out.push_str("(\n");
    let inner = INDENT.repeat(depth + 1);
    for arg in &args.items {
        out.push_str(&inner);
        let mut used = (depth + 1) * INDENT.len();
        if let Some(name) = &arg.name {
            let head = format!("{}: ", name.dotted());
            out.push_str(&head);
            used += head.len();
        }
        write_value(out, &arg.value, depth + 1, used);
        out.push_str(",\n");
    }
    out.push_str(&INDENT.repeat(depth));
    out.push(')');
}

fn write_items<'a>(out: &mut String, items: impl Iterator<Item = &'a Expr>, depth: usize) {
    let inner = INDENT.repeat(depth);
    for item in items {
        out.push_str(&inner);
        write_value(out, item, depth, depth * INDENT.len());
        out.push_str(",\n");
    }
}

fn flat(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Number(n) => number(n),
        ExprKind::Str(s) => quote(s),
        ExprKind::Path(p) => p.dotted(),
        ExprKind::Call { name, args } => format!("{}{}", name.name, flat_args(args)),
        ExprKind::List(items) => format!(
            "[{}]",
            items.iter().map(flat).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Range(lo, hi) => format!("{}..{}", flat(lo), flat(hi)),
        ExprKind::Per(value, reference) => format!("{} per {}", flat(value), flat(reference)),
        ExprKind::Cross(a, b) => format!("{a}x{b}"),
        ExprKind::Above {
            axis,
            higher,
            lower,
            by,
            spread,
        } => {
            let mut s = format!("{} {} above {}", axis.dotted(), flat(higher), flat(lower));
            if let Some(by) = by {
                s.push_str(" by ");
                s.push_str(&flat(by));
            }
            if spread.is_some() {
                s.push_str(" beyond spread");
            }
            s
        }
        ExprKind::Within(tolerance) => format!("within {} of paper", flat(tolerance)),
        ExprKind::AtLeast(value) => format!("at least {}", flat(value)),
    }
}

fn flat_args(args: &Args) -> String {
    let items: Vec<String> = args
        .items
        .iter()
        .map(|arg| match &arg.name {
            Some(name) => format!("{}: {}", name.dotted(), flat(&arg.value)),
            None => flat(&arg.value),
        })
        .collect();
    format!("({})", items.join(", "))
}

fn number(n: &Number) -> String {
    let mut s = n.digits.clone();
    match n.scale {
        Some(Scale::Thousand) => s.push('k'),
        Some(Scale::Million) => s.push('M'),
        None => {}
    }
    match n.unit {
        Some(Unit::Epochs) if n.digits == "1" && n.scale.is_none() => s.push_str(" epoch"),
        Some(Unit::Epochs) => s.push_str(" epochs"),
        Some(Unit::Seconds) => s.push('s'),
        Some(Unit::Pixels) => s.push_str("px"),
        Some(Unit::Percent) => s.push('%'),
        None => {}
    }
    s
}

/// A string literal with `"`, `\`, newline and tab escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
