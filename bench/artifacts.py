"""Deployment artefacts: zipped and unzipped size of each function and layer, and each
function's total against Lambda's 250 MB unzipped limit (function + its layers).

    python bench/artifacts.py        # (re)builds the dependency layer if missing or stale
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 250

sys.path.insert(0, str(ROOT))
from creator_chat.resources import DECLARATION  # noqa: E402

from infra_cdk.application import DependencyLayerMissing, resolve_deps_layer_dir  # noqa: E402

# what CDK leaves out of the assets too (infra_cdk/constructs/functions.py)
SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "creator_chat.egg-info"}


def sizes(folder: Path) -> tuple[int, int]:
    buf = io.BytesIO()
    raw = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not SKIP & set(path.parts):
                raw += path.stat().st_size
                zf.write(path, path.relative_to(folder))
    return buf.tell(), raw


def main() -> int:
    deps = ROOT / "build" / "deps-layer"
    try:
        resolve_deps_layer_dir(None, default=deps)
    except DependencyLayerMissing as why:  # missing, or built before pyproject.toml changed
        print(f"{why}\nbuilding it now", flush=True)
        subprocess.run([sys.executable, str(ROOT / "layers" / "build_deps.py")], check=True)
    core = ROOT / "layers" / "core"
    layers = {"core layer (creator_chat)": sizes(core), "dependency layer": sizes(deps)}
    layer_raw = sum(raw for _, raw in layers.values())
    mb = 1024 * 1024
    print(f"\n{'artefact':<34} {'zipped MB':>10} {'unzipped MB':>12} {'with layers MB':>15}")
    for name, (zipped, raw) in layers.items():
        print(f"{name:<34} {zipped / mb:>10.2f} {raw / mb:>12.2f} {'':>15}")
    seen = set()
    for fn in DECLARATION.functions:
        if fn.code_dir in seen:
            continue
        seen.add(fn.code_dir)
        zipped, raw = sizes(ROOT / "functions" / fn.code_dir)
        total = (raw + layer_raw) / mb
        print(
            f"{'functions/' + fn.code_dir:<34} {zipped / mb:>10.3f} {raw / mb:>12.3f} "
            f"{total:>10.1f} / {LIMIT_MB}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
