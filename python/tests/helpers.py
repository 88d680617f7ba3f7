"""Shared test helpers: paths, reading a whole file into a model, and the Go CLI."""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(PYROOT)
CONFORMANCE = os.environ.get("SCDB_CONFORMANCE") or os.path.join(REPO, "conformance")
if PYROOT not in sys.path:
    sys.path.insert(0, PYROOT)

import scdb  # noqa: E402

KEY_HEX = "6b" * 32


def read_all(db) -> dict:
    """{name bytes: {id bytes: value bytes}} of every list."""
    out = {}
    for name in db.lists():
        nb = name.encode("utf-8", "surrogateescape")
        out[nb] = {r.id_bytes: r.value for r in db.list(name)}
    return out


_go = {"bin": None, "tried": False, "dir": None}


def go_cli():
    """Path of the Go scdb CLI, built once per test run; raise SkipTest without Go."""
    if _go["bin"]:
        return _go["bin"]
    if _go["tried"]:
        raise unittest.SkipTest("the Go scdb CLI could not be built")
    _go["tried"] = True
    if shutil.which("go") is None:
        raise unittest.SkipTest("go is not installed: cross-implementation tests skipped")
    d = tempfile.mkdtemp(prefix="scdb-go-")
    out = os.path.join(d, "scdb")
    r = subprocess.run(["go", "build", "-o", out, "./cmd/scdb"], cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise unittest.SkipTest("go build ./cmd/scdb failed: " + r.stderr[-2000:])
    _go["bin"], _go["dir"] = out, d
    atexit.register(shutil.rmtree, d, True)
    return out


def go(args, input=None, check=True, key=KEY_HEX):
    env = dict(os.environ, SCDB_KEY=key)
    env.pop("SCDB_PASSPHRASE", None)
    r = subprocess.run([go_cli()] + list(args), input=input, capture_output=True, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"scdb {args[0]} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r


def go_lists(path) -> list[bytes]:
    out = []
    for line in go(["lists", "--json", path]).stdout.splitlines():
        o = json.loads(line)
        out.append(base64.b64decode(o["name_b64"]) if "name_b64" in o else o["name"].encode())
    return out


def _export_value(line: bytes, o: dict) -> bytes:
    if "value_b64" in o:
        return base64.b64decode(o["value_b64"])
    if "value_text" in o:
        return o["value_text"].encode("utf-8")
    i = line.index(b',"value":')  # the id comes first; the JSON text is embedded byte for byte
    return line[i + len(b',"value":'):-1]


def go_export(path, name: bytes) -> dict:
    out = {}
    for line in go(["export", path, name.decode("utf-8", "surrogateescape")]).stdout.splitlines():
        o = json.loads(line)
        rid = base64.b64decode(o["id_b64"]) if "id_b64" in o else o["id"].encode("utf-8")
        out[rid] = _export_value(line, o)
    return out


def go_read_all(path) -> dict:
    return {n: go_export(path, n) for n in go_lists(path)}


def go_check(path) -> str:
    r = go(["check", path], check=False)
    if r.returncode != 0:
        raise AssertionError(f"scdb check failed ({r.returncode}): {r.stdout.decode()} {r.stderr.decode()}")
    return r.stdout.decode()


_live = {"bin": None, "err": None}


def go_live():
    """Path of tests/livego.go built once per test run (the Go side of the live
    tests of FORMAT.md §9.5); raise SkipTest without Go."""
    if _live["bin"]:
        return _live["bin"]
    if _live["err"]:
        raise unittest.SkipTest(_live["err"])
    if shutil.which("go") is None:
        _live["err"] = "go is not installed: live cross-process tests skipped"
        raise unittest.SkipTest(_live["err"])
    d = tempfile.mkdtemp(prefix="scdb-livego-")
    out = os.path.join(d, "livego")
    r = subprocess.run(["go", "build", "-o", out, os.path.join(HERE, "livego.go")], cwd=REPO,
                       capture_output=True, text=True)
    if r.returncode != 0:
        _live["err"] = "go build python/tests/livego.go failed: " + r.stderr[-2000:]
        raise unittest.SkipTest(_live["err"])
    _live["bin"] = out
    atexit.register(shutil.rmtree, d, True)
    return out
