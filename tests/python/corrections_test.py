"""Corrections through the official Python client, clarifai-grpc: PostAnnotations posted twice,
PatchAnnotations (`remove`, `merge`, `overwrite`), DeleteAnnotations, a correction after
REQUEST_CHANGES, and (gRPC) LABEL_WITHDRAW as action value 100, against `annotask serve --keys` on tests/trust.rs's project: task `fix`
(classification of cat, dog and bird; worker ann; MANUAL review by rita of every input) over
inputs in-1 to in-3.

Usage: corrections_test.py json URL | grpc HOST:PORT

Prints one line per check and `N passed, 0 failed` at the end; exits 1 on the first failure.
"""

import sys

from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2

passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        print(f"FAIL {name} {detail}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}")


def main():
    face, address = sys.argv[1], sys.argv[2]
    if face == "json":
        channel = ClarifaiChannel.get_json_channel(base_url=address)
    else:
        host, port = address.rsplit(":", 1)
        channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
    stub = service_pb2_grpc.V2Stub(channel)
    app = resources_pb2.UserAppIDSet(user_id="me", app_id="annotations")
    ann = (("authorization", "Key key-ann"),)
    rita = (("authorization", "Key key-rita"),)
    success = status_code_pb2.SUCCESS

    def concepts(*ids):
        return resources_pb2.Data(concepts=[resources_pb2.Concept(id=c, value=1.0) for c in ids])

    def annotation(input_id, *ids, id=""):
        return resources_pb2.Annotation(id=id, task_id="fix", input_id=input_id, data=concepts(*ids))

    def mine(input_id):
        listed = stub.ListAnnotations(
            service_pb2.ListAnnotationsRequest(
                user_app_id=app, task_id="fix", user_ids=["ann"], input_ids=[input_id]
            ),
            metadata=ann,
        )
        check(f"{face} ListAnnotations {input_id}", listed.status.code == success, str(listed.status))
        return sorted((a.id, sorted(c.id for c in a.data.concepts)) for a in listed.annotations)

    def post(input_id, *ids):
        posted = stub.PostAnnotations(
            service_pb2.PostAnnotationsRequest(user_app_id=app, annotations=[annotation(input_id, *ids)]),
            metadata=ann,
        )
        check(f"{face} PostAnnotations {ids}", posted.status.code == success, str(posted.status))
        return posted.annotations[0].id

    def patch(action, input_id, id, *ids):
        return stub.PatchAnnotations(
            service_pb2.PatchAnnotationsRequest(
                user_app_id=app, action=action, annotations=[annotation(input_id, *ids, id=id)]
            ),
            metadata=ann,
        )

    def put(who, **request):
        return stub.PutTaskAssignments(
            service_pb2.PutTaskAssignmentsRequest(user_app_id=app, task_id="fix", **request),
            metadata=who,
        )

    # Posting the same annotation again changes nothing: no stacked copies.
    first = post("in-1", "cat", "dog")
    again = post("in-1", "cat", "dog")
    check(f"{face} posting again answers the same annotation", first == again, f"{first} {again}")
    check(f"{face} one annotation", mine("in-1") == [(first, ["cat", "dog"])], str(mine("in-1")))

    removed = patch("remove", "in-1", first, "dog")
    check(f"{face} PatchAnnotations remove", removed.status.code == success, str(removed.status))
    check(f"{face} remove answer", [c.id for c in removed.annotations[0].data.concepts] == ["cat"], str(removed))
    check(f"{face} removed", mine("in-1") == [(first, ["cat"])], str(mine("in-1")))

    merged = patch("merge", "in-1", first, "bird")
    check(f"{face} PatchAnnotations merge", merged.status.code == success, str(merged.status))
    check(f"{face} merged", mine("in-1") == [(first, ["bird", "cat"])], str(mine("in-1")))

    overwritten = patch("overwrite", "in-1", first, "dog")
    check(f"{face} PatchAnnotations overwrite", overwritten.status.code == success, str(overwritten.status))
    check(f"{face} overwritten", mine("in-1") == [(first, ["dog"])], str(mine("in-1")))

    unknown = patch("overwrite", "in-1", first, "unicorn")
    check(f"{face} an unknown concept is refused", unknown.status.code != success, str(unknown.status))
    check(f"{face} and nothing changed", mine("in-1") == [(first, ["dog"])], str(mine("in-1")))

    deleted = stub.DeleteAnnotations(service_pb2.DeleteAnnotationsRequest(user_app_id=app, ids=[first]), metadata=ann)
    check(f"{face} DeleteAnnotations", deleted.status.code == success, str(deleted.status))
    check(f"{face} deleted", mine("in-1") == [], str(mine("in-1")))

    # Submitted: corrections wait for a reviewer's REQUEST_CHANGES.
    second = post("in-2", "cat", "dog")
    submitted = put(
        ann,
        action=service_pb2.LABEL_SUBMIT,
        label_submit_config=service_pb2.LabelSubmitConfig(
            task_assignments=[resources_pb2.TaskAssignment(id="in-2.ann")]
        ),
    )
    check(
        f"{face} LABEL_SUBMIT",
        [a.status.code for a in submitted.task_assignments] == [status_code_pb2.TASK_ASSIGNMENT_AWAITING_REVIEW],
        str(submitted),
    )
    refused = patch("remove", "in-2", second, "dog")
    check(f"{face} a submitted annotation is not patched", refused.status.code != success, str(refused.status))
    changes = put(
        rita,
        action=service_pb2.REVIEW_REQUEST_CHANGES,
        review_request_changes_config=service_pb2.ReviewRequestChangesConfig(
            task_assignments=[resources_pb2.TaskAssignment(id="in-2.ann")]
        ),
    )
    check(f"{face} REVIEW_REQUEST_CHANGES", changes.status.code == success, str(changes.status))
    removed = patch("remove", "in-2", second, "dog")
    check(f"{face} after REQUEST_CHANGES a concept is removed", removed.status.code == success, str(removed.status))
    check(f"{face} removed after changes", mine("in-2") == [(second, ["cat"])], str(mine("in-2")))
    resubmitted = put(
        ann,
        action=service_pb2.LABEL_SUBMIT,
        label_submit_config=service_pb2.LabelSubmitConfig(
            task_assignments=[resources_pb2.TaskAssignment(id="in-2.ann")]
        ),
    )
    check(
        f"{face} submission 2 awaits review",
        [a.status.code for a in resubmitted.task_assignments] == [status_code_pb2.TASK_ASSIGNMENT_AWAITING_REVIEW],
        str(resubmitted),
    )
    if face == "grpc":
        # LABEL_WITHDRAW is annotask's extension, action value 100: the undecided submission 2
        # comes back to ann, PENDING.
        withdrawn = put(ann, action=100, input_id="in-2")
        check(
            f"{face} LABEL_WITHDRAW",
            [a.status.code for a in withdrawn.task_assignments] == [status_code_pb2.TASK_ASSIGNMENT_PENDING],
            str(withdrawn),
        )
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
