//! Every diagnostic the compiler gives, pinned by a snapshot of the whole rendered message (no colour).
//!
//! Each case is a small recipe (most include a valid `base.vst`, so that the message is about one thing).

mod common;

use common::compile_in_memory;

/// A valid, tiny study that the cases include and then break (shared with the examples of the catalogue).
const BASE: &str = include_str!("diagnostics/base.vst");

fn render(files: &[(&str, &str)]) -> String {
    let mut all = files.to_vec();
    all.push(("base.vst", BASE));
    let env = |name: &str| (name == "DATA_ROOT").then(|| "/srv/data".to_string());
    compile_in_memory(&all, files[0].0, &env).render_diagnostics(false)
}

macro_rules! case {
    ($name:ident, $source:expr) => {
        #[test]
        fn $name() {
            let out = render(&[("recipe.vst", $source)]);
            assert!(!out.is_empty(), "no diagnostic for {}", stringify!($name));
            insta::assert_snapshot!(stringify!($name), out);
        }
    };
}

#[test]
fn the_base_is_clean() {
    assert_eq!(render(&[("recipe.vst", "use \"base.vst\"\n")]), "");
}

// ---------------------------------------------------------------------------------------------------------------
// Syntax and files

case!(syntax_missing_colon, "pretrain {\n  clips 2\n}\n");
case!(
    syntax_unterminated_string,
    "data d = kinetics(root: \"/data/k400, train_videos: 1, val_videos: 1)\n"
);
case!(syntax_unclosed_block, "pretrain {\n  clips: 2\n");
case!(syntax_equals_in_setting, "pretrain {\n  clips = 2\n}\n");
case!(
    syntax_number_followed_by_letters,
    "pretrain {\n  clips: 2x\n}\n"
);
case!(include_missing, "use \"missing.vst\"\n");
case!(
    use_after_other_statements,
    "pretrain {}\nuse \"base.vst\"\n"
);

#[test]
fn include_cycle() {
    let out = render(&[
        ("recipe.vst", "use \"a.vst\"\n"),
        ("a.vst", "use \"b.vst\"\n"),
        ("b.vst", "use \"a.vst\"\n"),
    ]);
    insta::assert_snapshot!("include_cycle", out);
}

// ---------------------------------------------------------------------------------------------------------------
// Blocks and keys

case!(
    unknown_block,
    "use \"base.vst\"\n\npretrian {\n  clips: 2\n}\n"
);
case!(setting_outside_a_block, "use \"base.vst\"\n\nclips: 2\n");
case!(
    second_pretrain_block,
    "use \"base.vst\"\n\npretrain {\n  clips: 2\n}\n\npretrain {\n  clips: 3\n}\n"
);
case!(
    evaluate_without_name,
    "use \"base.vst\"\n\nevaluate {\n  epochs: 2\n}\n"
);
case!(
    unknown_evaluation_kind,
    "use \"base.vst\"\n\nevaluate probe {\n  epochs: 2\n}\n"
);
case!(
    unknown_key,
    "use \"base.vst\"\n\npretrain {\n  objectiv: moco\n}\n"
);
case!(
    unknown_key_in_group,
    "use \"base.vst\"\n\npretrain {\n  schedule {\n    lrr: 0.1\n  }\n}\n"
);
case!(
    key_outside_its_group,
    "use \"base.vst\"\n\npretrain {\n  weight_decay: 0.1\n}\n"
);
case!(
    objective_key_in_wrong_objective,
    "use \"base.vst\"\n\npretrain {\n  byol {\n    temperature: 0.2\n  }\n}\n"
);
case!(
    duplicate_key,
    "use \"base.vst\"\n\npretrain {\n  clips: 2\n  seed: 1\n  clips: 3\n}\n"
);
case!(
    group_used_as_a_key,
    "use \"base.vst\"\n\npretrain {\n  schedule: 200\n}\n"
);
case!(
    unknown_group,
    "use \"base.vst\"\n\npretrain {\n  augmentation {\n    T: []\n  }\n}\n"
);

// ---------------------------------------------------------------------------------------------------------------
// Functions and arguments

case!(
    unknown_function,
    "use \"base.vst\"\n\npretrain {\n  backbone: slow_r52(frames: 8)\n}\n"
);
case!(
    function_of_the_wrong_kind,
    "use \"base.vst\"\n\npretrain {\n  backbone: mlp(layers: 2)\n}\n"
);
case!(
    unknown_argument,
    "use \"base.vst\"\n\npretrain {\n  byol {\n    head: mlp(layer: 3)\n  }\n}\n"
);
case!(
    missing_required_argument,
    "data k = kinetics(train_videos: 240k, val_videos: 20k)\n"
);
case!(
    too_many_arguments_without_name,
    "use \"base.vst\"\n\npretrain {\n  augment {\n    C: [grayscale(0.2, 0.4)]\n  }\n}\n"
);
case!(
    argument_given_twice,
    "use \"base.vst\"\n\npretrain {\n  augment {\n    S: [crop(32, size: 16)]\n  }\n}\n"
);
case!(
    unnamed_argument_after_named,
    "use \"base.vst\"\n\npretrain {\n  augment {\n    C: [blur(p: 0.5, 0.1..2.0)]\n  }\n}\n"
);
case!(
    argument_does_not_apply,
    "use \"base.vst\"\n\npretrain {\n  schedule.optimizer: sgd\n  schedule.optimizer.trust: 0.01\n}\n"
);
case!(
    unknown_dataset,
    "use \"base.vst\"\n\npretrain {\n  data: tinny\n}\n"
);
case!(
    dataset_declared_twice,
    "data a = synthetic(classes: 2)\ndata a = synthetic(classes: 3)\n"
);
case!(
    env_variable_not_set,
    "data k = kinetics(root: env(\"NOT_SET_ANYWHERE\"), train_videos: 1k, val_videos: 100)\n"
);

// ---------------------------------------------------------------------------------------------------------------
// Types, units and ranges

case!(
    type_mismatch,
    "use \"base.vst\"\n\npretrain {\n  clips: \"two\"\n}\n"
);
case!(
    not_a_whole_number,
    "use \"base.vst\"\n\npretrain {\n  clips: 2.5\n}\n"
);
case!(
    duration_without_unit,
    "use \"base.vst\"\n\npretrain {\n  span: 10\n}\n"
);
case!(
    wrong_unit,
    "use \"base.vst\"\n\npretrain {\n  span: 10 epochs\n}\n"
);
case!(
    epochs_without_unit,
    "use \"base.vst\"\n\npretrain {\n  schedule.warmup: 5\n}\n"
);
case!(
    below_minimum,
    "use \"base.vst\"\n\npretrain {\n  clips: 0\n}\n"
);
case!(
    probability_out_of_range,
    "use \"base.vst\"\n\npretrain {\n  augment.S: [resized_crop(32), flip(p: 1.5)]\n}\n"
);
case!(
    empty_range,
    "use \"base.vst\"\n\npretrain {\n  augment.S: [resized_crop(32, area: 0.8..0.2)]\n}\n"
);
case!(
    learning_rate_not_positive,
    "use \"base.vst\"\n\npretrain {\n  schedule.lr: 0 per 256\n}\n"
);
case!(
    unknown_word,
    "use \"base.vst\"\n\npretrain {\n  moco.anneal: cosin\n}\n"
);
case!(
    step_decay_past_the_end_of_training,
    "use \"base.vst\"\n\npretrain {\n  schedule.epochs: 100\n  schedule.decay: steps(at: [60, 100])\n}\n"
);
case!(
    step_decay_out_of_order,
    "use \"base.vst\"\n\nevaluate tune {\n  kind: finetune\n  epochs: 20\n  batch: 16\n  decay: steps(at: [15, 10])\n}\n"
);
case!(
    bad_test_views,
    "use \"base.vst\"\n\nevaluate linear {\n  views: 0x3\n}\n"
);

// ---------------------------------------------------------------------------------------------------------------
// Sweeps and conditions

case!(
    sweep_over_unknown_key,
    "use \"base.vst\"\n\nsweep {\n  objectiv: [moco, byol]\n}\n"
);
case!(
    sweep_not_a_list,
    "use \"base.vst\"\n\nsweep {\n  clips: 2\n}\n"
);
case!(
    sweep_repeats_a_value,
    "use \"base.vst\"\n\nsweep {\n  clips: [1, 2, 1]\n}\n"
);
case!(
    sweep_value_of_wrong_type,
    "use \"base.vst\"\n\nsweep {\n  objective: [moco, bayol]\n}\n"
);
case!(
    label_axis_named_like_a_setting,
    "use \"base.vst\"\n\nsweep {\n  axis clips: [1, 2]\n}\n"
);
case!(
    condition_value_not_on_axis,
    "use \"base.vst\"\n\nsweep {\n  axis depth: [2, 3]\n}\n\nwhen(depth: 4) {\n  byol.predictor.layers: 4\n}\n"
);
case!(
    exclude_names_a_non_axis,
    "use \"base.vst\"\n\nsweep {\n  clips: [1, 2]\n  exclude(objective: moco)\n}\n"
);
case!(
    when_sets_what_it_tests,
    "use \"base.vst\"\n\nwhen(seed: 0) {\n  seed: 1\n}\n"
);
case!(
    every_cell_excluded,
    "use \"base.vst\"\n\nsweep {\n  clips: [1, 2]\n  exclude(clips: 1)\n  exclude(clips: 2)\n}\n"
);
case!(
    exclude_matches_nothing,
    "use \"base.vst\"\n\nsweep {\n  clips: [1, 2]\n  objective: [moco, byol]\n  exclude(clips: 1)\n  exclude(clips: 1, objective: moco)\n}\n"
);
case!(
    when_matches_nothing,
    "use \"base.vst\"\n\nwhen(objective: swav) {\n  swav.prototypes: 10\n}\n"
);
case!(
    overridden_by_the_sweep,
    "use \"base.vst\"\n\npretrain {\n  clips: 3\n}\n\nsweep {\n  clips: [1, 2]\n}\n"
);
case!(
    identical_cells,
    "use \"base.vst\"\n\nsweep {\n  axis run: [a, b]\n}\n"
);
case!(
    too_many_cells,
    "use \"base.vst\"\n\nsweep {\n  seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]\n  clips: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]\n  schedule.epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]\n}\n"
);
case!(
    two_sweeps,
    "use \"base.vst\"\n\nsweep {\n  clips: [1, 2]\n}\n\nsweep {\n  seed: [1, 2]\n}\n"
);

// ---------------------------------------------------------------------------------------------------------------
// Checks across settings

case!(
    missing_objective,
    "data d = synthetic(classes: 2)\n\npretrain {\n  data: d\n}\n\nsweep {\n  clips: [1, 2]\n}\n"
);
case!(
    moco_queue_not_a_multiple_of_the_batch,
    "use \"base.vst\"\n\npretrain {\n  objective: moco\n  moco.queue: 20\n}\n"
);
case!(
    moco_queue_longer_than_the_dataset,
    "use \"base.vst\"\n\npretrain {\n  objective: moco\n  moco.queue: 64\n}\n"
);
case!(
    one_clip_with_deterministic_crops,
    "use \"base.vst\"\n\npretrain {\n  clips: 1\n  augment.S: [center_crop(32)]\n}\n"
);
case!(
    warmup_longer_than_training,
    "use \"base.vst\"\n\npretrain {\n  schedule.warmup: 10 epochs\n}\n"
);
case!(
    clip_longer_than_the_video,
    "use \"base.vst\"\n\npretrain {\n  backbone: slow_r18(frames: 8, stride: 8)\n}\n"
);
case!(
    crop_larger_than_the_frames,
    "use \"base.vst\"\n\npretrain {\n  augment.S: [crop(48)]\n}\n"
);
case!(
    crop_larger_than_the_short_side,
    "use \"base.vst\"\n\nevaluate linear {\n  augment: [short_side(24..32), crop(28)]\n}\n"
);
case!(
    no_crop,
    "use \"base.vst\"\n\npretrain {\n  augment.S: [flip]\n}\n"
);
case!(
    two_crops,
    "use \"base.vst\"\n\npretrain {\n  augment.S: [crop(32), resized_crop(32)]\n}\n"
);
case!(
    op_twice,
    "use \"base.vst\"\n\npretrain {\n  augment.C: [grayscale(p: 0.2), grayscale(p: 0.4)]\n}\n"
);
case!(
    color_jitter_incomplete,
    "use \"base.vst\"\n\npretrain {\n  augment.C: [color_jitter(0.4, 0.4)]\n}\n"
);
case!(
    width_not_whole_channels,
    "use \"base.vst\"\n\npretrain {\n  backbone.width: 0.1\n}\n"
);
case!(
    batch_larger_than_the_dataset,
    "use \"base.vst\"\n\npretrain {\n  schedule.batch: 64\n}\n"
);
case!(
    objective_settings_never_read,
    "use \"base.vst\"\n\npretrain {\n  swav {\n    prototypes: 100\n  }\n}\n"
);
case!(
    scaling_rule_never_read,
    "use \"base.vst\"\n\npretrain {\n  schedule {\n    lr: 0.1\n    warmup_start: 0\n    lr_scaling: sqrt\n  }\n}\n"
);
case!(
    span_with_one_clip,
    "use \"base.vst\"\n\npretrain {\n  clips: 1\n  span: 2s\n}\n"
);
case!(
    dataset_never_used,
    "use \"base.vst\"\n\ndata other = synthetic(classes: 3)\n"
);
case!(
    knn_with_more_neighbours_than_videos,
    "use \"base.vst\"\n\nevaluate knn {\n  k: 200\n  view_size: 32\n}\n"
);

// ---------------------------------------------------------------------------------------------------------------
// Reports

const SWEPT: &str =
    "use \"base.vst\"\n\nsweep {\n  objective: [moco, byol]\n  clips: [1, 2]\n}\n\n";

case!(
    report_axis_unknown,
    &format!("{SWEPT}report \"T\" {{\n  rows: objectiv\n  cols: clips\n  cell: linear.top1\n}}\n")
);
case!(
    report_metric_unknown,
    &format!("{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top3\n}}\n")
);
case!(
    report_evaluation_unknown,
    &format!("{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linaer.top1\n}}\n")
);
case!(
    report_paper_table_unknown,
    &format!(
        "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  paper: tabel2\n}}\n"
    )
);
case!(
    report_without_cell,
    &format!("{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n}}\n")
);
case!(
    report_unknown_key,
    &format!(
        "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  colums: clips\n}}\n"
    )
);
case!(
    report_without_title,
    &format!("{SWEPT}report {{\n  cell: linear.top1\n}}\n")
);
case!(
    expectation_on_rows,
    &format!(
        "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  expect: [objective moco above byol]\n}}\n"
    )
);
case!(
    expectation_value_not_on_axis,
    &format!(
        "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  expect: [clips 4 above 1]\n}}\n"
    )
);
case!(
    expectation_needs_paper,
    &format!(
        "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  expect: [within 2 of paper]\n}}\n"
    )
);
// Paper table 2 has no number for SimCLR or SwAV at ρ = 3 or 4: `within` could never be missed.
case!(
    expectation_paper_has_no_number_for_any_cell,
    "use \"base.vst\"\n\nsweep {\n  objective: [simclr, swav]\n  clips: [3, 4]\n}\n\nreport \"T\" {\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  paper: table2\n  expect: [clips 4 above 3, within 2 of paper]\n}\n"
);

#[test]
fn an_expectation_within_paper_with_one_paper_number_is_fine() {
    // MoCo at ρ = 2 has a (derived) number in paper table 2.
    let out = render(&[(
        "recipe.vst",
        &format!(
            "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  paper: table2\n  expect: [within 2 of paper]\n}}\n"
        ),
    )]);
    assert_eq!(out, "");
}

case!(
    not_an_expectation,
    &format!(
        "{SWEPT}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  expect: [clips]\n}}\n"
    )
);
case!(
    report_axis_not_shown,
    &format!("{SWEPT}report \"T\" {{\n  rows: objective\n  cell: linear.top1\n}}\n")
);
case!(
    report_rows_equal_cols,
    &format!("{SWEPT}report \"T\" {{\n  rows: clips\n  cols: clips\n  cell: linear.top1\n}}\n")
);

// Aggregating over an axis (seeds): `over` and `beyond spread`.

const SEEDS: &str = "use \"base.vst\"\n\nsweep {\n  objective: [moco, byol]\n  clips: [1, 2]\n  seed: [0, 1, 2]\n}\n\n";

#[test]
fn a_report_over_seeds_is_clean() {
    let out = render(&[(
        "recipe.vst",
        &format!(
            "{SEEDS}report \"T\" {{\n  rows: objective\n  cols: clips\n  over: seed\n  cell: linear.top1\n  paper: table2\n  expect: [clips 2 above 1 beyond spread, clips 2 above 1 by 1, within 30 of paper, at least 5]\n}}\n"
        ),
    )]);
    assert_eq!(out, "");
}

#[test]
fn a_report_of_an_evaluation_every_pre_training_shares_does_not_warn_about_their_axes() {
    // A `from: scratch` fine-tune is one job per seed, whatever the objective and ρ: averaging over those axes
    // averages one number with itself, so the report needs no W0104 about them.
    let scratch = "evaluate scratch {\n  kind: finetune\n  from: scratch\n  batch: 8\n}\n\n";
    let report = |cell: &str| format!("report \"T\" {{\n  over: seed\n  cell: {cell}\n}}\n");
    let out = render(&[(
        "recipe.vst",
        &format!("{SEEDS}{scratch}{}", report("scratch.top1")),
    )]);
    assert_eq!(out, "");
    // The linear probe of each pre-training is a different job for each objective and ρ: still warned.
    let out = render(&[(
        "recipe.vst",
        &format!("{SEEDS}{scratch}{}", report("linear.top1")),
    )]);
    assert!(
        out.contains("W0104") && out.contains("`objective`") && out.contains("`clips`"),
        "{out}"
    );
}

case!(
    report_seed_axis_not_shown,
    &format!("{SEEDS}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n}}\n")
);
case!(
    report_over_and_another_axis_not_shown,
    &format!("{SEEDS}report \"T\" {{\n  rows: objective\n  over: seed\n  cell: linear.top1\n}}\n")
);
case!(
    report_over_unknown_axis,
    &format!(
        "{SEEDS}report \"T\" {{\n  rows: objective\n  cols: clips\n  over: seeds\n  cell: linear.top1\n}}\n"
    )
);
case!(
    report_over_the_columns,
    &format!(
        "{SEEDS}report \"T\" {{\n  rows: objective\n  cols: clips\n  over: clips\n  cell: linear.top1\n}}\n"
    )
);
case!(
    expectation_beyond_spread_without_over,
    &format!(
        "{SEEDS}report \"T\" {{\n  rows: objective\n  cols: clips\n  cell: linear.top1\n  expect: [clips 2 above 1 beyond spread]\n}}\n"
    )
);
case!(
    expectation_beyond_spread_over_one_value,
    "use \"base.vst\"\n\nsweep {\n  objective: [moco, byol]\n  clips: [1, 2]\n  seed: [3]\n}\n\nreport \"T\" {\n  rows: objective\n  cols: clips\n  over: seed\n  cell: linear.top1\n  expect: [clips 2 above 1 beyond spread]\n}\n"
);
case!(
    syntax_beyond_without_spread,
    &format!(
        "{SEEDS}report \"T\" {{\n  rows: objective\n  cols: clips\n  over: seed\n  cell: linear.top1\n  expect: [clips 2 above 1 beyond]\n}}\n"
    )
);

// The batch-norm batch must divide the global batch (the mini base trains 32 videos per step).
case!(
    bn_batch_not_dividing_the_batch,
    "use \"base.vst\"\n\npretrain {\n  bn_batch: 12\n}\n"
);
// Reduced precision is CUDA's: the mini base trains on the CPU.
case!(
    reduced_precision_on_the_cpu,
    "use \"base.vst\"\n\npretrain {\n  precision: bf16\n}\n"
);
// The setting that replaced `sync_bn` (devices) with videos.
case!(
    sync_bn_is_gone,
    "use \"base.vst\"\n\npretrain {\n  sync_bn: 8\n}\n"
);

// ---------------------------------------------------------------------------------------------------------------
// Downstream datasets: what their labels allow

case!(
    ssv2_fine_tune_that_flips,
    "use \"base.vst\"\n\ndata ssv2 = ssv2(root: \"/srv/ssv2\")\n\nevaluate ssv2 {\n  kind: finetune\n  data: ssv2\n  \
     augment: [short_side(256..320), crop(224), flip]\n}\n"
);
case!(
    ssv2_fine_tune_with_the_default_flip,
    "use \"base.vst\"\n\ndata ssv2 = ssv2(root: \"/srv/ssv2\")\n\nevaluate ssv2 {\n  kind: finetune\n  data: ssv2\n}\n"
);
case!(
    charades_linear_probe,
    "use \"base.vst\"\n\ndata charades = charades(root: \"/srv/charades\")\n\nevaluate charades {\n  kind: linear\n  \
     data: charades\n}\n"
);
case!(
    datasets_with_different_split_lists,
    "use \"base.vst\"\n\ndata ucf = ucf101(root: \"/srv/ucf\", split: [1, 2, 3])\ndata hmdb = hmdb51(root: \"/srv/hmdb\", \
     split: [1, 2])\n"
);

#[test]
fn ssv2_without_flip_and_a_split_sweep_compile_cleanly() {
    let out = render(&[(
        "recipe.vst",
        "use \"base.vst\"\n\ndata ssv2 = ssv2(root: \"/srv/ssv2\")\ndata ucf = ucf101(root: \"/srv/ucf\", split: [1, 2, \
         3])\n\nevaluate ssv2 {\n  kind: finetune\n  data: ssv2\n  augment: [short_side(256..320), crop(224)]\n}\n\n\
         evaluate ucf {\n  kind: finetune\n  data: ucf\n}\n\nreport \"UCF101 over the splits\" {\n  over: split\n  \
         cell: ucf.top1\n}\n",
    )]);
    assert_eq!(out, "");
}
case!(
    charades_reported_by_top1,
    "use \"base.vst\"\n\ndata charades = charades(root: \"/srv/charades\")\n\nevaluate charades {\n  kind: finetune\n  \
     data: charades\n}\n\nreport \"Charades\" {\n  cell: charades.top1\n}\n"
);
case!(
    single_label_reported_by_map,
    "use \"base.vst\"\n\nevaluate finetune {\n  batch: 8\n  augment: [crop(32), flip]\n  view_size: 32\n}\n\nreport \"mAP\" {\n  \
     cell: finetune.map\n}\n"
);
// A label axis that happens to be called `split` means nothing to a dataset without splits: still a warning.
case!(
    split_axis_without_split_datasets,
    "use \"base.vst\"\n\nsweep {\n  axis split: [1, 2]\n}\n\nreport \"r\" {\n  over: split\n  cell: linear.top1\n}\n"
);

// ---------------------------------------------------------------------------------------------------------------
// A copy the recipe prepares (`prepare: transcode(...)`)

case!(
    transcode_with_an_odd_short_side,
    "use \"base.vst\"\n\ndata k = kinetics(root: \"/srv/k400-320\", train_videos: 1k, val_videos: 100, prepare: \
     transcode(\"/srv/k400\", short_side: 321))\n\npretrain {\n  data: k\n}\n"
);
case!(
    transcode_with_mp4_settings_for_frame_folders,
    "use \"base.vst\"\n\ndata k = frames(root: \"/srv/k400-frames\", train_videos: 1k, val_videos: 100, prepare: \
     transcode(\"/srv/k400\", crf: 20))\n\npretrain {\n  data: k\n}\n"
);
case!(
    transcode_at_another_rate_than_the_folders_are_read,
    "use \"base.vst\"\n\ndata k = frames(root: \"/srv/k400-frames\", fps: 25, train_videos: 1k, val_videos: 100, \
     prepare: transcode(\"/srv/k400\", fps: 30))\n\npretrain {\n  data: k\n}\n"
);
case!(
    transcode_into_its_own_source,
    "use \"base.vst\"\n\ndata k = kinetics(root: \"/srv/k400\", train_videos: 1k, val_videos: 100, prepare: \
     transcode(\"/srv/./k400/\"))\n\npretrain {\n  data: k\n}\n"
);
case!(
    transcode_with_an_absolute_list,
    "use \"base.vst\"\n\ndata k = kinetics(root: \"/srv/k400-320\", train: \"/lists/train.csv\", train_videos: 1k, \
     val_videos: 100, prepare: transcode(\"/srv/k400\"))\n\npretrain {\n  data: k\n}\n"
);
case!(
    transcode_with_an_unknown_preset,
    "use \"base.vst\"\n\ndata k = kinetics(root: \"/srv/k400-320\", train_videos: 1k, val_videos: 100, prepare: \
     transcode(\"/srv/k400\", preset: veryfastest))\n\npretrain {\n  data: k\n}\n"
);
