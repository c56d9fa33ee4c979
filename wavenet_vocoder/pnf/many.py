"""Many inputs in one command: a folder of audio files or a list file where one input goes, one
output folder per input, a summary of all of them, and the inputs shared out among the processes
of a ``torchrun`` job (rank r takes every world-th input).

Each input's run is exactly the run of that file alone (same flags and seed). An input whose
folder holds a ``run.json`` (written last, atomically) is done and skipped when the command is run
again, so a killed job resumes; an input that fails is recorded with its one-line error and the
others go on.
"""
import csv
import io
import json
import os
import sys

from ..audio import write_atomically
from ..errors import PnfError
from ..preprocess import find_audio

LIST_SUFFIXES = (".txt", ".list")


def expand_inputs(path):
    """[(input path, output name)] when ``path`` is a folder of audio files (searched recursively; the
    name is the path below the folder, without extension) or a list file (``.txt``/``.list``: one
    path per line, ``#`` comments; the name is the file's stem); None for a single input file."""
    if os.path.isdir(path):
        return [(f, os.path.splitext(os.path.relpath(f, path))[0]) for f in find_audio(path)]
    if not path.lower().endswith(LIST_SUFFIXES):
        return None
    if not os.path.isfile(path):
        raise PnfError(f"input list {path} does not exist")
    with open(path, encoding="utf-8") as f:
        lines = [line.split("#", 1)[0].strip() for line in f]
    base = os.path.dirname(os.path.abspath(path))
    files = [line if os.path.isabs(line) else os.path.join(base, line) for line in lines if line]
    if not files:
        raise PnfError(f"input list {path} names no files")
    names = [os.path.splitext(os.path.basename(f))[0] for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PnfError(f"input list {path} names two files called {twice[0]}: their outputs would share a folder")
    return list(zip(files, names))


def my_share(inputs, processes):
    """The inputs this process samples: every ``world``-th from its ``rank``."""
    return inputs[processes.rank::processes.world]


def run_inputs(inputs, input_arg, args, run_one, processes, log=None):
    """Run ``run_one(args for one input)`` for this process's share of ``inputs``, then write the summary.

    Returns the number of this share's inputs that failed. ``log``: one line per input (stderr).
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    root = args["<output-dir>"]
    failed = 0
    share = my_share(inputs, processes)
    for k, (path, name) in enumerate(share):
        folder = os.path.join(root, name)
        if os.path.isfile(os.path.join(folder, "run.json")):
            log(f"[{k + 1}/{len(share)}] {path}: already done in {folder}")
            continue
        log(f"[{k + 1}/{len(share)}] {path} -> {folder}")
        try:
            run_one({**args, input_arg: path, "<output-dir>": folder})
        except PnfError as e:
            failed += 1
            os.makedirs(folder, exist_ok=True)
            message = str(e).splitlines()[0]
            write_atomically(os.path.join(folder, "error.txt"), lambda f: f.write(message + "\n"), mode="w")
            log(f"error: {path}: {message}")
    write_summary(root, inputs)
    return failed


def _flatten(prefix, value, into):
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}_{key}" if prefix else key, inner, into)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        into[prefix] = value


def input_record(path, name, root):
    """One input's line of the summary: status (done, failed, pending), seconds, error, metrics."""
    folder = os.path.join(root, name)
    record = {"input": path, "output": folder, "status": "pending", "seconds": None, "error": None, "metrics": {}}
    report_path, error_path = os.path.join(folder, "run.json"), os.path.join(folder, "error.txt")
    if os.path.isfile(report_path):
        with open(report_path) as f:
            report = json.load(f)
        record.update(status="done", seconds=report.get("seconds"), metrics=report.get("metrics") or {})
    elif os.path.isfile(error_path):
        with open(error_path) as f:
            record.update(status="failed", error=f.read().strip())
    return record


def write_summary(root, inputs):
    """Write ``summary.json`` (one record per input) and ``summary.csv`` (the same, metrics flattened,
    e.g. ``pnf_snr``) into ``root``. Any process may write it: it reads every input's folder, so the
    last process to finish writes the complete one."""
    records = [input_record(path, name, root) for path, name in inputs]
    os.makedirs(root, exist_ok=True)
    text = json.dumps(records, indent=2) + "\n"
    write_atomically(os.path.join(root, "summary.json"), lambda f: f.write(text), mode="w")
    fixed = ["input", "output", "status", "seconds", "error"]
    rows, columns = [], list(fixed)
    for record in records:
        flat = {}
        _flatten("", record["metrics"], flat)
        rows.append({**{k: record[k] for k in fixed}, **flat})
        columns += [k for k in flat if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(os.path.join(root, "summary.csv"), lambda f: f.write(buffer.getvalue()), mode="w")
    return records
