"""Quality benchmarks (issue 4, "Speed"), in one throwaway database, in this order:

1. ingest 1,000,000 interactions with and without the deviation check — bench/_quality_ingest.py
2. a sampling plan for 5,000 agents over the month's interactions (s)  — bench/_quality_sampling.py
3. the survey results page over 1,000,000 responses (ms)               — bench/_quality_surveys.py

Run by `charter bench quality` (see bench/README.md); `--scale 0.1` for a quick run.
Each part is a module with ``run(*, stdout, scale, state)``; ``state`` carries what earlier parts
built (the agents, the period of the interactions) to later ones. A part not written yet is
passed over. ``BENCH_ONLY=ingest`` (or ``sampling``, ``surveys``, comma-separated) runs only
those parts (a later part needs what the ingest part leaves in ``state``).
"""

import importlib.util
import os
from pathlib import Path

PARTS = ("_quality_ingest", "_quality_sampling", "_quality_surveys")


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
        if only and name.removeprefix("_quality_") not in only:
            continue
        if Path(__file__).with_name(f"{name}.py").exists():
            _load(name).run(stdout=stdout, scale=scale, state=state)
