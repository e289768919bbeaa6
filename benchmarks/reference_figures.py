"""Measure the reference figures in tests/data/torchvision-modern.csv and tests/data/efficientnet-stages.json.

Not run in CI: it needs torch and torchvision (measured with torch 2.14.1, torchvision 0.29.1, CPU) and a
checkout of milesial/Pytorch-UNet (GPL: keep it outside this repository; only its figures are recorded):

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    git clone https://github.com/milesial/Pytorch-UNet /tmp/unet_ref  # commit 21d7850f2af3...
    /tmp/tv/bin/python benchmarks/reference_figures.py --unet-src /tmp/unet_ref --unet-commit <sha>
    /tmp/tv/bin/python benchmarks/reference_figures.py --small-inputs  # only tests/data/small-inputs.csv
    /tmp/tv/bin/python benchmarks/reference_figures.py --small-inputs /tmp/s.csv --small-inputs-models vit_b_16,swin_t
    /tmp/tv/bin/python benchmarks/reference_figures.py --attention /tmp/att.csv  # only ViT, Swin, MaxViT

Conventions (as in shared/reference/README.md): CPU, batch 1, zeros input, ``eval()``, ``no_grad()``;
``params`` = sum of ``numel()`` over ``parameters()``; ``macs`` = FlopCounterMode total / 2 (conv, linear
and matmul only). Classification models are built with ``weights=None``; the input size is the published
weights' ``transforms().crop_size`` and ``num_params_meta`` is the weights' ``meta["num_params"]``. It
also checks that tests/neutral/unet.py equals the public U-Net (params, MACs, output, state_dict shapes).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import efficientnet as tv_efficientnet
from torchvision.models import regnet as tv_regnet
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

ROOT = Path(__file__).resolve().parent.parent
TV_SOURCE = f"torchvision {torchvision.__version__.split('+')[0]}"
COLUMNS = ["model", "source", "input_h", "input_w", "params", "macs", "num_params_meta", "notes"]

CLASSIFIERS = [
    *(f"convnext_{s}" for s in ("tiny", "small", "base", "large")),
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"efficientnet_v2_{s}" for s in ("s", "m", "l")),
    "mobilenet_v3_small",
]
MOBILENET_V2_WIDTHS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]
OFF_NATIVE = {"efficientnet_b0": [160, 256]}  # every other model: [160]


def count(model: nn.Module, x: torch.Tensor) -> tuple[int, int, Any]:
    """(params, MACs, output) of one inference pass."""
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = model(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0, flops
    return params, flops // 2, out


def zeros(c: int, h: int, w: int) -> torch.Tensor:
    return torch.zeros(1, c, h, w)


def row(
    model: str, source: str, h: int, w: int, params: int, macs: int, meta: int | None, notes: str
) -> dict[str, Any]:
    values = [model, source, h, w, params, macs, "" if meta is None else meta, notes]
    return dict(zip(COLUMNS, values, strict=True))


def self_check() -> None:
    expected = {"convnext_tiny": (28_589_128, 4_455_531_264)}
    with open(ROOT / "tests/data/torchvision-zoo.csv") as f:
        for r in csv.DictReader(f):
            if r["model"] == "resnet50":
                expected["resnet50"] = (int(r["params"]), int(r["macs"]))
    for name, want in expected.items():
        got = count(torchvision.models.get_model(name, weights=None), zeros(3, 224, 224))[:2]
        assert got == want, (name, got, want)
        print(f"self-check {name}: {got} ok", file=sys.stderr)


def classifiers() -> list[dict[str, Any]]:
    rows = []
    for name in CLASSIFIERS:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        (crop,) = weights.transforms().crop_size
        meta = weights.meta["num_params"]
        model = torchvision.models.get_model(name, weights=None)
        for size in [crop, *OFF_NATIVE.get(name, [160])]:
            params, macs, _ = count(model, zeros(3, size, size))
            assert params == meta, (name, params, meta)
            note = f"weights={weights}; crop_size={crop}" + ("" if size == crop else "; off-native size")
            rows.append(row(name, TV_SOURCE, size, size, params, macs, meta, note))
            print(name, size, params, macs, file=sys.stderr)
    v2_weights = torchvision.models.MobileNet_V2_Weights.DEFAULT
    for w in MOBILENET_V2_WIDTHS:
        model = torchvision.models.mobilenet_v2(weights=None, width_mult=w)
        meta = v2_weights.meta["num_params"] if w == 1.0 else None
        for size in (224, 160):
            params, macs, _ = count(model, zeros(3, size, size))
            assert meta is None or params == meta
            note = f"width_mult={w}" + (f"; weights={v2_weights}" if meta else "")
            note += "; off-native size" if size != 224 else ""
            rows.append(row(f"mobilenet_v2_w{w}", TV_SOURCE, size, size, params, macs, meta, note))
            print(f"mobilenet_v2_w{w}", size, params, macs, file=sys.stderr)
    return rows


def efficientnet_stages() -> dict[str, Any]:
    """Stage configs as torchvision's _efficientnet_conf builds them, checked against the built models."""
    out: dict[str, Any] = {}
    for name in [f"efficientnet_b{i}" for i in range(8)] + [f"efficientnet_v2_{s}" for s in "sml"]:
        src = inspect.getsource(getattr(tv_efficientnet, name))
        m = re.search(r'_efficientnet_conf\("(\w+)"(?:, width_mult=([\d.]+), depth_mult=([\d.]+))?\)', src)
        assert m, name
        kwargs = {} if m[2] is None else {"width_mult": float(m[2]), "depth_mult": float(m[3])}
        setting, last_channel = tv_efficientnet._efficientnet_conf(m[1], **kwargs)
        model = torchvision.models.get_model(name, weights=None)
        stages = [
            {
                "block": c.block.__name__,
                "expand_ratio": c.expand_ratio,
                "kernel": c.kernel,
                "stride": c.stride,
                "in_channels": c.input_channels,
                "out_channels": c.out_channels,
                "num_layers": c.num_layers,
            }
            for c in setting
        ]
        for i, s in enumerate(stages):  # features[0] is the stem, features[1..n] the stages, features[-1] the head
            assert len(model.features[i + 1]) == s["num_layers"], (name, i)
        stem = model.features[0][0].out_channels
        head = model.features[-1][0].out_channels
        assert stem == stages[0]["in_channels"]
        assert head == (last_channel or 4 * stages[-1]["out_channels"])
        out[name] = {
            "width_mult": kwargs.get("width_mult"),
            "depth_mult": kwargs.get("depth_mult"),
            "stem_channels": stem,
            "head_channels": head,
            "stages": stages,
        }
        params = sum(p.numel() for p in model.parameters())
        assert params_from_stages(out[name]) == params, (name, params_from_stages(out[name]), params)
    return {"source": TV_SOURCE, "rules": STAGE_RULES, "models": out}


STAGE_RULES = {
    "in_channels, out_channels": "_make_divisible(c * width_mult, 8): round to the nearest multiple of 8, "
    "never below 8 nor below 90% of c * width_mult (torchvision/models/_utils.py)",
    "num_layers": "ceil(num_layers * depth_mult)",
    "blocks": "the first block of a stage has the stage's stride and in_channels; the others stride 1 and "
    "in_channels = out_channels; a residual add where stride == 1 and in == out",
    "expanded": "_make_divisible(block_in * expand_ratio, 8)",
    "MBConv": "[1x1 conv block_in->expanded + BN + SiLU, if expanded != block_in] -> depthwise kxk stride s + BN "
    "+ SiLU -> SE(expanded, squeeze=max(1, block_in // 4), SiLU, sigmoid gate; 1x1 convs with bias) -> 1x1 conv "
    "expanded->out + BN",
    "FusedMBConv": "if expanded != block_in: kxk conv stride s block_in->expanded + BN + SiLU -> 1x1 conv "
    "expanded->out + BN; else one kxk conv stride s block_in->out + BN + SiLU",
    "stem": "3x3 conv stride 2, 3->stem_channels + BN + SiLU (stem_channels = first stage's in_channels)",
    "head": "1x1 conv last out->head_channels + BN + SiLU (head_channels = 4 * last out, or 1280 for v2) -> "
    "global avg pool -> dropout -> linear head_channels->1000 with bias",
    "convs": "padding (k - 1) // 2; no bias except the SE convs and the final linear; "
    "BatchNorm eps 1e-5 (b0-b4) or 1e-3 (b5-b7, v2)",
}


def params_from_stages(cfg: dict[str, Any]) -> int:
    """Parameters rebuilt from the stage table and STAGE_RULES alone (a check that the rules are complete)."""

    def conv_bn(c_in: int, c_out: int, k: int, groups: int = 1) -> int:
        return c_out * (c_in // groups) * k * k + 2 * c_out

    def div8(v: float) -> int:
        n = max(8, int(v + 4) // 8 * 8)
        return n + 8 if n < 0.9 * v else n

    total = conv_bn(3, cfg["stem_channels"], 3)
    for s in cfg["stages"]:
        for i in range(s["num_layers"]):
            c_in = s["in_channels"] if i == 0 else s["out_channels"]
            e, k, c_out = div8(c_in * s["expand_ratio"]), s["kernel"], s["out_channels"]
            if s["block"] == "MBConv":
                sq = max(1, c_in // 4)
                total += (conv_bn(c_in, e, 1) if e != c_in else 0) + conv_bn(e, e, k, e)
                total += e * sq + sq + sq * e + e + conv_bn(e, c_out, 1)
            elif e != c_in:
                total += conv_bn(c_in, e, k) + conv_bn(e, c_out, 1)
            else:
                total += conv_bn(c_in, c_out, k)
    head = cfg["head_channels"]
    return total + conv_bn(cfg["stages"][-1]["out_channels"], head, 1) + head * 1000 + 1000


def fpn() -> list[dict[str, Any]]:
    rows = []
    variants: list[tuple[str, Callable[[], nn.Module], str]] = [
        (
            "resnet50_fpn_backbone",
            lambda: resnet_fpn_backbone(
                backbone_name="resnet50", weights=None, norm_layer=nn.BatchNorm2d, trainable_layers=5
            ),
            "norm_layer=BatchNorm2d; trainable_layers=5",
        ),
        (
            "resnet50_fpn_backbone_frozenbn",
            lambda: resnet_fpn_backbone(backbone_name="resnet50", weights=None),
            "norm_layer=FrozenBatchNorm2d (default); trainable_layers=3 (default)",
        ),
    ]
    for name, build, what in variants:
        model = build()
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        for h, w in ((224, 224), (512, 640), (800, 1333)):  # 800×1333: sizes not a multiple of 32
            params, macs, out = count(model, zeros(3, h, w))
            shapes = ";".join(f"{k}={'x'.join(str(d) for d in v.shape[1:])}" for k, v in out.items())
            note = f"{shapes}; {what}; requires_grad params={trainable}"
            rows.append(row(name, TV_SOURCE, h, w, params, macs, None, note))
            print(name, h, w, params, macs, note, file=sys.stderr)
    return rows


def bilinear_macs(model: nn.Module, x: torch.Tensor) -> int:
    """convcalc's bilinear-upsample MACs (4·C·O per nn.Upsample), which FlopCounterMode does not count."""
    total = 0

    def hook(_m: nn.Module, _i: Any, o: torch.Tensor) -> None:
        nonlocal total
        total += 4 * o.shape[1] * o.shape[2] * o.shape[3]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Upsample)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


def unets(src: Path, commit: str) -> list[dict[str, Any]]:
    sys.path.insert(0, str(src))
    sys.path.insert(0, str(ROOT))
    from unet import UNet  # the public code  # noqa: I001

    from tests.neutral.unet import unet as neutral_unet

    rows = []
    source = f"milesial/Pytorch-UNet@{commit}"
    for bilinear in (False, True):
        torch.manual_seed(0)
        public = UNet(n_channels=3, n_classes=2, bilinear=bilinear)
        name = "unet_milesial_bilinear" if bilinear else "unet_milesial"
        for size in (256, 224):
            x = zeros(3, size, size)
            params, macs, out = count(public, x)
            note = f"n_channels=3; n_classes=2; bilinear={bilinear}; out={'x'.join(map(str, out.shape[1:]))}"
            if bilinear:
                extra = bilinear_macs(public, x)
                note += f"; FlopCounterMode ignores bilinear upsampling: convcalc's 4*C*O adds {extra}"
            else:
                neutral = neutral_unet(n_channels=3, n_classes=2, base=64)
                n_params, n_macs, n_out = count(neutral, x)
                assert (n_params, n_macs, n_out.shape) == (params, macs, out.shape), (n_params, n_macs, n_out.shape)
                a = [t.shape for t in public.state_dict().values()]
                b = [t.shape for t in neutral.state_dict().values()]
                assert a == b, "state_dict shapes differ"
                note += "; tests/neutral/unet.py equal (params, macs, output, state_dict shapes)"
            rows.append(row(name, source, size, size, params, macs, None, note))
            print(name, size, params, macs, note, file=sys.stderr)
    return rows


def family_rows(names: list[str]) -> list[dict[str, Any]]:
    """Each model at 160, and at its weights' crop size where tests/data/torchvision-zoo.csv does not have
    it; params must equal the weights' num_params."""
    with open(ROOT / "tests/data/torchvision-zoo.csv") as f:
        in_zoo_csv = {r["model"] for r in csv.DictReader(f)}
    rows = []
    for name in names:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        (crop,) = weights.transforms().crop_size
        meta = weights.meta["num_params"]
        model = torchvision.models.get_model(name, weights=None)
        for size in [160] if name in in_zoo_csv else [crop, 160]:
            params, macs, _ = count(model, zeros(3, size, size))
            assert params == meta, (name, params, meta)
            note = f"weights={weights}; crop_size={crop}" + ("" if size == crop else "; off-native size")
            rows.append(row(name, TV_SOURCE, size, size, params, macs, meta, note))
            print(name, size, params, macs, file=sys.stderr)
    return rows


#: The attention models (issue 13) and their sizes: the published weights' crop sizes first (each weight's,
#: as ``image_size`` for ViT), then off-native sizes (Swin: windows and patch merging padded at 320, 200).
ATTENTION: dict[str, tuple[int, ...]] = {
    "vit_b_16": (224, 384), "vit_b_32": (224, 384), "vit_l_16": (224, 512), "vit_l_32": (224,),
    "vit_h_14": (224, 518), **dict.fromkeys(("swin_t", "swin_s", "swin_b"), (224, 256, 320, 200, 192)),
    **dict.fromkeys(("swin_v2_t", "swin_v2_s", "swin_v2_b"), (256, 224, 320)), "maxvit_t": (224, 448),
}


def attention_rows() -> list[dict[str, Any]]:
    """The ViT, Swin (v1, v2) and MaxViT rows, counted with SDPA's math backend (the fused kernel hides the
    attention matmuls from FlopCounterMode) and without ``nn.MultiheadAttention``'s inference fast path (under
    ``no_grad`` it runs one fused op, ``aten._native_multi_head_attention``, that FlopCounterMode does not count
    at all: vit_b_16 would read 11,271,124,992); ``num_params_meta`` at each published weight's crop size."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.backends.mha.set_fastpath_enabled(False)
    rows = []
    for name, sizes in ATTENTION.items():
        crops: dict[int, Any] = {}
        for weights in torchvision.models.get_model_weights(name):  # the first weights of each crop size
            crops.setdefault(weights.transforms().crop_size[0], weights)
        for size in sizes:
            kwargs: dict[str, Any] = {}
            if name.startswith("vit") and size != 224:
                kwargs["image_size"] = size
            if name == "maxvit_t":
                kwargs["input_size"] = (size, size)
            model = torchvision.models.get_model(name, weights=None, **kwargs)
            with sdpa_kernel(SDPBackend.MATH):
                params, macs, _ = count(model, zeros(3, size, size))
            w = crops.get(size)
            meta = w.meta["num_params"] if w is not None else None
            assert meta is None or params == meta, (name, size, params, meta)
            note = f"weights={w}; crop_size={size}" if w is not None else "off-native size"
            note += "".join(f"; {k}={v}" for k, v in kwargs.items())
            rows.append(row(name, TV_SOURCE, size, size, params, macs, meta,
                            note + "; FlopCounterMode under sdpa_kernel(SDPBackend.MATH)"))
            print(name, size, params, macs, file=sys.stderr)
    return rows


RESNET_VGG_SQUEEZENET = [
    *("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
    *("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"),
    *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")),
    "squeezenet1_0",
    "squeezenet1_1",
]


def resnet_vgg_squeezenet() -> list[dict[str, Any]]:
    """The ResNet, VGG and SqueezeNet families (convcalc/zoo/resnet.yaml, vgg.yaml, squeezenet.yaml): every
    variant at 160, and at its weights' crop size where tests/data/torchvision-zoo.csv does not have it."""
    return family_rows(RESNET_VGG_SQUEEZENET)


DENSENET_SHUFFLENET_REGNET = [
    *(f"densenet{n}" for n in (121, 161, 169, 201)),
    *(f"shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0")),
    *(f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    *(f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")),
]


def regnet_stages() -> dict[str, dict[str, Any]]:
    """Each torchvision RegNet's stage table, from torchvision's own ``BlockParams.from_init_params``.

    ``from_init_params(depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1, se_ratio)`` (the arguments
    read from each builder's source): block widths w_0 + j·w_a (j < depth), quantised in log space to
    w_0·w_m^round(log(width / w_0) / log(w_m)) and to a multiple of 8; a stage is a run of equal widths; then
    each stage's group width is min(group_width, width) and its width make_divisible(width, that). These
    are the ``variants:`` of convcalc/zoo/regnet.yaml (:func:`regnet_variant_lines`), checked here against
    the built models: four stages of stride 2, bottleneck multiplier 1, and the widths, depths and groups.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in [n for n in DENSENET_SHUFFLENET_REGNET if n.startswith("regnet_")]:
        src = inspect.getsource(getattr(tv_regnet, name))
        m = re.search(r"BlockParams\.from_init_params\((.*?)\*\*kwargs\s*\)", src, re.S)
        assert m, name
        kwargs: dict[str, Any] = {k: float(v) if "." in v else int(v) for k, v in re.findall(r"(\w+)=([\d.]+)", m[1])}
        bp = tv_regnet.BlockParams.from_init_params(**kwargs)
        assert bp.strides == [2] * 4 and bp.bottleneck_multipliers == [1.0] * 4, name
        weights = torchvision.models.get_model_weights(name).DEFAULT
        (crop,) = weights.transforms().crop_size
        model = torchvision.models.get_model(name, weights=None)
        for stage, w, d, g in zip(model.trunk_output, bp.widths, bp.depths, bp.group_widths, strict=True):
            assert len(stage) == d, name
            first = stage[0].f
            assert (first.c[0].out_channels, first.b[0].groups) == (w, w // g), name
            if bp.se_ratio:
                assert first.se.fc1.out_channels == round(bp.se_ratio * first.a[0].in_channels), name
        out[name] = {
            "init_params": kwargs,
            "widths": bp.widths,
            "depths": bp.depths,
            "group_widths": bp.group_widths,
            "se_ratio": bp.se_ratio or 0,
            "res": crop,
        }
    return out


def regnet_variant_lines(stages: dict[str, dict[str, Any]]) -> list[str]:
    """The ``variants:`` lines of convcalc/zoo/regnet.yaml, one per model."""
    return [
        f"  {name + ':':<15} {{widths: {s['widths']}, depths: {s['depths']}, group_widths: {s['group_widths']}, "
        f"se_ratio: {s['se_ratio']}, res: {s['res']}}}"
        for name, s in stages.items()
    ]


def densenet_shufflenet_regnet() -> list[dict[str, Any]]:
    """The DenseNet, ShuffleNetV2 and RegNet families (convcalc/zoo/densenet.yaml, shufflenet_v2.yaml,
    regnet.yaml): every variant at 160, and at its weights' crop size where tests/data/torchvision-zoo.csv
    does not have it. First checks that regnet.yaml's variant tables are torchvision's BlockParams."""
    zoo_file = (ROOT / "convcalc/zoo/regnet.yaml").read_text().splitlines()
    for line in regnet_variant_lines(regnet_stages()):
        assert line in zoo_file, f"convcalc/zoo/regnet.yaml lacks the line\n{line}"
    return family_rows(DENSENET_SHUFFLENET_REGNET)


SMALL_SIZES = (16, 28, 32, 64)
SMALL_COLUMNS = ["model", "source", "input_size", "features", "logits", "error"]
#: the spatial poolings a classifier ends with, as the functions torch_function sees them
POOLS = (nn.functional.adaptive_avg_pool2d, nn.functional.adaptive_max_pool2d, torch.Tensor.mean, torch.mean)


class LastPool(torch.overrides.TorchFunctionMode):
    """Records the input shape of the last adaptive pool (module or functional) or ``mean`` over H and W:
    the last feature map before the classifier (SE blocks' pools come before it and are overwritten)."""

    shape: tuple[int, ...] | None = None

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in POOLS and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
            if func not in (torch.Tensor.mean, torch.mean) or (isinstance(dims, (list, tuple))
                                                               and sorted(d % 4 for d in dims) == [2, 3]):
                self.shape = tuple(args[0].shape[1:])
        return func(*args, **kwargs)


#: models torchvision builds for one input size (ViT's position embedding, MaxViT's attention grids): built
#: anew at each size, as ``get_model(name, weights=None, **SIZED[family](size))``
SIZED: dict[str, Callable[[int], dict[str, Any]]] = {
    "vit": lambda size: {"image_size": size},
    "maxvit": lambda size: {"input_size": (size, size)},
}


def small_inputs(models: list[str] | None = None) -> list[dict[str, Any]]:
    """Every zoo model (convcalc/zoo/__init__.py and its one-model files, read without importing convcalc),
    or only ``models``, at each of SMALL_SIZES: the input C×H×W of its last spatial pool and its logits' size,
    or torchvision's error (type and first line). weights=None, eval(), batch 1, zeros, no_grad(); GoogLeNet and
    Inception v3 keep their aux classifiers (weights=None builds them) but do not run them in eval().

    ViT and MaxViT run only at the size they are built for, so they are built at each size (:data:`SIZED`), and
    an error of that construction (MaxViT's ValueError, ViT's ``torch._assert``: AssertionError) is the refusal.
    Attention runs as in :func:`attention_rows` (no ``nn.MultiheadAttention`` fast path, SDPA's math backend).
    A model without a final spatial pool (ViT: class token, then ``heads.head``) records as features the input
    of its classifier head, ``model.heads.head`` (C → C×1×1)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    spec = importlib.util.spec_from_file_location("zoo_index", ROOT / "convcalc/zoo/__init__.py")
    assert spec and spec.loader
    index = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(index)
    singles = [p.stem for p in (ROOT / "convcalc/zoo").glob("*.yaml") if p.stem not in index.FAMILIES]
    names = sorted([*index.VARIANTS, *singles])
    if models is not None:
        assert set(models) <= set(names), sorted(set(models) - set(names))
        names = [name for name in names if name in models]
    torch.backends.mha.set_fastpath_enabled(False)
    rows = []
    for name in names:
        sized = next((f for prefix, f in SIZED.items() if name.startswith(prefix)), None)
        model = None
        if sized is None:
            torch.manual_seed(0)
            model = torchvision.models.get_model(name, weights=None).eval()
        for size in SMALL_SIZES:
            features = logits = error = ""
            recorder = LastPool()
            head_input: list[tuple[int, ...]] = []
            try:
                if sized is not None:
                    model = None  # free the previous size's model first
                    torch.manual_seed(0)
                    model = torchvision.models.get_model(name, weights=None, **sized(size)).eval()
                assert model is not None
                head = getattr(getattr(model, "heads", None), "head", None)
                hook = None if head is None else head.register_forward_pre_hook(
                    lambda _m, args, seen=head_input: seen.append(tuple(args[0].shape[1:])))
                try:
                    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), recorder:
                        out = model(zeros(3, size, size))
                finally:
                    if hook is not None:
                        hook.remove()
            except (RuntimeError, ValueError, AssertionError) as exc:
                error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            else:
                shape = recorder.shape
                if shape is None:  # no final spatial pool: the classifier head's input
                    (shape,) = head_input
                    shape = (*shape, 1, 1)
                features, logits = "x".join(map(str, shape)), "x".join(map(str, out.shape[1:]))
            rows.append(dict(zip(SMALL_COLUMNS, [name, TV_SOURCE, size, features, logits, error], strict=True)))
            print(name, size, features, logits, error, file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small-inputs", type=Path, nargs="?", const=ROOT / "tests/data/small-inputs.csv",
                    help="only measure the zoo at 16, 28, 32 and 64 px into this CSV (tests/data/small-inputs.csv)")
    ap.add_argument("--small-inputs-models", type=lambda s: s.split(","), metavar="NAME,...",
                    help="with --small-inputs: only these zoo models (their rows only; merge them into the file)")
    ap.add_argument("--attention", type=Path, help="only measure the attention models into this CSV")
    ap.add_argument("--unet-src", type=Path, help="checkout of milesial/Pytorch-UNet (required without --small-inputs)")
    ap.add_argument("--unet-commit")
    ap.add_argument("--csv", type=Path, default=ROOT / "tests/data/torchvision-modern.csv")
    ap.add_argument("--stages", type=Path, default=ROOT / "tests/data/efficientnet-stages.json")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    if args.small_inputs_models and not args.small_inputs:
        ap.error("--small-inputs-models needs --small-inputs FILE")
    if args.small_inputs:
        with open(args.small_inputs, "w", newline="") as f:
            writer = csv.DictWriter(f, SMALL_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(small_inputs(args.small_inputs_models))
        return
    if args.attention:
        with open(args.attention, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(attention_rows())
        return
    if not (args.unet_src and args.unet_commit):
        ap.error("--unet-src and --unet-commit are required (or --small-inputs)")
    self_check()
    args.stages.write_text(json.dumps(efficientnet_stages(), indent=2) + "\n")
    rows = classifiers() + fpn() + unets(args.unet_src, args.unet_commit)
    rows += resnet_vgg_squeezenet()
    rows += densenet_shufflenet_regnet()
    rows += attention_rows()
    with open(args.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
