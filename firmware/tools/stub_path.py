# SPDX-License-Identifier: Apache-2.0
"""Print a folder holding the installed MicroPython stubs, for mypy (CPython tool).

micropython-rp2-stubs and micropython-stdlib-stubs install loose ``.pyi``
files at the top of site-packages, which mypy neither finds there nor
accepts on MYPYPATH. This links the two distributions' files into one folder
(default ``myna-edge-mpy-typings`` in the temp folder) that serves as both
``mypy_path`` and ``custom_typeshed_dir`` (its ``stdlib/`` comes from the
stdlib stubs), as the micropython-stubs documentation lays out with
``pip install --target typings``, but offline, from what is installed::

    MYPY_MP_TYPINGS=$(python firmware/tools/stub_path.py) \
        mypy --config-file firmware/mypy.ini firmware
"""

from __future__ import annotations

import sys
import tempfile
from importlib import metadata
from pathlib import Path

DISTRIBUTIONS = ("micropython-rp2-stubs", "micropython-stdlib-stubs")


def build(target: Path) -> Path:
    """Link every stub file of DISTRIBUTIONS under ``target``; return it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in DISTRIBUTIONS:
        dist = metadata.distribution(name)
        for file in dist.files or ():
            if file.suffix != ".pyi" and file.name != "VERSIONS":
                continue
            source = Path(str(file.locate())).resolve()
            link = target / str(file)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(source)
    return target


if __name__ == "__main__":
    default = Path(tempfile.gettempdir()) / "myna-edge-mpy-typings"
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print(build(out))
