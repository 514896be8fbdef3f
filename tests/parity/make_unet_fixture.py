"""PyTorch reference numbers for the tiny UNet-S, the way llm.c checks itself against PyTorch.

Regenerate (from the repository root, with Debian's system Python, which has python3-torch;
NOT the pyenv `python3` that comes first on PATH):

    /usr/bin/python3 tests/parity/make_unet_fixture.py

It writes tests/parity/unet_tiny.safetensors, which tests/test_parity_torch.cpp reads (that test
needs no Python). The file is committed; rerun this only when the architecture changes.

What it does:
  1. builds the same network as nn/unet.h at UNetConfig::tiny() (base 8, mid 16, time 16 -> 32,
     4 groups), with the same module names, so named_parameters() gives our C++ names in our order;
  2. draws the weights from a seeded torch.Generator (PyTorch's default bounds U(+-1/sqrt(fan_in));
     GroupNorm gamma = 1 + 0.2 u, beta = 0.2 u with u ~ U(-1, 1), so the affine part is not the
     identity and its gradient is not trivially symmetric). The fixture carries the weights; nothing
     here replicates our C++ initialisation;
  3. x ~ N(0,1) (2, 1, 8, 8), t = [1, 537], eps ~ N(0,1) (2, 1, 8, 8):
       output = model(x, t);  loss = mse(output, eps);  loss.backward()  -> every gradient;
  4. from the same weights, 3 steps of torch.optim.Adam(lr 1e-3, betas (0.9, 0.999), eps 1e-8)
     on the same batch, recording the loss before each step.

Tensors in the file (all float32, little-endian): param.<name>, grad.<name> for every parameter,
input.x, input.t (timesteps as floats), input.eps, output, loss (0-d), adam_losses (3).
Metadata: torch version, config, seed, shapes, this command.

The safetensors file is written by hand (json header + raw f32), because the `safetensors`
package is not installed here; the layout is the one documented in nn/safetensors.h.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_unet import UNet  # noqa: E402  (the mirror of nn/unet.h)

COMMAND = "/usr/bin/python3 tests/parity/make_unet_fixture.py"
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unet_tiny.safetensors")

# UNetConfig::tiny() in nn/unet.h: {in_channels, base, mid, time_dim, temb, groups}
CONFIG = dict(in_channels=1, base=8, mid=16, time_dim=16, temb=32, groups=4)
SEED = 1234
N, H, W = 2, 8, 8
TIMESTEPS = [1, 537]
ADAM_STEPS = 3
ADAM_LR = 1e-3


def init_weights(model, gen):
    """Every parameter, in named_parameters() order, from `gen`:
    Linear / Conv2d weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default bounds),
    GroupNorm weight = 1 + 0.2 U(-1, 1), bias = 0.2 U(-1, 1)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Linear, nn.Conv2d)):
                fan_in = mod.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                mod.weight.uniform_(-bound, bound, generator=gen)
                mod.bias.uniform_(-bound, bound, generator=gen)
            elif isinstance(mod, nn.GroupNorm):
                mod.weight.uniform_(0.8, 1.2, generator=gen)
                mod.bias.uniform_(-0.2, 0.2, generator=gen)


# --- safetensors, by hand (layout: nn/safetensors.h) -------------------------------------------

def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, float32 tensor); metadata: dict str -> str."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors:
        t = t.detach().to(torch.float32).contiguous().cpu()
        data = struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)   # pad with spaces so the data starts at a multiple of 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.set_num_threads(1)   # one fixed summation order, so a rerun gives the same bytes here
    gen = torch.Generator().manual_seed(SEED)
    model = UNet(**CONFIG)
    init_weights(model, gen)
    x = torch.randn(N, CONFIG["in_channels"], H, W, generator=gen)
    eps = torch.randn(N, CONFIG["in_channels"], H, W, generator=gen)
    t = torch.tensor(TIMESTEPS, dtype=torch.int64)

    params = [(name, p.detach().clone()) for name, p in model.named_parameters()]

    # forward, loss, backward
    output = model(x, t)
    loss = F.mse_loss(output, eps)
    loss.backward()
    grads = [(name, p.grad.detach().clone()) for name, p in model.named_parameters()]

    # Adam from the same weights (the gradients above are not used; step 1 recomputes them)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=(0.9, 0.999), eps=1e-8)
    adam_losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad(set_to_none=True)
        l = F.mse_loss(model(x, t), eps)
        adam_losses.append(l.item())
        l.backward()
        opt.step()

    tensors = [("param." + n, p) for n, p in params] + [("grad." + n, g) for n, g in grads]
    tensors += [("input.x", x), ("input.t", t.to(torch.float32)), ("input.eps", eps),
                ("output", output), ("loss", loss.detach().reshape(())),
                ("adam_losses", torch.tensor(adam_losses, dtype=torch.float32))]
    metadata = {
        "generator": COMMAND,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "config": json.dumps(CONFIG, sort_keys=True),
        "seed": str(SEED),
        "input_shape": json.dumps([N, CONFIG["in_channels"], H, W]),
        "timesteps": json.dumps(TIMESTEPS),
        "adam": json.dumps(dict(lr=ADAM_LR, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, steps=ADAM_STEPS)),
        "num_parameters": str(sum(p.numel() for _, p in params)),
    }
    write_safetensors(OUT_PATH, tensors, metadata)
    print("wrote %s (%d bytes): %d parameters in %d tensors, loss %.6f, adam losses %s"
          % (OUT_PATH, os.path.getsize(OUT_PATH), sum(p.numel() for _, p in params), len(params),
             loss.item(), ["%.6f" % v for v in adam_losses]))


if __name__ == "__main__":
    main()
