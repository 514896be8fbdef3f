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

COMMAND = "/usr/bin/python3 tests/parity/make_unet_fixture.py"
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unet_tiny.safetensors")

# UNetConfig::tiny() in nn/unet.h: {in_channels, base, mid, time_dim, temb, groups}
CONFIG = dict(in_channels=1, base=8, mid=16, time_dim=16, temb=32, groups=4)
SEED = 1234
N, H, W = 2, 8, 8
TIMESTEPS = [1, 537]
ADAM_STEPS = 3
ADAM_LR = 1e-3


# --- the network, mirroring nn/unet.h line for line ----------------------------------------------

def sinusoidal_embedding(t, dim):
    """t (N,) int64 -> (N, dim) float32.

    half = dim / 2,  f_i = exp(-ln(10000) i / half),  emb = [sin(t f_i) ..., cos(t f_i) ...].
    f_i is computed in double and rounded to float32 (as nn/time_embedding.cpp does); the argument
    t * f_i is a float32 product; sin/cos in float32 (PyTorch's are within ~1 ulp of a correctly
    rounded result, which is what the C++ gets by evaluating in double and rounding once).
    """
    half = dim // 2
    i = torch.arange(half, dtype=torch.float64)
    freqs = torch.exp(-math.log(10000.0) * i / half).to(torch.float32)   # f_i, rounded to float
    args = t.to(torch.float32)[:, None] * freqs[None, :]                  # t f_i, float product
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)          # sin first, then cos


class ResBlock(nn.Module):
    # Attribute order = registration order = named_parameters() order:
    # norm1, conv1, temb_proj, norm2, conv2, skip (as ResBlock's constructor in nn/unet.cpp).
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.cin, self.cout = cin, cout
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=1, padding=1)
        self.temb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        # h = Conv3x3(SiLU(GroupNorm(G, cin)(x)))
        h = self.conv1(F.silu(self.norm1(x)))
        # h += Linear(temb, cout)(e)[:, :, None, None], e = SiLU(temb)
        h = h + self.temb_proj(e)[:, :, None, None]
        # h = Conv3x3(SiLU(GroupNorm(G, cout)(h)))
        h = self.conv2(F.silu(self.norm2(h)))
        # out = h + (Conv1x1(x) if cin != cout else x)
        return h + (self.skip(x) if self.skip is not None else x)


class UNet(nn.Module):
    def __init__(self, in_channels, base, mid, time_dim, temb, groups):
        super().__init__()
        B, M = base, mid
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, B, 3, padding=1)
        self.enc0 = ResBlock(B, B, temb, groups)
        self.down0 = nn.Conv2d(B, B, 3, stride=2, padding=1)
        self.enc1 = ResBlock(B, M, temb, groups)
        self.down1 = nn.Conv2d(M, M, 3, stride=2, padding=1)
        self.enc2 = ResBlock(M, M, temb, groups)
        self.mid0 = ResBlock(M, M, temb, groups)
        self.mid1 = ResBlock(M, M, temb, groups)
        self.dec0 = ResBlock(2 * M, M, temb, groups)
        self.up0 = nn.Conv2d(M, M, 3, padding=1)
        self.dec1 = ResBlock(2 * M, M, temb, groups)
        self.up1 = nn.Conv2d(M, M, 3, padding=1)
        self.dec2 = ResBlock(M + B, B, temb, groups)
        self.out_norm = nn.GroupNorm(groups, B, eps=1e-5)
        self.out_conv = nn.Conv2d(B, in_channels, 3, padding=1)

    def forward(self, x, t):
        e = F.silu(self.time_mlp(sinusoidal_embedding(t, self.time_dim)))  # SiLU(temb)
        h = self.conv_in(x)
        h = self.enc0(h, e); s0 = h
        h = self.down0(h)
        h = self.enc1(h, e); s1 = h
        h = self.down1(h)
        h = self.enc2(h, e); s2 = h
        h = self.mid0(h, e)
        h = self.mid1(h, e)
        h = self.dec0(torch.cat([h, s2], dim=1), e)                       # cat: h first
        h = self.up0(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.dec1(torch.cat([h, s1], dim=1), e)
        h = self.up1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.dec2(torch.cat([h, s0], dim=1), e)
        return self.out_conv(F.silu(self.out_norm(h)))


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
