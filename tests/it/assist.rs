//! AI assist (issue 27): a task's assistant user's annotations are predictions. The real
//! binary on a temp project: predictions imported from a COCO results file, then `counts`,
//! `explain`, `export` and ListAnnotations show the input the assistant decided, the one it
//! only helps with, and the one whose prediction is too weak to show.

use serde_json::{Value, json};

use crate::common::{Project, Server};

const TASK: &str = "type: BOUNDING_BOX_DETECTION\nconcept_ids: [car, truck]\n\
    input_source: {type: DATASET, id: street}\n\
    worker: {strategy: FULL, user_ids: [ann]}\nreview: {strategy: NONE}\n\
    ai_assistant: {workflow: {id: model}}\n\
    ai_assist_params: {min_threshold: 0.3, max_threshold: 0.95}\n";

/// Three remote 100x100 images, and predictions on each: a (0.97), b (0.6), c (0.1).
fn project() -> Project {
    let project = Project::new();
    let lines: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            json!({"id": id, "data": {"image": {"url": format!("https://example.com/{id}.jpg"),
                "image_info": {"width": 100, "height": 100}}}})
            .to_string()
        })
        .collect();
    project.write("inputs/street.jsonl", &(lines.join("\n") + "\n"));
    project.write("tasks/cars.yaml", TASK);
    let results = json!([
        {"image_id": "a", "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.97},
        {"image_id": "a", "category_id": 2, "bbox": [50, 50, 40, 40], "score": 0.99},
        {"image_id": "b", "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.6},
        {"image_id": "c", "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.1},
    ]);
    project.write("predictions.json", &results.to_string());
    let out = import_predictions(&project);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    project
}

/// `annotask import cars --format coco predictions.json --as model`.
fn import_predictions(project: &Project) -> std::process::Output {
    let file = project.path("predictions.json");
    project.run(&[
        "import",
        "cars",
        "--format",
        "coco",
        file.to_str().unwrap(),
        "--as",
        "model",
    ])
}

#[test]
fn a_prediction_at_max_threshold_is_final_and_one_below_min_is_not_shown() {
    let project = project();
    // The score lives in each region's concept value.
    let work = std::fs::read_to_string(project.path("work/cars/model.jsonl")).unwrap();
    assert!(work.contains(r#""value":0.97"#), "{work}");
    // Importing again changes nothing, the prediction not shown included.
    let again = import_predictions(&project);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.starts_with("0 annotations appended"), "{said}");
    assert_eq!(
        std::fs::read_to_string(project.path("work/cars/model.jsonl")).unwrap(),
        work
    );

    let explain = |input: &str| {
        let out = project.run(&["explain", "cars", input]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Lines wrap at the terminal's width: compare words.
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let a = explain("a");
    assert!(
        a.contains("approved by the assistant's prediction, score 0.97 >= max_threshold 0.95: no worker needed"),
        "{a}"
    );
    assert!(a.contains("model SUCCESS predicted 0"), "{a}");
    assert!(
        a.contains("ann had not submitted: the assignment is closed"),
        "{a}"
    );
    let b = explain("b");
    assert!(
        b.contains("it is shown to workers as a starting point"),
        "{b}"
    );
    assert!(
        b.contains("scores 0.6 < max_threshold 0.95: workers label the input"),
        "{b}"
    );
    let c = explain("c");
    assert!(
        c.contains("scores 0.1 < min_threshold 0.3: it is not shown to workers"),
        "{c}"
    );

    // GetTaskInputCount: ann still labels b and c; a was decided by the assistant.
    let counts = project.json(&["counts", "cars"]);
    let of = |user: &str| -> Value {
        counts["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["worker"]["user"]["id"] == user)
            .cloned()
            .unwrap_or_else(|| panic!("{user}: {counts}"))
    };
    assert_eq!(
        (of("ann")["pending"].as_u64(), of("ann")["success"].as_u64()),
        (Some(2), Some(0)),
        "{counts}"
    );
    assert_eq!(of("model")["success"].as_u64(), Some(1), "{counts}");

    // The export says who decided a, and leaves b and c out.
    let out = project.path("cars.jsonl");
    let run = project.run(&[
        "export",
        "cars",
        "--format",
        "jsonl",
        "--out",
        out.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains("1 input exported, 2 not final yet: 2 pending"),
        "{said}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (
            &line["input_id"],
            &line["how"],
            &line["worker"],
            &line["final"]
        ),
        (
            &json!("a"),
            &json!("assistant"),
            &json!("model"),
            &json!(true)
        ),
        "{text}"
    );
    assert_eq!(
        line["annotations"][0]["data"]["regions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // ListAnnotations answers the predictions shown, as the assistant's: a's (final) and b's.
    let server = Server::start(project.root(), &[] as &[&str], &[]);
    let (status, answer) = server.call(
        None,
        "GET",
        "/v2/users/ann/apps/main/annotations?task_id=cars&user_ids=model",
        None,
    );
    assert_eq!(status, 200, "{answer}");
    let listed: Vec<(String, u64)> = answer["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["input_id"].as_str().unwrap().to_owned(),
                a["status"]["code"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("a".to_owned(), 24150), ("b".to_owned(), 24151)],
        "{answer}"
    );
    // LABEL_START hands ann the inputs still to label: a is decided.
    let (status, answer) = server.call(
        None,
        "PUT",
        "/v2/users/ann/apps/main/tasks/cars/assignments",
        Some(r#"{"action": "LABEL_START"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    let inputs: Vec<&str> = answer["task_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["input"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["b", "c"], "{answer}");
}

#[test]
fn the_assistant_is_checked_where_the_task_names_it() {
    let project = Project::new();
    let check = |yaml: &str, expected: &str| {
        project.write("tasks/t.yaml", yaml);
        let out = project.run(&["validate"]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(expected), "{yaml}\n{said}");
    };
    let base = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: ALL_INPUTS}\n\
        worker: {strategy: FULL, user_ids: [ann]}\n";
    check(
        &format!("{base}ai_assistant: {{workflow: {{id: ann}}}}\n"),
        "`ann` is a worker of the task",
    );
    check(
        &format!("{base}ai_assistant: {{workflow: {{id: 'a b'}}}}\n"),
        "ai_assistant.workflow.id",
    );
    check(
        &format!(
            "{base}ai_assistant: {{workflow_id: m}}\nai_assist_params: {{min_threshold: 0.9, max_threshold: 0.5}}\n"
        ),
        "0.9 is above max_threshold 0.5",
    );
    check(
        &format!(
            "{base}ai_assistant: {{workflow_id: m}}\nai_assist_params: {{max_threshold: 1.5}}\n"
        ),
        "1.5 is not a score from 0 to 1",
    );
}

/// The official client sends both fields over gRPC (Task 10 and 14); the file and both faces
/// answer them, the deprecated `workflow_id` read into `workflow.id`.
#[test]
fn the_official_client_sends_and_reads_the_fields_over_grpc() {
    let project = Project::new();
    let server = Server::start(project.root(), &["--api-key", "assist-test-key"], &[]);
    let address = server.base.strip_prefix("http://").unwrap();
    let script = r#"
import sys
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
host, port = sys.argv[1].split(":")
stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port)))
md = (("authorization", "Key assist-test-key"),)
def task(id, assistant):
    return resources_pb2.Task(
        id=id, type=resources_pb2.Task.CONCEPTS_CLASSIFICATION, concept_ids=["cat"],
        worker=resources_pb2.TaskWorker(strategy=resources_pb2.TaskWorker.FULL, user_ids=["ann"]),
        input_source=resources_pb2.TaskInputSource(type=resources_pb2.TaskInputSource.ALL_INPUTS),
        ai_assistant=assistant,
        ai_assist_params=resources_pb2.AiAssistParameters(
            min_threshold=0.3, max_threshold=0.95, concept_relation_ids=["rel"]))
posted = stub.PostTasks(service_pb2.PostTasksRequest(tasks=[
    task("current", resources_pb2.TaskAIAssistant(workflow=resources_pb2.Workflow(id="model"))),
    task("deprecated", resources_pb2.TaskAIAssistant(workflow_id="model")),
]), metadata=md)
assert posted.status.code == 10000, posted
for id in ["current", "deprecated"]:
    t = stub.GetTask(service_pb2.GetTaskRequest(task_id=id), metadata=md).task
    print(id, t.ai_assistant.workflow.id, round(t.ai_assist_params.min_threshold, 6),
          round(t.ai_assist_params.max_threshold, 6), list(t.ai_assist_params.concept_relation_ids))
"#;
    let out = std::process::Command::new(crate::common::python::python())
        .args(["-c", script, address])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "current model 0.3 0.95 ['rel']\ndeprecated model 0.3 0.95 ['rel']\n"
    );
    let file = std::fs::read_to_string(project.path("tasks/deprecated.yaml")).unwrap();
    assert!(
        file.contains("ai_assistant:\n  workflow:\n    id: model\n")
            && file.contains("ai_assist_params:\n  min_threshold: 0.3\n  max_threshold: 0.95\n"),
        "{file}"
    );
    let (status, answer) = server.call(
        Some("Key assist-test-key"),
        "GET",
        "/v2/tasks/current",
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            &answer["task"]["ai_assistant"],
            &answer["task"]["ai_assist_params"]
        ),
        (
            &json!({"workflow": {"id": "model"}}),
            &json!({"min_threshold": 0.3, "max_threshold": 0.95, "concept_relation_ids": ["rel"]})
        ),
        "{answer}"
    );
}
