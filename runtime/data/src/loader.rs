//! The loader: batches of clips made on worker threads with prefetch. Sample `i` of an epoch is made from its own
//! generator (seeded by seed, epoch and the video's index), and a batch is assembled in order from its samples, so
//! the batches of a seed are identical whatever the number of threads. A video that cannot be read is skipped
//! with a warning, counted, and replaced by another (chosen deterministically); the run goes on.

use crate::augment::renderer::SharedRenderer;
use crate::error::{DataError, Result};
use crate::list::VideoEntry;
use crate::metrics::DataMetrics;
use crate::pipeline::{ClipShape, Sample, SampleMode, decode_sample, render_sample};
use crate::rng::{Stream, rng_for};
use crate::video::VideoBackend;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A batch of clips, channels last: `data` is `N × T × H × W × C` f32 (normalised), with `N = videos × rows per
/// video` and clip `j` of video `i` at row `i · rows_per_video + j`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipBatch {
    pub data: Vec<f32>,
    /// `[N, T, H, W, C]`.
    pub shape: [usize; 5],
    /// Per row: the label of the row's video.
    pub labels: Vec<u32>,
    /// Per row: the index of the row's video in the dataset list (after any replacement).
    pub video_indices: Vec<usize>,
    /// Per row: the time (seconds) of the first and last frame of the row's clip.
    pub row_seconds: Vec<(f64, f64)>,
    pub rows_per_video: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    pub mode: SampleMode,
    pub shape: ClipShape,
    /// Videos per batch.
    pub batch_videos: usize,
    pub seed: u64,
    /// Worker threads; 0 makes samples on the caller's thread.
    pub threads: usize,
    /// Batches made ahead of the one being consumed.
    pub prefetch: usize,
    /// Visit videos in a new random order every epoch (training) or in list order (evaluation).
    pub shuffle: bool,
    /// Leave out the last incomplete batch.
    pub drop_last: bool,
    /// How many other videos to try before a sample gives up (then the epoch fails).
    pub max_replacements: usize,
    /// Data-parallel training: this replica's share of every batch, as (rank, replicas). Replica r makes videos
    /// r·B/R .. (r+1)·B/R of each batch of B — the samples a single replica would make for those positions, so the
    /// replicas' batches together are exactly the single replica's. None: the whole batch.
    pub shard: Option<(usize, usize)>,
    /// Renders the training clips somewhere other than the worker's CPU (the GPU augmentation); None: the CPU.
    pub renderer: Option<SharedRenderer>,
}

impl LoaderConfig {
    pub fn new(mode: SampleMode, shape: ClipShape, batch_videos: usize, seed: u64) -> LoaderConfig {
        LoaderConfig {
            mode,
            shape,
            batch_videos,
            seed,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            prefetch: 2,
            shuffle: true,
            drop_last: true,
            max_replacements: 32,
            shard: None,
            renderer: None,
        }
    }
}

/// Makes epochs of batches over one list of videos.
pub struct Loader {
    inner: Arc<Inner>,
}

struct Inner {
    entries: Vec<VideoEntry>,
    backend: Box<dyn VideoBackend>,
    config: LoaderConfig,
    metrics: Arc<DataMetrics>,
    /// Videos already known to fail (skipped without another try).
    bad: Mutex<HashSet<usize>>,
}

impl Loader {
    pub fn new(
        entries: Vec<VideoEntry>,
        backend: Box<dyn VideoBackend>,
        config: LoaderConfig,
        metrics: Arc<DataMetrics>,
    ) -> Result<Loader> {
        config.mode.check()?;
        if entries.is_empty() {
            return Err(DataError::Config("the video list is empty".into()));
        }
        if config.batch_videos == 0 {
            return Err(DataError::Config("the batch size is 0".into()));
        }
        if let Some((rank, replicas)) = config.shard
            && (replicas == 0 || rank >= replicas || !config.batch_videos.is_multiple_of(replicas))
        {
            return Err(DataError::Config(format!(
                "the batch of {} videos does not split over {replicas} replicas (rank {rank})",
                config.batch_videos
            )));
        }
        if config.shape.frames == 0 || config.shape.stride == 0 {
            return Err(DataError::Config(
                "clips need at least one frame and a stride of at least 1".into(),
            ));
        }
        Ok(Loader {
            inner: Arc::new(Inner {
                entries,
                backend,
                config,
                metrics,
                bad: Mutex::new(HashSet::new()),
            }),
        })
    }

    pub fn metrics(&self) -> &Arc<DataMetrics> {
        &self.inner.metrics
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.inner.config
    }

    pub fn len_videos(&self) -> usize {
        self.inner.entries.len()
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.inner.entries.len(), self.inner.config.batch_videos);
        if self.inner.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Videos of each batch this loader makes (the whole batch, or a replica's share).
    fn per_batch(&self) -> usize {
        let b = self.inner.config.batch_videos;
        match self.inner.config.shard {
            Some((_, replicas)) => b / replicas,
            None => b,
        }
    }

    /// The batches of `epoch`, made by the configured number of worker threads.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        self.epoch_from(epoch, 0)
    }

    /// Epoch `epoch` from its batch `first` on: the same batches as [`Loader::epoch`] yields from there, without
    /// making the earlier ones (a run resumed from a checkpoint taken in the middle of an epoch).
    pub fn epoch_from(&self, epoch: u64, first: usize) -> Epoch {
        let inner = &self.inner;
        let n = inner.entries.len();
        let mut order: Vec<usize> = (0..n).collect();
        if inner.config.shuffle {
            rng_for(inner.config.seed, Stream::Order, epoch, 0).shuffle(&mut order);
        }
        let batches = self.batches_per_epoch();
        let tasks = if inner.config.drop_last {
            batches * inner.config.batch_videos
        } else {
            n
        };
        order.truncate(tasks);
        // The positions of the order this loader makes, batch after batch: all of them, or this replica's share.
        let per_batch = self.per_batch();
        let tasks: Vec<usize> = match inner.config.shard {
            Some((rank, _)) => (0..batches)
                .flat_map(|b| {
                    let start = b * inner.config.batch_videos + rank * per_batch;
                    start..(start + per_batch).min(order.len())
                })
                .collect(),
            None => (0..order.len()).collect(),
        };
        let tasks = Arc::new(tasks);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_task: 0,
                limit: 0,
                stop: false,
                done: HashMap::new(),
                error: None,
            }),
            work: Condvar::new(),
            finished: Condvar::new(),
        });
        let order = Arc::new(order);
        let first = first.min(batches);
        let first_task = (first * per_batch).min(tasks.len());
        {
            let mut state = lock(&shared);
            state.next_task = first_task;
            state.limit = first_task;
        }
        let workers = (0..inner.config.threads)
            .map(|_| {
                let (inner, shared, order, tasks) =
                    (inner.clone(), shared.clone(), order.clone(), tasks.clone());
                std::thread::spawn(move || worker(&inner, &shared, &order, &tasks, epoch))
            })
            .collect();
        Epoch {
            inner: inner.clone(),
            shared,
            order,
            tasks,
            per_batch,
            epoch,
            next_batch: first,
            batches,
            workers,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signals workers that more tasks may be taken (or that they should stop).
    work: Condvar,
    /// Signals the consumer that a sample finished.
    finished: Condvar,
}

struct State {
    next_task: usize,
    /// Tasks below this may be started (the prefetch window).
    limit: usize,
    stop: bool,
    done: HashMap<usize, (Sample, usize)>,
    error: Option<DataError>,
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

fn worker(inner: &Inner, shared: &Shared, order: &[usize], tasks: &[usize], epoch: u64) {
    loop {
        let k = {
            let mut state = lock(shared);
            loop {
                if state.stop || state.next_task >= tasks.len() {
                    return;
                }
                if state.next_task < state.limit {
                    break;
                }
                state = shared.work.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.next_task += 1;
            state.next_task - 1
        };
        let result = produce(inner, order, epoch, tasks[k]);
        let mut state = lock(shared);
        match result {
            Ok(done) => {
                state.done.insert(k, done);
            }
            Err(e) => {
                state.error.get_or_insert(e);
            }
        }
        shared.finished.notify_all();
    }
}

/// Makes sample `task` of the epoch, replacing unreadable videos.
fn produce(inner: &Inner, order: &[usize], epoch: u64, task: usize) -> Result<(Sample, usize)> {
    let config = &inner.config;
    let n = inner.entries.len();
    let mut replacer = rng_for(config.seed, Stream::Replacement, epoch, task as u64);
    let mut last_error = String::new();
    for attempt in 0..=config.max_replacements {
        let video = if attempt == 0 {
            order[task]
        } else {
            replacer.below(n as u64) as usize
        };
        let known_bad = inner
            .bad
            .lock()
            .map(|b| b.contains(&video))
            .unwrap_or(false);
        if known_bad {
            continue;
        }
        // Replacements draw from their own generator index, so a video drawn twice in an epoch differs.
        let sample_index = (attempt * n + video) as u64;
        let entry = &inner.entries[video];
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let decoded = decode_sample(
                inner.backend.as_ref(),
                entry,
                &config.mode,
                config.shape,
                config.seed,
                epoch,
                sample_index,
            )?;
            let renderer = config.renderer.as_ref().map(|r| r.0.as_ref());
            render_sample(decoded, &config.mode, config.shape, renderer)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(DataError::Corrupt {
                path: entry.path.clone(),
                message: format!("the decoder panicked: {what}"),
            })
        });
        match outcome {
            Ok(sample) => {
                if attempt > 0 {
                    inner.metrics.replaced();
                }
                if sample.looped {
                    inner.metrics.looped(&entry.path);
                }
                inner.metrics.produced();
                return Ok((sample, video));
            }
            // The renderer failed, not the video: another video would fail the same way.
            Err(e @ DataError::Renderer(..)) => return Err(e),
            Err(e) => {
                last_error = e.to_string();
                inner.metrics.skipped(&entry.path, &last_error);
                if let Ok(mut bad) = inner.bad.lock() {
                    bad.insert(video);
                }
            }
        }
    }
    Err(DataError::Config(format!(
        "gave up on a sample after {} unreadable videos (last: {last_error})",
        config.max_replacements + 1
    )))
}

/// The batches of one epoch, in order. Dropping it stops its workers.
pub struct Epoch {
    inner: Arc<Inner>,
    shared: Arc<Shared>,
    order: Arc<Vec<usize>>,
    /// The positions of `order` this loader makes, in order; workers take them by index.
    tasks: Arc<Vec<usize>>,
    per_batch: usize,
    epoch: u64,
    next_batch: usize,
    batches: usize,
    workers: Vec<JoinHandle<()>>,
}

impl Epoch {
    pub fn len(&self) -> usize {
        self.batches
    }

    pub fn is_empty(&self) -> bool {
        self.batches == 0
    }

    /// The indices into `tasks` of `batch`'s samples.
    fn batch_tasks(&self, batch: usize) -> std::ops::Range<usize> {
        let start = (batch * self.per_batch).min(self.tasks.len());
        start..(start + self.per_batch).min(self.tasks.len())
    }

    fn next_batch(&mut self) -> Result<ClipBatch> {
        let tasks = self.batch_tasks(self.next_batch);
        let mut samples = Vec::with_capacity(tasks.len());
        if self.workers.is_empty() {
            for k in tasks {
                samples.push(produce(
                    &self.inner,
                    &self.order,
                    self.epoch,
                    self.tasks[k],
                )?);
            }
        } else {
            let window_end = self
                .batch_tasks((self.next_batch + self.inner.config.prefetch).min(self.batches - 1))
                .end;
            let mut state = lock(&self.shared);
            state.limit = state.limit.max(window_end);
            self.shared.work.notify_all();
            for task in tasks {
                loop {
                    if let Some(done) = state.done.remove(&task) {
                        samples.push(done);
                        break;
                    }
                    if let Some(e) = state.error.take() {
                        return Err(e);
                    }
                    state = self
                        .shared
                        .finished
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        self.next_batch += 1;
        Ok(assemble(&self.inner, samples))
    }
}

fn assemble(inner: &Inner, samples: Vec<(Sample, usize)>) -> ClipBatch {
    let rows_per_video = inner.config.mode.rows_per_video();
    let size = inner.config.mode.size();
    let t = inner.config.shape.frames;
    let rows = samples.len() * rows_per_video;
    let mut data = Vec::with_capacity(rows * t * size * size * 3);
    let mut labels = Vec::with_capacity(rows);
    let mut video_indices = Vec::with_capacity(rows);
    let mut row_seconds = Vec::with_capacity(rows);
    for (sample, video) in samples {
        data.extend_from_slice(&sample.data);
        row_seconds.extend(sample.row_seconds());
        for _ in 0..sample.rows {
            labels.push(inner.entries[video].label);
            video_indices.push(video);
        }
    }
    ClipBatch {
        data,
        shape: [rows, t, size, size, 3],
        labels,
        video_indices,
        row_seconds,
        rows_per_video,
    }
}

impl Iterator for Epoch {
    type Item = Result<ClipBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        (self.next_batch < self.batches).then(|| self.next_batch())
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.work.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
