"""Randomized workloads (seeded) applied to a model, to Python and to the Go CLI."""

from __future__ import annotations

import base64
import io
import json
import random

from helpers import go

NAMES = [b"a", b"list two", "ünï".encode(), b"q", b"zzz"]


def rand_value(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.6:
        n = rng.randint(0, 100)
    elif r < 0.8:
        n = rng.randint(290, 340)  # around the inline limit at 1 KiB pages
    elif r < 0.95:
        n = rng.randint(900, 6000)
    else:
        n = rng.randint(15000, 40000)
    return rng.randbytes(n)


def rand_id(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.05:
        return b""
    if r < 0.1:
        return bytes(rng.choice(b"xyz") for _ in range(rng.randint(200, 250)))
    return "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 4))).encode()


def gen_batches(rng: random.Random, model: dict, nbatches: int, per: int):
    """Yield batches of ops, applying each to ``model`` ({name: {id: value}})."""
    for _ in range(nbatches):
        batch = []
        for _ in range(rng.randint(1, per)):
            r = rng.random()
            name = rng.choice(NAMES)
            lst = model.get(name, {})
            if r < 0.75 or not lst:
                rid, val = rand_id(rng), rand_value(rng)
                op = ("put", name, rid, val, rng.random() < 0.3)  # last: stream it
                model.setdefault(name, {})[rid] = val
            elif r < 0.97:
                rid = rng.choice(sorted(lst))
                op = ("del", name, rid)
                del lst[rid]
                if not lst:
                    del model[name]
            else:
                op = ("drop", name)
                del model[name]
            batch.append(op)
        yield batch


def apply_op(db, op):
    if op[0] == "put":
        _, name, rid, val, stream = op
        db.put(name, rid, io.BytesIO(val) if stream else val)
    elif op[0] == "del":
        db.delete(op[1], op[2])
    else:
        db.drop(op[1])


def apply_py(db, batch, rng: random.Random):
    """One transaction for the batch (70%), or one commit per op."""
    if rng.random() < 0.7:
        with db.transaction():
            for op in batch:
                apply_op(db, op)
    else:
        for op in batch:
            apply_op(db, op)


def apply_go(path, batch):
    """Apply ops through the Go CLI: runs of puts to one list as one import, then rm, drop."""
    i = 0
    while i < len(batch):
        op = batch[i]
        if op[0] == "put":
            name, lines = op[1], []
            while i < len(batch) and batch[i][0] == "put" and batch[i][1] == name:
                _, _, rid, val, _ = batch[i]
                lines.append(json.dumps({"id_b64": base64.b64encode(rid).decode(),
                                         "value_b64": base64.b64encode(val).decode()}))
                i += 1
            go(["import", path, name.decode()], input=("\n".join(lines) + "\n").encode())
            continue
        if op[0] == "del":
            go(["rm", path, op[1].decode(), op[2].decode()])
        else:
            go(["drop", path, op[1].decode()])
        i += 1
