#!/usr/bin/env python3
"""Baseline for the benchmark: what a user would write without annotask.

Usage: baseline.py ROOT

Walks ROOT/tasks for *.yaml / *.yml, parses each file with PyYAML's C loader
(libyaml) and loads everything, in one transaction, into a fresh SQLite
database ROOT/baseline.db:

  tasks(id TEXT PRIMARY KEY, file TEXT, body TEXT)   -- body is the task as JSON
  task_workers(task_id, user_id, weight)             -- weight from WEIGHTED partitioning
  task_reviewers(task_id, user_id)

with indexes on task_workers(user_id) and task_reviewers(user_id).
Plain single-process code: no parallelism, no tuning pragmas.
"""

import json
import os
import sqlite3
import sys

import yaml

# Fail loudly if PyYAML was built without libyaml: the pure-Python loader is
# ~10x slower and would make the baseline unfairly slow.
if not getattr(yaml, "__with_libyaml__", False) or not hasattr(yaml, "CSafeLoader"):
    sys.exit("baseline.py: PyYAML has no libyaml support (yaml.CSafeLoader missing); "
             "install PyYAML with libyaml")
from yaml import CSafeLoader  # noqa: E402

SCHEMA = """
CREATE TABLE tasks (id TEXT PRIMARY KEY, file TEXT, body TEXT);
CREATE TABLE task_workers (task_id TEXT, user_id TEXT, weight INTEGER);
CREATE TABLE task_reviewers (task_id TEXT, user_id TEXT);
CREATE INDEX task_workers_user ON task_workers(user_id);
CREATE INDEX task_reviewers_user ON task_reviewers(user_id);
"""


def task_files(root):
    """(path, path relative to root) of every task file under root/tasks."""
    for dirpath, _dirnames, filenames in os.walk(os.path.join(root, "tasks")):
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.endswith((".yaml", ".yml")):
                yield os.path.join(dirpath, name), os.path.join(rel_dir, name)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    db_path = os.path.join(root, "baseline.db")
    if os.path.exists(db_path):
        os.remove(db_path)

    tasks, workers, reviewers = [], [], []
    for path, rel in task_files(root):
        with open(path, "rb") as f:
            task = yaml.load(f, Loader=CSafeLoader)
        task_id = task["id"]
        # default=str covers unquoted timestamps, which YAML turns into datetimes
        tasks.append((task_id, rel, json.dumps(task, default=str)))

        worker = task.get("worker") or {}
        info = worker.get("partitioned_strategy_info") or {}
        weights = info.get("weights") or {}
        for user in worker.get("user_ids") or []:
            workers.append((task_id, user, weights.get(user)))
        for user in (task.get("review") or {}).get("user_ids") or []:
            reviewers.append((task_id, user))

    # isolation_level=None: no implicit transactions, we issue BEGIN/COMMIT.
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT INTO tasks VALUES (?, ?, ?)", tasks)
    conn.executemany("INSERT INTO task_workers VALUES (?, ?, ?)", workers)
    conn.executemany("INSERT INTO task_reviewers VALUES (?, ?)", reviewers)
    conn.execute("COMMIT")
    conn.close()
    print(f"baseline.py: {len(tasks)} tasks, {len(workers)} workers, "
          f"{len(reviewers)} reviewers -> {db_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
