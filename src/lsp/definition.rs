//! Go to definition: a `use` path → the included file; a data name → its `data NAME = ...`; an axis name → its
//! declaration in the sweep (in whichever file of the recipe they are).

use super::context;
use super::documents::Document;
use super::position;
use lsp_types::{Location, Position, Range};
use vst_compiler::syntax::Span;

pub fn definition(doc: &Document, at: Position) -> Option<Location> {
    let offset = position::to_offset(&doc.text, at);
    let line = context::line_before(&doc.text, offset);
    if let Some(rest) = line.trim_start().strip_prefix("use")
        && rest.starts_with([' ', '\t', '"'])
    {
        let line_end = doc.text[offset..]
            .find('\n')
            .map_or(doc.text.len(), |i| offset + i);
        let whole = &doc.text[offset - line.len()..line_end];
        let (_, quoted) = whole.split_once('"')?;
        let (target, _) = quoted.split_once('"')?;
        let path = doc.path.parent()?.join(target);
        if !path.is_file() {
            return None;
        }
        return Some(Location::new(doc.uri_of(&path)?, Range::default()));
    }
    let (_, _, word) = context::word_at(&doc.text, offset)?;
    let compilation = doc.names()?;
    let recipe = compilation.recipe.as_ref()?;
    let span: Span = recipe
        .datasets
        .iter()
        .find(|d| d.name == word)
        .map(|d| d.name_span)
        .or_else(|| recipe.axes.iter().find(|a| a.name == word).map(|a| a.span))?;
    let file = compilation.sources.get(span.file)?;
    Some(Location::new(
        doc.uri_of(&file.path)?,
        position::range(file, span.start as usize, span.end as usize),
    ))
}
