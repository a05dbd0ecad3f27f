-- The annotask index: derived from the YAML files under tasks/ and the dataset files under
-- inputs/, never edited by hand.
-- When this version changes, annotask drops everything and rebuilds the index from the files
-- instead of migrating.
PRAGMA user_version = 13;

-- Tasks are keyed by a small integer so the link tables stay narrow. Queries find tasks through
-- indexes (by id, by user) and read a row only for its body.
CREATE TABLE tasks (
    key  INTEGER PRIMARY KEY,
    id   TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,          -- the file the task was last read from, relative to the root
    json TEXT NOT NULL,          -- the canonical API JSON of the task
    proto BLOB NOT NULL,         -- the same task as a protobuf clarifai.api.Task
    source    TEXT NOT NULL,     -- its input_source: ALL_INPUTS | DATASET | INPUT | '' (nothing
    source_id TEXT NOT NULL      -- offline), and the dataset or input it names (src/plans.rs)
);

CREATE TABLE users (
    key INTEGER PRIMARY KEY,
    id  TEXT NOT NULL UNIQUE
);

-- Who works on and reviews each task, keyed by user and task id: a page of a user's tasks is
-- read off the key in list order, without looking up (and sorting) every task of the user. A
-- sync into an empty index reads tasks in id order, so it appends to each user's run of rows;
-- a second table or index keyed by task would cost a sort or a B-tree more per link (a tenth of
-- a 20,000-file load), and a task's links are found from its old body when it changes.
CREATE TABLE task_workers (
    user INTEGER NOT NULL,       -- users.key
    id   TEXT NOT NULL,          -- tasks.id
    task INTEGER NOT NULL,       -- tasks.key
    PRIMARY KEY (user, id)
) WITHOUT ROWID;

CREATE TABLE task_reviewers (
    user INTEGER NOT NULL,
    id   TEXT NOT NULL,
    task INTEGER NOT NULL,
    PRIMARY KEY (user, id)
) WITHOUT ROWID;

-- One row per task file: what it looked like when last read (a sync re-reads a file only when
-- its size or mtime differ), the id it claims, and how many problems it has.
CREATE TABLE files (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    claim    TEXT,               -- the task id the file defines, when known
    errors   INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    conflict INTEGER NOT NULL    -- 1 while another file claims the same id
) WITHOUT ROWID;

-- Every sync asks who claims an id, so this index stays even during a bulk load.
CREATE INDEX files_claim ON files (claim);
-- A sync of a few paths reads every file in an id conflict again (a change elsewhere may
-- have ended it): found here, not by scanning every file, which cost each write under a
-- watcher a millisecond or more at 20,000 tasks. Rows enter it only in a conflict.
CREATE INDEX files_conflict ON files (path) WHERE conflict;

CREATE TABLE diagnostics (
    file     TEXT NOT NULL,      -- files.path
    seq      INTEGER NOT NULL,
    severity TEXT NOT NULL,      -- error | warning
    line     INTEGER,
    col      INTEGER,
    field    TEXT NOT NULL,
    message  TEXT NOT NULL,
    hint     TEXT,
    PRIMARY KEY (file, seq)
) WITHOUT ROWID;

-- A dataset: the inputs of one file under inputs/, named by the file's name without its
-- extension. A dataset whose file turned unreadable keeps the inputs it was last read with.
CREATE TABLE datasets (
    key    INTEGER PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE,
    file   TEXT NOT NULL,        -- the file its inputs were last read from
    blocks BLOB NOT NULL         -- where its blocks of 256 lines start: u64 LE byte offsets,
                                 -- then the file's length
);

-- One row per input of a dataset. The input's text stays in the file: the row says where its
-- line is, so 1,000,000 inputs cost their ids and a few bytes each. A line number, not a byte
-- offset, so that a line edited in place rewrites its own row only. Keyed by dataset, so that
-- a changed file's rows are read, compared and rewritten in one range.
CREATE TABLE inputs (
    dataset INTEGER NOT NULL,    -- datasets.key
    id      TEXT NOT NULL,
    line    INTEGER NOT NULL,    -- the line its text (CSV: record) starts on, from 1
    len     INTEGER NOT NULL,    -- the line's length in bytes, without the line break
    PRIMARY KEY (dataset, id)
) WITHOUT ROWID;

-- One row per file under inputs/, as `files` for task files: its size and mtime when last read,
-- and its problem counts (the diagnostics are in `diagnostics`).
CREATE TABLE dataset_files (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    errors   INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    conflict INTEGER NOT NULL    -- 1 while another file defines the same dataset
) WITHOUT ROWID;

-- Each task's assignment (src/plans.rs): how many inputs its input_source selects and, for
-- PARTITIONED, each worker's count and the plan's few exceptions to the hash's preference; for
-- MANUAL review, the sample's threshold and the reviewers' counts. A sync remakes a task's row
-- only when the task or the set of its inputs changed; who labels an input is computed from
-- it. A task whose source selects no input has no row: its plan is the empty one, which every
-- reader makes when it finds none, so that a project without inputs costs nothing to plan.
CREATE TABLE task_plans (
    task          TEXT PRIMARY KEY,  -- tasks.id
    inputs        INTEGER NOT NULL,  -- how many inputs the source selects
    quotas        TEXT,              -- PARTITIONED: a JSON array, in the task's worker order
    sample_hash   INTEGER,           -- MANUAL review: the largest sampled (hash, input id)
    sample_id     TEXT,
    sampled       INTEGER,
    review_quotas TEXT               -- MANUAL review: a JSON array, in the reviewers' order
) WITHOUT ROWID;

CREATE TABLE plan_moves (
    task   TEXT NOT NULL,
    review INTEGER NOT NULL,         -- 0: the workers' plan; 1: the reviewers'
    input  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    from_worker INTEGER NOT NULL,    -- indexes into the task's workers (or reviewers)
    to_worker   INTEGER NOT NULL,
    PRIMARY KEY (task, review, input, seq)
) WITHOUT ROWID;

-- One row per work file (work/<task>/<user>.jsonl), as `dataset_files`: its size and mtime when
-- last read, how many lines had been read (an appended file is read from there on), a hash of
-- its last bytes (to tell an append from a rewrite), and its problem counts.
CREATE TABLE work_files (
    path     TEXT PRIMARY KEY,
    task     TEXT NOT NULL,
    user     TEXT NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    consumed INTEGER NOT NULL,   -- bytes read: up to the end of the last whole line
    lines    INTEGER NOT NULL,   -- whole lines read
    tail     BLOB NOT NULL,      -- the (up to 64) bytes before `consumed`
    errors   INTEGER NOT NULL,
    warnings INTEGER NOT NULL
) WITHOUT ROWID;

-- Every event of the work files, under each input it is about (a hand-out names several), one
-- row per input of a task: replaying an input reads its row back (a row per event cost five
-- times the inserts).
CREATE TABLE work_events (
    task   TEXT NOT NULL,
    input  TEXT NOT NULL,
    events TEXT NOT NULL,           -- JSON: [[user, line, kind, at, data], ...] by user and line
                                    -- (work::Stored: kind 0 start, 1 annotation, 2 submit,
                                    -- 3 review; at in microseconds; data an annotation's or a
                                    -- review's JSON)
    PRIMARY KEY (task, input)
) WITHOUT ROWID;

-- What replaying an input's events derived (work::replay): one row per holder of an input
-- that has events (a planned holder of an input without events is PENDING by its plan) ...
CREATE TABLE work_state (
    task        TEXT NOT NULL,
    input       TEXT NOT NULL,
    worker      TEXT NOT NULL,
    state       INTEGER NOT NULL,   -- work::State
    planned     INTEGER NOT NULL,   -- 1 when the plan gives the worker this input
    submissions INTEGER NOT NULL,
    PRIMARY KEY (task, input, worker)
) WITHOUT ROWID;

-- ... one row per input with events: its outcome, whether its labeling is done, and whether
-- MANUAL review sampled it when it was replayed ...
CREATE TABLE work_inputs (
    task    TEXT NOT NULL,
    input   TEXT NOT NULL,
    outcome INTEGER NOT NULL,       -- 0 open, 1 awaiting review, 2 approved, 3 rejected
    labeled INTEGER NOT NULL,
    sampled INTEGER NOT NULL,
    PRIMARY KEY (task, input)
) WITHOUT ROWID;

-- ... every current annotation ...
CREATE TABLE annotations (
    task        TEXT NOT NULL,
    input       TEXT NOT NULL,
    worker      TEXT NOT NULL,
    id          TEXT NOT NULL,
    state       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,   -- microseconds since 1970
    modified_at INTEGER NOT NULL,
    line        INTEGER NOT NULL,   -- its latest version's line: its JSON is in work_events
    PRIMARY KEY (task, input, worker, id)
) WITHOUT ROWID;

-- ... the lines on each input that break a rule the API enforces (work::Refused), reported
-- as warnings of their files beside the diagnostics of reading them ...
CREATE TABLE work_refused (
    task    TEXT NOT NULL,
    input   TEXT NOT NULL,
    file    TEXT NOT NULL,          -- work_files.path
    line    INTEGER NOT NULL,
    col     INTEGER NOT NULL,
    field   TEXT NOT NULL,
    message TEXT NOT NULL,
    hint    TEXT
);
CREATE INDEX work_refused_input ON work_refused (task, input);

-- ... and their counts per task, worker and state, kept as rows change, so counts never scan.
CREATE TABLE work_counts (
    task   TEXT NOT NULL,
    worker TEXT NOT NULL,
    kind   INTEGER NOT NULL,        -- 0 planned assignments, 1 other assignments, 2 annotations
    state  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (task, worker, kind, state)
) WITHOUT ROWID;

-- Where a worker's walk for open assignments (LABEL_START, ListNextTaskAssignments) may start:
-- every input before `input` that the task's plan gives the worker has a work_state row of
-- theirs. A shortcut only (no row: the walk starts at the first input), so a rebuilt index
-- answers the same: LABEL_START moves it forward, a work_state row that goes moves it back to
-- its input, a new plan drops the task's rows, and every sync places the missing ones (so the
-- first LABEL_START after a rebuild costs a page).
CREATE TABLE work_frontier (
    task   TEXT NOT NULL,
    worker TEXT NOT NULL,
    input  TEXT NOT NULL,
    PRIMARY KEY (task, worker)
) WITHOUT ROWID;

-- Indexes only queries need. A sync into an empty index builds them after loading, which is
-- faster than maintaining them row by row.
-- [indexes]
-- The tasks a changed dataset may give inputs to: every ALL_INPUTS and INPUT task, and the
-- DATASET tasks naming it.
CREATE INDEX tasks_source ON tasks (source, source_id);
-- Every input id once, in id order (ALL_INPUTS), and one input's datasets (INPUT).
CREATE INDEX inputs_id ON inputs (id);
-- A worker's assignments by state (LABEL_START, REVIEW_START).
CREATE INDEX work_state_worker ON work_state (task, worker, state, input);

