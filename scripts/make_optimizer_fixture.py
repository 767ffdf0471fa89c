#!/usr/bin/env python3
"""Write Tests/ModelsTests/Fixtures/torch_optimizers.safetensors: what torch.optim's SGD
(plain, momentum, Nesterov) and Adam do to one parameter over a few steps of varying
gradients, so OptimizerTests checks nntop's Optimizer against PyTorch itself.

    python3 scripts/make_optimizer_fixture.py [--out DIR]     # torch==2.13.0+cpu

Tensors (float32 inputs, float64 results computed by torch in float64 from those inputs):
  w0                  [N]      the starting weights
  grads               [T, N]   the gradient given before each step; its last 4 elements
                               are ~1e-8, where Adam's eps (outside the sqrt) matters
  <case>.weights      [T, N]   the weights after each step
  <case>.settings     [3]      lr, momentum, weight_decay
A case is named <kind>_<variant>, kind one of sgd, momentum, nesterov, adam (Adam with
betas (0.9, 0.999) and eps 1e-8, torch's defaults). No header metadata: safetensors writes
it in hash order, and the file should be byte-identical on rerun.
"""
import argparse
import os

import torch
from safetensors.torch import save_file

N, T = 37, 6
CASES = [
    ("sgd_wd", "sgd", 0.1, 0.0, 0.05),
    ("momentum_wd", "momentum", 0.1, 0.9, 0.05),
    ("nesterov_wd", "nesterov", 0.1, 0.8, 0.05),
    ("adam_plain", "adam", 0.01, 0.0, 0.0),
    ("adam_wd", "adam", 0.01, 0.0, 0.1),
]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "ModelsTests", "Fixtures"))
    args = ap.parse_args()

    gen = torch.Generator().manual_seed(14)
    w0 = (torch.rand(N, generator=gen, dtype=torch.float64) * 2 - 1).float()
    # Gradients that change size and sign from step to step (a constant one hides the betas).
    grads = (torch.rand(T, N, generator=gen, dtype=torch.float64) * 2 - 1) * torch.linspace(0.2, 2.0, T).unsqueeze(1)
    grads[:, -4:] *= 1e-8
    grads = grads.float()

    tensors = {"w0": w0, "grads": grads}
    for name, kind, lr, mu, wd in CASES:
        p = torch.nn.Parameter(w0.double().clone())
        if kind == "adam":
            opt = torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
        else:
            opt = torch.optim.SGD([p], lr=lr, momentum=mu, dampening=0, weight_decay=wd,
                                  nesterov=(kind == "nesterov"))
        out = []
        for t in range(T):
            p.grad = grads[t].double().clone()
            opt.step()
            out.append(p.detach().clone())
        tensors[name + ".weights"] = torch.stack(out).contiguous()
        tensors[name + ".settings"] = torch.tensor([lr, mu, wd], dtype=torch.float64)
    path = os.path.join(args.out, "torch_optimizers.safetensors")
    save_file(tensors, path)
    print("wrote", path)


if __name__ == "__main__":
    main()
