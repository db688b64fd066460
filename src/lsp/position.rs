//! LSP positions (0-based lines, columns in UTF-16 code units) ↔ the compiler's places. Going out, the compiler's
//! own conversion ([`SourceFile::line_col`], which `vst check --format json` prints) gives the line and the column in
//! characters; only the last step, characters → UTF-16 units on that line, is done here.

use lsp_types::{Position, Range};
use vst_compiler::source::SourceFile;

/// The LSP position of a 1-based line and 1-based column counted in characters (as in the JSON diagnostics).
pub fn from_line_col(file: &SourceFile, line: usize, column: usize) -> Position {
    let utf16: usize = file
        .line(line)
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf16)
        .sum();
    Position::new(line.saturating_sub(1) as u32, utf16 as u32)
}

/// The LSP position of a byte offset.
pub fn from_offset(file: &SourceFile, offset: usize) -> Position {
    let (line, column) = file.line_col(offset);
    from_line_col(file, line, column)
}

/// The LSP range of a byte range.
pub fn range(file: &SourceFile, start: usize, end: usize) -> Range {
    Range::new(from_offset(file, start), from_offset(file, end))
}

/// The byte offset of an LSP position in `text`, clamped to the line's end and the text's end (a client may send a
/// position past either after an edit).
pub fn to_offset(text: &str, position: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..position.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let mut units = 0u32;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= position.character {
            return line_start + i;
        }
        units += c.len_utf16() as u32;
    }
    line_end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip_through_offsets() {
        let text = "ρ = 1\n  a: 𝔸b\n";
        let file = SourceFile::new("x.vst".into(), text.into());
        let b = text.find('b').expect("b");
        let p = from_offset(&file, b);
        assert_eq!(p, Position::new(1, 7), "𝔸 is two UTF-16 units");
        assert_eq!(to_offset(text, p), b);
        assert_eq!(to_offset(text, Position::new(0, 1)), 'ρ'.len_utf8());
        assert_eq!(
            to_offset(text, Position::new(0, 99)),
            text.find('\n').expect("nl")
        );
        assert_eq!(to_offset(text, Position::new(9, 0)), text.len());
    }
}
