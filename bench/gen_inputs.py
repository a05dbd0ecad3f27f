#!/usr/bin/env python3
"""Generate N inputs in datasets of 100,000 lines, and ten tasks over them, for the benchmark.

Usage: gen_inputs.py N OUTDIR

Writes OUTDIR/inputs/ds-<k>.jsonl (100,000 Input JSON lines each, ~95 bytes a line; fewer in
the last), OUTDIR/tasks/<id>.yaml (ten tasks: ALL_INPUTS, DATASET and INPUT sources; FULL,
PARTITIONED EVENLY and WEIGHTED, DYNAMIC; MANUAL review with a sample), and, last, OUTDIR/done
(its presence marks a complete set). Deterministic: the same N gives the same files.
"""

import os
import random
import sys

PER_FILE = 100_000


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(n)
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(out, "tasks"), exist_ok=True)
    files = (n + PER_FILE - 1) // PER_FILE
    for k in range(files):
        ids = range(k * PER_FILE, min(n, (k + 1) * PER_FILE))
        lines = [
            f'{{"id": "img-{i:07d}", "data": {{"image": {{"url": "https://cdn.example.com/b/{i:07d}.jpg"}}, "metadata": {{"batch": {rng.randint(1, 400)}}}}}}}\n'
            for i in ids
        ]
        rng.shuffle(lines)
        with open(os.path.join(out, "inputs", f"ds-{k:02d}.jsonl"), "w") as f:
            f.writelines(lines)
    base = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n"
    weighted = (
        "worker:\n  strategy: PARTITIONED\n  user_ids: [w1, w2, w3, w4, w5]\n"
        "  partitioned_strategy_info:\n    type: WEIGHTED\n    workers_per_input: 1\n"
        "    weights: {w1: 40, w2: 25, w3: 15, w4: 10, w5: 10}\n"
    )
    evenly = (
        "worker:\n  strategy: PARTITIONED\n  user_ids: [e1, e2, e3]\n"
        "  partitioned_strategy_info: {type: EVENLY, workers_per_input: 2}\n"
    )
    full = "worker: {strategy: FULL, user_ids: [f1, f2]}\n"
    dynamic = "worker: {strategy: DYNAMIC, user_ids: [d1, d2]}\n"
    manual = (
        "review: {strategy: MANUAL, user_ids: [r1, r2, r3], "
        "manual_strategy_info: {sample_percentage: 0.1}}\n"
    )
    ds = lambda k: f"input_source: {{type: DATASET, id: ds-{k % files:02d}}}\n"
    tasks = {
        "weighted-all": "input_source: {type: ALL_INPUTS}\n" + weighted,
        "evenly-all": "input_source: {type: ALL_INPUTS}\n" + evenly + manual,
        "full-all": "input_source: {type: ALL_INPUTS}\n" + full,
        "dynamic-all": "input_source: {type: ALL_INPUTS}\n" + dynamic,
        "weighted-ds0": ds(0) + weighted,
        "evenly-ds1": ds(1) + evenly,
        "full-ds2": ds(2) + full + manual,
        "weighted-ds3": ds(3) + weighted + manual,
        "one-input": "input_source: {type: INPUT, id: img-0000007}\n" + weighted,
        "evenly-ds4": ds(4) + evenly,
    }
    for task_id, body in tasks.items():
        with open(os.path.join(out, "tasks", f"{task_id}.yaml"), "w") as f:
            f.write(f"id: {task_id}\n{base}{body}")
    open(os.path.join(out, "done"), "w").close()


if __name__ == "__main__":
    main()
