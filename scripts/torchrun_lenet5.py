#!/usr/bin/env python3
"""nntop's reference LeNet-5 trained by PyTorch DDP, for README "Beyond one machine". Needs
PyTorch, tensorboard and safetensors (nntop itself does not):

    torchrun --nproc_per_node 2 scripts/torchrun_lenet5.py --logdir tb/ddp-lenet5 [--epochs 1] [--data DIR]
    nntop view tb                      # from any SSH session, while it trains or after
    nntop eval lenet5 --weights tb/ddp-lenet5/checkpoints/last.safetensors

The processes train one DistributedDataParallel model over the gloo backend (CPU). Rank 0 writes
a TensorBoard log with PyTorch's SummaryWriter (train/loss and train/acc every --log-every steps,
lr, val/loss and val/acc on the last 5,000 training images after each epoch, test/acc at the end)
and the model's state_dict as safetensors, the names nntop's checkpoints use, so nntop evaluates it.

Data: the four gzipped MNIST idx files in --data (default ../shared/data/mnist, else assets/mnist),
each digit zero-padded to 32x32, scaled to [0,1], normalised with mean 0.1307 and std 0.3081, as
../shared/reference/torch_models.py and nntop expect.
"""
import argparse, gzip, os, struct, sys, time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "reference"))
from torch_models import build  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = struct.unpack(">I", data[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = np.zeros((len(images), 1, 32, 32), dtype=np.float32)
    x[:, 0, 2:30, 2:30] = images.astype(np.float32) / 255.0
    return torch.from_numpy((x - 0.1307) / 0.3081), torch.from_numpy(labels.astype(np.int64))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    model.train()
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item() * 100


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--logdir", default="tb/ddp-lenet5")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--data", default=None)
    a = p.parse_args()
    data = a.data or next(d for d in (os.path.join(ROOT, "..", "shared", "data", "mnist"), os.path.join(ROOT, "assets", "mnist"))
                          if os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")))
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)  # one core per process
    torch.manual_seed(0)
    x, y = load(data, "train")
    xv, yv = x[-5000:], y[-5000:]
    x, y = x[:-5000], y[:-5000]
    model = DistributedDataParallel(build("lenet5", 1, 10, True))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
    steps_per_epoch = len(x) // (a.batch_size * world)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps_per_epoch * a.epochs)
    writer = SummaryWriter(a.logdir, flush_secs=5) if rank == 0 else None
    step, t0 = 0, time.time()
    for epoch in range(a.epochs):
        g = torch.Generator().manual_seed(epoch)
        order = torch.randperm(len(x), generator=g)
        mine = order[rank::world]  # each process its share of the epoch, as DistributedSampler splits it
        loss_sum = correct = seen = 0
        for b in range(steps_per_epoch):
            idx = mine[b * a.batch_size:(b + 1) * a.batch_size]
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()  # DDP averages the gradients over the processes here
            opt.step()
            sched.step()
            step += 1
            loss_sum += loss.item() * len(idx); correct += (logits.argmax(1) == y[idx]).sum().item(); seen += len(idx)
            if step % a.log_every == 0:
                # Every process's interval, averaged over the processes.
                t = torch.tensor([loss_sum, correct, seen], dtype=torch.float64)
                dist.all_reduce(t)
                if writer:
                    writer.add_scalar("train/loss", t[0].item() / t[2].item(), step)
                    writer.add_scalar("train/acc", t[1].item() / t[2].item() * 100, step)
                    writer.add_scalar("lr", sched.get_last_lr()[0], step)
                    writer.add_scalar("perf/samples_per_s", step * a.batch_size * world / (time.time() - t0), step)
                loss_sum = correct = seen = 0
        if writer:
            vl, va = evaluate(model.module, xv, yv)
            writer.add_scalar("val/loss", vl, step)
            writer.add_scalar("val/acc", va, step)
            print(f"epoch {epoch + 1}: step {step} val_acc={va:.2f}% val_loss={vl:.4f}", flush=True)
    if writer:
        xt, yt = load(data, "t10k")
        tl, ta = evaluate(model.module, xt, yt)
        writer.add_scalar("test/loss", tl, step)
        writer.add_scalar("test/acc", ta, step)
        writer.close()
        os.makedirs(os.path.join(a.logdir, "checkpoints"), exist_ok=True)
        path = os.path.join(a.logdir, "checkpoints", "last.safetensors")
        save_file({k: v.contiguous() for k, v in model.module.state_dict().items()}, path)
        print(f"torch test_acc={ta:.2f}% test_loss={tl:.4f} steps={step} world={world} wall={time.time() - t0:.1f}s; wrote {path}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
