//! The syntax tree of one `.vst` file, exactly as written (no names resolved, no defaults), with byte spans.
//!
//! Comments and single blank lines are part of the tree so that `vst fmt` can print them back. Spans are metadata:
//! two trees are equal when they say the same thing, wherever it was written (see [`Span`]'s `PartialEq`), which is
//! what `parse(fmt(ast)) == ast` needs.

use crate::source::FileId;

/// A byte range in one source file.
///
/// Every `Span` compares equal to every other: spans locate a node for diagnostics but are not part of its meaning.
/// Compare `start`/`end` explicitly where positions matter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The span from the start of `self` to the end of `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub stmts: Vec<Stmt>,
    /// Comments after the last statement.
    pub end_comments: Vec<Comment>,
}

/// A whole-line comment (the text after `#`).
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub text: String,
    /// A blank line separates it from what precedes it (never for the first thing in a file or block).
    pub blank_before: bool,
}

/// A statement with the comments that belong to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// Whole-line comments just above the statement.
    pub leading: Vec<Comment>,
    /// A blank line separates the statement from what precedes it (its last leading comment, or the previous
    /// statement; never for the first thing in a file or block).
    pub blank_before: bool,
    /// A comment at the end of the statement's last line.
    pub trailing: Option<String>,
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `use "path"`
    Use(StrLit),
    /// `data NAME = value`
    Data { name: Ident, value: Expr },
    /// `axis NAME: value`
    Axis { name: Ident, value: Expr },
    /// `kind label? (args)? { body }`
    Block(Block),
    /// `name(args)`
    Call { name: Ident, args: Args },
    /// `key: value`
    Entry { key: Path, value: Expr },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: Ident,
    pub label: Option<Label>,
    pub args: Option<Args>,
    pub body: Vec<Stmt>,
    /// Comments after the last statement of the body, before `}`.
    pub end_comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Ident(Ident),
    Str(StrLit),
}

impl Label {
    pub fn text(&self) -> &str {
        match self {
            Label::Ident(i) => &i.name,
            Label::Str(s) => &s.value,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Label::Ident(i) => i.span,
            Label::Str(s) => s.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A dotted name: `schedule.lr`, `linear.top1`, `moco`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub parts: Vec<Ident>,
    pub span: Span,
}

impl Path {
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(&part.name);
        }
        out
    }

    /// The name when the path has a single part.
    pub fn single(&self) -> Option<&Ident> {
        match self.parts.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// `(a, name: b)`
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub items: Vec<Arg>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Path>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(Number),
    Str(String),
    Path(Path),
    Call {
        name: Ident,
        args: Args,
    },
    List(Vec<Expr>),
    /// `lo..hi` (both numbers)
    Range(Box<Expr>, Box<Expr>),
    /// `value per reference` (both numbers), a learning rate stated for a reference batch
    Per(Box<Expr>, Box<Expr>),
    /// `10x3`
    Cross(u64, u64),
    /// `axis higher above lower (by margin | beyond spread)?`
    Above {
        axis: Path,
        higher: Box<Expr>,
        lower: Box<Expr>,
        by: Option<Box<Expr>>,
        /// Where `beyond spread` is written, when it is (never together with `by`).
        spread: Option<Span>,
    },
    /// `within tolerance of paper`
    Within(Box<Expr>),
    /// `at least value`
    AtLeast(Box<Expr>),
}

/// A numeric literal as written: digits, an optional count suffix and an optional unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The literal's text without suffix and unit (`1e-6`, `0.766`, `240`), kept so that `vst fmt` preserves it.
    pub digits: String,
    pub scale: Option<Scale>,
    pub unit: Option<Unit>,
}

impl Number {
    /// The value with the count suffix applied (units are the checker's business).
    pub fn value(&self) -> f64 {
        let base: f64 = self.digits.parse().unwrap_or(f64::NAN);
        match self.scale {
            None => base,
            Some(Scale::Thousand) => base * 1e3,
            Some(Scale::Million) => base * 1e6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `k`
    Thousand,
    /// `M`
    Million,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `epochs` / `epoch`
    Epochs,
    /// `s`
    Seconds,
    /// `px`
    Pixels,
    /// `%`
    Percent,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Epochs => "epochs",
            Unit::Seconds => "seconds",
            Unit::Pixels => "pixels",
            Unit::Percent => "percent",
        }
    }
}
