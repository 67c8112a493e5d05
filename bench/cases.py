"""Cases benchmarks (issue 3, "Speed"), in one throwaway database, in this order:

1. import 1,000,000 CFPB-format rows (rows/s, peak memory)        — bench/_cases_import.py
2. one deadline sweep with 1,000 due among the open cases (s)       — bench/_cases_sweep.py
3. the queue page and the list API at that size (ms)                — bench/_cases_lists.py
4. case reads and creations over HTTP behind `charter serve`        — bench/_cases_api.py

Run by `charter bench cases` (see bench/README.md); `--scale 0.01` for a quick run.
Each part is a module with ``run(*, stdout, scale, state)``; ``state`` carries what earlier parts
built (the users, the number of cases) to later ones. ``BENCH_ONLY=import`` (or ``sweep``,
``lists``, ``api``, comma-separated) runs only those parts (a later part needs what the import
part leaves in ``state``).
"""

import importlib.util
import os
from pathlib import Path

PARTS = ("_cases_import", "_cases_sweep", "_cases_lists", "_cases_api")


def _load(name: str):
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*, stdout, scale: float) -> None:
    state: dict = {}
    only = {part.strip() for part in os.environ.get("BENCH_ONLY", "").split(",") if part.strip()}
    for name in PARTS:
        if only and name.removeprefix("_cases_") not in only:
            continue
        if Path(__file__).with_name(f"{name}.py").exists():
            _load(name).run(stdout=stdout, scale=scale, state=state)
