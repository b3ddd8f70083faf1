"""Helpers shared by the benchmarks: machine info, data, tables, JSON results.

Not part of the library: the benchmarks import it as a sibling module
(``python benchmarks/<name>.py`` puts this folder on ``sys.path``).
"""

import json
import math
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from sklearn_lt.nn import MLP

RESULTS = Path(__file__).resolve().parent / "results"
# The data sets live beside the repository (../shared/data seen from its root)
# unless $SKLEARN_LT_DATA points elsewhere.
DATA = Path(os.environ.get("SKLEARN_LT_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_average():
    """The 1-, 5- and 15-minute load averages, or None where /proc is absent."""
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def _busy_jiffies():
    """CPU time (clock ticks) spent busy by the whole machine since boot, or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    return sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)


class CpuContention:
    """How much CPU *other* processes used while a measurement ran.

    The load average counts this process's own threads and lags by a minute,
    so it cannot tell a clean run from a contended one. Instead, the machine's
    busy time (/proc/stat) minus this process's and its waited-for children's
    CPU time (os.times) over the
    interval, as a fraction of wall time x usable cores: 0 is an idle machine,
    0.5 means others took half of it.
    """

    def __init__(self):
        self.start()

    def start(self):
        self._wall = time.perf_counter()
        self._busy = _busy_jiffies()
        self._own = self._own_cpu()
        return self

    @staticmethod
    def _own_cpu():
        # This process and the children it waited for (a benchmark that runs each
        # case in a subprocess measures its own work there).
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def other_fraction(self):
        busy = _busy_jiffies()
        if busy is None or self._busy is None:
            return None
        wall = time.perf_counter() - self._wall
        own = self._own_cpu() - self._own
        others = (busy - self._busy) / os.sysconf("SC_CLK_TCK") - own
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count()
        return max(0.0, others / (wall * cores)) if wall > 0 else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device="cpu"):
    """What the numbers depend on: CPU, cores, torch build and threads, date."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def set_threads(n=None):
    """Pin torch's intra-op threads (default: torch's own default) and return the count.

    Set explicitly so that the JSON records what ran, not what was assumed.
    """
    n = torch.get_num_threads() if n is None else int(n)
    torch.set_num_threads(n)
    return n


def fashion_mnist_lt(imbalance_factor=100, n_max=6000, *, allow_synthetic=False):
    """Fashion-MNIST-LT (Cao et al.'s exponential profile) and the balanced test set.

    Returns ``(X_train, y_train, X_test, y_test, source)`` with uint8 images of
    shape (n, 28, 28). Without the official files and with ``allow_synthetic``,
    random uint8 images with the same class counts stand in (speed measurements
    only: their accuracy means nothing) and ``source`` says so.
    """
    from sklearn_lt.datasets import load_fashion_mnist, make_long_tailed

    folder = DATA / "fashion-mnist"
    try:
        fm = load_fashion_mnist(folder)
    except (FileNotFoundError, OSError) as exc:
        if not allow_synthetic:
            raise SystemExit(f"Fashion-MNIST files not found under {folder} "
                             f"(set $SKLEARN_LT_DATA): {exc}") from None
        rng = np.random.RandomState(0)
        counts = [int(n_max * imbalance_factor ** (-k / 9)) for k in range(10)]
        y = np.repeat(np.arange(10), counts)
        X = rng.randint(0, 256, size=(len(y), 28, 28), dtype=np.uint8)
        y_test = np.repeat(np.arange(10), 1000)
        X_test = rng.randint(0, 256, size=(len(y_test), 28, 28), dtype=np.uint8)
        return X, y, X_test, y_test, (
            f"SYNTHETIC uint8 28x28 noise with the Fashion-MNIST-LT IF={imbalance_factor} "
            f"class counts (official files absent from {folder})")
    X, y = make_long_tailed(fm.X_train, fm.y_train, imbalance_factor=imbalance_factor,
                            n_max=n_max, random_state=0)
    return X, y, fm.X_test, fm.y_test, (
        f"Fashion-MNIST-LT IF={imbalance_factor}, n_max={n_max} (official files in {folder})")


def evaluate(name, proba, classes, counts, y_test, fit_s=None, **extra):
    """The one evaluation of a fitted model's test probabilities, for every benchmark.

    Returns a row: many / medium / few / all accuracy (``shot_accuracy`` with
    the training class counts ``counts``, aligned with ``classes``), NLL, ECE
    (15 bins), per-class accuracy, the fit time and any extra fields.
    """
    from sklearn_lt.metrics import (
        expected_calibration_error,
        negative_log_likelihood,
        shot_accuracy,
    )

    classes = np.asarray(classes)
    pred = classes[np.asarray(proba).argmax(axis=1)]
    acc = shot_accuracy(y_test, pred, dict(zip(classes.tolist(), np.asarray(counts).tolist())))
    return {"method": name, **{k: float(v) for k, v in acc.items()},
            "nll": negative_log_likelihood(y_test, proba, labels=classes),
            "ece": expected_calibration_error(y_test, proba, labels=classes),
            "per_class_accuracy": [float(np.mean(pred[y_test == c] == c)) for c in classes],
            "fit_s": fit_s, **extra}


def format_cell(value, fmt):
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value is None:
        return "-"
    return format(value, fmt) if fmt else str(value)


def table(rows, columns):
    """A plain-text table; ``columns`` is a list of (key, header, format spec)."""
    cells = [[format_cell(r.get(key), fmt) for key, _, fmt in columns] for r in rows]
    heads = [h for _, h, _ in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(heads)]
    # First column (a name) left-aligned, numbers right-aligned.
    def line(values):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths)))
    out = [line(heads), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells]
    return "\n".join(out)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN; null reads as "undefined" (e.g. an empty shot split)
    return obj


def write_json(name, payload, quick=False):
    """Write ``results/<name>.json`` (``<name>_quick.json`` for --quick runs)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}{'_quick' if quick else ''}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(payload), indent=2) + "\n")
    tmp.replace(path)  # a killed run never leaves a half-written result
    return path


def wait_for_quiet_machine(max_load=1.5, *, done_file=None, poll_s=30, timeout_s=720):
    """Wait before timing until the machine is quiet enough to measure.

    Returns as soon as the 1-minute load average is below ``max_load``, or
    ``done_file`` (another benchmark's result) is written *during the wait* and,
    if it is JSON with a ``"complete"`` key, says it is complete (a result left
    by an earlier run says nothing about the load now), or ``timeout_s`` has
    passed --
    whichever comes first. Polls every ``poll_s`` seconds. Returns a dict with
    the seconds waited, the reason and the load average then, for the JSON.
    """
    import time

    started = time.time()

    def finished():
        if done_file is None or not Path(done_file).is_file():
            return False
        if Path(done_file).stat().st_mtime < started:
            return False
        try:
            payload = json.loads(Path(done_file).read_text())
        except (OSError, ValueError):
            return False  # being written: not finished yet
        return not isinstance(payload, dict) or payload.get("complete", True) is not False

    t0 = time.monotonic()
    while True:
        load = load_average()
        waited = time.monotonic() - t0
        if load is None or load[0] < max_load:
            reason = "load below threshold" if load is not None else "no /proc/loadavg"
        elif finished():
            reason = f"{Path(done_file).name} complete"
        elif waited >= timeout_s:
            reason = f"gave up after {timeout_s:.0f} s"
        else:
            print(f"  waiting for a quiet machine: load {load}, {waited:.0f}s so far", flush=True)
            time.sleep(poll_s)
            continue
        return {"waited_s": round(waited, 1), "reason": reason, "load_average": load,
                "max_load": max_load}



class CountingMLP(MLP):
    """The default MLP, recording each construction (each Backbone fit) in a file.

    Defined in this importable module so that Dask workers unpickle it by
    reference, as joblib's cache hashes it.
    """

    def __init__(self, in_features=64, log=None, **kwargs):
        super().__init__(in_features, **kwargs)
        with open(log, "a") as f:
            f.write("fit\n")
