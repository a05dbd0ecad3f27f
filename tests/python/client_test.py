"""The hosted API's official Python client, clarifai-grpc, against a running `annotask serve`.

Usage: client_test.py CHANNEL ADDRESS API_KEY [CA_FILE]
       client_test.py work-json URL | work-grpc HOST:PORT

CHANNEL is `json` (ADDRESS a base URL, http:// or https://; REQUESTS_CA_BUNDLE trusts a test
CA), `grpc` (ADDRESS host:port, `get_insecure_grpc_channel`), `grpcs` (`get_grpc_channel`
with CA_FILE as its root certificates) or `both` (ADDRESS host:port of a plain-text server:
the JSON and gRPC channels at once, writing from both, and comparing their answers).

Goes through the client's channel as a user pointing it at a local server would: PostTasks, GetTask, ListTasks (all, by worker, by reviewer, paginated), PatchTasks and
DeleteTasks, each once at /v2/... and once with `user_app_id` (/v2/users/{user}/apps/{app}/...).
Expects a project holding only the four shipped tasks. Prints one line per check and
`N passed, 0 failed` at the end; exits 1 on the first failure.

`work-json` and `work-grpc` drive the labeling workflow (issue 12) through the same client, as a
front end written for the hosted API would, against a server started with `--keys` mapping
`key-<user>` to each user, on tests/workflow.rs's project: its `four` task (four workers, every
input, no review) over six inputs in-1 to in-6.
"""

import sys
import threading

from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2

SHIPPED = [
    "annotate-birds-weighted",
    "annotate-cars-consensus",
    "annotate-dogs-reviewed",
    "annotate-street-cats",
]

passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        print(f"FAIL {name} {detail}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}")


def ok(name, response):
    check(
        f"{name}: status SUCCESS",
        response.status.code == status_code_pb2.SUCCESS,
        str(response.status),
    )


def weighted_task(task_id, workers, reviewer):
    """The document's consensus task, with the client's own types."""
    return resources_pb2.Task(
        id=task_id,
        type=resources_pb2.Task.CONCEPTS_CLASSIFICATION,
        name="Annotate owl",
        worker=resources_pb2.TaskWorker(
            strategy=resources_pb2.TaskWorker.PARTITIONED,
            user_ids=workers,
            partitioned_strategy_info=resources_pb2.TaskWorkerPartitionedStrategyInfo(
                type=resources_pb2.TaskWorkerPartitionedStrategyInfo.WEIGHTED,
                workers_per_input=1,
                weights={w: 1.0 for w in workers},
            ),
        ),
        concept_ids=["owl"],
        input_source=resources_pb2.TaskInputSource(type=resources_pb2.TaskInputSource.ALL_INPUTS),
        sample_ms=1000,
        review=resources_pb2.TaskReview(
            strategy=resources_pb2.TaskReview.CONSENSUS,
            consensus_strategy_info=resources_pb2.TaskReviewConsensusStrategyInfo(
                approval_threshold=2
            ),
            user_ids=[reviewer],
        ),
    )


def round_trip(stub, metadata, label, app):
    """Every call once; `app` is a UserAppIDSet or None."""
    extra = {"user_app_id": app} if app is not None else {}
    task_id = f"owls-{label}"

    # PostTasks: one task with an id, one whose id the server generates.
    created = stub.PostTasks(
        service_pb2.PostTasksRequest(
            tasks=[
                weighted_task(task_id, ["ana", "ben", "cy"], "dee"),
                resources_pb2.Task(
                    type=resources_pb2.Task.CONCEPTS_CLASSIFICATION,
                    name="Annotate moth",
                    worker=resources_pb2.TaskWorker(strategy=resources_pb2.TaskWorker.FULL),
                    concept_ids=["moth"],
                    input_source=resources_pb2.TaskInputSource(
                        type=resources_pb2.TaskInputSource.ALL_INPUTS
                    ),
                    review=resources_pb2.TaskReview(strategy=resources_pb2.TaskReview.NONE),
                ),
            ],
            **extra,
        ),
        metadata=metadata,
    )
    ok(f"{label} PostTasks", created)
    check(f"{label} PostTasks returns both", len(created.tasks) == 2, str(created))
    owl, moth = created.tasks
    check(f"{label} PostTasks keeps the id", owl.id == task_id, owl.id)
    check(f"{label} PostTasks generates an id", len(moth.id) == 32, moth.id)
    check(
        f"{label} PostTasks weights",
        dict(owl.worker.partitioned_strategy_info.weights) == {"ana": 1.0, "ben": 1.0, "cy": 1.0},
        str(owl.worker),
    )
    check(
        f"{label} PostTasks status",
        owl.status.code == status_code_pb2.TASK_IN_PROGRESS,
        str(owl.status),
    )
    check(f"{label} PostTasks created_at", owl.created_at.seconds > 0, str(owl.created_at))

    got = stub.GetTask(service_pb2.GetTaskRequest(task_id=task_id, **extra), metadata=metadata)
    ok(f"{label} GetTask", got)
    check(f"{label} GetTask task", got.task == owl, f"{got.task} != {owl}")

    missing = stub.GetTask(
        service_pb2.GetTaskRequest(task_id="no-such-task", **extra), metadata=metadata
    )
    check(
        f"{label} GetTask unknown id is TASK_MISSING",
        missing.status.code == status_code_pb2.TASK_MISSING,
        str(missing.status),
    )

    listed = stub.ListTasks(service_pb2.ListTasksRequest(**extra), metadata=metadata)
    ok(f"{label} ListTasks", listed)
    check(
        f"{label} ListTasks all",
        [t.id for t in listed.tasks] == sorted(SHIPPED + [task_id, moth.id]),
        str([t.id for t in listed.tasks]),
    )

    by_worker = stub.ListTasks(
        service_pb2.ListTasksRequest(worker_user_ids=["ben", "priya-nair"], **extra),
        metadata=metadata,
    )
    ok(f"{label} ListTasks by worker", by_worker)
    check(
        f"{label} ListTasks by worker",
        [t.id for t in by_worker.tasks] == ["annotate-cars-consensus", task_id],
        str([t.id for t in by_worker.tasks]),
    )

    by_reviewer = stub.ListTasks(
        service_pb2.ListTasksRequest(review_user_ids=["dee"], **extra), metadata=metadata
    )
    ok(f"{label} ListTasks by reviewer", by_reviewer)
    check(
        f"{label} ListTasks by reviewer",
        [t.id for t in by_reviewer.tasks] == [task_id],
        str([t.id for t in by_reviewer.tasks]),
    )

    everything = sorted(SHIPPED + [task_id, moth.id])
    pages = []
    for page in (1, 2, 3, 4):
        listed = stub.ListTasks(
            service_pb2.ListTasksRequest(page=page, per_page=2, **extra), metadata=metadata
        )
        ok(f"{label} ListTasks page {page}", listed)
        pages.append([t.id for t in listed.tasks])
    check(
        f"{label} ListTasks paginated",
        pages == [everything[0:2], everything[2:4], everything[4:6], []],
        str(pages),
    )

    changed = weighted_task(task_id, ["ana", "ben"], "eve")
    changed.status.code = status_code_pb2.TASK_DONE
    patched = stub.PatchTasks(
        service_pb2.PatchTasksRequest(action="overwrite", tasks=[changed], **extra),
        metadata=metadata,
    )
    ok(f"{label} PatchTasks", patched)
    after = stub.GetTask(service_pb2.GetTaskRequest(task_id=task_id, **extra), metadata=metadata)
    ok(f"{label} GetTask after PatchTasks", after)
    check(
        f"{label} PatchTasks status",
        after.task.status.code == status_code_pb2.TASK_DONE,
        str(after.task.status),
    )
    check(
        f"{label} PatchTasks workers and reviewer",
        list(after.task.worker.user_ids) == ["ana", "ben"]
        and list(after.task.review.user_ids) == ["eve"],
        str(after.task),
    )
    check(
        f"{label} PatchTasks keeps created_at",
        after.task.created_at == owl.created_at,
        f"{after.task.created_at} != {owl.created_at}",
    )

    deleted = stub.DeleteTasks(
        service_pb2.DeleteTasksRequest(ids=[task_id, moth.id], **extra), metadata=metadata
    )
    ok(f"{label} DeleteTasks", deleted)
    gone = stub.GetTask(service_pb2.GetTaskRequest(task_id=task_id, **extra), metadata=metadata)
    check(
        f"{label} DeleteTasks removed the task",
        gone.status.code == status_code_pb2.TASK_MISSING,
        str(gone.status),
    )


def current_forms(stub, metadata, face):
    """The current forms of workers, reviewers and the consensus threshold are the same task."""
    task = weighted_task("owls-current", [], "")
    task.worker.ClearField("user_ids")
    task.worker.workers.extend(
        [resources_pb2.Worker(user=resources_pb2.User(id=w)) for w in ["ana", "ben"]]
    )
    task.worker.partitioned_strategy_info.weights.Clear()
    task.worker.partitioned_strategy_info.weights.update({"ana": 1.0, "ben": 1.0})
    task.review.ClearField("user_ids")
    task.review.users.extend([resources_pb2.User(id="dee")])
    task.review.consensus_strategy_info.approval_threshold = 0
    task.review.consensus_strategy_info.approval_threshold_labelers = 2
    created = stub.PostTasks(service_pb2.PostTasksRequest(tasks=[task]), metadata=metadata)
    ok("current forms PostTasks", created)
    got = created.tasks[0]
    check(
        "current forms read as the seed's",
        list(got.worker.user_ids) == ["ana", "ben"]
        and list(got.review.user_ids) == ["dee"]
        and got.review.consensus_strategy_info.approval_threshold == 2,
        str(got),
    )
    # The JSON channel writes a repeated message into a query string as Python's repr of
    # each dict, which no server reads; annotask's JSON face takes `worker_ids.user_id=ana`.
    if face != "json":
        by_worker_ids = stub.ListTasks(
            service_pb2.ListTasksRequest(worker_ids=[resources_pb2.WorkerIDSet(user_id="ana")]),
            metadata=metadata,
        )
        ok("ListTasks by worker_ids", by_worker_ids)
        check(
            "ListTasks by worker_ids",
            [t.id for t in by_worker_ids.tasks] == ["owls-current"],
            str([t.id for t in by_worker_ids.tasks]),
        )
    ok(
        "current forms DeleteTasks",
        stub.DeleteTasks(service_pb2.DeleteTasksRequest(ids=["owls-current"]), metadata=metadata),
    )


def counts(stub, metadata, face):
    """GetTaskInputCount of a shipped task (no inputs/ folder: every count is 0)."""
    request = lambda **kw: service_pb2.GetTaskCountRequest(task_id="annotate-birds-weighted", **kw)
    answer = stub.GetTaskInputCount(request(), metadata=metadata)
    ok(f"{face} GetTaskInputCount", answer)
    check(
        f"{face} GetTaskInputCount workers",
        [(c.worker.user.id, c.pending) for c in answer.counts]
        == [("maria-lopez", 0), ("chen-wei", 0)],
        str(answer),
    )
    one = stub.GetTaskInputCount(request(user_ids=["chen-wei"]), metadata=metadata)
    check(f"{face} GetTaskInputCount user_ids", [c.worker.user.id for c in one.counts] == ["chen-wei"], str(one))
    missing = stub.GetTaskInputCount(
        service_pb2.GetTaskCountRequest(task_id="no-such-task"), metadata=metadata
    )
    check(
        f"{face} GetTaskInputCount of a missing task",
        missing.status.code == status_code_pb2.TASK_MISSING,
        str(missing.status),
    )


def errors(stub, metadata, face):
    """Each error the API answers with, as a status in the answer."""

    def code(name, response, expected, text=""):
        check(
            f"{name} is {status_code_pb2.StatusCode.Name(expected)}",
            response.status.code == expected and text in response.status.details,
            str(response.status),
        )

    shipped = stub.GetTask(service_pb2.GetTaskRequest(task_id=SHIPPED[0]), metadata=metadata)
    ok("GetTask shipped", shipped)
    taken = stub.PostTasks(service_pb2.PostTasksRequest(tasks=[shipped.task]), metadata=metadata)
    code("a taken id", taken, status_code_pb2.TASK_CONFLICT, SHIPPED[0])
    merge = stub.PatchTasks(
        service_pb2.PatchTasksRequest(action="merge", tasks=[shipped.task]), metadata=metadata
    )
    code("PatchTasks merge", merge, status_code_pb2.TASK_NOT_IMPLEMENTED, "merge")
    unknown = stub.DeleteTasks(service_pb2.DeleteTasksRequest(ids=["no-such-task"]), metadata=metadata)
    code("deleting an unknown id", unknown, status_code_pb2.TASK_MISSING, "no-such-task")
    invalid = stub.PostTasks(
        service_pb2.PostTasksRequest(
            tasks=[resources_pb2.Task(id="bad/id", type=resources_pb2.Task.CONCEPTS_CLASSIFICATION)]
        ),
        metadata=metadata,
    )
    code("an invalid task", invalid, status_code_pb2.CONN_INVALID_REQUEST, "bad/id")
    denied = stub.ListTasks(service_pb2.ListTasksRequest(), metadata=(("authorization", "Key wrong"),))
    code("a wrong key", denied, status_code_pb2.CONN_KEY_INVALID)
    # The JSON channel refuses to send a call without a key; the JSON face's answer to one is
    # tested over plain HTTP.
    if face != "json":
        keyless = stub.ListTasks(service_pb2.ListTasksRequest())
        code("no key", keyless, status_code_pb2.CONN_KEY_INVALID)


def both(address, metadata):
    """The JSON and gRPC channels at once, both writing; then the same requests on each."""
    json_stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=f"http://{address}"))
    host, port = address.rsplit(":", 1)
    grpc_stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port)))
    stubs = {"json": json_stub, "grpc": grpc_stub}
    failures = []

    def writer(face, n):
        stub = stubs[face]
        for i in range(n):
            response = stub.PostTasks(
                service_pb2.PostTasksRequest(tasks=[weighted_task(f"{face}-{i}", ["ana"], "dee")]),
                metadata=metadata,
            )
            if response.status.code != status_code_pb2.SUCCESS:
                failures.append(str(response.status))

    threads = [threading.Thread(target=writer, args=(face, 25)) for face in stubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("writes from both faces at once", not failures, str(failures[:3]))

    answers = {}
    for face, stub in stubs.items():
        answers[face] = [
            stub.ListTasks(service_pb2.ListTasksRequest(per_page=1000), metadata=metadata),
            stub.ListTasks(service_pb2.ListTasksRequest(worker_user_ids=["ana"]), metadata=metadata),
            stub.ListTasks(service_pb2.ListTasksRequest(review_user_ids=["dee"], page=2, per_page=7), metadata=metadata),
            stub.ListTasks(service_pb2.ListTasksRequest(ids=["json-3", "grpc-3", SHIPPED[1]]), metadata=metadata),
            stub.GetTask(service_pb2.GetTaskRequest(task_id=SHIPPED[2]), metadata=metadata),
            stub.GetTask(service_pb2.GetTaskRequest(task_id="no-such-task"), metadata=metadata),
            stub.PostTasks(service_pb2.PostTasksRequest(tasks=[resources_pb2.Task(id="x/y")]), metadata=metadata),
            stub.PatchTasks(service_pb2.PatchTasksRequest(action="merge", tasks=[resources_pb2.Task(id=SHIPPED[0])]), metadata=metadata),
            stub.GetTask(service_pb2.GetTaskRequest(task_id=SHIPPED[2], additional_fields=["all"]), metadata=metadata),
            stub.ListTasks(service_pb2.ListTasksRequest(ids=SHIPPED, additional_fields=["metrics"]), metadata=metadata),
        ]
    for face, answer in answers.items():
        check(
            f"{face}: metrics when additional_fields asks, not otherwise",
            answer[8].task.HasField("metrics")
            and all(t.HasField("metrics") for t in answer[9].tasks)
            and len(answer[9].tasks) == len(SHIPPED)
            and not answer[4].task.HasField("metrics"),
            str(answer[8].task.metrics),
        )
    everything = answers["json"][0]
    check(
        "nothing lost",
        len(everything.tasks) == len(SHIPPED) + 50,
        str(len(everything.tasks)),
    )
    for i, (a, b) in enumerate(zip(answers["json"], answers["grpc"])):
        if a.status.code != status_code_pb2.SUCCESS:
            # The JSON face places a body's errors at their line and column; protobuf has none.
            a.status.ClearField("details")
            b.status.ClearField("details")
        check(f"answer {i} is the same on both faces", a == b, f"json: {a}\ngrpc: {b}")
    ids = [f"{face}-{i}" for face in stubs for i in range(25)]
    ok("cleanup", grpc_stub.DeleteTasks(service_pb2.DeleteTasksRequest(ids=ids), metadata=metadata))


def workflow(face, address):
    """LABEL_START, PostAnnotations, ListAnnotations, LABEL_SUBMIT, the counts and
    ListNextTaskAssignments, as ann; a worker refused on another task's input, as dave."""
    if face == "work-json":
        channel = ClarifaiChannel.get_json_channel(base_url=address)
    else:
        host, port = address.rsplit(":", 1)
        channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    stub = service_pb2_grpc.V2Stub(channel)
    app = resources_pb2.UserAppIDSet(user_id="me", app_id="annotations")
    ann = (("authorization", "Key key-ann"),)
    started = stub.PutTaskAssignments(
        service_pb2.PutTaskAssignmentsRequest(
            user_app_id=app, task_id="four", action=service_pb2.LABEL_START
        ),
        metadata=ann,
    )
    ok(f"{face} LABEL_START", started)
    check(
        f"{face} LABEL_START assignments",
        [(a.id, a.input.id, a.worker.user.id, a.status.code) for a in started.task_assignments][:2]
        == [("in-1.ann", "in-1", "ann", status_code_pb2.TASK_ASSIGNMENT_PENDING),
            ("in-2.ann", "in-2", "ann", status_code_pb2.TASK_ASSIGNMENT_PENDING)],
        str(started),
    )
    check(f"{face} LABEL_START input data", started.task_assignments[0].input.data.image.url == "https://x/1.jpg", str(started.task_assignments[0]))
    annotation = resources_pb2.Annotation(
        id=f"{face}-a1",
        task_id="four",
        input_id="in-1",
        data=resources_pb2.Data(concepts=[resources_pb2.Concept(id="cat", value=1.0)]),
    )
    posted = stub.PostAnnotations(
        service_pb2.PostAnnotationsRequest(user_app_id=app, annotations=[annotation]), metadata=ann
    )
    ok(f"{face} PostAnnotations", posted)
    check(
        f"{face} PostAnnotations answer",
        [(a.id, a.worker.user.id, a.status.code, [c.id for c in a.data.concepts]) for a in posted.annotations]
        == [(f"{face}-a1", "ann", status_code_pb2.ANNOTATION_PENDING, ["cat"])],
        str(posted),
    )
    submitted = stub.PutTaskAssignments(
        service_pb2.PutTaskAssignmentsRequest(
            user_app_id=app,
            task_id="four",
            action=service_pb2.LABEL_SUBMIT,
            label_submit_config=service_pb2.LabelSubmitConfig(
                task_assignments=[resources_pb2.TaskAssignment(id="in-1.ann")]
            ),
        ),
        metadata=ann,
    )
    ok(f"{face} LABEL_SUBMIT", submitted)
    check(
        f"{face} LABEL_SUBMIT state",
        [a.status.code for a in submitted.task_assignments] == [status_code_pb2.TASK_ASSIGNMENT_SUCCESS],
        str(submitted),
    )
    listed = stub.ListAnnotations(
        service_pb2.ListAnnotationsRequest(user_app_id=app, task_id="four", user_ids=["ann"]), metadata=ann
    )
    ok(f"{face} ListAnnotations", listed)
    check(
        f"{face} ListAnnotations answer",
        [(a.id, a.status.code) for a in listed.annotations] == [(f"{face}-a1", status_code_pb2.ANNOTATION_SUCCESS)],
        str(listed),
    )
    for name, call in [("GetTaskInputCount", stub.GetTaskInputCount), ("GetTaskAnnotationCount", stub.GetTaskAnnotationCount)]:
        counted = call(service_pb2.GetTaskCountRequest(user_app_id=app, task_id="four", user_ids=["ann"]), metadata=ann)
        ok(f"{face} {name}", counted)
        row = counted.counts[0]
        expected = (0, 1) if name == "GetTaskAnnotationCount" else (5, 1)
        check(f"{face} {name} counts", (row.worker.user.id, row.pending, row.success) == ("ann",) + expected, str(counted))
    following = stub.ListNextTaskAssignments(
        service_pb2.ListNextTaskAssignmentsRequest(user_app_id=app, task_id="four"), metadata=ann
    )
    ok(f"{face} ListNextTaskAssignments", following)
    check(f"{face} ListNextTaskAssignments inputs", [i.id for i in following.inputs] == ["in-2", "in-3", "in-4", "in-5", "in-6"], str(following))
    refused = stub.PostAnnotations(
        service_pb2.PostAnnotationsRequest(user_app_id=app, annotations=[annotation]),
        metadata=(("authorization", "Key key-dave"),),
    )
    check(f"{face} a non-worker is refused", refused.status.code == status_code_pb2.TASK_PERMISSION_DENIED, str(refused.status))
    print(f"{passed} passed, 0 failed")


def main():
    if sys.argv[1].startswith("work-"):
        workflow(sys.argv[1], sys.argv[2])
        return
    face, address, key = sys.argv[1], sys.argv[2], sys.argv[3]
    metadata = (("authorization", f"Key {key}"),)
    if face == "both":
        both(address, metadata)
        print(f"{passed} passed, 0 failed")
        return
    if face == "json":
        channel = ClarifaiChannel.get_json_channel(base_url=address)
    elif face == "grpc":
        host, port = address.rsplit(":", 1)
        channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    else:
        channel = ClarifaiChannel.get_grpc_channel(base=address, root_certificates_path=sys.argv[4])
    stub = service_pb2_grpc.V2Stub(channel)

    round_trip(stub, metadata, "plain", None)
    round_trip(
        stub, metadata, "app", resources_pb2.UserAppIDSet(user_id="me", app_id="annotations")
    )
    current_forms(stub, metadata, face)
    counts(stub, metadata, face)
    errors(stub, metadata, face)

    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
