"""A neutral reading of Darknet ``.cfg`` text: the file → a ``torch.nn`` module, written from Darknet's rules
(AlexeyAB/darknet ``src/parser.c`` and the ``*_layer.c`` files), sharing no code with convcalc (not its
Darknet reader, its graph, its exporter or its shape rules).

Each layer is run as Darknet runs it, on flat buffers where Darknet works on flat buffers:

* ``[convolutional]``: ``nn.Conv2d`` (bias unless batch_normalize) with padding = size/2 when ``pad`` is set
  (else ``padding=``), im2col's padding·dilation, then ``nn.BatchNorm2d`` and the activation;
* ``[maxpool]``: windows of ``size`` every ``stride`` starting at −padding/2 (default padding size − 1),
  padded cells −inf, ``(w + padding − size)/stride + 1`` outputs;
* ``[upsample]``: out[y, x] = in[y/stride, x/stride];
* ``[route]``: each input's flat buffer cut in ``groups`` parts, part ``group_id`` copied, one after another;
* ``[shortcut]``: the input plus, element by element, the first elements of each ``from`` layer;
* ``[yolo]``/``[region]``/``[detection]``/``[cost]``: the input is a model output; ``[dropout]``: identity;
  ``[avgpool]``: the mean of each channel; ``[connected]``: a linear layer on the flat input (bias unless
  batch_normalize, then ``BatchNorm1d``); ``[softmax]``: over the flat input.

``DarknetNet(text)`` builds the modules (channels are counted as Darknet counts ``out_c``; heights and widths
are whatever PyTorch computes); ``forward`` returns the outputs in order: the inputs of the heads, then the
last layer unless it is a head (``network_predict``'s output).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACT: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": lambda x: x, "leaky": lambda x: F.leaky_relu(x, 0.1), "relie": lambda x: F.leaky_relu(x, 0.01),
    "logistic": torch.sigmoid, "relu": F.relu, "relu6": lambda x: torch.clamp(x, 0, 6), "elu": F.elu,
    "tanh": torch.tanh, "swish": lambda x: x * torch.sigmoid(x), "mish": lambda x: x * torch.tanh(F.softplus(x)),
    "gelu": F.gelu}
HEADS = ("yolo", "region", "detection", "Gaussian_yolo", "cost")


def read_cfg(text: str) -> list[tuple[str, dict[str, str]]]:
    """``read_cfg``: whitespace removed from each line, ``#``/``;`` lines skipped, ``[type]`` sections, key=value."""
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            sections.append((line[1:-1], {}))
        else:
            key, _, value = line.partition("=")
            sections[-1][1].setdefault(key, value)
    return sections


def _int(opts: dict[str, str], key: str, default: int) -> int:
    return int(opts[key]) if key in opts else default


class DarknetNet(nn.Module):
    def __init__(self, text: str) -> None:
        super().__init__()
        sections = read_cfg(text)
        net = sections[0][1]
        self.input_shape = (int(net["channels"]), int(net["height"]), int(net["width"]))
        self.mods = nn.ModuleDict()
        self.plan: list[tuple[str, dict[str, Any]]] = []
        chans: list[int] = []
        for i, (kind, o) in enumerate(sections[1:]):
            c = chans[i - 1] if i else self.input_shape[0]
            step: dict[str, Any] = {"act": o.get("activation", "linear")}
            if kind in ("convolutional", "conv"):
                size, filters = _int(o, "size", 1), _int(o, "filters", 1)
                stride = _int(o, "stride", 1)
                dilation = 1 if size == 1 else _int(o, "dilation", 1)
                padding = size // 2 if _int(o, "pad", 0) else _int(o, "padding", 0)
                bn = bool(_int(o, "batch_normalize", 0) or _int(o, "cbn", 0))
                layers: list[nn.Module] = [nn.Conv2d(
                    c, filters, size, (_int(o, "stride_y", stride), _int(o, "stride_x", stride)),
                    padding * dilation, dilation, _int(o, "groups", 1), bias=not bn)]
                if bn:
                    layers.append(nn.BatchNorm2d(filters))
                self.mods[str(i)] = nn.Sequential(*layers)
                step["act"] = o.get("activation", "logistic")
                chans.append(filters)
            elif kind in ("maxpool", "max"):
                stride = _int(o, "stride", 1)
                size = _int(o, "size", stride)
                step.update(size=size, stride=(_int(o, "stride_y", stride), _int(o, "stride_x", stride)),
                            padding=_int(o, "padding", size - 1))
                chans.append(c)
            elif kind == "upsample":
                step.update(stride=_int(o, "stride", 2), scale=float(o.get("scale", 1)))
                chans.append(c)
            elif kind == "batchnorm":
                self.mods[str(i)] = nn.BatchNorm2d(c)
                chans.append(c)
            elif kind == "route":
                step["layers"] = [int(v) + i if int(v) < 0 else int(v) for v in o["layers"].split(",")]
                step.update(groups=_int(o, "groups", 1), group_id=_int(o, "group_id", 0))
                chans.append(sum(chans[j] for j in step["layers"]) // step["groups"])
            elif kind == "shortcut":
                step["from"] = [int(v) + i if int(v) < 0 else int(v) for v in o["from"].split(",")]
                chans.append(c)
            elif kind in ("connected", "conn"):
                bn = bool(_int(o, "batch_normalize", 0))
                n = _int(o, "output", 1)
                fc: list[nn.Module] = [nn.LazyLinear(n, bias=not bn)] + ([nn.BatchNorm1d(n)] if bn else [])
                self.mods[str(i)] = nn.Sequential(nn.Flatten(), *fc)
                step["act"] = o.get("activation", "logistic")
                chans.append(n)
            else:
                chans.append(c)
            self.plan.append((kind, step))
        if any(isinstance(m, nn.LazyLinear) for m in self.modules()):
            with torch.no_grad():  # materialise the lazy modules
                self.eval()(torch.zeros(1, *self.input_shape))

    def forward(self, x: Tensor) -> list[Tensor]:
        outs: list[Tensor] = []
        heads: list[Tensor] = []
        for i, (kind, s) in enumerate(self.plan):
            if str(i) in self.mods:
                y = self.mods[str(i)](x)
                y = y[:, :, None, None] if y.dim() == 2 else y  # [connected]: out_c = output, out_h = out_w = 1
            elif kind in ("maxpool", "max"):
                p, (sy, sx) = s["padding"], s["stride"]
                padded = F.pad(x, (p // 2, p - p // 2, p // 2, p - p // 2), value=float("-inf"))
                y = F.max_pool2d(padded, s["size"], (sy, sx))
            elif kind == "upsample":
                y = x.repeat_interleave(s["stride"], 2).repeat_interleave(s["stride"], 3) * s["scale"]
            elif kind == "route":
                parts = []
                for j in s["layers"]:
                    flat = outs[j].flatten(1)
                    n = flat.shape[1] // s["groups"]
                    parts.append((flat[:, n * s["group_id"]:n * (s["group_id"] + 1)], outs[j].shape))
                b, _, h, w = parts[0][1]
                y = torch.cat([t.reshape(b, -1, h, w) for t, _ in parts], 1)
            elif kind == "shortcut":
                flat = x.flatten(1).clone()
                for j in s["from"]:
                    add = outs[j].flatten(1)
                    n = min(flat.shape[1], add.shape[1])
                    flat[:, :n] += add[:, :n]
                y = flat.reshape(x.shape)
            elif kind in HEADS:
                heads.append(x)
                y = x
            elif kind in ("avgpool", "avg"):
                y = x.mean((2, 3), keepdim=True)
            elif kind in ("softmax", "soft"):
                y = torch.softmax(x.flatten(1), 1)[:, :, None, None]
            else:  # dropout at inference
                y = x
            y = ACT[s["act"]](y)
            outs.append(y)
            x = y
        last = self.plan[-1][0] in HEADS  # the network's output is its last layer (network_predict)
        return heads if last else [*heads, outs[-1]]
