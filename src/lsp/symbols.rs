//! Document symbols: the blocks (`pretrain` with its groups and settings, `evaluate NAME`, `sweep` with its axes,
//! `when`, `report "title"`) and the `data`, `axis` and `use` declarations, nested as written.

use super::documents::Document;
use super::position;
use lsp_types::{DocumentSymbol, SymbolKind};
use vst_compiler::source::{FileId, SourceFile};
use vst_compiler::syntax::ast::{Stmt, StmtKind};
use vst_compiler::syntax::{self, Span};

pub fn symbols(doc: &Document) -> Option<Vec<DocumentSymbol>> {
    let file = syntax::parse(&doc.text, FileId(0)).ok()?;
    let source = SourceFile::new(doc.path.clone(), doc.text.clone());
    Some(of(&source, &file.stmts))
}

fn of(source: &SourceFile, stmts: &[Stmt]) -> Vec<DocumentSymbol> {
    stmts
        .iter()
        .map(|stmt| {
            let (name, detail, kind, selection, children) = match &stmt.kind {
                StmtKind::Use(path) => (
                    format!("use \"{}\"", path.value),
                    None,
                    SymbolKind::FILE,
                    path.span,
                    Vec::new(),
                ),
                StmtKind::Data { name, .. } => (
                    name.name.clone(),
                    Some("data"),
                    SymbolKind::VARIABLE,
                    name.span,
                    Vec::new(),
                ),
                StmtKind::Axis { name, .. } => (
                    name.name.clone(),
                    Some("axis"),
                    SymbolKind::ENUM,
                    name.span,
                    Vec::new(),
                ),
                StmtKind::Entry { key, .. } => (
                    key.dotted(),
                    None,
                    SymbolKind::PROPERTY,
                    key.span,
                    Vec::new(),
                ),
                StmtKind::Call { name, args } => {
                    let text = source
                        .text
                        .get(stmt.span.start as usize..args.span.end as usize)
                        .unwrap_or(&name.name);
                    (
                        text.to_string(),
                        None,
                        SymbolKind::EVENT,
                        name.span,
                        Vec::new(),
                    )
                }
                StmtKind::Block(block) => {
                    let mut name = block.kind.name.clone();
                    if let Some(label) = &block.label {
                        name.push(' ');
                        name.push_str(label.text());
                    }
                    if let Some(args) = &block.args {
                        let text = source
                            .text
                            .get(args.span.start as usize..args.span.end as usize)
                            .unwrap_or("");
                        name.push_str(text);
                    }
                    let kind = match block.kind.name.as_str() {
                        "sweep" => SymbolKind::ENUM,
                        "report" => SymbolKind::OBJECT,
                        _ => SymbolKind::NAMESPACE,
                    };
                    (name, None, kind, block.kind.span, of(source, &block.body))
                }
            };
            symbol(source, name, detail, kind, stmt.span, selection, children)
        })
        .collect()
}

fn symbol(
    source: &SourceFile,
    name: String,
    detail: Option<&str>,
    kind: SymbolKind,
    span: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    #[allow(deprecated)] // `deprecated` is a required field of the protocol's type
    DocumentSymbol {
        name,
        detail: detail.map(str::to_string),
        kind,
        tags: None,
        deprecated: None,
        range: position::range(source, span.start as usize, span.end as usize),
        selection_range: position::range(source, selection.start as usize, selection.end as usize),
        children: (!children.is_empty()).then_some(children),
    }
}
