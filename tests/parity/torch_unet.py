"""UNet-S in PyTorch, a line-by-line mirror of nn/unet.h / nn/unet.cpp: the same module names in
the same order, so named_parameters() gives our C++ parameter names.

Used by tests/parity/make_unet_fixture.py (the parity fixture the C++ tests check) and by
bench/train_step_torch.py (the PyTorch side of the training-step benchmark), so the benchmark
runs exactly the model whose outputs and gradients the parity test matches.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

UNET_S_PARAMETERS = 776_929  # nn/unet.h


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
    # Defaults: UNet-S (UNetConfig::small() in nn/unet.h).
    def __init__(self, in_channels=1, base=32, mid=64, time_dim=32, temb=128, groups=8):
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
