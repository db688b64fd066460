//! The downstream datasets' annotation files, parsed from small hand-written files in each format's official
//! layout (tests/fixtures/formats/: CRLF line ends and trailing blanks where the official files have them, quoted
//! CSV fields with commas, `""` and a line break in Charades), and the errors bad lines get.

use std::path::{Path, PathBuf};
use vst_data::formats::{charades, hmdb51, ssv2, ucf101};
use vst_data::list::VideoEntry;

fn fixtures(dataset: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(dataset)
}

fn entry(path: &str, label: u32) -> VideoEntry {
    VideoEntry {
        path: PathBuf::from(path),
        label,
    }
}

#[test]
fn ucf101_split_files() {
    let split = ucf101::read_split(&fixtures("ucf101"), Path::new("/videos"), 1).expect("split 1");
    assert_eq!(
        split.classes,
        ["ApplyEyeMakeup", "ApplyLipstick", "Archery"]
    );
    assert_eq!(
        split.train,
        [
            entry("/videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0),
            entry("/videos/ApplyLipstick/v_ApplyLipstick_g08_c01.avi", 1),
            entry("/videos/Archery/v_Archery_g08_c02.avi", 2),
        ]
    );
    // The test list has no labels: the class folder gives them.
    assert_eq!(
        split.test,
        [
            entry("/videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", 0),
            entry("/videos/Archery/v_Archery_g01_c03.avi", 2),
        ]
    );
    let missing = ucf101::read_split(&fixtures("ucf101"), Path::new("/videos"), 2).unwrap_err();
    assert!(missing.to_string().contains("trainlist02.txt"), "{missing}");
}

#[test]
fn ucf101_bad_lines_are_named() {
    let classes = vec!["ApplyEyeMakeup".to_string(), "Archery".to_string()];
    let src = Path::new("trainlist01.txt");
    let wrong = ucf101::parse_list(
        "Archery/v_Archery_g08_c02.avi 1\n",
        src,
        &classes,
        Path::new(""),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        wrong,
        "trainlist01.txt:1: label 1 is not the number of class `Archery` (2)"
    );
    let unknown = ucf101::parse_list("\nYoYo/v_YoYo_g01_c01.avi\n", src, &classes, Path::new(""))
        .unwrap_err()
        .to_string();
    assert_eq!(
        unknown,
        "trainlist01.txt:2: class `YoYo` is not in classInd.txt"
    );
    let order = ucf101::parse_class_index("1 A\n3 C\n", Path::new("classInd.txt"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        order,
        "classInd.txt:2: class number 3 out of order: expected 2"
    );
}

#[test]
fn hmdb51_split_files() {
    let split = hmdb51::read_split(&fixtures("hmdb51"), Path::new("/hmdb"), 1).expect("split 1");
    assert_eq!(split.classes, ["brush_hair", "wave"]);
    assert_eq!(
        split.train,
        [
            entry(
                "/hmdb/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
                0
            ),
            entry("/hmdb/wave/21_wave_u_nm_np1_fr_goo_5.avi", 1),
        ]
    );
    assert_eq!(
        split.test,
        [
            entry(
                "/hmdb/brush_hair/American_History_X_brush_hair_h_cm_np1_fr_med_0.avi",
                0
            ),
            entry(
                "/hmdb/wave/20060723sfjffbartsinger_wave_f_cm_np1_ba_med_0.avi",
                1
            ),
        ]
    );
    // Split 2 has only brush_hair's file here: one class, its video now a test video.
    let split = hmdb51::read_split(&fixtures("hmdb51"), Path::new("/hmdb"), 2).expect("split 2");
    assert_eq!(split.classes, ["brush_hair"]);
    assert!(split.train.is_empty());
    assert_eq!(split.test.len(), 1);
    let none = hmdb51::read_split(&fixtures("hmdb51"), Path::new("/hmdb"), 3).unwrap_err();
    assert!(none.to_string().contains("_test_split3.txt"), "{none}");
    let bad = hmdb51::parse_split_file("a.avi 1\nb.avi 3\n", Path::new("x_test_split1.txt"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        bad,
        "x_test_split1.txt:2: the id `3` is not 1 (train), 2 (test) or 0 (unused)"
    );
}

#[test]
fn something_something_v2_json() {
    let dir = fixtures("ssv2");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("fixture");
    let labels =
        ssv2::parse_labels(&read("labels.json"), Path::new("labels.json")).expect("labels");
    assert_eq!(labels.len(), 3);
    let train = ssv2::parse_videos(
        &read("train.json"),
        Path::new("train.json"),
        &labels,
        Path::new("/ssv2"),
        ssv2::Layout::Webm,
    )
    .expect("train");
    assert_eq!(
        train,
        [
            entry("/ssv2/78687.webm", 1),
            entry("/ssv2/42326.webm", 2),
            entry("/ssv2/100904.webm", 0),
        ]
    );
    let val = ssv2::parse_videos(
        &read("validation.json"),
        Path::new("validation.json"),
        &labels,
        Path::new("/ssv2"),
        ssv2::Layout::Webm,
    )
    .expect("validation");
    assert_eq!(val, [entry("/ssv2/74225.webm", 2)]);
    // Frame folders (PySlowFast's extracted frames): one folder per video id.
    let frames = ssv2::parse_videos(
        &read("validation.json"),
        Path::new("validation.json"),
        &labels,
        Path::new("/frames"),
        ssv2::Layout::FrameFolders,
    )
    .expect("validation");
    assert_eq!(frames, [entry("/frames/74225", 2)]);
    let test = ssv2::parse_videos(
        &read("test.json"),
        Path::new("test.json"),
        &labels,
        Path::new(""),
        ssv2::Layout::Webm,
    )
    .unwrap_err()
    .to_string();
    assert!(
        test.contains("video 1420 (entry 1) has no template"),
        "{test}"
    );
    let unknown = ssv2::parse_videos(
        r#"[{"id": "5", "template": "Spinning [something]"}]"#,
        Path::new("train.json"),
        &labels,
        Path::new(""),
        ssv2::Layout::Webm,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        unknown,
        "train.json: video 5 (entry 1): the template `Spinning something` is not in the label file"
    );
    let broken = ssv2::parse_labels("{\n \"a\": 0\n}", Path::new("labels.json"))
        .unwrap_err()
        .to_string();
    assert!(broken.starts_with("labels.json:2: "), "{broken}");
}

#[test]
fn charades_csv_with_quoted_fields_and_intervals() {
    let path = fixtures("charades").join("Charades_v1_train.csv");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let videos = charades::parse_csv(&text, &path, Path::new("/charades")).expect("parsed");
    assert_eq!(videos.len(), 3);
    assert_eq!(videos[0].id, "46GP8");
    assert_eq!(videos[0].path, PathBuf::from("/charades/46GP8.mp4"));
    assert_eq!(
        videos[0].actions,
        [
            charades::Action {
                class: 92,
                start: 11.9,
                end: 21.2
            },
            charades::Action {
                class: 147,
                start: 0.0,
                end: 12.6
            },
        ]
    );
    assert_eq!(videos[0].length, 24.83);
    // Quoted commas, doubled quotes and a line break inside a field do not split the record.
    assert_eq!(videos[1].id, "N11GT");
    assert_eq!(videos[1].classes(), [73, 75, 98]);
    assert_eq!(videos[1].length, 18.33);
    // A video without actions has no labels.
    assert_eq!(videos[2].id, "ZZXQF");
    assert!(videos[2].actions.is_empty());

    let header = "id,actions,length\n";
    let bad = |row: &str| {
        charades::parse_csv(&format!("{header}{row}"), Path::new("c.csv"), Path::new(""))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad("A,c157 0 1,5\n"),
        "c.csv:2: the class `c157` is not one of c000 … c156"
    );
    assert_eq!(
        bad("A,c001 0 x,5\n"),
        "c.csv:2: the time `x` in `c001 0 x` is not a number"
    );
    assert_eq!(bad("A,c001 0 1\n"), "c.csv:2: 2 fields, the header has 3");
    assert_eq!(
        bad("A,\"c001 0 1,5\n"),
        "c.csv:2: a quoted field is not closed"
    );
    let no_column = charades::parse_csv("id,length\nA,5\n", Path::new("c.csv"), Path::new(""))
        .unwrap_err()
        .to_string();
    assert_eq!(no_column, "c.csv:1: the header has no `actions` column");
}

/// The recipe functions' datasets (`ucf101(...)`, `hmdb51(...)`, `ssv2(...)`, `charades(...)` → [`DataSource`])
/// open through the parsers: the split a spec names, the train and test lists, and Charades' class sets.
mod opened {
    use super::*;
    use vst_data::dataset::{OpenedDataset, open_dataset};
    use vst_data::video::DecoderKind;
    use vst_spec::{DataSource, DatasetSpec};

    fn open(source: DataSource) -> vst_data::error::Result<OpenedDataset> {
        let spec = DatasetSpec {
            name: "d".into(),
            source,
        };
        open_dataset(&spec, Path::new("unused"), DecoderKind::OpenH264, 1)
    }

    #[test]
    fn ucf101_reads_the_split_its_spec_names() {
        let source = |split| DataSource::Ucf101 {
            root: fixtures("ucf101"),
            videos: PathBuf::from("/videos"),
            lists: fixtures("ucf101"),
            split,
        };
        let opened = open(source(1)).expect("split 1");
        assert_eq!((opened.train.len(), opened.val.len()), (3, 2));
        assert_eq!(
            opened.val[1],
            entry("/videos/Archery/v_Archery_g01_c03.avi", 2)
        );
        assert!(opened.label_sets.is_none());
        // The fixture has no split 2: the error names the missing list.
        let missing = open(source(2)).err().expect("no split 2").to_string();
        assert!(missing.contains("trainlist02.txt"), "{missing}");
    }

    #[test]
    fn hmdb51_reads_the_split_its_spec_names() {
        let source = |split| DataSource::Hmdb51 {
            root: fixtures("hmdb51"),
            videos: PathBuf::from("/hmdb"),
            splits: fixtures("hmdb51"),
            split,
        };
        let one = open(source(1)).expect("split 1");
        let two = open(source(2)).expect("split 2");
        assert!(!one.train.is_empty() && !one.val.is_empty());
        assert_ne!(
            (one.train.clone(), one.val.clone()),
            (two.train, two.val),
            "another split, other lists"
        );
    }

    #[test]
    fn ssv2_reads_its_json_annotations() {
        let dir = fixtures("ssv2");
        let opened = open(DataSource::Ssv2 {
            root: dir.clone(),
            videos: PathBuf::from("/ssv2"),
            labels: dir.join("labels.json"),
            train: dir.join("train.json"),
            val: dir.join("validation.json"),
            frames_fps: None,
        })
        .expect("opens");
        assert!(!opened.train.is_empty() && !opened.val.is_empty());
        assert!(
            opened
                .train
                .iter()
                .all(|e| e.path.extension().is_some_and(|x| x == "webm"))
        );
        // The test set's file has no labels: naming it as the validation set is an error naming the file.
        let wrong = open(DataSource::Ssv2 {
            root: dir.clone(),
            videos: PathBuf::from("/ssv2"),
            labels: dir.join("labels.json"),
            train: dir.join("train.json"),
            val: dir.join("test.json"),
            frames_fps: None,
        })
        .err()
        .expect("test.json has no labels")
        .to_string();
        assert!(wrong.contains("test.json"), "{wrong}");
    }

    #[test]
    fn charades_videos_index_their_class_sets() {
        let csv = fixtures("charades").join("Charades_v1_train.csv");
        let opened = open(DataSource::Charades {
            root: fixtures("charades"),
            videos: PathBuf::from("/charades"),
            train: csv.clone(),
            val: csv,
        })
        .expect("opens");
        let sets = opened.label_sets.as_ref().expect("multi-label");
        assert_eq!(sets.classes, 157);
        assert_eq!((opened.train.len(), opened.val.len()), (3, 3));
        let classes = |e: &VideoEntry| sets.sets[e.label as usize].clone();
        assert_eq!(opened.train[0].path, PathBuf::from("/charades/46GP8.mp4"));
        assert_eq!(classes(&opened.train[0]), [92, 147]);
        assert_eq!(classes(&opened.train[1]), [73, 75, 98]);
        // A video without actions has no class, and the validation videos have their own entries.
        assert_eq!(classes(&opened.train[2]), Vec::<u32>::new());
        assert_eq!(classes(&opened.val[1]), [73, 75, 98]);
        assert_ne!(opened.val[1].label, opened.train[1].label);
    }
}
