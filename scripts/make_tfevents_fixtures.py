#!/usr/bin/env python3
"""Writes the TensorBoard log fixtures nntop's tfevents reader is tested against.

Tests/ModelsTests/Fixtures/tfevents/<case>/events.out.tfevents.* are written by the real writers:
PyTorch's SummaryWriter (simple_value; new_style=True float_val; new_style + double_precision
double_val; purge_step restart) and TensorBoard's own EventFileWriter with TF2-style summaries
(4-byte tensor_content, scalars plugin metadata on a tag's first value only, as
tf.summary.scalar writes it). Damaged copies: a truncated last record, a bad data CRC, a bad
length CRC.

expected.json holds what TensorBoard's own reader (plugin_event_accumulator, every value kept)
serves for each case's scalar tags, and TensorBoard's smoothing (line-chart.ts resmoothDataset,
transcribed below) of one curve at several weights. nntop's tests compare with these; nothing
here comes from nntop.

    python3 scripts/make_tfevents_fixtures.py      # needs torch, tensorboard (no TensorFlow)
"""
import json, math, os, shutil, struct, sys, time

# Deterministic files: the writers stamp the file_version record and the file name with the time.
FIXED_TIME = 1700000000.0
time.time = lambda: FIXED_TIME

from torch.utils.tensorboard import SummaryWriter  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator as pea  # noqa: E402
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2  # noqa: E402
from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelsTests", "Fixtures", "tfevents")


def fresh(case):
    d = os.path.join(ROOT, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def rename_files(d, base=0):
    """Writer file names carry host and pid: give them fixed ones, keeping their order."""
    for i, f in enumerate(sorted(os.listdir(d))):
        os.rename(os.path.join(d, f), os.path.join(d, f"events.out.tfevents.{int(FIXED_TIME) + base + i}.fixture.1"))


def loss(step):
    return 2.3 * math.exp(-step / 12) + 0.05 * math.sin(step * 1.7)


def acc(step):
    return 100 - 90 * math.exp(-step / 8)


def write_pytorch(case, **kw):
    d = fresh(case)
    w = SummaryWriter(d)
    for step in range(30):
        wall = FIXED_TIME + 1.5 * step
        w.add_scalar("train/loss", loss(step), step, walltime=wall, **kw)
        w.add_scalar("train/acc", acc(step), step, walltime=wall, **kw)
        if step % 10 == 9:
            w.add_scalar("val/loss", loss(step) + 0.1, step, walltime=wall, **kw)
            w.add_scalar("val/acc", acc(step) - 1.25, step, walltime=wall, **kw)
        # Values float32 cannot hold: the double_val case must keep them.
        w.add_scalar("lr", 0.1 / (step + 3), step, walltime=wall, **kw)
    w.close()
    rename_files(d)
    return d


def write_tf2_style(case):
    """What TF2's tf.summary.scalar writes (Keras' TensorBoard callback too): a rank-0 DT_FLOAT
    tensor in tensor_content, scalars plugin metadata on the tag's first value only. Plus a text
    tensor (another plugin, not a scalar) and a histogram-style value, which a scalar view skips."""
    d = fresh(case)
    w = EventFileWriter(d)
    seen = set()
    for step in range(20):
        values = []
        for tag, v in (("epoch_loss", loss(step)), ("epoch_accuracy", acc(step) / 100)):
            t = tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                       tensor_content=struct.pack("<f", v))
            md = None
            if tag not in seen:
                md = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
                                                 data_class=summary_pb2.DATA_CLASS_SCALAR)
                seen.add(tag)
            values.append(summary_pb2.Summary.Value(tag=tag, tensor=t, metadata=md))
        if step % 5 == 0:
            text = tensor_pb2.TensorProto(dtype=7, tensor_shape=tensor_shape_pb2.TensorShapeProto(), string_val=[b"note"])
            values.append(summary_pb2.Summary.Value(tag="notes", tensor=text, metadata=summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))))
        w.add_event(event_pb2.Event(wall_time=FIXED_TIME + step, step=step, summary=summary_pb2.Summary(value=values)))
    w.close()
    rename_files(d)
    return d


def write_restart(case):
    """A run that crashed after step 9 and resumed from step 5: PyTorch's purge_step writes a
    SessionLog.START at step 5 into a new file, and steps 5.. are logged again (other values)."""
    d = fresh(case)
    w = SummaryWriter(d)
    for step in range(10):
        w.add_scalar("train/loss", loss(step), step, walltime=FIXED_TIME + step)
    w.close()
    time.time = lambda: FIXED_TIME + 100  # the second file is named later
    w = SummaryWriter(d, purge_step=5)
    for step in range(5, 14):
        w.add_scalar("train/loss", loss(step) / 2, step, walltime=FIXED_TIME + 100 + step)
    w.close()
    time.time = lambda: FIXED_TIME
    rename_files(d)
    return d


def records(path):
    """(offset, length) of each TFRecord in a file."""
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<Q", data, i)
        out.append((i, n))
        i += 16 + n
    return out


def damaged_copy(src, case, how):
    d = fresh(case)
    f = sorted(os.listdir(src))[0]
    data = bytearray(open(os.path.join(src, f), "rb").read())
    recs = records(os.path.join(src, f))
    if how == "truncated":
        off, n = recs[-1]
        data = data[: off + 12 + n // 2]        # the writer stopped mid-record
        lost = [len(recs) - 1]
    elif how == "data-crc":
        off, n = recs[10]
        data[off + 12 + n // 2] ^= 0x40           # one bit of record 10's data
        lost = [10]
    else:
        off, n = recs[20]
        data[off + 3] ^= 0x01                     # record 20's length: its header CRC fails
        lost = [20]
    open(os.path.join(d, f), "wb").write(bytes(data))
    return d, lost


def tensorboard_scalars(d):
    """What TensorBoard serves: plugin_event_accumulator over the run, every value kept, the
    scalars plugin's tags, each value as make_ndarray reads it."""
    acc_ = pea.EventAccumulator(d, size_guidance={"tensors": 0, "scalars": 0})
    acc_.Reload()
    out = {}
    for tag in sorted(acc_.Tags()["tensors"]):
        if tag not in acc_.PluginTagToContent("scalars"):
            continue
        out[tag] = [[e.step, e.wall_time, float(tensor_util.make_ndarray(e.tensor_proto).item())] for e in acc_.Tensors(tag)]
    return out


def tensorboard_smoothing(values, weight):
    """vz_line_chart2/line-chart.ts resmoothDataset, line for line."""
    last = 0 if len(values) > 0 else math.nan
    num_accum = 0
    is_constant = all(v == values[0] for v in values)
    out = []
    for v in values:
        if is_constant or not math.isfinite(v):
            out.append(v)
        else:
            last = last * weight + (1 - weight) * v
            num_accum += 1
            debias = 1 - math.pow(weight, num_accum) if weight != 1 else 1
            out.append(last / debias)
    return out


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    expected = {}
    simple = write_pytorch("pytorch-simple")
    for case, d in [("pytorch-simple", simple),
                    ("pytorch-newstyle", write_pytorch("pytorch-newstyle", new_style=True)),
                    ("pytorch-double", write_pytorch("pytorch-double", new_style=True, double_precision=True)),
                    ("tensorboard-tf2", write_tf2_style("tensorboard-tf2"))]:
        expected[case] = {"tags": tensorboard_scalars(d)}
    # The restart: TensorBoard's classic EventAccumulator purges at every SessionLog.START (what
    # purge_step is for); its plugin accumulator takes a run's first START for the start of the
    # first session and purges nothing here, since PyTorch writes START only when it resumes.
    # nntop follows the classic one (and the writer's intent); both answers are recorded.
    d = write_restart("restart")
    classic = event_accumulator.EventAccumulator(d, size_guidance={"scalars": 0})
    classic.Reload()
    expected["restart"] = {"tags": {t: [[e.step, e.wall_time, e.value] for e in classic.Scalars(t)] for t in classic.Tags()["scalars"]},
                           "tensorboard_plugin_reader_serves": tensorboard_scalars(d)}
    full = expected["pytorch-simple"]["tags"]
    rec_tags = []  # which (tag, step) each record of the simple file holds, to know what a damage loses
    from tensorboard.backend.event_processing import event_file_loader
    f = os.path.join(simple, sorted(os.listdir(simple))[0])
    for ev in event_file_loader.RawEventFileLoader(f).Load():
        e = event_pb2.Event.FromString(ev)
        rec_tags.append([(v.tag, e.step) for v in e.summary.value])
    for case, how in [("truncated", "truncated"), ("bad-data-crc", "data-crc"), ("bad-length-crc", "length-crc")]:
        d, lost = damaged_copy(simple, case, how)
        gone = {tv for i in lost for tv in rec_tags[i]}
        # nntop skips the damaged record and reads on: the full file's scalars minus that record's.
        # (TensorBoard's reader stops at the damage for good; what it serves is recorded too.)
        expected[case] = {
            "tags": {t: [p for p in pts if (t, p[0]) not in gone] for t, pts in full.items()},
            "damaged": 0 if how == "truncated" else 1,
            "tensorboard_serves": tensorboard_scalars(d),
        }
    loss_values = [p[2] for p in full["train/loss"]]
    expected["smoothing"] = {"tag": "train/loss", "case": "pytorch-simple",
                             "weights": {str(w): tensorboard_smoothing(loss_values, w) for w in (0.0, 0.6, 0.9, 0.95, 0.99)}}
    with open(os.path.join(ROOT, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print("wrote", ROOT)


if __name__ == "__main__":
    main()
