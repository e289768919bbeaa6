"""A neutral PyTorch U-Net, the architecture of milesial/Pytorch-UNet's ``UNet(bilinear=False)``.

Re-expressed from the architecture (Ronneberger et al., 2015, with batch norm and same-padding), not
copied: a stem double conv, 4 down stages (2×2 max pool, double conv doubling the channels), 4 up stages
(ConvTranspose2d k=2 s=2 halving the channels, concatenation ``[skip, up]``, double conv halving again)
and a 1×1 conv with bias giving the logits. A double conv is (3×3 conv, no bias, padding 1 → BN → ReLU)
twice. Parameters are registered in the same order as the public model, so the two ``state_dict``s
match shape for shape (names differ). Input height and width must be multiples of 16 (the public code
pads the upsampled map otherwise; this one does not).
"""

from __future__ import annotations

import torch
from torch import nn


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class _Up(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.upsample = nn.ConvTranspose2d(c_in, c_in // 2, 2, stride=2)
        self.fuse = _double_conv(c_in, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fuse(torch.cat([skip, self.upsample(x)], dim=1))
        return out


class UNet(nn.Module):
    """Encoder widths base·(1, 2, 4, 8, 16); decoder mirrors them back to base; logits at full size."""

    def __init__(self, n_channels: int = 3, n_classes: int = 2, base: int = 64) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(5)]
        self.stem = _double_conv(n_channels, widths[0])
        self.encoder = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _double_conv(a, b)) for a, b in zip(widths, widths[1:], strict=False)
        )
        rev = widths[::-1]
        self.decoder = nn.ModuleList(_Up(a, b) for a, b in zip(rev, rev[1:], strict=False))
        self.head = nn.Conv2d(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = [x]
        for down in self.encoder:
            x = down(x)
            skips.append(x)
        skips.pop()  # the bottleneck output is not a skip
        for up in self.decoder:
            x = up(x, skips.pop())
        logits: torch.Tensor = self.head(x)
        return logits


def unet(n_channels: int = 3, n_classes: int = 2, base: int = 64) -> nn.Module:
    """The U-Net of milesial/Pytorch-UNet (transposed-conv upsampling), returning the logits."""
    return UNet(n_channels, n_classes, base)
