#!/usr/bin/env python3
"""Generate N realistic annotask task files for the benchmark.

Usage: gen.py N OUTDIR [--verify]

Writes OUTDIR/tasks/<0x>/<id>.yaml (16 subfolders, 00..0f, ~600 bytes each)
and OUTDIR/users.txt (the most common worker user id, for the list query).
Everything is drawn from random.Random(N), so the same N always gives the
same files. users.txt is written last: its presence marks a complete set.

--verify re-reads every written file with PyYAML and checks the invariants
below (a slow sanity check; the benchmark itself does not need it).
"""

import collections
import datetime
import os
import random
import sys

USERS = [f"u-{i:04d}" for i in range(300)]

# 50 concept ids; none of them is a YAML keyword (yes/no/on/off/null/...).
CONCEPTS = [
    "cat", "dog", "car", "truck", "bus", "bicycle", "motorcycle", "person",
    "traffic-light", "stop-sign", "bench", "bird", "horse", "sheep", "cow",
    "backpack", "umbrella", "handbag", "suitcase", "bottle", "cup", "chair",
    "couch", "potted-plant", "bed", "table", "tv", "laptop", "phone", "book",
    "clock", "vase", "scissors", "tree", "building", "road-sign", "crosswalk",
    "pothole", "scooter", "stroller", "wheelchair", "fire-hydrant", "boat",
    "train", "airplane", "kite", "skateboard", "surfboard", "pizza", "banana",
]

TYPES = ["CONCEPTS_CLASSIFICATION", "BOUNDING_BOX_DETECTION", "POLYGON_DETECTION"]
SCENES = [
    "street-scenes", "retail-shelves", "home-interiors", "drone-survey",
    "dashcam", "farm-monitoring", "harbor-cams", "sports-broadcast",
]
STATUS = ["TASK_IN_PROGRESS", "TASK_DONE", "TASK_IDLE"]
PRIORITY = ["LOW", "MEDIUM", "HIGH"]

VERBS = {
    "CONCEPTS_CLASSIFICATION": "Label",
    "BOUNDING_BOX_DETECTION": "Draw boxes around",
    "POLYGON_DETECTION": "Outline with polygons",
}
DESC_TAILS = [
    "skip blurry frames",
    "count objects that are half visible",
    "see the wiki when unsure",
    "flag faces and plates",
    "ignore reflections",
    "mark ambiguous cases",
    "night images included",
    "keep boundaries tight",
]
BASE_TIME = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def flow_list(items):
    return "[" + ", ".join(items) + "]"


def make_description(rng, ttype, concepts, scene):
    """A sentence of 60..120 characters (no ':' or '#', so it stays plain YAML)."""
    while True:
        what = " and ".join([", ".join(concepts[:-1]), concepts[-1]] if len(concepts) > 1 else concepts)
        text = (f"{VERBS[ttype]} every {what} in {scene.replace('-', ' ')} "
                f"images; {rng.choice(DESC_TAILS)}.")
        if 60 <= len(text) <= 120:
            return text
        if len(text) > 120:
            concepts = concepts[:1]  # shorten and retry
        else:
            text += " Thanks!"
            if 60 <= len(text) <= 120:
                return text


def make_task(rng, task_id):
    """Return (yaml_text, worker_ids, reviewer_ids) for one task."""
    ttype = rng.choice(TYPES)
    concepts = rng.sample(CONCEPTS, rng.randint(1, 3))
    scene = rng.choice(SCENES)
    batch = rng.randint(1, 400)

    lines = [
        f"id: {task_id}",
        f"type: {ttype}",
        f"name: Annotate {concepts[0]} in {scene} batch {batch}",
        f"description: {make_description(rng, ttype, concepts, scene)}",
        "worker:",
    ]

    # Worker strategy: FULL ~40%, PARTITIONED ~50%, DYNAMIC ~10%.
    r = rng.random()
    strategy = "FULL" if r < 0.4 else "PARTITIONED" if r < 0.9 else "DYNAMIC"
    # Partitioning only makes sense with at least two workers.
    n_workers = rng.randint(2, 5) if strategy == "PARTITIONED" else rng.randint(1, 5)
    workers = rng.sample(USERS, n_workers)
    lines.append(f"  strategy: {strategy}")
    if rng.random() < 0.25:  # some people write block-style lists
        lines.append("  user_ids:")
        lines.extend(f"    - {u}" for u in workers)
    else:
        lines.append(f"  user_ids: {flow_list(workers)}")
    labelers_per_input = n_workers if strategy == "FULL" else 1
    if strategy == "PARTITIONED":
        wpi = rng.randint(1, min(2, n_workers))
        labelers_per_input = wpi
        lines.append("  partitioned_strategy_info:")
        if rng.random() < 0.6:
            # weight_i / sum(weights) * workers_per_input <= 1 must hold:
            # any positive weights work for 1 worker per input, equal
            # weights for 2 (since there are at least 2 workers).
            if wpi == 1:
                weights = [rng.randint(1, 10) * 10 for _ in workers]
            else:
                weights = [rng.choice([1, 10, 50])] * n_workers
            pairs = ", ".join(f"{u}: {w}" for u, w in zip(workers, weights))
            lines += ["    type: WEIGHTED", f"    workers_per_input: {wpi}",
                      f"    weights: {{{pairs}}}"]
        else:
            lines += ["    type: EVENLY", f"    workers_per_input: {wpi}"]

    lines.append(f"concept_ids: {flow_list(concepts)}")

    lines.append("input_source:")
    if rng.random() < 0.8:
        lines += ["  type: DATASET", f"  id: ds-{rng.randint(1, 120)}"]
    else:
        lines.append("  type: ALL_INPUTS")
    lines.append("sample_ms: 1000")

    # Review: NONE ~40%, MANUAL ~35%, CONSENSUS ~25%; reviewers are not workers.
    r = rng.random()
    others = [u for u in USERS if u not in workers]
    lines.append("review:")
    if r < 0.4:
        reviewers = []
        lines.append("  strategy: NONE")
    elif r < 0.75:
        reviewers = rng.sample(others, rng.randint(1, 2))
        lines += ["  strategy: MANUAL", f"  user_ids: {flow_list(reviewers)}",
                  "  manual_strategy_info:",
                  f"    sample_percentage: {rng.choice([0.1, 0.25, 0.5, 1.0])}"]
    else:
        reviewers = rng.sample(others, rng.randint(0, 2))
        lines.append("  strategy: CONSENSUS")
        if reviewers:
            lines.append(f"  user_ids: {flow_list(reviewers)}")
        # Never ask for more agreeing labelers than label each input
        # (annotask warns about such a task: consensus could never be reached).
        threshold = rng.randint(1, min(2, labelers_per_input))
        lines += ["  consensus_strategy_info:", f"    approval_threshold: {threshold}"]

    created = BASE_TIME + datetime.timedelta(seconds=rng.randint(0, 660 * 86400))
    modified = created + datetime.timedelta(seconds=rng.randint(0, 30 * 86400))
    lines += [
        "status:",
        f"  code: {rng.choice(STATUS)}",
        f"priority: {rng.choice(PRIORITY)}",
        f"metadata: {{project: {scene}, batch: {batch}}}",
        f"created_at: '{ts(created)}'",
        f"modified_at: '{ts(modified)}'",
    ]
    return "\n".join(lines) + "\n", workers, reviewers


def verify(path):
    """Parse a generated file and check the format's invariants."""
    import yaml

    with open(path, "rb") as f:
        t = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    keys = {"id", "type", "name", "description", "worker", "concept_ids",
            "input_source", "sample_ms", "review", "status", "priority",
            "metadata", "created_at", "modified_at"}
    assert set(t) == keys, (path, set(t) ^ keys)
    assert len(t["id"]) == 32 and int(t["id"], 16) >= 0
    assert os.path.basename(path) == t["id"] + ".yaml"
    assert t["type"] in TYPES
    assert 60 <= len(t["description"]) <= 120, t["description"]
    w = t["worker"]
    users = w["user_ids"]
    assert 1 <= len(users) <= 5 and len(set(users)) == len(users)
    assert all(u in USERS for u in users)
    assert w["strategy"] in ("FULL", "PARTITIONED", "DYNAMIC")
    if w["strategy"] == "PARTITIONED":
        info = w["partitioned_strategy_info"]
        wpi = info["workers_per_input"]
        assert 1 <= wpi <= min(2, len(users))
        if info["type"] == "WEIGHTED":
            weights = info["weights"]
            assert set(weights) == set(users)
            total = sum(weights.values())
            assert all(v > 0 and v / total * wpi <= 1 for v in weights.values())
        else:
            assert info["type"] == "EVENLY" and "weights" not in info
    else:
        assert "partitioned_strategy_info" not in w
    c = t["concept_ids"]
    assert 1 <= len(c) <= 3 and len(set(c)) == len(c) and set(c) <= set(CONCEPTS)
    src = t["input_source"]
    assert src["type"] == "DATASET" and src["id"].startswith("ds-") or src == {"type": "ALL_INPUTS"}
    assert t["sample_ms"] == 1000
    rv = t["review"]
    reviewers = rv.get("user_ids", [])
    assert len(reviewers) <= 2 and all(u in USERS for u in reviewers)
    if rv["strategy"] == "NONE":
        assert rv == {"strategy": "NONE"}
    elif rv["strategy"] == "MANUAL":
        assert reviewers and 0 < rv["manual_strategy_info"]["sample_percentage"] <= 1
    else:
        assert rv["strategy"] == "CONSENSUS"
        per_input = {"FULL": len(users), "DYNAMIC": 1}.get(
            w["strategy"], w.get("partitioned_strategy_info", {}).get("workers_per_input"))
        assert rv["consensus_strategy_info"]["approval_threshold"] in range(1, min(2, per_input) + 1)
    assert t["status"]["code"] in STATUS and t["priority"] in PRIORITY
    assert set(t["metadata"]) == {"project", "batch"}
    assert isinstance(t["created_at"], str) and t["created_at"] <= t["modified_at"]


def main():
    args = [a for a in sys.argv[1:] if a != "--verify"]
    if len(args) != 2:
        sys.exit(__doc__)
    n, outdir = int(args[0]), args[1]
    tasks_dir = os.path.join(outdir, "tasks")
    if os.path.isdir(tasks_dir) and os.listdir(tasks_dir):
        sys.exit(f"gen.py: {tasks_dir} is not empty; remove it first")
    for i in range(16):
        os.makedirs(os.path.join(tasks_dir, f"{i:02x}"), exist_ok=True)

    rng = random.Random(n)
    seen = set()
    worker_count = collections.Counter()
    paths = []
    total_bytes = 0
    for _ in range(n):
        task_id = f"{rng.getrandbits(128):032x}"
        while task_id in seen:
            task_id = f"{rng.getrandbits(128):032x}"
        seen.add(task_id)
        text, workers, _reviewers = make_task(rng, task_id)
        worker_count.update(workers)
        path = os.path.join(tasks_dir, f"0{task_id[0]}", task_id + ".yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        total_bytes += len(text)
        paths.append(path)

    if "--verify" in sys.argv:
        for p in paths:
            verify(p)

    user, count = worker_count.most_common(1)[0]
    with open(os.path.join(outdir, "users.txt"), "w") as f:
        f.write(user + "\n")
    print(f"gen.py: {n} tasks in {tasks_dir}, avg {total_bytes / max(n, 1):.0f} bytes; "
          f"users.txt: {user} (worker on {count} tasks)", file=sys.stderr)


if __name__ == "__main__":
    main()
