#!/usr/bin/env python3
"""TensorBoard event files and nntop, both ways (issue 6). Never needed by the build.

Setup:
    pip install tensorboard

Usage, from the repository root:
    python3 scripts/tensorboard_check.py make-fixture
        Writes a small event file with TensorBoard's own writer
        (tensorboard.summary.writer.event_file_writer.EventFileWriter, what
        torch.utils.tensorboard.SummaryWriter uses underneath) into
        Tests/ModelsTests/Fixtures/tensorboard/, with these scalars:
            train/loss at steps 0, 10, 20: 2.5, 1.25, 0.625
            val/acc    at step 20:         0.875
            lr         at steps 0, 10, 20: 0.01, 0.005, 0.0025
        TensorBoardTests.testReadsTensorBoardWrittenFixture expects exactly these.

    python3 scripts/tensorboard_check.py check RUN_DIR
        Reads RUN_DIR's nntop event file with TensorBoard's EventAccumulator and compares every
        train/loss, train/acc, lr, val/loss, val/acc, test/loss, test/acc scalar (step and value,
        as float32) with RUN_DIR/metrics.jsonl. Exit status 0 when all match.
"""
import glob
import json
import math
import os
import shutil
import struct
import sys

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelsTests",
                           "Fixtures", "tensorboard")

FIXTURE_SCALARS = [
    ("train/loss", 0, 2.5), ("lr", 0, 0.01),
    ("train/loss", 10, 1.25), ("lr", 10, 0.005),
    ("train/loss", 20, 0.625), ("lr", 20, 0.0025), ("val/acc", 20, 0.875),
]


def make_fixture():
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    tmp = FIXTURE_DIR + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    w = EventFileWriter(tmp, filename_suffix=".fixture")
    for i, (tag, step, value) in enumerate(FIXTURE_SCALARS):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        w.add_event(event_pb2.Event(wall_time=1764150000.0 + i, step=step, summary=summary))
    w.close()
    files = glob.glob(os.path.join(tmp, "events.out.tfevents.*"))
    assert len(files) == 1, files
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    for old in glob.glob(os.path.join(FIXTURE_DIR, "events.out.tfevents.*")):
        os.remove(old)
    dest = os.path.join(FIXTURE_DIR, "events.out.tfevents.fixture")
    shutil.move(files[0], dest)
    shutil.rmtree(tmp)
    print(f"wrote {dest} ({os.path.getsize(dest)} bytes)")


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*")))
    if not files:
        print(f"no event file in {run_dir}")
        return 1
    expected = {}
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            split = o.get("split")
            if split is None:
                continue
            names = [("loss", "loss"), ("acc", "acc")] + ([("lr", None)] if split == "train" else [])
            for key, suffix in names:
                tag = f"{split}/{suffix}" if suffix else key
                v = o.get(key)
                expected.setdefault(tag, []).append((o["step"], math.nan if v is None else v))
    failures = 0
    total = 0
    # one accumulator per file (a resumed run has several), in file order
    got = {}
    for path in files:
        ea = EventAccumulator(path, size_guidance={"scalars": 0})
        ea.Reload()
        for tag in ea.Tags()["scalars"]:
            got.setdefault(tag, []).extend((e.step, e.value) for e in ea.Scalars(tag))
    for tag in sorted(set(expected) | set(got)):
        exp, have = expected.get(tag, []), got.get(tag, [])
        if len(exp) != len(have):
            print(f"{tag}: metrics.jsonl has {len(exp)} values, the event file {len(have)}")
            failures += 1
            continue
        bad = 0
        for (es, ev), (gs, gv) in zip(exp, have):
            total += 1
            same = (math.isnan(ev) and math.isnan(gv)) or f32(ev) == gv
            if es != gs or not same:
                bad += 1
                if bad <= 3:
                    print(f"{tag}: metrics.jsonl step {es} {ev!r}, event file step {gs} {gv!r}")
        failures += bad
        print(f"{tag}: {len(have)} values, {'all match' if bad == 0 else f'{bad} differ'}")
    print(f"{total} scalars compared in {len(files)} event file(s): "
          + ("OK" if failures == 0 else f"{failures} mismatches"))
    return 0 if failures == 0 and total > 0 else 1


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "make-fixture":
        make_fixture()
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        return check(sys.argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
