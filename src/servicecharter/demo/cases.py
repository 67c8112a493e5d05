"""Demo cases: the public complaint data sets loaded into the demo institution.

(Being written: the data files are found by ``data_file``.)"""

from pathlib import Path

import servicecharter

# The shared data sets sit beside the repository (../shared/data), as the issue names them.
DATA_FOLDERS = (
    Path(servicecharter.__file__).resolve().parents[2].parent / "shared" / "data",
    Path(servicecharter.__file__).resolve().parents[2] / "data",
)


def data_file(name: str) -> Path | None:
    """The data file ``name`` from the first folder that has it, or None."""
    for folder in DATA_FOLDERS:
        path = folder / name
        if path.is_file():
            return path
    return None
