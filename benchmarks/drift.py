"""Drift detection cost: our engine against Evidently's data drift preset, in one run.

Usage: .venv/bin/python benchmarks/drift.py [--sizes 10000,100000,1000000] [--skip-evidently]
[--skip-online] [--data DIR] (`make bench-drift`). Evidently gets its own virtual environment,
``benchmarks/.venv-evidently``, made with ``python -m venv`` and pip from the package index on
the first run and reused afterwards (Evidently 0.7.23 does not import with pandas 3, which is
what the project's lock has).

What is measured, at each size (rows on each side):

1. The data: the reference is ten months of generated applications (2021-01 to 2021-10,
   scenario ``none``), the current batch ten later months under the ``recession`` scenario
   (incomes 15 % lower, more unemployment), so there is drift to find. Every feature of the
   declaration, nothing else, written to parquet in a scratch directory that both engines
   read.
2. Ours, in a fresh process: :func:`loanrisk.monitoring.profile.build_profile` on the
   reference (the deciles and counts a training run stores), then
   :func:`loanrisk.monitoring.drift.compare` of the current batch with it, with the raw
   reference rows (PSI and Jensen-Shannon for every feature, KS for the numeric ones, missing
   shares, the verdict).
3. Evidently, in a fresh process of its own environment: ``Dataset.from_pandas`` on both
   frames (numeric and categorical columns declared, so nothing is inferred) and
   ``Report([DataDriftPreset()]).run(...)``: its default per-column tests (normed Wasserstein
   distance for numeric columns with more than five values, Jensen-Shannon distance for the
   others, at these sizes).

Wall time is ``time.perf_counter`` around the drift work only: the imports and the parquet
reads are timed apart. Memory is the process's peak resident set (``VmHWM``): once for the
whole process, and once for the drift work alone, the peak being reset
(``/proc/self/clear_refs``) after the data is loaded, so "over the data" is how much the
drift work adds to the two frames already in memory (pandas 3 holds strings in Arrow
buffers, pandas 2 as Python objects, so the frames alone differ between the two processes).

Agreement, at the largest size: PSI of a few features from both engines. Evidently computes
PSI (stattest ``psi``) in other bins than ours: a numeric column with more than 20 distinct
reference values gets equal-width bins over the reference and current values together, as
many as Sturges' rule says (``log2(n) + 1``: 22 at two million values), and every other column
one bin per value; empty bins get a share of 0.0001. Ours are the reference deciles
(de-duplicated, so a column of few values gets one bin per decile value, the largest values
sharing the top bin), plus a bin for missing values, and half an observation added to every
bin. PSI is a divergence, so other bins give another number for the same two samples; to show
that the difference is the bins and nothing else, the table also applies our PSI
(:func:`loanrisk.monitoring.drift.divergences`, our smoothing) to Evidently's bins, which must
agree with Evidently to within ``AGREEMENT_TOLERANCE`` (the smoothings of nearly empty bins
still differ).

Then (unless ``--skip-online``) benchmarks/serve_monitor.py: the per-request cost of online
monitoring in the service.

Prints Markdown tables and writes benchmarks/results/drift.json (results/ is gitignored).
Exit status 1, after our own figures, when a measurement failed (Evidently could not be
installed, a worker failed), when our PSI on Evidently's bins does not match Evidently's, or
when benchmarks/serve_monitor.py failed; ``--skip-evidently`` measures ours alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# Only the standard library at the top: the Evidently worker runs this file in Evidently's
# environment, which has neither loanrisk nor pandas 3.

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "benchmarks" / "results" / "drift.json"
EVIDENTLY_VENV = ROOT / "benchmarks" / ".venv-evidently"
EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas>=2.2,<3", "pyarrow>=15")
EVIDENTLY_STAMP = ".requirements"
"""Written into the Evidently environment once its install succeeded: its requirements."""
SIZES = (10_000, 100_000, 1_000_000)
MONTHS = 10
SEED = 20_240
REFERENCE_START = (2021, 1)
CURRENT_START = (2023, 1)
CURRENT_SCENARIO = "recession"
AGREEMENT = (
    "income",
    "loan_amount",
    "employment_years",
    "loan_term_months",
    "employment_type",
    "housing",
)
"""The features whose PSI is compared: shifted and not, many values and few, categories."""
AGREEMENT_TOLERANCE = 0.005
"""|our PSI on Evidently's bins - Evidently's PSI| allowed. The bins are the same, the
smoothing is not: Evidently gives an empty bin a share of 0.0001 (a hundred rows' worth at a
million rows, one at ten thousand), ours adds half an observation to every bin. In the sparse
tail of an equal-width histogram (income's top bins hold a handful of rows) the PSI terms of
those bins differ: by 0.0033 at most in our runs at 10,000 and 100,000 rows, 0.0001 at a
million. The verdict threshold is 0.1."""
WORKER_TIMEOUT_S = 900
INSTALL_TIMEOUT_S = 900


# -- measuring inside a worker process ----------------------------------------------------------


def _status_kib(field: str) -> int | None:
    """A ``Vm*`` line of /proc/self/status, in KiB (None where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the process's peak resident set to its current one (Linux 4.0 and later)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    """The process's peak resident set since the start or the last reset, in KiB."""
    peak = _status_kib("VmHWM")
    if peak is None:  # no /proc: the whole process's peak (KiB on Linux)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak


class Meter:
    """Wall time, the resident set after loading and the peak of the work that follows."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.figures[f"{name}_s"] = time.perf_counter() - start

    def loaded(self) -> None:
        """The data is in memory: note the resident set, then reset the peak."""
        self.figures["rss_loaded_mib"] = (_status_kib("VmRSS") or 0) / 1024
        self.figures["peak_before_mib"] = _peak_kib() / 1024
        self.figures["peak_reset"] = _reset_peak()

    def done(self) -> dict[str, Any]:
        peak = _peak_kib() / 1024
        whole = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.figures["peak_work_mib"] = peak
        self.figures["peak_process_mib"] = max(whole, peak, self.figures["peak_before_mib"])
        if self.figures["peak_reset"]:
            self.figures["over_data_mib"] = peak - self.figures["rss_loaded_mib"]
        return self.figures


def _result(figures: dict[str, Any]) -> None:
    """The worker's answer: one line the parent looks for."""
    print("RESULT " + json.dumps(figures), flush=True)


def worker_ours(reference_file: str, current_file: str) -> None:
    meter = Meter()
    with meter.timed("import"):
        import numpy as np
        import pandas as pd

        from loanrisk.monitoring.drift import compare
        from loanrisk.monitoring.profile import build_profile
        from loanrisk.project import load_project

        dataset = load_project().dataset
    with meter.timed("load"):
        reference = pd.read_parquet(reference_file)
        current = pd.read_parquet(current_file)
    # A trained model's scores are binned into the profile too: placeholder scores here, so the
    # profile is built as training builds it; the comparison is of the features only.
    scores = np.random.default_rng(0).random(len(reference))
    meter.loaded()
    with meter.timed("profile"):
        profile = build_profile(reference, dataset, scores)
    with meter.timed("compare"):
        report = compare(profile, current, reference=reference)
    figures = meter.done()
    figures["drift_s"] = figures["profile_s"] + figures["compare_s"]
    with meter.timed("compare_without_ks"):  # after the peak is read: not in the memory figure
        compare(profile, current)
    figures["drifted"] = list(report.drifted_features)
    figures["columns"] = len(report.features)
    figures["psi"] = {name: f.psi for name, f in report.features.items()}
    figures["ks"] = {n: f.ks_statistic for n, f in report.features.items() if f.ks_statistic}
    figures["psi_on_evidently_bins"] = {
        name: _psi_on_evidently_bins(
            reference[name], current[name], name in dataset.numeric_features
        )
        for name in AGREEMENT
    }
    _result(figures)


def _psi_on_evidently_bins(reference: Any, current: Any, numeric: bool) -> dict[str, Any]:
    """Our PSI (our formula and smoothing) over the bins Evidently's ``psi`` test uses
    (``evidently.legacy.calculations.stattests.utils.get_binned_data``)."""
    import numpy as np
    import pandas as pd

    from loanrisk.monitoring.drift import DEFAULTS, divergences

    if numeric and reference.nunique() > 20:
        both = np.concatenate([reference.to_numpy(float), current.to_numpy(float)])
        edges = np.histogram_bin_edges(both, bins="sturges")
        r = np.histogram(reference.to_numpy(float), edges)[0]
        c = np.histogram(current.to_numpy(float), edges)[0]
        bins = f"{len(edges) - 1} equal-width (Sturges)"
    else:
        keys = pd.concat([reference, current]).dropna().unique()
        r = reference.value_counts().reindex(keys, fill_value=0).to_numpy()
        c = current.value_counts().reindex(keys, fill_value=0).to_numpy()
        bins = f"{len(keys)} values"
    psi, _ = divergences(
        r[None, :].astype(float),
        c[None, :].astype(float),
        np.array([len(r)]),
        DEFAULTS.pseudo_count,
    )
    return {"psi": float(psi[0]), "bins": bins}


def worker_evidently(
    reference_file: str, current_file: str, numeric: list[str], categorical: list[str]
) -> None:
    os.environ["DO_NOT_TRACK"] = "1"  # Evidently's usage telemetry
    meter = Meter()
    with meter.timed("import"):
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift
        from evidently.presets import DataDriftPreset
    with meter.timed("load"):
        reference = pd.read_parquet(reference_file)
        current = pd.read_parquet(current_file)
    meter.loaded()
    with meter.timed("drift"):
        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        ref = Dataset.from_pandas(reference, data_definition=definition)
        cur = Dataset.from_pandas(current, data_definition=definition)
        snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
        metrics = snapshot.dict()["metrics"]
    figures = meter.done()
    values = {}
    drifted = []
    count = None
    for metric in metrics:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            count = int(metric["value"]["count"])
        elif config["type"].endswith("ValueDrift"):
            method = str(config["method"])
            values[config["column"]] = {"method": method, "value": float(metric["value"])}
            # At these sizes every default test is a distance: drift at or above the threshold.
            if "p_value" not in method and float(metric["value"]) >= float(config["threshold"]):
                drifted.append(config["column"])
    figures["columns"] = len(values)
    figures["drifted_count"] = count
    figures["drifted"] = drifted
    figures["tests"] = values
    with meter.timed("psi"):
        wanted = [c for c in AGREEMENT if c in values]
        psi_report = Report([ValueDrift(column=c, method="psi") for c in wanted])
        psi_metrics = psi_report.run(current_data=cur, reference_data=ref).dict()["metrics"]
    figures["psi"] = {
        m["config"]["column"]: float(m["value"])
        for m in psi_metrics
        if m["config"]["type"].endswith("ValueDrift")
    }
    from importlib import metadata

    figures["versions"] = {p: metadata.version(p) for p in ("evidently", "pandas", "numpy")}
    _result(figures)


# -- the parent: data, environments, workers, report ----------------------------------------


class UnavailableError(Exception):
    """A measurement that could not be made; the message is one readable line."""


def _months(start: tuple[int, int]) -> list[Any]:
    import pandas as pd

    first = pd.Timestamp(start[0], start[1], 1)
    return [first + pd.DateOffset(months=i) for i in range(MONTHS)]


def generate(size: int, directory: Path, features: Sequence[str]) -> tuple[Path, Path]:
    """The reference and current parquet files of ``size`` rows each (made once per size)."""
    import pandas as pd

    from loanrisk.data.generator import generate_month

    files = []
    for side, start, scenario in (
        ("reference", REFERENCE_START, "none"),
        ("current", CURRENT_START, CURRENT_SCENARIO),
    ):
        path = directory / f"{side}-{size}.parquet"
        if not path.is_file():
            base, extra = divmod(size, MONTHS)
            months = [
                generate_month(SEED, month, base + (1 if i < extra else 0), scenario)
                for i, month in enumerate(_months(start))
            ]
            frame = pd.concat(months, ignore_index=True)[list(features)]
            frame.to_parquet(path, index=False)
        files.append(path)
    return files[0], files[1]


def evidently_python() -> Path:
    """Evidently's environment, made on first use; ``UnavailableError`` when it cannot be."""
    python = EVIDENTLY_VENV / "bin" / "python"
    stamp = EVIDENTLY_VENV / EVIDENTLY_STAMP
    wanted = "\n".join(EVIDENTLY_REQUIREMENTS) + "\n"
    if python.exists() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    print(f"installing {' '.join(EVIDENTLY_REQUIREMENTS)} into {_shown(EVIDENTLY_VENV)} ...")
    try:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(EVIDENTLY_VENV)],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(
            [*pip, *EVIDENTLY_REQUIREMENTS],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UnavailableError(f"could not create {_shown(EVIDENTLY_VENV)}: {exc}") from None
    if done.returncode != 0:
        errors = [
            line.strip()
            for line in (done.stderr or done.stdout).splitlines()
            if "error" in line.lower() and "ignored" not in line
        ]
        why = errors[-1] if errors else f"pip exited with {done.returncode}"
        raise UnavailableError(
            f"could not install {EVIDENTLY_REQUIREMENTS[0]} from the package index "
            f"(no network?): {why}"
        )
    stamp.write_text(wanted)
    return python


def run_worker(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process; its RESULT line, or ``UnavailableError``."""
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise UnavailableError(f"timed out after {WORKER_TIMEOUT_S} s") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            figures: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return figures
    tail = [line for line in done.stderr.splitlines() if line.strip()]
    raise UnavailableError(f"exited {done.returncode}: {tail[-1] if tail else 'no output'}")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _mib(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} MiB"


def _memory(figures: dict[str, Any]) -> str:
    over = figures.get("over_data_mib")
    shown = _mib(figures["peak_process_mib"])
    return shown if over is None else f"{shown} (+{over:,.0f})"


def size_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| rows each side | ours: profile + compare | ours: peak RSS (+ over the data) "
        "| Evidently DataDriftPreset | Evidently: peak RSS (+ over the data) "
        "| Evidently / ours, time | drifted: ours, Evidently |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        ours, theirs = row["ours"], row.get("evidently")
        ours_time = f"{ours['drift_s']:.2f} s ({ours['profile_s']:.2f} + {ours['compare_s']:.2f})"
        drifted = f"{len(ours['drifted'])}/{ours['columns']}"
        if theirs is not None:
            their_time = f"{theirs['drift_s']:.2f} s"
            their_memory = _memory(theirs)
            ratio = f"{theirs['drift_s'] / ours['drift_s']:.1f}x"
            drifted += f", {theirs['drifted_count']}/{theirs['columns']}"
        else:
            their_time = their_memory = ratio = row.get("evidently_error", "not measured")
        lines.append(
            f"| {row['size']:,} | {ours_time} | {_memory(ours)} | {their_time} | {their_memory} "
            f"| {ratio} | {drifted} |"
        )
    return "\n".join(lines)


def agreement_table(row: dict[str, Any]) -> tuple[str, bool]:
    ours, theirs = row["ours"], row["evidently"]
    lines = [
        f"PSI at {row['size']:,} rows each side:\n",
        "| feature | ours (reference deciles) | Evidently `psi` | ours on Evidently's bins "
        "| Evidently's bins | formula agrees |",
        "|---|---:|---:|---:|---|---|",
    ]
    good = True
    for name in AGREEMENT:
        if name not in theirs["psi"]:
            continue
        rebinned = ours["psi_on_evidently_bins"][name]
        gap = abs(rebinned["psi"] - theirs["psi"][name])
        agrees = gap <= AGREEMENT_TOLERANCE
        good = good and agrees
        lines.append(
            f"| {name} | {ours['psi'][name]:.4f} | {theirs['psi'][name]:.4f} "
            f"| {rebinned['psi']:.4f} | {rebinned['bins']} "
            f"| {'yes' if agrees else '**no**'} ({gap:.1e}) |"
        )
    return "\n".join(lines), good


def environment() -> dict[str, Any]:
    from importlib import metadata

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "packages": {p: metadata.version(p) for p in ("pandas", "numpy", "scipy", "pyarrow")},
    }


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of row counts: {text!r}") from None
    if not sizes or min(sizes) < MONTHS * 100:
        raise argparse.ArgumentTypeError(f"sizes must be at least {MONTHS * 100:,} rows")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=SIZES,
        help="rows on each side, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument("--skip-evidently", action="store_true", help="measure ours alone")
    parser.add_argument(
        "--skip-online", action="store_true", help="skip benchmarks/serve_monitor.py"
    )
    parser.add_argument(
        "--data", type=Path, help="keep the generated parquet files here (default: a temp dir)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each engine per size; the median is shown"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON results")
    parser.add_argument("--worker", choices=("ours", "evidently"), help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--numeric", default="", help=argparse.SUPPRESS)
    parser.add_argument("--categorical", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.worker == "ours":
        worker_ours(*args.files)
        return 0
    if args.worker == "evidently":
        split = [args.numeric.split(","), args.categorical.split(",")]
        worker_evidently(*args.files, *split)
        return 0
    if not (BIN / "python").exists():
        print("error: no .venv: run `make setup` first", file=sys.stderr)
        return 1
    return run(args)


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from loanrisk.project import load_project

    dataset = load_project().dataset
    features = list(dataset.feature_names)
    booleans = [n for n in features if dataset.features[n].type == "boolean"]
    numeric = [n for n in dataset.numeric_features if n not in booleans]
    categorical = [*booleans, *dataset.categorical_features]
    problems: list[str] = []
    python = None
    if not args.skip_evidently:
        try:
            python = evidently_python()
        except UnavailableError as exc:
            problems.append(f"Evidently not measured: {exc}")
    env = environment()
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        if args.data is not None:
            args.data.mkdir(parents=True, exist_ok=True)
            directory = args.data
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="drift-")))
        for size in args.sizes:
            print(f"{size:,} rows each side: generating ...", file=sys.stderr, flush=True)
            reference, current = generate(size, directory, features)
            files = [str(reference), str(current)]
            ours_command = [str(BIN / "python"), __file__, "--worker", "ours", "--files", *files]
            their_command = None
            if python is not None:
                their_command = [str(python), __file__, "--worker", "evidently", "--files", *files]
                their_command += ["--numeric", ",".join(numeric)]
                their_command += ["--categorical", ",".join(categorical)]
            row = measure(size, ours_command, their_command, args.repeat, problems)
            if row is None:
                continue
            if their_command is None:
                row["evidently_error"] = "skipped" if args.skip_evidently else "not installed"
            rows.append(row)
    report(rows, env, args.out)
    agreed = True
    compared = [r for r in rows if "evidently" in r]
    if compared:
        text, agreed = agreement_table(compared[-1])
        print()
        print(text)
        print(
            "\nOurs and Evidently's PSI differ by their bins (docstring of benchmarks/drift.py);"
            f"\nour formula on Evidently's bins must match Evidently's within "
            f"{AGREEMENT_TOLERANCE:g}."
        )
        if not agreed:
            problems.append("our PSI on Evidently's bins does not match Evidently's")
    status = 0
    if not args.skip_online:
        print("\nOnline monitoring (benchmarks/serve_monitor.py):\n", flush=True)
        online = subprocess.run([str(BIN / "python"), str(ROOT / "benchmarks/serve_monitor.py")])
        if online.returncode != 0:
            problems.append("benchmarks/serve_monitor.py failed")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
        status = 1
    return status


def measure(
    size: int,
    ours: list[str],
    theirs: list[str] | None,
    repeat: int,
    problems: list[str],
) -> dict[str, Any] | None:
    """Ours and Evidently's at one size, ``repeat`` times in turn; the median run of each."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "evidently": []}
    for i in range(repeat):
        for name, command, env in (
            ("ours", ours, None),
            ("evidently", theirs, os.environ | {"DO_NOT_TRACK": "1"}),
        ):
            if command is None or (name == "evidently" and len(runs[name]) < i):
                continue  # not measured, or it failed before
            print(f"  {name} ({i + 1}/{repeat}) ...", file=sys.stderr, flush=True)
            try:
                runs[name].append(run_worker(command, env=env))
            except UnavailableError as exc:
                problems.append(f"{name} at {size:,} rows: {exc}")
                if name == "ours":
                    return None
    row: dict[str, Any] = {"size": size}
    for name, done in runs.items():
        if done:
            ordered = sorted(done, key=lambda r: float(r["drift_s"]))
            row[name] = ordered[(len(ordered) - 1) // 2] | {
                "runs_drift_s": [r["drift_s"] for r in done],
                "runs_peak_process_mib": [r["peak_process_mib"] for r in done],
            }
        elif name == "evidently" and theirs is not None:
            row["evidently_error"] = "failed"
    return row


def report(rows: Sequence[dict[str, Any]], env: dict[str, Any], out: Path) -> None:
    theirs = next((r["evidently"]["versions"] for r in rows if "evidently" in r), None)
    versions = f"; Evidently {theirs['evidently']} with pandas {theirs['pandas']}" if theirs else ""
    print(
        f"Python {env['python']}; {env['cpus']} CPUs; load average at start "
        f"{env['load_average_at_start'][0]:.2f}; pandas {env['packages']['pandas']}{versions}\n"
    )
    print(size_table(rows))
    without = ", ".join(f"{r['ours']['compare_without_ks_s']:.2f} s" for r in rows if "ours" in r)
    print(
        "\nPeak RSS: the whole process (imports, both frames, the work); in brackets what the "
        "drift work added to the loaded frames.\nOur compare without the raw reference rows "
        f"(PSI, Jensen-Shannon and missing shares, no KS), same sizes: {without}."
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "environment": env,
        "settings": {
            "months": MONTHS,
            "seed": SEED,
            "current_scenario": CURRENT_SCENARIO,
            "evidently_requirements": list(EVIDENTLY_REQUIREMENTS),
        },
        "sizes": list(rows),
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten {_shown(out)}", file=sys.stderr)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
