//! `annotask export` (issue 27): the real binary on real projects whose work files are written
//! as people's would be; each format read back by a library nobody here wrote (pycocotools
//! for COCO, Python's xml and csv modules for VOC, YOLO's text files and CSV); consensus
//! exporting one copy, undecided inputs left out and counted, a rebuilt index giving the same
//! bytes; a table of bad inputs that write nothing; and the server's streamed route.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::python::python;
use crate::common::{Project, Server};

const DETECT: &str = "type: BOUNDING_BOX_DETECTION\nconcept_ids: [car, truck]\n\
    input_source: {type: DATASET, id: street}\n\
    worker: {strategy: FULL, user_ids: [ann]}\nreview: {strategy: NONE}\n";

const CLASSIFY: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
    input_source: {type: DATASET, id: street}\n\
    worker: {strategy: FULL, user_ids: [ann]}\nreview: {strategy: NONE}\n";

/// Three workers on every input; two who agree approve it.
const CONSENSUS: &str = "type: BOUNDING_BOX_DETECTION\nconcept_ids: [car, truck]\n\
    input_source: {type: DATASET, id: street}\n\
    worker: {strategy: FULL, user_ids: [ann, bob, carl]}\n\
    review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n";

/// The first bytes of a PNG of this size: all an image-size reader looks at.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

/// Work lines, as the server writes them.
struct Work(Vec<String>);

impl Work {
    fn new() -> Work {
        Work(Vec::new())
    }

    fn line(&mut self, event: &str, body: Value) -> &mut Work {
        let second = self.0.len();
        let line = json!({"at": format!("2026-12-01T10:00:{second:02}Z"), event: body});
        self.0.push(line.to_string());
        self
    }

    /// An annotation of boxes `[top, left, bottom, right]` with a concept each.
    fn boxes(&mut self, id: &str, input: &str, boxes: &[([f32; 4], &str)]) -> &mut Work {
        let regions: Vec<Value> = boxes
            .iter()
            .map(|(b, concept)| {
                json!({"region_info": {"bounding_box": {"top_row": b[0], "left_col": b[1], "bottom_row": b[2], "right_col": b[3]}},
                       "data": {"concepts": [{"id": concept, "value": 1}]}})
            })
            .collect();
        self.line(
            "annotation",
            json!({"id": id, "input_id": input, "data": {"regions": regions}}),
        )
    }

    fn polygon(
        &mut self,
        id: &str,
        input: &str,
        points: &[(f32, f32)],
        concept: &str,
    ) -> &mut Work {
        let points: Vec<Value> = points
            .iter()
            .map(|(row, col)| json!({"row": row, "col": col}))
            .collect();
        self.line(
            "annotation",
            json!({"id": id, "input_id": input, "data": {"regions": [
                {"region_info": {"polygon": {"points": points}}, "data": {"concepts": [{"id": concept}]}}]}}),
        )
    }

    fn concepts(&mut self, id: &str, input: &str, concepts: &[(&str, u8)]) -> &mut Work {
        let concepts: Vec<Value> = concepts
            .iter()
            .map(|(c, v)| json!({"id": c, "value": v}))
            .collect();
        self.line(
            "annotation",
            json!({"id": id, "input_id": input, "data": {"concepts": concepts}}),
        )
    }

    fn submit(&mut self, input: &str) -> &mut Work {
        self.line("submit", json!({"input_id": input}))
    }

    fn review(&mut self, input: &str, worker: &str, decision: &str) -> &mut Work {
        self.line(
            "review",
            json!({"input_id": input, "worker": worker, "submission": 1, "decision": decision}),
        )
    }

    fn save(&self, project: &Project, task: &str, user: &str) {
        project.write(
            &format!("work/{task}/{user}.jsonl"),
            &(self.0.join("\n") + "\n"),
        );
    }
}

/// A dataset line: id, url, the size it states.
type Line<'a> = (&'a str, &'a str, Option<(u32, u32)>);

/// A dataset line per (id, url, stated size).
fn dataset(project: &Project, inputs: &[Line<'_>]) {
    let lines: Vec<String> = inputs
        .iter()
        .map(|(id, url, size)| {
            let mut image = json!({"url": url});
            if let Some((w, h)) = size {
                image["image_info"] = json!({"width": w, "height": h});
            }
            json!({"id": id, "data": {"image": image}}).to_string()
        })
        .collect();
    project.write("inputs/street.jsonl", &(lines.join("\n") + "\n"));
}

/// A detection project: a local PNG (640x480, its line saying 1x1: the file wins), a remote
/// image with its size in the line, a polygon, an input nobody labeled.
fn detection() -> Project {
    let project = Project::new();
    // By its path from the project's root, as the app shows it.
    fs::create_dir_all(project.path("img")).unwrap();
    fs::write(project.path("img/a.png"), png(640, 480)).unwrap();
    dataset(
        &project,
        &[
            ("a", "img/a.png", Some((1, 1))),
            ("b", "https://example.com/b.jpg", Some((1000, 500))),
            ("c", "https://example.com/c.jpg?v=2", Some((200, 100))),
            ("d", "https://example.com/d.jpg", Some((10, 10))),
        ],
    );
    project.write("tasks/street.yaml", DETECT);
    Work::new()
        .boxes(
            "a1",
            "a",
            &[
                ([0.1, 0.2, 0.5, 0.6], "car"),
                ([0.0, 0.0, 1.0, 1.0], "truck"),
            ],
        )
        .submit("a")
        .boxes("b1", "b", &[([0.25, 0.125, 0.75, 0.5], "truck")])
        .submit("b")
        .polygon("c1", "c", &[(0.1, 0.1), (0.1, 0.5), (0.6, 0.3)], "car")
        .submit("c")
        .save(&project, "street", "ann");
    project
}

/// Runs a Python script with arguments; its stdout.
#[track_caller]
fn py(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `annotask export ARGS` that must succeed; its stderr.
#[track_caller]
fn export(project: &Project, args: &[&str]) -> String {
    let out = project.run(&[&["export"], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "export {args:?} failed: {stderr}");
    stderr
}

#[test]
fn coco_loads_in_pycocotools_with_boxes_to_the_pixel() {
    let project = detection();
    let out = project.path("out/street.json");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let said = export(
        &project,
        &["street", "--format", "coco", "--out", out.to_str().unwrap()],
    );
    assert!(
        said.starts_with("3 inputs exported, 1 not final yet: 1 pending"),
        "{said}"
    );
    let script = r#"
import json, sys
from pycocotools.coco import COCO
coco = COCO(sys.argv[1])
images = {i["file_name"]: (i["width"], i["height"]) for i in coco.loadImgs(coco.getImgIds())}
cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
anns = []
for img in sorted(coco.getImgIds()):
    for a in coco.loadAnns(coco.getAnnIds(imgIds=[img])):
        anns.append([coco.imgs[img]["file_name"], cats[a["category_id"]], [round(v, 2) for v in a["bbox"]], a.get("segmentation", [])])
print(json.dumps({"images": images, "anns": anns, "cats": [cats[i] for i in sorted(cats)]}))
"#;
    // pycocotools says what it does on stdout first; the answer is the last line.
    let printed = py(script, &[out.to_str().unwrap()]);
    let got: Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();
    assert_eq!(got["cats"], json!(["car", "truck"]));
    assert_eq!(
        got["images"],
        json!({"img/a.png": [640, 480], "https://example.com/b.jpg": [1000, 500], "https://example.com/c.jpg?v=2": [200, 100]})
    );
    // Pixels: x = left * width, y = top * height.
    assert_eq!(
        got["anns"],
        json!([
            ["img/a.png", "car", [128.0, 48.0, 256.0, 192.0], []],
            ["img/a.png", "truck", [0.0, 0.0, 640.0, 480.0], []],
            [
                "https://example.com/b.jpg",
                "truck",
                [125.0, 125.0, 375.0, 250.0],
                []
            ],
            [
                "https://example.com/c.jpg?v=2",
                "car",
                [20.0, 10.0, 80.0, 50.0],
                [[20.0, 10.0, 100.0, 10.0, 60.0, 60.0]]
            ],
        ])
    );
}

/// Every file under a folder, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn yolo_folder_reads_back_as_ultralytics_lays_it_out() {
    use std::os::unix::fs::MetadataExt;
    let project = detection();
    let out = project.path("yolo");
    export(
        &project,
        &["street", "--format", "yolo", "--out", out.to_str().unwrap()],
    );
    let files: Vec<String> = tree(&out).into_keys().collect();
    assert_eq!(
        files,
        [
            "data.yaml",
            "images/a.png",
            "labels/a.txt",
            "labels/b.txt",
            "labels/c.txt",
            "remote_images.txt"
        ]
    );
    // The local image is the project's file, linked, not a copy.
    let linked = |p: &Path| fs::metadata(p).unwrap().ino();
    assert_eq!(
        linked(&out.join("images/a.png")),
        linked(&project.path("img/a.png"))
    );
    // A reader as YOLO tools have it: names from data.yaml, `class cx cy w h` lines.
    let script = r##"
import json, os, sys
root = sys.argv[1]
names = {}
for line in open(os.path.join(root, "data.yaml")):
    line = line.split("#")[0].rstrip()
    if line.startswith("  ") and ":" in line:
        k, v = line.strip().split(":", 1)
        names[int(k)] = json.loads(v.strip())
labels = {}
for f in sorted(os.listdir(os.path.join(root, "labels"))):
    rows = [l.split() for l in open(os.path.join(root, "labels", f)) if l.strip()]
    labels[f[:-4]] = [[names[int(r[0])]] + [round(float(x), 4) for x in r[1:]] for r in rows]
print(json.dumps(labels))
"##;
    let got: Value = serde_json::from_str(&py(script, &[out.to_str().unwrap()])).unwrap();
    assert_eq!(
        got,
        json!({
            "a": [["car", 0.4, 0.3, 0.4, 0.4], ["truck", 0.5, 0.5, 1.0, 1.0]],
            "b": [["truck", 0.3125, 0.5, 0.375, 0.5]],
            "c": [["car", 0.3, 0.35, 0.4, 0.5]],
        })
    );
    let remote = fs::read_to_string(out.join("remote_images.txt")).unwrap();
    assert_eq!(
        remote,
        "images/b.jpg\thttps://example.com/b.jpg\nimages/c.jpg\thttps://example.com/c.jpg?v=2\n"
    );
}

#[test]
fn voc_reads_back_with_pythons_xml() {
    let project = detection();
    let out = project.path("voc");
    export(
        &project,
        &["street", "--format", "voc", "--out", out.to_str().unwrap()],
    );
    let script = r#"
import json, os, sys
import xml.etree.ElementTree as ET
root = os.path.join(sys.argv[1], "Annotations")
got = {}
for f in sorted(os.listdir(root)):
    a = ET.parse(os.path.join(root, f)).getroot()
    size = a.find("size")
    objects = [[o.findtext("name")] + [int(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
               for o in a.findall("object")]
    got[a.findtext("filename")] = [int(size.findtext("width")), int(size.findtext("height")), objects]
print(json.dumps(got))
"#;
    let got: Value = serde_json::from_str(&py(script, &[out.to_str().unwrap()])).unwrap();
    assert_eq!(
        got,
        json!({
            "a.png": [640, 480, [["car", 128, 48, 384, 240], ["truck", 0, 0, 640, 480]]],
            "b.jpg": [1000, 500, [["truck", 125, 125, 500, 375]]],
            "c.jpg": [200, 100, [["car", 20, 10, 100, 60]]],
        })
    );
    assert_eq!(
        fs::read_to_string(out.join("ImageSets/Main/default.txt")).unwrap(),
        "a\nb\nc\n"
    );
}

#[test]
fn csv_reads_back_with_pythons_csv() {
    let project = Project::new();
    dataset(
        &project,
        &[
            ("a", "https://example.com/a,1.jpg", None),
            ("b", "https://example.com/b.jpg", None),
            ("c", "https://example.com/c.jpg", None),
        ],
    );
    project.write("tasks/pets.yaml", CLASSIFY);
    Work::new()
        .concepts("a1", "a", &[("cat", 1), ("dog", 0)])
        .submit("a")
        .concepts("b1", "b", &[("dog", 1)])
        .submit("b")
        .concepts("c1", "c", &[("cat", 1)])
        .save(&project, "pets", "ann");
    let out = project.path("pets.csv");
    let said = export(
        &project,
        &["pets", "--format", "csv", "--out", out.to_str().unwrap()],
    );
    assert!(
        said.starts_with("2 inputs exported, 1 not final yet: 1 pending"),
        "{said}"
    );
    let script = r#"
import csv, json, sys
print(json.dumps(list(csv.DictReader(open(sys.argv[1], newline="")))))
"#;
    let got: Value = serde_json::from_str(&py(script, &[out.to_str().unwrap()])).unwrap();
    assert_eq!(
        got,
        json!([
            {"input_id": "a", "url": "https://example.com/a,1.jpg", "cat": "1", "dog": "0"},
            {"input_id": "b", "url": "https://example.com/b.jpg", "cat": "", "dog": "1"},
        ])
    );
    // With --include-pending, the unsubmitted label comes too, and says it is not final.
    let out = project.path("all.csv");
    export(
        &project,
        &[
            "pets",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            "--include-pending",
        ],
    );
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "input_id,url,cat,dog,final\r\na,\"https://example.com/a,1.jpg\",1,0,true\r\n\
         b,https://example.com/b.jpg,,1,true\r\nc,https://example.com/c.jpg,1,,false\r\n"
    );
}

/// in-1: ann and bob agree, carl is outvoted; in-2: nobody agrees (awaiting review); in-3: ann
/// alone so far (pending); in-4: nobody agreed, and rita approved bob's and rejected the
/// others'; in-5: untouched.
fn consensus() -> Project {
    let project = Project::new();
    let inputs: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("in-{i}"), format!("https://x/{i}.jpg")))
        .collect();
    let inputs: Vec<Line<'_>> = inputs
        .iter()
        .map(|(id, url)| (id.as_str(), url.as_str(), Some((100, 100))))
        .collect();
    dataset(&project, &inputs);
    project.write("tasks/cars.yaml", CONSENSUS);
    let car = |shift: f32| [([0.1 + shift, 0.1, 0.5, 0.5], "car")];
    Work::new()
        .boxes("a1", "in-1", &car(0.0))
        .submit("in-1")
        .boxes("a2", "in-2", &car(0.0))
        .submit("in-2")
        .boxes("a3", "in-3", &car(0.0))
        .submit("in-3")
        .boxes("a4", "in-4", &car(0.0))
        .submit("in-4")
        .save(&project, "cars", "ann");
    Work::new()
        .boxes("b1", "in-1", &car(0.01))
        .submit("in-1")
        .boxes("b2", "in-2", &[([0.6, 0.6, 0.9, 0.9], "truck")])
        .submit("in-2")
        .boxes("b4", "in-4", &[([0.6, 0.6, 0.9, 0.9], "truck")])
        .submit("in-4")
        .save(&project, "cars", "bob");
    Work::new()
        .boxes("c1", "in-1", &[([0.6, 0.6, 0.9, 0.9], "truck")])
        .submit("in-1")
        .boxes("c2", "in-2", &[([0.0, 0.0, 0.2, 0.2], "car")])
        .submit("in-2")
        .boxes("c4", "in-4", &[([0.0, 0.0, 0.2, 0.2], "car")])
        .submit("in-4")
        .save(&project, "cars", "carl");
    Work::new()
        .review("in-4", "bob", "APPROVE")
        .review("in-4", "ann", "REJECT")
        .review("in-4", "carl", "REJECT")
        .save(&project, "cars", "rita");
    project
}

#[test]
fn consensus_exports_one_copy_and_leaves_undecided_inputs_out() {
    let project = consensus();
    let out = project.path("cars.jsonl");
    let said = export(
        &project,
        &["cars", "--format", "jsonl", "--out", out.to_str().unwrap()],
    );
    assert_eq!(
        said.lines().next().unwrap(),
        format!(
            "2 inputs exported, 3 not final yet: 1 awaiting review, 2 pending -> {}",
            out.display()
        )
    );
    let lines: Vec<Value> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<Value> = lines
        .iter()
        .map(|l| {
            let ids: Vec<&Value> = l["annotations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| &a["id"])
                .collect();
            json!([
                l["input_id"],
                l["how"],
                l["worker"],
                l["agreed"],
                l["reviewer"],
                ids
            ])
        })
        .collect();
    // One copy of the agreed label (the first agreeing worker's geometry), not two.
    assert_eq!(
        summary,
        [
            json!(["in-1", "consensus", "ann", ["ann", "bob"], null, ["a1"]]),
            json!(["in-4", "reviewed", "bob", ["bob"], "rita", ["b4"]]),
        ]
    );
    // COCO holds one box for in-1, from ann.
    let coco = project.path("cars.json");
    export(
        &project,
        &["cars", "--format", "coco", "--out", coco.to_str().unwrap()],
    );
    let coco: Value = serde_json::from_str(&fs::read_to_string(coco).unwrap()).unwrap();
    let boxes: Vec<&Value> = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["bbox"])
        .collect();
    assert_eq!(
        boxes,
        [
            &json!([10.0, 10.0, 40.0, 40.0]),
            &json!([60.0, 60.0, 30.0, 30.0])
        ]
    );
}

#[test]
fn a_rebuilt_index_exports_the_same_bytes() {
    let project = consensus();
    let formats = ["coco", "yolo", "voc", "jsonl"];
    let read = |path: &Path| {
        if path.is_dir() {
            tree(path)
        } else {
            BTreeMap::from([(String::new(), fs::read(path).unwrap())])
        }
    };
    let mut first = Vec::new();
    for format in formats {
        let out = project.path(&format!("first-{format}"));
        export(
            &project,
            &["cars", "--format", format, "--out", out.to_str().unwrap()],
        );
        first.push(read(&out));
    }
    fs::remove_dir_all(project.path(".annotask")).unwrap();
    for (format, first) in formats.iter().zip(first) {
        let out = project.path(&format!("second-{format}"));
        export(
            &project,
            &["cars", "--format", format, "--out", out.to_str().unwrap()],
        );
        assert!(read(&out) == first, "{format} differs after a rebuild");
        // And again over it, with --force.
        export(
            &project,
            &[
                "cars",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
                "--force",
            ],
        );
        assert!(read(&out) == first, "{format} differs after --force");
    }
}

/// Runs an export that must fail, naming `expected`; nothing may appear at `out` or beside it.
#[track_caller]
fn refused(project: &Project, args: &[&str], out: &str, expected: &str) {
    let before = tree(project.root());
    let output = project.run(&[&["export"], args].concat());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected {expected:?} in:\n{stderr}"
    );
    let mut after = tree(project.root());
    after.retain(|path, _| !path.starts_with(".annotask/"));
    let mut before = before;
    before.retain(|path, _| !path.starts_with(".annotask/"));
    assert!(after == before, "{args:?} wrote something ({out})");
}

#[test]
fn bad_inputs_are_refused_and_nothing_is_written() {
    let project = detection();
    project.write("tasks/pets.yaml", CLASSIFY);
    project.write("taken.json", "{}");
    project.write("stranger/notes.txt", "mine");
    // A remote image whose line states no size.
    project.write(
        "inputs/street.jsonl",
        &(fs::read_to_string(project.path("inputs/street.jsonl")).unwrap()
            + "{\"id\": \"e\", \"data\": {\"image\": {\"url\": \"https://example.com/e.jpg\"}}}\n"),
    );
    let mut more = Work::new();
    more.boxes("e1", "e", &[([0.1, 0.1, 0.2, 0.2], "car")])
        .submit("e");
    let work = project.path("work/street/ann.jsonl");
    let text = fs::read_to_string(&work).unwrap() + &more.0.join("\n") + "\n";
    fs::write(&work, text).unwrap();
    let out = |p: &str| project.path(p).display().to_string();
    #[rustfmt::skip]
    let cases: [(&[&str], &str, &str); 11] = [
        (&["nope", "--format", "coco"], "x.json", "no task with id `nope`"),
        (&["street", "--format", "csv"], "x.csv", "csv holds only CONCEPTS_CLASSIFICATION tasks"),
        (&["pets", "--format", "coco"], "x.json", "formats for this task: csv, jsonl"),
        (&["pets", "--format", "yolo"], "x", "yolo holds only BOUNDING_BOX_DETECTION"),
        (&["street", "--format", "jsonl"], "tasks/x.jsonl", "inside the project's `tasks/` folder"),
        (&["street", "--format", "jsonl"], "inputs/x.jsonl", "inside the project's `inputs/` folder"),
        (&["street", "--format", "voc"], "work/x", "inside the project's `work/` folder"),
        (&["street", "--format", "jsonl"], "taken.json", "taken.json` exists\n    hint: pass --force to replace it"),
        (&["street", "--format", "yolo", "--force"], "stranger", "holds files a yolo export does not write (notes.txt)"),
        (&["street", "--format", "coco"], "no/such/x.json", "does not exist"),
        (&["street", "--format", "coco"], "x.json", "1 input is without a known image size: e"),
    ];
    for (args, path, expected) in cases {
        let out = out(path);
        refused(
            &project,
            &[args, &["--out", out.as_str()]].concat(),
            path,
            expected,
        );
    }
    // The project itself, as a folder to replace.
    let root = project.root().display().to_string();
    refused(
        &project,
        &["street", "--format", "yolo", "--force", "--out", &root],
        ".",
        "holds the project",
    );
    // --allow-missing-sizes leaves the input out and says so.
    let said = export(
        &project,
        &[
            "street",
            "--format",
            "coco",
            "--out",
            &out("x.json"),
            "--allow-missing-sizes",
        ],
    );
    assert!(said.contains("1 left out without an image size"), "{said}");
    assert!(
        said.contains("warning: left out for want of an image size: e"),
        "{said}"
    );
}

#[test]
fn the_server_streams_exports_to_the_tasks_people_only() {
    let project = consensus();
    let server = Server::start(project.root(), &[] as &[&str], &[]);
    let get = |user: &str, query: &str| -> (u16, String, Vec<u8>) {
        let url = format!(
            "{}/v2/users/{user}/apps/main/tasks/cars/export?{query}",
            server.base
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(&url).call().unwrap();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.body_mut().read_to_vec().unwrap();
        (response.status().as_u16(), kind, body)
    };
    let cli = project.path("cars.jsonl");
    export(
        &project,
        &["cars", "--format", "jsonl", "--out", cli.to_str().unwrap()],
    );
    // The same bytes as the command writes, for a worker and for a reviewer.
    for user in ["ann", "rita"] {
        let (status, kind, body) = get(user, "format=jsonl");
        assert_eq!((status, kind.as_str()), (200, "application/x-ndjson"));
        assert_eq!(body, fs::read(&cli).unwrap());
    }
    let (status, _, body) = get("zed", "format=jsonl");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = get("ann", "format=csv");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = get("ann", "fromat=coco");
    assert!(
        status == 400 && String::from_utf8_lossy(&body).contains("did you mean `format`"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A folder format comes as a tar of the folder.
    let (status, kind, body) = get("ann", "format=voc");
    assert_eq!((status, kind.as_str()), (200, "application/x-tar"));
    let tar = project.path("voc.tar");
    fs::write(&tar, body).unwrap();
    let listed = py(
        "import sys, tarfile; print(sorted(tarfile.open(sys.argv[1]).getnames()))",
        &[tar.to_str().unwrap()],
    );
    assert_eq!(
        listed.trim(),
        "['Annotations/in-1.xml', 'Annotations/in-4.xml', 'ImageSets/Main/default.txt']"
    );
}

/// A project with the detection task, and a second task over the same inputs where zoe and
/// ann label everything, nobody has labeled yet.
fn importable() -> Project {
    let project = detection();
    project.write(
        "tasks/again.yaml",
        &DETECT.replace("user_ids: [ann]", "user_ids: [ann, zoe]"),
    );
    project
}

#[test]
fn export_then_import_then_export_gives_the_same_file() {
    let project = importable();
    for (format, out) in [
        ("coco", "first.json"),
        ("jsonl", "first.jsonl"),
        ("yolo", "first-yolo"),
    ] {
        let first = project.path(out);
        export(
            &project,
            &[
                "street",
                "--format",
                format,
                "--out",
                first.to_str().unwrap(),
            ],
        );
        // Into zoe's work on the other task, submitted there, and out again.
        let imported = project.run(&[
            "import",
            "again",
            "--format",
            format,
            first.to_str().unwrap(),
            "--as",
            "zoe",
        ]);
        assert!(
            imported.status.success(),
            "{}",
            String::from_utf8_lossy(&imported.stderr)
        );
        // Importing the same file again changes nothing.
        let before = fs::read(project.path("work/again/zoe.jsonl")).unwrap();
        let again = project.run(&[
            "import",
            "again",
            "--format",
            format,
            first.to_str().unwrap(),
            "--as",
            "zoe",
        ]);
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(
            said.starts_with("0 annotations appended"),
            "{format}: {said}"
        );
        assert_eq!(
            fs::read(project.path("work/again/zoe.jsonl")).unwrap(),
            before
        );
        let mut submits = Work::new();
        for input in ["a", "b", "c"] {
            submits.submit(input);
        }
        let work = project.path("work/again/zoe.jsonl");
        let text = fs::read_to_string(&work).unwrap() + &submits.0.join("\n") + "\n";
        fs::write(&work, text).unwrap();
        let second = project.path(&format!("second-{out}"));
        // Only zoe's labels are final on `again`: ann labels nothing there.
        project.write(
            "tasks/again.yaml",
            &DETECT.replace("user_ids: [ann]", "user_ids: [zoe]"),
        );
        export(
            &project,
            &[
                "again",
                "--format",
                format,
                "--out",
                second.to_str().unwrap(),
            ],
        );
        let read = |p: &Path| {
            if p.is_dir() {
                tree(p)
            } else {
                BTreeMap::from([(String::new(), fs::read(p).unwrap())])
            }
        };
        let (first, second) = (read(&first), read(&second));
        match format {
            // The task id is in COCO's description; everything else is the same.
            "coco" => assert_eq!(
                String::from_utf8_lossy(&first[""]).replace("task street", "task again"),
                String::from_utf8_lossy(&second[""])
            ),
            // The annotations are zoe's now, made by the import.
            "jsonl" => {
                let boxes = |bytes: &[u8]| -> Vec<Value> {
                    String::from_utf8_lossy(bytes)
                        .lines()
                        .map(|l| {
                            let v: Value = serde_json::from_str(l).unwrap();
                            json!([
                                v["input_id"],
                                v["annotations"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|a| a["data"]["regions"].clone())
                                    .collect::<Vec<_>>()
                            ])
                        })
                        .collect()
                };
                assert_eq!(boxes(&first[""]), boxes(&second[""]));
            }
            _ => {
                let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
                assert_eq!(names(&first), names(&second), "{format}");
                for (name, bytes) in &first {
                    assert_eq!(
                        String::from_utf8_lossy(bytes).replace("task street", "task again"),
                        String::from_utf8_lossy(&second[name]),
                        "{format}: {name}"
                    );
                }
            }
        }
        // Start over for the next format.
        fs::remove_file(project.path("work/again/zoe.jsonl")).unwrap();
        project.write(
            "tasks/again.yaml",
            &DETECT.replace("user_ids: [ann]", "user_ids: [ann, zoe]"),
        );
    }
}

/// A disk that fills up part way through an import: the work file goes back to what it was,
/// and the next import appends it whole.
#[test]
fn an_import_that_cannot_be_written_whole_leaves_the_work_file_as_it_was() {
    let project = importable();
    Work::new()
        .boxes("mine", "b", &[([0.1, 0.1, 0.2, 0.2], "car")])
        .save(&project, "again", "zoe");
    let boxes: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                r#"{{"image_id": 1, "category_id": 1, "bbox": [{}, 1, 2, 2]}}"#,
                i % 600
            )
        })
        .collect();
    project.write(
        "many.json",
        &format!(
            r#"{{"images": [{{"id": 1, "file_name": "img/a.png", "width": 640, "height": 480}}], "categories": [{{"id": 1, "name": "car"}}], "annotations": [{}]}}"#,
            boxes.join(", ")
        ),
    );
    assert!(project.run(&["sync"]).status.success());
    let work = project.path("work/again/zoe.jsonl");
    let before = fs::read(&work).unwrap();
    let many = project.path("many.json");
    let import = [
        "import",
        "again",
        "--format",
        "coco",
        many.to_str().unwrap(),
        "--as",
        "zoe",
    ];
    // The import's one line is some 300 KB; no file may grow past 64 KB (128 blocks of 512
    // bytes), room enough for the index's shared memory file. The signal a process gets for
    // writing past the limit is ignored, so the write fails instead.
    let mut limited = Command::new("sh");
    limited
        .args(["-c", r#"trap "" XFSZ; ulimit -f 128; exec "$0" "$@""#])
        .arg(crate::common::BIN)
        .arg("--root")
        .arg(project.root())
        .args(import);
    let out = limited.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    let after = fs::read(&work).unwrap();
    assert!(
        after == before,
        "the work file has {} bytes, not its {}",
        after.len(),
        before.len()
    );
    let out = project.run(&import);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&work).unwrap();
    assert!(text.starts_with(std::str::from_utf8(&before).unwrap()));
    assert_eq!(text.lines().count(), 2);
}

#[test]
fn bad_import_files_are_located_and_append_nothing() {
    let project = importable();
    let coco = |images: &str, annotations: &str| {
        format!(
            r#"{{"images": {images}, "categories": [{{"id": 1, "name": "car"}}, {{"id": 2, "name": "truk"}}], "annotations": {annotations}}}"#
        )
    };
    let one_image = r#"[{"id": 1, "file_name": "img/a.png", "width": 640, "height": 480}]"#;
    project.write(
        "inputs/twins.jsonl",
        "{\"id\": \"t1\", \"data\": {\"image\": {\"url\": \"https://x/one/same.jpg\"}}}\n{\"id\": \"t2\", \"data\": {\"image\": {\"url\": \"https://y/two/same.jpg\"}}}\n",
    );
    project.write(
        "tasks/twins.yaml",
        &DETECT.replace("id: street", "id: twins"),
    );
    #[rustfmt::skip]
    let cases: [(&str, &str, &str, String, &str); 17] = [
        ("again", "coco", "x.json", "{\"images\": [".into(), "not JSON: EOF while parsing a list at line 1 column 12"),
        ("again", "coco", "x.json", "[1, 2]".into(), "x.json:1:2: error: not COCO: invalid type: integer `1`, expected a COCO annotation (an object)"),
        ("again", "coco", "x.json", coco(r#"[{"id": 1, "file_name": "nothing.png"}]"#, r#"[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}]"#), "annotations[0]: `nothing.png` matches no input of the task"),
        ("twins", "coco", "x.json", coco(r#"[{"id": 1, "file_name": "same.jpg", "width": 10, "height": 10}]"#, r#"[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}]"#), "`same.jpg` matches 2 inputs by file name: t1, t2"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 1, "bbox": [600, 1, 100, 2]}]"#), "annotations[0]: box [600, 1, 100, 2] lies outside the 640x480 image"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 2, "bbox": [1, 1, 2, 2]}]"#), "`truk` is not one of task `again`'s concepts\n    hint: did you mean `truck`?"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 7, "bbox": [1, 1, 2, 2]}]"#), "annotations[0].category_id: category 7 is not in `categories`"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]}]"#), "annotations[0].image_id: no image in `images` has id 9"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1.0, "category_id": 1, "bbox": [1, 1, 2, 2]}]"#), "annotations[0].image_id: no image in `images` has id 1.0"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": {"id": 1}, "category_id": 1, "bbox": [1, 1, 2, 2]}]"#), "annotations[0].image_id: an annotation needs an `image_id`"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 1, "bbox": [1, [1], 2, 2]}, {"image_id": 1, "category_id": 1, "bbox": {"x": 1}}]"#), "annotations[1].bbox: `bbox` is 4 numbers"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 1, "bbox": [1, "1", 2, 2]}]"#), "annotations[0].bbox: `bbox` is 4 numbers"),
        ("again", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "score": "high"}]"#), "annotations[0].score: `score` is a number"),
        ("again", "jsonl", "x.jsonl", "{\"input_id\": \"a\", \"annotations\": []}\n{\"input_id\": \"zz\"}\n".into(), "x.jsonl:2:1: error: no input of the task has id `zz`"),
        ("again", "jsonl", "x.jsonl", r#"{"input_id": "a", "annotations": [{"id": "x", "data": {"concept": "bird"}}]}"#.into(), "x.jsonl:1:1: error: annotations[0].data.concept: unknown key `concept`\n    hint: did you mean `concepts`?"),
        ("again", "jsonl", "x.jsonl", r#"{"input_id": "a", "annotations": [{"id": "x", "bogus": 1, "data": {"regions": [{"region_info": {"bounding_box": {"top_row": 0, "left_col": 0, "bottom_row": 1, "rigth_col": 1}}}]}}]}"#.into(), "annotations[0].data.regions[0].region_info.bounding_box.rigth_col: unknown key `rigth_col`\n    hint: did you mean `right_col`?"),
        ("street", "coco", "x.json", coco(one_image, r#"[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}]"#), "`ann` has submitted input `a` of task `street`"),
    ];
    for (task, format, name, text, expected) in cases {
        project.write(name, &text);
        let file = project.path(name);
        let user = if task == "street" { "ann" } else { "zoe" };
        let before = tree(&project.path("work"));
        let out = project.run(&[
            "import",
            task,
            "--format",
            format,
            file.to_str().unwrap(),
            "--as",
            user,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{text}: expected {expected:?} in:\n{stderr}"
        );
        assert!(
            tree(&project.path("work")) == before,
            "{text}: appended something"
        );
    }
    // A YOLO label line that is not one, and a class no name is given for.
    project.write("yolo/labels/a.txt", "0 0.5 0.5 0.2 0.2\n0 0.5 0.5\n");
    project.write("yolo/labels/b.txt", "5 0.5 0.5 0.2 0.2\n");
    let out = project.run(&[
        "import",
        "again",
        "--format",
        "yolo",
        project.path("yolo").to_str().unwrap(),
        "--as",
        "zoe",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.txt:2:1: error: a label line has 5 or 6 fields, not 3"),
        "{stderr}"
    );
    assert!(
        stderr.contains("b.txt:1:1: error: class 5 has no name"),
        "{stderr}"
    );
}
