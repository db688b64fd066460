//! Text ↔ syntax tree: the pest parser (text → [`ast::File`]) and the formatter (tree → canonical text).

pub mod ast;
mod errors;
mod format;
mod parser;
mod tokens;

pub use ast::Span;
pub use format::{format_expr, format_file, quote};
pub use parser::{parse, parse_expr};
pub use tokens::{Token, TokenClass, token_classes};
