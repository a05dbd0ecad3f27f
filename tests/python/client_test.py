"""The hosted API's official Python client, clarifai-grpc, against a running `annotask serve`.

Usage: client_test.py BASE_URL API_KEY

Goes through the client's JSON channel, as a user pointing it at a local base URL would:
PostTasks, GetTask, ListTasks (all, by worker, by reviewer, paginated), PatchTasks and
DeleteTasks, each once at /v2/... and once with `user_app_id` (/v2/users/{user}/apps/{app}/...).
Expects a project holding only the four shipped tasks. Prints one line per check and
`N passed, 0 failed` at the end; exits 1 on the first failure.
"""

import sys

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


def main():
    base_url, key = sys.argv[1], sys.argv[2]
    channel = ClarifaiChannel.get_json_channel(base_url=base_url)
    stub = service_pb2_grpc.V2Stub(channel)
    metadata = (("authorization", f"Key {key}"),)

    round_trip(stub, metadata, "plain", None)
    round_trip(
        stub, metadata, "app", resources_pb2.UserAppIDSet(user_id="me", app_id="annotations")
    )

    denied = stub.ListTasks(
        service_pb2.ListTasksRequest(), metadata=(("authorization", "Key wrong"),)
    )
    check(
        "a wrong key is CONN_KEY_INVALID",
        denied.status.code == status_code_pb2.CONN_KEY_INVALID,
        str(denied.status),
    )

    invalid = stub.PostTasks(
        service_pb2.PostTasksRequest(
            tasks=[resources_pb2.Task(id="bad/id", type=resources_pb2.Task.CONCEPTS_CLASSIFICATION)]
        ),
        metadata=metadata,
    )
    check(
        "an invalid task is CONN_INVALID_REQUEST with details",
        invalid.status.code == status_code_pb2.CONN_INVALID_REQUEST
        and "bad/id" in invalid.status.details,
        str(invalid.status),
    )

    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
