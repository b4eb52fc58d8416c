"""The vendored front-end assets are what `scripts/vendor-assets` wrote: each file listed, its
sha256 as recorded, its licence beside it; and the package ships the static and template folders."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = [
    ROOT / "src" / "fpcredit" / "web" / "static" / "vendor" / "VENDORED.json",
    ROOT / "tests" / "web" / "browser" / "vendor" / "VENDORED.json",
]
SPDX = re.compile(r"[A-Za-z0-9.+-]+")
INTEGRITY = re.compile(r"sha512-[A-Za-z0-9+/]+=*")


def _packages() -> list[tuple[Path, dict[str, object]]]:
    found = []
    for manifest in MANIFESTS:
        for package in json.loads(manifest.read_text(encoding="utf-8"))["packages"]:
            found.append((manifest.parent, package))
    return found


@pytest.mark.parametrize(("folder", "package"), _packages(), ids=lambda v: getattr(v, "name", ""))
def test_each_vendored_file_matches_its_manifest(folder: Path, package: dict[str, object]) -> None:
    name, version = str(package["name"]), str(package["version"])
    assert SPDX.fullmatch(str(package["license"])), package["license"]
    assert package["tarball"] == f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"
    assert INTEGRITY.fullmatch(str(package["integrity"]))
    files = package["files"]
    assert isinstance(files, list) and len(files) >= 2
    for entry in files:
        path = folder / entry["path"]
        assert path.is_file(), f"{path} is listed but missing: run scripts/vendor-assets"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], path
    licence = folder / str(package["license_file"])
    assert licence.name in {e["path"] for e in files}
    assert licence.stat().st_size > 100  # a licence text, not a placeholder


def test_every_file_of_a_vendor_folder_is_in_its_manifest() -> None:
    for manifest in MANIFESTS:
        listed = {"VENDORED.json"} | {
            e["path"] for p in json.loads(manifest.read_text())["packages"] for e in p["files"]
        }
        assert {f.name for f in manifest.parent.iterdir()} == listed


def test_the_package_ships_static_files_and_templates() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]["fpcredit"]
    assert {"web/static/**/*", "web/templates/**/*"} <= set(data)
