"""Reconcile params/MACs totals of peer counters on torchvision resnet50 and mobilenet_v2 at 224.

Not part of CI. Needs torch, torchvision, ptflops, fvcore, thop and torchinfo, e.g.:

    python -m venv /tmp/peers && /tmp/peers/bin/pip install torch==2.14.1 torchvision==0.29.1 \
        ptflops fvcore thop torchinfo && /tmp/peers/bin/pip install -e .
    /tmp/peers/bin/python benchmarks/reconcile.py

It prints every tool's total and its per-op decomposition, then re-derives each total from
convcalc's own buckets (macs, adds, muls, cmps, ...) and checks that they are equal.
Every tool gets a freshly built model (thop adds buffers, ptflops patches F.*).
Each tool's total is decomposed per op/module type using the tool's own numbers
(per-op dict, per-layer info, or a re-run with one module type ignored).
"""
import collections
import io
import warnings

import torch
import torch.nn as nn
import torchvision
from torch.utils.flop_counter import FlopCounterMode

warnings.filterwarnings("ignore")
MODELS = ["resnet50", "mobilenet_v2"]
S = 224


def build(name):
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).eval()


def x():
    return torch.randn(1, 3, S, S)


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def section(title):
    print()
    print("=" * 8, title)


def do_flopcounter(name):
    m = build(name)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(x())
    tot = fc.get_total_flops()
    byop = {str(k): v for k, v in fc.get_flop_counts()["Global"].items()}
    print(f"FlopCounterMode: flops={tot}  MACs=flops//2={tot // 2}  params(sum numel)={nparams(m)}")
    print(f"  by op (flops): {byop}")
    print(f"  by op (MACs):  { {k: v // 2 for k, v in byop.items()} }")
    return tot // 2


def do_ptflops(name):
    from ptflops import get_model_complexity_info
    out = {}
    # default backend (FLOPS_BACKEND.PYTORCH in ptflops 0.7.5) -- module hooks + patched F.* / torch.add/mul
    m = build(name)
    macs, params = get_model_complexity_info(m, (3, S, S), as_strings=False, print_per_layer_stat=False,
                                             verbose=False)
    out["pytorch"] = macs
    print(f"ptflops backend=default(pytorch): macs={macs} params={params}")
    # decomposition: re-run with one module type ignored / functional patching off
    parts = {}
    for t in [nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.MaxPool2d, nn.AdaptiveAvgPool2d]:
        mm, _ = get_model_complexity_info(build(name), (3, S, S), as_strings=False, print_per_layer_stat=False,
                                          ignore_modules=[t])
        if macs - mm:
            parts[t.__name__] = macs - mm
    mm, _ = get_model_complexity_info(build(name), (3, S, S), as_strings=False, print_per_layer_stat=False,
                                      backend_specific_config={"count_functional": False})
    parts["functional F.*/torch.add/mul (count_functional)"] = macs - mm
    print(f"  decomposition (total minus re-run with that type ignored): {parts}  sum={sum(parts.values())}")
    # aten backend
    m = build(name)
    try:
        macs_a, params_a = get_model_complexity_info(m, (3, S, S), as_strings=False, print_per_layer_stat=False,
                                                     backend="aten")
        out["aten"] = macs_a
        print(f"ptflops backend='aten': macs={macs_a} params={params_a}")
        aten = torch.ops.aten
        parts = {}
        for op in [aten.convolution, aten.addmm]:
            # ost= silences the per-call "operation is ignored" warnings
            mm, _ = get_model_complexity_info(build(name), (3, S, S), as_strings=False,
                                              print_per_layer_stat=False, backend="aten",
                                              ignore_modules=[op], ost=io.StringIO())
            parts[str(op)] = macs_a - mm
        print(f"  decomposition (total minus re-run with op ignored): {parts}  sum={sum(parts.values())}")
    except Exception as e:  # noqa
        print(f"ptflops backend='aten': FAILED {type(e).__name__}: {e}")
    return out


def do_fvcore(name):
    from fvcore.nn import FlopCountAnalysis, parameter_count
    m = build(name)
    fa = FlopCountAnalysis(m, x())
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    tot = fa.total()
    print(f"fvcore FlopCountAnalysis.total()={tot}  parameter_count['']={parameter_count(m)['']}")
    print(f"  by_operator(): {dict(fa.by_operator())}")
    print(f"  unsupported_ops() (counted as 0): {dict(fa.unsupported_ops())}")
    return tot


def do_thop(name):
    from thop import profile
    m = build(name)
    macs, params, info = profile(m, inputs=(x(),), verbose=False, ret_layer_info=True)
    print(f"thop profile: macs={macs} ({int(macs)}) params={params} ({int(params)})")
    m2 = build(name)
    bytype = collections.Counter()
    ptype = collections.Counter()

    def walk(prefix, d):
        for n, (ops, ps, sub) in d.items():
            q = f"{prefix}.{n}" if prefix else n
            if sub:
                walk(q, sub)
            else:
                t = type(m2.get_submodule(q)).__name__
                bytype[t] += int(ops)
                ptype[t] += int(ps)

    walk("", info)
    print(f"  by module type (ops): {dict(bytype)}  sum={sum(bytype.values())}")
    print(f"  by module type (params): {dict(ptype)}  sum={sum(ptype.values())}")
    return int(macs)


def do_torchinfo(name):
    from torchinfo import summary
    m = build(name)
    st = summary(m, input_size=(1, 3, S, S), verbose=0)
    print(f"torchinfo summary: total_mult_adds={st.total_mult_adds} total_params={st.total_params} "
          f"trainable={st.trainable_params}")
    bytype = collections.Counter()
    for li in st.summary_list:
        if li.is_leaf_layer:
            bytype[li.class_name] += li.macs
    print(f"  leaf-layer macs by class: {dict(bytype)}  sum={sum(bytype.values())}")
    return st.total_mult_adds


def analytic(name):
    """Independent per-module-type components, to explain the deltas between tools."""
    m = build(name)
    comp = collections.Counter()
    # residual adds first (separate forward pass, before the per-leaf hooks are attached)
    if name == "resnet50":
        # out += identity at the end of each of the 16 Bottlenecks
        comp["residual_add_elems (functional +=)"] = _resnet_add_elems(m)
    if name == "mobilenet_v2":
        comp["functional_adaptive_avg_pool2d_in_elems"] = 1280 * 7 * 7
        comp["residual_add_elems (functional x + conv(x))"] = _mbv2_add_elems(m)

    def hook(mod, inp, out):
        i = inp[0]
        t = type(mod).__name__
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            comp["conv_mult (k*k*cin/g*out.numel)"] += k * out.numel()
            if mod.bias is not None:
                comp["conv_bias (out.numel)"] += out.numel()
        elif isinstance(mod, nn.Linear):
            comp["linear_mult (in*out)"] += mod.in_features * mod.out_features
            if mod.bias is not None:
                comp["linear_bias (out)"] += mod.out_features
        elif isinstance(mod, nn.BatchNorm2d):
            comp["bn_elems (input numel)"] += i.numel()
        elif isinstance(mod, (nn.ReLU, nn.ReLU6)):
            comp[f"{t}_elems (numel, per call)"] += out.numel()
        elif isinstance(mod, nn.MaxPool2d):
            comp["maxpool_in_elems"] += i.numel()
            comp["maxpool_out_elems"] += out.numel()
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            comp["adaptiveavgpool_in_elems"] += i.numel()
            comp["adaptiveavgpool_out_elems"] += out.numel()

    for mod in m.modules():
        if len(list(mod.children())) == 0:
            mod.register_forward_hook(hook)
    with torch.no_grad():
        m(x())
    print(f"analytic components: {dict(comp)}")
    return comp


def _resnet_add_elems(m):
    tot = 0

    def h(mod, inp, out):
        nonlocal tot
        tot += out.numel()

    hs = [b.register_forward_hook(h) for b in m.modules() if type(b).__name__ == "Bottleneck"]
    with torch.no_grad():
        m(x())
    for hh in hs:
        hh.remove()
    return tot


def _mbv2_add_elems(m):
    tot = 0

    def h(mod, inp, out):
        nonlocal tot
        if mod.use_res_connect:
            tot += out.numel()

    hs = [b.register_forward_hook(h) for b in m.modules() if type(b).__name__ == "InvertedResidual"]
    with torch.no_grad():
        m(x())
    for hh in hs:
        hh.remove()
    return tot


def main():
    print(f"torch {torch.__version__} torchvision {torchvision.__version__}")
    for pkg in ["ptflops", "fvcore", "thop", "torchinfo"]:
        try:
            from importlib.metadata import version
            print(f"{pkg} {version(pkg)}")
        except Exception as e:  # noqa
            print(f"{pkg} not installed ({e})")
    res = {}
    for name in MODELS:
        section(f"{name} @ {S}")
        r = {}
        m = build(name)
        print(f"params sum(p.numel()) = {nparams(m)}")
        r["FlopCounterMode//2"] = do_flopcounter(name)
        p = do_ptflops(name)
        r["ptflops(pytorch)"] = p.get("pytorch")
        r["ptflops(aten)"] = p.get("aten")
        r["fvcore"] = do_fvcore(name)
        r["thop"] = do_thop(name)
        r["torchinfo"] = do_torchinfo(name)
        analytic(name)
        res[name] = r
    reconcile_with_convcalc(res)
    section("totals")
    for name, r in res.items():
        for k, v in r.items():
            print(f"{name:<14s} {k:<22s} {v}")


def convcalc_terms(name):
    """The pieces of convcalc's report that the peers' totals are made of."""
    from convcalc.lang.sources import zoo_document
    from convcalc.metrics.analysis import analyze_document

    r = analyze_document(zoo_document(name))[0]

    def bucket(kinds, field):
        return sum(getattr(l.cost, field) for l in r.layers if l.type in kinds)

    gap = ("adaptive_avgpool", "global_avgpool")
    return {
        "macs": r.macs,
        "linear bias (adds)": bucket({"linear"}, "adds"),
        "bn (adds + muls)": bucket({"bn"}, "adds") + bucket({"bn"}, "muls"),
        "bn params": bucket({"bn"}, "params"),
        "relu (cmps)": bucket({"relu", "relu6"}, "cmps"),
        "maxpool input elements": sum(r.layers[i - 1].activations for i, l in enumerate(r.layers) if l.type == "maxpool"),
        "global pool (adds + divs)": bucket(gap, "adds") + bucket(gap, "divs"),
        "global pool outputs": sum(l.output_shape[0] for l in r.layers if l.type in gap),
    }


def reconcile_with_convcalc(res):
    section("each total rebuilt from convcalc's buckets")
    for name, r in res.items():
        t = convcalc_terms(name)
        # resnet50's ReLU/max-pool/global-pool are modules calling patched F.* (counted twice by ptflops);
        # mobilenet_v2's ReLU6 (F.hardtanh) is not patched and its global pool is functional (counted once).
        twice = 2 if name == "resnet50" else 1
        rebuilt = {
            "FlopCounterMode//2": t["macs"],
            "ptflops(aten)": t["macs"] + t["linear bias (adds)"],
            "ptflops(pytorch)": t["macs"] + t["linear bias (adds)"] + t["bn (adds + muls)"]
            + twice * (t["relu (cmps)"] + t["maxpool input elements"])
            + (2 if name == "resnet50" else 1) * t["global pool (adds + divs)"],
            "fvcore": t["macs"] + t["bn (adds + muls)"] + t["global pool (adds + divs)"],
            # thop sees only module pools: (k + 1) per output = adds + divs + outputs
            "thop": t["macs"] + 2 * t["bn (adds + muls)"]
            + (t["global pool (adds + divs)"] + t["global pool outputs"] if name == "resnet50" else 0),
            "torchinfo": t["macs"] + t["bn params"] + t["linear bias (adds)"],
        }
        for tool, value in rebuilt.items():
            verdict = "equal" if r.get(tool) == value else f"DIFFERENT (tool printed {r.get(tool)})"
            print(f"{name:<14s} {tool:<22s} {value:>12d}  {verdict}")


if __name__ == "__main__":
    main()
