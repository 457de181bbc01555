"""Packs the project's Python code into one zip for Flink's Python workers (`-pyfs` / python.files).

Flink extracts a .zip and puts the extraction directory on the workers' PYTHONPATH, so
`import udfs.currency` works on a TaskManager exactly as it does in the client. A plain
directory would be added as-is, which makes `udfs` itself unimportable.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("lakehouse", "udfs", "jobs")


def code_zip(cache_dir: Path | None = None) -> Path:
    """Build (or reuse) the zip of the packages; its name carries a hash of their content."""
    files = sorted(
        path for package in PACKAGES for path in (REPO / package).rglob("*.py") if "__pycache__" not in path.parts
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    cache = cache_dir or Path(os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "lakehouse")) / "code"
    target = cache / f"lakehouse-code-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(REPO))
        tmp.replace(target)
    return target
