"""Where CI's time goes: a Markdown report of a `.ci/run` log.

    bash .ci/run 2>&1 | tee ci.log
    python tools/ci_times.py --log=ci.log

Reads the phase lines `.ci/run` prints (`[ci] PHASE: N s (total M s)`), each pytest
run's closing line (passed, failed, deselected, seconds) and the slowest tests pytest
lists (`--durations`, pytest.ini), and prints three tables: the phases with their wall
time and tests, the totals, and the --slowest longest test phases (setup, call or
teardown) of all runs together. docs/PERFORMANCE.md's "The test suite's time" is its
output.
"""
from __future__ import annotations

import re

from absl import app, flags

from lawm_jax.cli import run_main

PHASE = re.compile(r"^\[ci\] (.+): (\d+) s \(total (\d+) s\)$")
SUMMARY = re.compile(r"^=+ (.*\d+ (?:passed|failed|error).*) in ([\d.]+)s")
DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown) +(\S+)$")


def read_log(text: str, name: str = "the log") -> tuple[list[dict], list[tuple]]:
    """(phases, durations): each phase's name, seconds, running total and the pytest
    summary that closed inside it ('' if none); each listed test phase as (seconds,
    'call'/'setup'/'teardown', test id, the CI phase it ran in)."""
    phases, durations, summary, pending = [], [], "", []
    for line in text.splitlines():
        line = line.strip()
        if m := PHASE.match(line):
            phases.append({"name": m.group(1), "seconds": int(m.group(2)), "total": int(m.group(3)),
                           "tests": summary})
            durations += [(*d, m.group(1)) for d in pending]
            summary, pending = "", []
        elif m := SUMMARY.match(line):
            summary = m.group(1)
        elif m := DURATION.match(line):
            pending.append((float(m.group(1)), m.group(2), m.group(3)))
    if not phases:
        raise app.UsageError(f"{name}: no '[ci] PHASE: N s (total M s)' lines; pass the output of "
                             "`bash .ci/run`")
    return phases, sorted(durations, reverse=True)


def counts(summary: str) -> dict:
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


def report(phases: list[dict], durations: list[tuple], slowest: int) -> str:
    lines = ["| phase | wall time | tests |", "|---|---|---|"]
    lines += [f"| {p['name']} | {p['seconds'] / 60:.1f} min ({p['seconds']} s) | {p['tests'] or '-'} |"
              for p in phases]
    passed = sum(counts(p["tests"]).get("passed", 0) for p in phases)
    failed = sum(counts(p["tests"]).get(w, 0) for p in phases for w in ("failed", "error", "errors"))
    total = phases[-1]["total"]
    lines += ["", "| in all | wall time | tests passed | failed or errors |", "|---|---|---|---|",
              f"| `.ci/run` | {total / 60:.1f} min ({total} s) | {passed} | {failed} |", "",
              f"The {min(slowest, len(durations))} slowest test phases (one worker's wall time each; two run at once "
              "under -n 2):", "", "| seconds | phase | test | CI phase |", "|---|---|---|---|"]
    lines += [f"| {s:.1f} | {when} | `{test}` | {phase} |" for s, when, test, phase in durations[:slowest]]
    return "\n".join(lines)


def main(argv):
    del argv
    f = flags.FLAGS
    with open(f.log, errors="replace") as log:
        phases, durations = read_log(log.read(), f"--log={f.log}")
    print(report(phases, durations, f.slowest))


if __name__ == "__main__":  # flags defined here only: tests import this module beside other tools
    flags.DEFINE_string("log", None, "the output of `bash .ci/run`")
    flags.DEFINE_integer("slowest", 30, "how many of the slowest tests to list")
    flags.mark_flag_as_required("log")
    run_main(main)
