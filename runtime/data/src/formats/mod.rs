//! Downstream datasets' annotation files as their users have them on disk, parsed into [`VideoEntry`] lists
//! (single-label) or [`charades::CharadesVideo`]s (multi-label), with errors naming the file and line:
//!
//! - [`ucf101`]: `classInd.txt`, `trainlist0N.txt`, `testlist0N.txt` (the `ucfTrainTestlist` folder);
//! - [`hmdb51`]: `<class>_test_splitN.txt` (the `testTrainMulti_7030_splits` folder);
//! - [`ssv2`]: Something-Something v2's `labels.json` and `train.json` / `validation.json`;
//! - [`charades`]: `Charades_v1_train.csv` / `Charades_v1_test.csv` (per-video action intervals).
//!
//! The recipe functions `ucf101(...)`, `hmdb51(...)`, `ssv2(...)` and `charades(...)` read them
//! ([`crate::dataset::open_dataset`]).
//!
//! [`VideoEntry`]: crate::list::VideoEntry

pub mod charades;
pub mod hmdb51;
pub mod ssv2;
pub mod ucf101;

use crate::list::VideoEntry;

/// One split of a single-label dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Class names; a video's label indexes this list.
    pub classes: Vec<String>,
    pub train: Vec<VideoEntry>,
    pub test: Vec<VideoEntry>,
}

/// The lines of `text` with their 1-based numbers, trailing `\r` (the official UCF101 and HMDB51 files use CRLF)
/// and surrounding blanks removed, empty lines skipped.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
}
