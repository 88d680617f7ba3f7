"""A minimal in-tree PEP 517 build backend for the scdb package.

It needs nothing but the standard library, so ``pip install ./python`` works
offline (no setuptools or wheel to fetch). It builds a pure-Python wheel of
``scdb/*.py`` and an sdist of the project; ``pip install -e`` is supported
through a ``.pth`` file (PEP 660).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "scdb"
VERSION = "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def _metadata() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Read and write scdb files: encrypted, embedded, single-file record stores (format 3.0)\n"
            "Requires-Python: >=3.11\nRequires-Dist: cryptography>=44\n"
            "Description-Content-Type: text/markdown\n\n" + readme)


def _wheel_file() -> str:
    return f"Wheel-Version: 1.0\nGenerator: scdb_build\nRoot-Is-Purelib: true\nTag: {TAG}\n"


def _package_files():
    pkg = os.path.join(ROOT, NAME)
    for fn in sorted(os.listdir(pkg)):
        if fn.endswith(".py"):
            yield f"{NAME}/{fn}", os.path.join(pkg, fn)


def _write_wheel(directory: str, entries: list[tuple[str, bytes]]) -> str:
    name = f"{NAME}-{VERSION}-{TAG}.whl"
    entries = entries + [(f"{DIST_INFO}/METADATA", _metadata().encode()),
                         (f"{DIST_INFO}/WHEEL", _wheel_file().encode())]
    record = []
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            z.writestr(arc, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arc},sha256={digest},{len(data)}")
        record.append(f"{DIST_INFO}/RECORD,,")
        z.writestr(f"{DIST_INFO}/RECORD", "\n".join(record) + "\n")
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_sdist = get_requires_for_build_wheel
get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    with open(os.path.join(d, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_file())
    return DIST_INFO


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for arc, path in _package_files():
        with open(path, "rb") as f:
            entries.append((arc, f.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(f"__editable__.{NAME}.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "README.md", "_build/scdb_build.py"]:
            t.add(os.path.join(ROOT, rel), f"{base}/{rel}")
        for arc, path in _package_files():
            t.add(path, f"{base}/{arc}")
        for fn in sorted(os.listdir(os.path.join(ROOT, "tests"))):
            if fn.endswith(".py"):
                t.add(os.path.join(ROOT, "tests", fn), f"{base}/tests/{fn}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode()
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return name
