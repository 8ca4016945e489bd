"""The paper's §5-6 and App. B at small scale, in one command: trains what the tables
need (bottleneck x coefficient x seed, one pixel decoder), evaluates, and writes every
table and figure beside the paper's numbers.

    python experiments/reproduce.py --root=/tmp/lawm_repro --budget=small [--eval_data=DIR]

Budgets (BUDGETS below): `smoke` checks the plumbing in minutes (the tests run it);
`small` is the one a 2-core machine runs in under 2.5 hours; `full` is for longer runs
in the background. Each runs, in fresh processes sharing --root (so each reuses the
others' trained runs): capacity_sweep (Fig. 4), leakage_table (Table 1), transfer_table
(Table 2 and the Fig. 7 pictures), sampling_table (Fig. S1), scaling_study (Fig. 12),
and with --eval_data the first three again on that folder of videos (reported
separately). The recipe is configs/scenes.py (--config): scenes over photographs,
evaluated on unseen clips over held-out photographs.

Resumable: a re-run skips the steps already finished with the same command and reuses
every trained run. Writes ROOT/reproduce.md (the findings against the paper's, then each
report) and ROOT/reproduce.json (the numbers); every picture and report is labelled with
the budget. Logs: ROOT/logs/<step>.log. --publish=docs copies the report, its pictures
and the headline numbers (a few KB; headline()) to docs/reproduce_<budget>/ and the
findings into docs/RESULTS.md.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

ROOT = flags.DEFINE_string("root", "/tmp/lawm_repro", "runs, evaluations and reports")
BUDGET = flags.DEFINE_enum("budget", "smoke", ["smoke", "small", "full"], "how much to train")
CONFIG = flags.DEFINE_string("config", os.path.join(REPO, "configs", "scenes.py"), "the recipe")
EVAL_DATA = flags.DEFINE_string("eval_data", "", "also evaluate on this folder (or list file) of videos")
SET = flags.DEFINE_multi_string("set", [], "KEY=VALUE config overrides for every run (repeatable)")
PUBLISH = flags.DEFINE_string("publish", "", "also write the report, its pictures and the numbers into "
                              "FOLDER/reproduce_<budget>/ (report.md, results.json, *.png) and the findings into "
                              "FOLDER/RESULTS.md between the budget's markers (e.g. --publish=docs)")

# Low/high capacity rows of the tables: the ends of the sweep that the recipe's
# measurements put at the deterministic model and near the unconstrained one
# (docs/DESIGN.md, Bottlenecks).
CAPACITY = "sparse:0.1:0.0001,noisy:0.01:0.00001,vq:8:512"
BUDGETS = {
    # The plumbing at the least cost (each run costs a compile of half a minute): sparse at
    # two points, noisy and VQ at one each (low = high in the tables: their rows repeat).
    "smoke": dict(steps=4, seeds="0", decoder_steps=2, max_clips=8, sgld_steps=20,
                  capacity="sparse:0.1:0.0001,noisy:0.00001:0.00001,vq:8:8",
                  sparse="0.1,0.0001", noisy="0.00001", vq="8",
                  scaling=dict(kinds="noisy", coefficients="noisy:0.00001", step_factors="0.5,1", widths="1",
                               shares="0.5,1")),
    "small": dict(steps=300, seeds="0,1,2", decoder_steps=1000, max_clips=128, sgld_steps=1000, capacity=CAPACITY,
                  sparse="0.1,0.01,0.001,0.0001", noisy="0.01,0.001,0.0001,0.00001", vq="8,64,512",
                  scaling=dict(kinds="noisy", coefficients="noisy:0.00001", step_factors="0.5,1,2", widths="1",
                               shares="0.25,0.5,1")),
    "full": dict(steps=3000, seeds="0,1,2,3,4", decoder_steps=5000, max_clips=256, sgld_steps=10000, capacity=CAPACITY,
                 sparse="0.1,0.03,0.01,0.003,0.001,0.0003,0.0001", noisy="0.01,0.001,0.0001,0.00001,0.000001",
                 vq="8,64,512,1024",
                 scaling=dict(kinds="sparse,noisy", coefficients="sparse:0.0001,noisy:0.00001",
                              step_factors="0.25,0.5,1,2", widths="0.5,1,2", shares="0.25,0.5,1")),
}


def from_repo(path: str) -> str:
    """A path as the scripts, which run in REPO, must be given it: absolute ones as they
    are, relative ones (to this process's directory) made relative to REPO."""
    return path if os.path.isabs(path) else os.path.relpath(os.path.abspath(path), REPO)


def steps(budget: dict) -> list[tuple[str, str, list[str]]]:
    """(step name, script, its flags) in order."""
    shared = [f"--root={os.path.abspath(ROOT.value)}", f"--config={from_repo(CONFIG.value)}",
              f"--tag=budget {BUDGET.value}", f"--steps={budget['steps']}", f"--seeds={budget['seeds']}",
              f"--decoder_steps={budget['decoder_steps']}", f"--max_clips={budget['max_clips']}",
              f"--capacity={budget['capacity']}"] + [f"--set={s}" for s in SET.value]
    sweep = [f"--sparse={budget['sparse']}", f"--noisy={budget['noisy']}", f"--vq={budget['vq']}"]
    out = [("capacity_sweep", "capacity_sweep", shared + sweep),
           ("leakage_table", "leakage_table", shared),
           ("transfer_table", "transfer_table", shared),
           ("sampling_table", "sampling_table", shared + [f"--sgld_steps={budget['sgld_steps']}"]),
           ("scaling_study", "scaling_study", shared + [f"--{k}={v}" for k, v in budget["scaling"].items()])]
    if EVAL_DATA.value:
        videos = [f"--eval_data={from_repo(EVAL_DATA.value)}"]
        out += [(f"{name}_videos", name, shared + extra + videos)
                for name, extra in (("capacity_sweep", sweep), ("leakage_table", []), ("transfer_table", []))]
    return out


def run_step(name: str, script: str, args: list[str]) -> float:
    """Runs one script in a fresh process (in REPO) unless it already finished with these
    flags; returns its seconds (those of the finished run when skipped)."""
    cmd = [sys.executable, os.path.join(REPO, "experiments", f"{script}.py")] + args
    done = os.path.join(ROOT.value, "reproduce", f"{name}.done")
    if os.path.exists(done) and json.load(open(done))["command"] == cmd[1:]:
        print(f"{name}: done before, reused", flush=True)
        return json.load(open(done))["seconds"]
    print(f"{name}: running ({' '.join(cmd[1:])})", flush=True)
    log = os.path.join(ROOT.value, "logs", f"{name}.log")
    t0 = time.time()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO).returncode
    seconds = time.time() - t0
    if rc != 0:
        tail = open(log).read()[-2000:]
        raise SystemExit(f"reproduce: {name} failed (exit {rc}); its log: {log}\n{tail}\n"
                         "Fix the cause and run the same command again: finished steps and trained runs are reused.")
    with open(done, "w") as f:
        json.dump({"command": cmd[1:], "seconds": seconds}, f)
    print(f"{name}: {seconds:.0f} s", flush=True)
    return seconds


# --- the findings, against the paper's (the "what the small budget must show") ---

def _row(rows, kind):
    return next(r for r in rows if r["kind"] == kind)


def capacity_findings(res: dict, where: str) -> list[list]:
    rows = res["held_out"]
    det, unc, copy = (_row(rows, k)["repr_l1"] for k in ("deterministic", "unconstrained", "copy_last"))
    gap = det - unc
    out = [[f"capacity ({where})", "unconstrained at least 10% below deterministic (repr L1)",
            f"{100 * (1 - unc / det):.1f}% below", _yes(unc <= 0.9 * det)],
           [f"capacity ({where})", "the high-capacity models below copy-last-frame",
            f"unconstrained {unc:.4f}, copy last {copy:.4f}", _yes(unc < copy)]]
    for kind in ("sparse", "noisy"):
        pts = sorted(((r["coef"], r["repr_l1"], r.get("repr_l1_std", 0.0)) for r in rows if r["kind"] == kind),
                     reverse=True)  # from most constrained to least
        if not pts:
            continue
        errors = [p[1] for p in pts]
        slack = max(p[2] for p in pts)  # ties within the seeds' spread allowed
        monotone = all(b <= a + slack for a, b in zip(errors, errors[1:]))
        span = (max(errors) - min(errors)) / gap if gap > 0 else float("nan")
        out.append([f"capacity ({where})", f"{kind}: error falls as the coefficient falls, over >= 4 coefficients, "
                    "spanning >= 60% of the deterministic-to-unconstrained gap",
                    f"{len(pts)} coefficients, {'monotone' if monotone else 'not monotone'} (slack {slack:.4f}), "
                    f"span {100 * span:.0f}% of the gap", _yes(monotone and len(pts) >= 4 and span >= 0.6)])
    vq = [r["repr_l1"] for r in rows if r["kind"] == "vq"]
    if vq and gap > 0:
        share = [(det - e) / gap for e in vq]
        out.append([f"capacity ({where})", "VQ in the lower third of the gap (near deterministic)",
                    "gap covered " + ", ".join(f"{100 * s:.0f}%" for s in share), _yes(max(share) <= 1 / 3)])
    return out


def _per_model(results: dict, pick) -> dict:
    """{run name: the seeds' mean of pick(result)}."""
    return {name: float(np.mean([pick(r) for r in (res if isinstance(res, list) else [res])]))
            for name, res in results.items()}


def _metric(result: dict, key: str) -> str:
    """The paper's metric (LPIPS on decoded frames) where the results have it, else repr_l1."""
    first = next(iter(result.values()))
    return "lpips" if "lpips" in (first[0] if isinstance(first, list) else first)[key] else "repr_l1"


def leakage_findings(res: dict, where: str) -> list[list]:
    metric = _metric(res, "model")
    models = {k: v for k, v in res.items() if k != "deterministic"}
    ratios = _per_model(models, lambda r: r["model"][metric]["ratio"])
    repr_ratios = _per_model(models, lambda r: r["model"]["repr_l1"]["ratio"])
    also = " (repr_l1 ×{:.2f})" if metric != "repr_l1" else ""
    return [[f"leakage ({where})", f"cut / uncut error >= 2.0 for every model ({metric}; paper 2.0-2.5, LPIPS)",
             ", ".join(f"{k} ×{v:.2f}" + also.format(repr_ratios[k]) for k, v in ratios.items()),
             _yes(min(ratios.values()) >= 2.0)]]


def transfer_findings(res: dict, where: str) -> list[list]:
    metric = _metric(res, "original")
    models = {k: v for k, v in res.items() if k not in ("deterministic", "unconstrained")}
    ratios = _per_model(models, lambda r: r["ratio"][metric])
    transfer = _per_model(models, lambda r: r["transfer"][metric])
    out = [[f"transfer ({where})", f"transfer / original <= 1.35 for every model ({metric}; paper 1.03-1.34, LPIPS)",
            ", ".join(f"{k} ×{v:.2f}" for k, v in ratios.items()), _yes(max(ratios.values()) <= 1.35)]]
    pairs = []
    for item in BUDGETS[BUDGET.value]["capacity"].split(","):
        kind, low, high = item.split(":")
        names = [f"{kind}_{float(v):g}" for v in (low, high)]
        if all(n in transfer for n in names):
            pairs.append((kind, transfer[names[1]], transfer[names[0]]))
    if pairs:
        out.append([f"transfer ({where})", f"high-capacity latents transfer better than low ({metric}, absolute)",
                    ", ".join(f"{kind}: high {h:.4f} vs low {lo:.4f}" for kind, h, lo in pairs),
                    _yes(all(h < lo for _, h, lo in pairs))])
    return out


def scaling_findings(rows: list[dict]) -> list[list]:
    out = []
    for kind in sorted({r["kind"] for r in rows}):
        for axis in ("steps", "data", "width"):
            pts = sorted((r["value"], r["repr_l1"]) for r in rows if r["kind"] == kind and r["axis"] == axis)
            if len(pts) < 2:
                continue
            falls = all(b[1] < a[1] for a, b in zip(pts, pts[1:]))
            out.append(["scaling", f"{kind}: held-out error falls with {axis} (>= 3 points)",
                        " → ".join(f"{v:g}: {e:.4f}" for v, e in pts), _yes(falls and len(pts) >= 3)])
    return out


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows])


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def findings(results: dict) -> list[list]:
    out = []
    for suffix, where in (("", "held-out photographs"), ("_videos", "real videos")):
        if f"capacity_sweep{suffix}" in results:
            out += capacity_findings(results[f"capacity_sweep{suffix}"], where)
        if f"leakage_table{suffix}" in results:
            out += leakage_findings(results[f"leakage_table{suffix}"], where)
        if f"transfer_table{suffix}" in results:
            out += transfer_findings(results[f"transfer_table{suffix}"], where)
    if "scaling_study" in results:
        out += scaling_findings(results["scaling_study"])
    return out


def compact(obj):
    """The reports' numbers for reproduce.json: 4 significant digits, no per-step profiles."""
    if isinstance(obj, dict):
        return {k: compact(v) for k, v in obj.items() if k != "profile"}
    if isinstance(obj, list):
        return [compact(v) for v in obj]
    return float(f"{obj:.4g}") if isinstance(obj, float) else obj


HEADLINE = ("repr_l1", "lpips")  # the metrics the findings read; report.md has every other


def headline(results: dict) -> dict:
    """The numbers behind the findings, a few KB for publishing (ROOT/reproduce.json keeps
    them all): per table and model, the headline metrics' means over seeds (capacity and
    scaling with their std), leakage and transfer ratios, sampling separability."""
    out = {}
    for name, res in results.items():
        table_ = name.removesuffix("_videos")
        if table_ == "capacity_sweep":
            out[name] = {r["kind"] + ("" if r["coef"] is None else f"_{r['coef']:g}"):
                         {k: r[k] for k in HEADLINE + tuple(f"{m}_std" for m in HEADLINE) if k in r}
                         for r in res["held_out"]}
        elif table_ == "leakage_table":
            first = next(iter(res.values()))
            first = first[0] if isinstance(first, list) else first
            metrics = [m for m in HEADLINE if m in first["model"]]
            per = {m: _per_model(res, lambda r, m=m: r["model"][m]["ratio"]) for m in metrics}
            out[name] = {model: {f"{m}_ratio": per[m][model] for m in metrics} for model in res}
            out[name]["copy_last"] = {f"{m}_ratio": first["copy_last"][m]["ratio"] for m in metrics}
        elif table_ == "transfer_table":
            metric = _metric(res, "original")
            ratio, transfer = (_per_model(res, lambda r, k=k: r[k][metric]) for k in ("ratio", "transfer"))
            out[name] = {model: {f"{metric}_ratio": ratio[model], f"{metric}_transfer": transfer[model]}
                         for model in res}
        elif table_ == "sampling_table":
            out[name] = {model: {"separability": v} for model, v in
                         _per_model(res, lambda r: r["separability"]).items()}
        else:
            out[name] = res
    return compact(out)


MARKERS = ("<!-- reproduce {budget}: begin (written by experiments/reproduce.py --publish) -->",
           "<!-- reproduce {budget}: end -->")


def publish(out: str, report: str, summary: dict, found: list) -> None:
    """OUT/reproduce_<budget>/: report.md (its pictures copied beside it, links rewritten)
    and results.json; the findings table into OUT/RESULTS.md between MARKERS, if it has
    them."""
    name = f"reproduce_{BUDGET.value}"
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)

    def copy(match):
        src = match.group(2)
        dest = src.replace("/", "__")
        shutil.copyfile(os.path.join(ROOT.value, src), os.path.join(folder, dest))
        return f"![{match.group(1)}]({dest})"

    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write(re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", copy, report))
    with open(os.path.join(folder, "results.json"), "w") as f:
        json.dump({**summary, "results": headline(summary["results"])}, f, indent=1, default=str)
    results = os.path.join(out, "RESULTS.md")
    begin, end = (m.format(budget=BUDGET.value) for m in MARKERS)
    text = open(results).read() if os.path.exists(results) else ""
    if begin in text and end in text:
        block = "\n".join([begin, "", f"Budget {BUDGET.value}: `{summary['command']}`; the whole report with every "
                           f"table and picture: [{name}/report.md]({name}/report.md), the headline numbers: "
                           f"[{name}/results.json]({name}/results.json).", "",
                           table(["evaluation", "the paper's finding", "measured", "holds"], found), "", end])
        with open(results, "w") as f:
            f.write(text[:text.index(begin)] + block + text[text.index(end) + len(end):])


def main(argv):
    del argv
    budget = BUDGETS[BUDGET.value]
    for sub in ("reproduce", "logs"):
        os.makedirs(os.path.join(ROOT.value, sub), exist_ok=True)
    t0 = time.time()
    seconds, results, reports = {}, {}, []
    for name, script, args in steps(budget):
        seconds[name] = run_step(name, script, args)
        results[name] = json.load(open(os.path.join(ROOT.value, f"{name}.json")))
        reports.append("#" + open(os.path.join(ROOT.value, f"{name}.md")).read())  # a section of this report
    found = findings(results)
    command = (f"python experiments/reproduce.py --root={ROOT.value} --budget={BUDGET.value}"
               + (f" --eval_data={EVAL_DATA.value}" if EVAL_DATA.value else "")
               + "".join(f" --set={s}" for s in SET.value))
    body = [f"# Reproduction at small scale: budget {BUDGET.value}", "",
            f"`{command}` (config {os.path.relpath(CONFIG.value, REPO)}; "
            f"{sum(seconds.values()) / 60:.0f} min of steps on this machine, {len(os.sched_getaffinity(0))} cores)", "",
            "Budget: " + ", ".join(f"{k}={v}" for k, v in budget.items() if k not in ("scaling", "capacity"))
            + "; scaling: " + ", ".join(f"{k}={v}" for k, v in budget["scaling"].items())
            + f"; low/high capacity {budget['capacity']}.", "",
            "## The paper's findings, measured", "",
            "Each line is computed from the reports below (experiments/reproduce.py: findings); representation "
            "L1 where the paper's LPIPS needs a decoder that is not there.", "",
            table(["evaluation", "the paper's finding", "measured", "holds"], found), "",
            table(["step", "seconds"], [[k, f"{v:.0f}"] for k, v in seconds.items()]), ""]
    body += [r.strip() + "\n" for r in reports]
    report = "\n".join(body)
    with open(os.path.join(ROOT.value, "reproduce.md"), "w") as f:
        f.write(report)
    summary = {"budget": BUDGET.value, "command": command, "config": os.path.relpath(CONFIG.value, REPO),
               "seconds": seconds, "findings": found, "results": compact(results)}
    with open(os.path.join(ROOT.value, "reproduce.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    if PUBLISH.value:
        publish(PUBLISH.value, report, summary, found)
    print(f"wrote {ROOT.value}/reproduce.md and reproduce.json ({time.time() - t0:.0f} s this call)")


if __name__ == "__main__":
    app.run(main)
