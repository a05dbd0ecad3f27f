#!/usr/bin/env python3
"""Generate a labeling history for the workflow benchmark (issue 12).

Usage: gen_work.py N OUTDIR [--open K] [--disagree]

Writes OUTDIR/inputs/day.jsonl (N inputs), OUTDIR/tasks/consensus.yaml (a CONCEPTS_CLASSIFICATION
task over them: PARTITIONED EVENLY over three workers with workers_per_input 3, so every worker
labels every input, and CONSENSUS review with approval_threshold 2) and each worker's work file
OUTDIR/work/consensus/<worker>.jsonl: an annotation and a submit for every input but the last
K (default 100, left open for the benchmark to submit), so about 3 * N annotations and 3 * N
submits. The workers agree on most inputs (one of them says otherwise on one input in five, all
three on one in twenty), so consensus approves most inputs, outvotes a worker on some and sends a
few to review; with --disagree the three always differ, so every submitted input awaits consensus
review. Then, last, OUTDIR/done (its presence marks a complete set). Deterministic: the same
arguments give the same files.
"""

import os
import random
import sys

WORKERS = ["ann", "bob", "carl"]


def main():
    args = sys.argv[1:]
    disagree = "--disagree" in args
    args = [a for a in args if a != "--disagree"]
    keep_open = 100
    if "--open" in args:
        at = args.index("--open")
        keep_open = int(args[at + 1])
        del args[at:at + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    rng = random.Random(n)
    for folder in ["inputs", "tasks", "work/consensus"]:
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    ids = [f"img-{i:07d}" for i in range(n)]
    with open(os.path.join(out, "inputs", "day.jsonl"), "w") as f:
        f.writelines(f'{{"id": "{i}", "data": {{"image": {{"url": "https://cdn.example.com/{i}.jpg"}}}}}}\n' for i in ids)
    with open(os.path.join(out, "tasks", "consensus.yaml"), "w") as f:
        f.write(
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog, bird]\n"
            "input_source: {type: ALL_INPUTS}\n"
            "worker:\n  strategy: PARTITIONED\n  user_ids: [ann, bob, carl]\n"
            "  partitioned_strategy_info: {type: EVENLY, workers_per_input: 3}\n"
            "review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n"
        )
    # What each worker says about each input.
    said = {w: [] for w in WORKERS}
    for _ in ids:
        truth = rng.choice(["cat", "dog"])
        labels = [truth] * 3
        roll = rng.random()
        if disagree or roll < 0.05:
            labels = ["cat", "dog", "bird"]
        elif roll < 0.25:
            labels[rng.randrange(3)] = "bird"
        for w, label in zip(WORKERS, labels):
            said[w].append(label)
    todo = ids[:-keep_open] if keep_open else ids
    # The k-th line pair of every worker has the same time: formatted once (a third of the
    # time at 1,000,000 inputs).
    ats = []
    for k in range(len(todo)):
        second, micro = divmod(k, 1000)
        ats.append(f"2026-12-03T{8 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{micro:03d}000Z")
    for w in WORKERS:
        with open(os.path.join(out, "work", "consensus", f"{w}.jsonl"), "w") as f:
            f.writelines(
                f'{{"at":"{at}","annotation":{{"id":"{w}-{i}","input_id":"{i}",'
                f'"data":{{"concepts":[{{"id":"{label}","value":1.0}}]}}}}}}\n'
                f'{{"at":"{at}","submit":{{"input_id":"{i}"}}}}\n'
                for at, i, label in zip(ats, todo, said[w])
            )
    open(os.path.join(out, "done"), "w").close()


if __name__ == "__main__":
    main()
