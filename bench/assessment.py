"""Assessment benchmarks (issue 5, "Speed"), in one throwaway database, in this order:

1. a monthly period for 5,000 staff over 10,000,000 interactions, 1,000,000 survey answers,
   200,000 evaluations and 100,000 complaints, computed (s)   — bench/_assessment_period.py
2. the rulebook deciding 100,000 violations (s)                 — bench/_assessment_rulebook.py

Run by `charter bench assessment` (see bench/README.md); `--scale 0.1` for a quick run.
Each part is a module with ``run(*, stdout, scale, state)``; ``state`` carries what earlier parts
built to later ones. A part not written yet is passed over.
"""

import importlib.util
from pathlib import Path

PARTS = ("_assessment_period", "_assessment_rulebook", "_assessment_fairness")


def _load(name: str):
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*, stdout, scale: float) -> None:
    state: dict = {}
    for name in PARTS:
        if Path(__file__).with_name(f"{name}.py").exists():
            _load(name).run(stdout=stdout, scale=scale, state=state)
