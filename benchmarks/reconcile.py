"""Reconcile params/MACs totals of peer counters on torchvision resnet50, mobilenet_v2, vit_b_16 and swin_t at 224.

Not part of CI. Needs torch, torchvision, ptflops, fvcore, thop and torchinfo, e.g.:

    python -m venv /tmp/peers && /tmp/peers/bin/pip install torch==2.14.1 torchvision==0.29.1 \
        ptflops fvcore thop torchinfo && /tmp/peers/bin/pip install -e .
    /tmp/peers/bin/python benchmarks/reconcile.py [--models resnet50 mobilenet_v2 vit_b_16 swin_t]

It prints every tool's total and its per-op decomposition, then re-derives each total from
convcalc's own buckets (macs, adds, muls, cmps, ...) and checks that they are equal; it exits with
status 1 if one is not.
Every tool gets a freshly built model (thop adds buffers, ptflops patches F.*).
Each tool's total is decomposed per op/module type using the tool's own numbers
(per-op dict, per-layer info, or a re-run with one module type ignored).

The transformers run under torch.no_grad(). vit_b_16 runs three times, since what the tools see of
nn.MultiheadAttention depends on the path it takes: "default" (its fast path, the fused
aten._native_multi_head_attention), "nofast" (torch.backends.mha.set_fastpath_enabled(False): in_proj and
out_proj as linears, then scaled_dot_product_attention with the default CPU kernel,
_scaled_dot_product_flash_attention_for_cpu) and "nofast+math" (the same under
sdpa_kernel(SDPBackend.MATH), whose bmms the dispatch-level counters see). swin_t has no
nn.MultiheadAttention and does its attention matmuls explicitly, so it runs once. For the transformers
every part of each decomposition is rebuilt and checked too: ptflops' hooks are wrapped to record what
each one adds (its custom_modules_hooks for modules and aten ops, its F.* / torch.* handler tables for
the patched functions).
"""
import argparse
import collections
import contextlib
import io
import sys
import warnings

import torch
import torch.nn as nn
import torchvision
from torch.utils.flop_counter import FlopCounterMode

warnings.filterwarnings("ignore")
CNNS = ["resnet50", "mobilenet_v2"]
#: the conditions each transformer runs under (see the module docstring)
CONDITIONS = {"vit_b_16": ["default", "nofast", "nofast+math"], "swin_t": ["default"]}
MODELS = CNNS + list(CONDITIONS)
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
    ap = argparse.ArgumentParser(description="Reconcile peer counters' totals with convcalc's buckets.")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=MODELS, metavar="MODEL",
                    help=f"models to run (default: all of {' '.join(MODELS)})")
    models = ap.parse_args().models
    print(f"torch {torch.__version__} torchvision {torchvision.__version__}")
    for pkg in ["ptflops", "fvcore", "thop", "torchinfo"]:
        try:
            from importlib.metadata import version
            print(f"{pkg} {version(pkg)}")
        except Exception as e:  # noqa
            print(f"{pkg} not installed ({e})")
    res = {}
    for name in [n for n in MODELS if n in models and n in CNNS]:
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
    tf = {}
    for name in [n for n in MODELS if n in models and n in CONDITIONS]:
        for cond in CONDITIONS[name]:
            tf[name, cond] = run_transformer(name, cond)
    ok = True
    if res:
        ok = reconcile_with_convcalc(res)
    if tf:
        ok = reconcile_transformers(tf) and ok
    section("totals")
    for name, r in res.items():
        for k, v in r.items():
            print(f"{name:<14s} {k:<22s} {v}")
    for (name, cond), runs in tf.items():
        for k, run in runs.items():
            print(f"{label(name, cond):<22s} {k:<22s} {run.total}")
    if not ok:
        sys.exit("some totals or parts differ from convcalc's buckets (DIFFERENT above)")


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
    ok = True
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
            ok = ok and r.get(tool) == value
            print(f"{name:<14s} {tool:<22s} {value:>12d}  {verdict}")
    return ok


# ---------------------------------------------------------------- transformers (vit_b_16, swin_t)

#: a tool's run: its total, the params it reports and its total split per op / module type / hook
Run = collections.namedtuple("Run", "total params parts")


def label(name, cond):
    return name if cond == "default" else f"{name} {cond}"


@contextlib.contextmanager
def condition(cond):
    """torch.no_grad(); "nofast*": MHA's fast path off; "*math": the MATH SDPA kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(not cond.startswith("nofast"))
    kernel = sdpa_kernel(SDPBackend.MATH) if cond.endswith("math") else contextlib.nullcontext()
    try:
        with torch.no_grad(), kernel:
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def nonzero(d):
    return {k: int(v) for k, v in d.items() if v}


def run_transformer(name, cond):
    section(f"{label(name, cond)} @ {S}")
    print(f"torch.no_grad(); MHA fast path {'off' if cond.startswith('nofast') else 'on'}; "
          f"SDPA kernel {'MATH' if cond.endswith('math') else 'default'}")
    with condition(cond):
        runs = {"FlopCounterMode//2": tf_flopcounter(name), "ptflops(pytorch)": tf_ptflops(name, "pytorch"),
                "ptflops(aten)": tf_ptflops(name, "aten"), "fvcore": tf_fvcore(name), "thop": tf_thop(name),
                "torchinfo": tf_torchinfo(name)}
    for tool, run in runs.items():
        assert sum(run.parts.values()) == run.total, (tool, run)
    return runs


def tf_flopcounter(name):
    m = build(name)
    with FlopCounterMode(display=False) as fc:
        m(x())
    flops = {str(k): v for k, v in fc.get_flop_counts()["Global"].items()}
    assert all(v % 2 == 0 for v in flops.values())
    parts = nonzero({k: v // 2 for k, v in flops.items()})
    print(f"FlopCounterMode: MACs=flops//2={fc.get_total_flops() // 2}  by op (MACs): {parts}")
    return Run(fc.get_total_flops() // 2, nparams(m), parts)


def tf_ptflops(name, backend):
    """One run, with every hook ptflops would use wrapped to record what it adds."""
    import ptflops.pytorch_ops as po
    from ptflops import get_model_complexity_info
    from ptflops.aten_ops import ATEN_OPS_MAPPING

    rec = collections.Counter()
    if backend == "aten":
        def op_hook(fn, key):
            def h(args, out):
                n = fn(args, out)
                rec[key] += int(n)
                return n
            return h

        hooks = {op: op_hook(fn, str(op)) for op, fn in ATEN_OPS_MAPPING.items()}
    else:
        def module_hook(fn, key):
            def h(mod, inp, out):
                before = mod.__flops__
                fn(mod, inp, out)
                rec[key] += int(mod.__flops__ - before)
            return h

        hooks = {t: module_hook(fn, f"module {t.__name__}") for t, fn in po.MODULES_MAPPING.items()}
    with _ptflops_functional_recorded(rec):
        macs, params = get_model_complexity_info(build(name), (3, S, S), as_strings=False, backend=backend,
                                                 print_per_layer_stat=False, custom_modules_hooks=hooks)
    parts = nonzero(rec)
    print(f"ptflops backend={backend}: macs={macs} params={params}  by hook: {parts}")
    return Run(macs, params, parts)


@contextlib.contextmanager
def _ptflops_functional_recorded(rec):
    """ptflops looks its handlers for the F.* and torch.* functions it patches up in these tables."""
    import ptflops.pytorch_ops as po

    saved = []
    for table in (po.FUNCTIONAL_MAPPING, po.TENSOR_OPS_MAPPING):
        for f, fn in list(table.items()):
            owner = "F" if table is po.FUNCTIONAL_MAPPING else \
                "Tensor" if getattr(torch.Tensor, f.__name__, None) is f else "torch"

            def h(*args, _fn=fn, _key=f"{owner}.{f.__name__}", **kwargs):
                n = _fn(*args, **kwargs)
                rec[_key] += int(n)
                return n

            saved.append((table, f, fn))
            table[f] = h
    try:
        yield
    finally:
        for table, f, fn in saved:
            table[f] = fn


def tf_fvcore(name):
    from fvcore.nn import FlopCountAnalysis
    m = build(name)
    fa = FlopCountAnalysis(m, x())
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    tot = fa.total()
    parts = nonzero(fa.by_operator())
    print(f"fvcore FlopCountAnalysis.total()={tot}  by_operator(): {parts}")
    print(f"  unsupported_ops() (counted as 0): {dict(fa.unsupported_ops())}")
    return Run(tot, nparams(m), parts)


def tf_thop(name):
    from thop import profile
    m = build(name)
    macs, params, info = profile(m, inputs=(x(),), verbose=False, ret_layer_info=True)
    types = {q: type(mod).__name__ for q, mod in m.named_modules()}
    bytype = collections.Counter()

    def walk(prefix, d):
        for n, (ops, _, sub) in d.items():
            q = f"{prefix}.{n}" if prefix else n
            if sub:
                walk(q, sub)
            else:
                bytype[types[q]] += int(ops)

    walk("", info)
    parts = nonzero(bytype)
    print(f"thop profile: macs={int(macs)} params={int(params)}  by leaf module type: {parts}")
    return Run(int(macs), int(params), parts)


def tf_torchinfo(name):
    from torchinfo import summary
    st = summary(build(name), input_size=(1, 3, S, S), verbose=0)
    bytype = collections.Counter()
    for li in st.summary_list:
        if li.is_leaf_layer:
            bytype[li.class_name] += li.macs
    parts = nonzero(bytype)
    print(f"torchinfo summary: total_mult_adds={st.total_mult_adds} total_params={st.total_params}  "
          f"leaf-layer macs by class: {parts}")
    return Run(st.total_mult_adds, st.total_params, parts)


def transformer_terms(name):
    """convcalc's buckets for vit_b_16 / swin_t, attention split with convcalc.kinds.attention's formulas:
    G groups of T tokens, h heads of d (D = h·d), M = G·T tokens through the projections, C → C_out."""
    from convcalc.kinds.attention import geometry, head_dim
    from convcalc.lang.sources import zoo_document
    from convcalc.metrics.analysis import analyze_document, graphs_of

    doc = zoo_document(name)
    (r,) = analyze_document(doc)
    (g,) = graphs_of(doc)
    nodes = {n.name: n for n in g.nodes}

    def inp(row):
        return g.nodes[nodes[row.name].inputs[0]].shape

    def bucket(kinds, field):
        return sum(getattr(row.cost, field) for row in r.layers if row.type in kinds)

    linear = ("linear", "pwconv")  # swin's per-position MLP linears are pwconvs
    gap = ("adaptive_avgpool", "global_avgpool")
    t = collections.Counter(macs=r.macs, params=r.params)
    for row in r.layers:
        if row.type == "attention":
            a, i = nodes[row.name].layer.args, inp(row)
            geo, d = geometry(a, i), head_dim(a, i.c)
            G, T, M, h, c, c_out = geo.groups, geo.tokens, geo.processed, a.heads, i.c, row.output_shape.c
            D = h * d
            assert not a.cosine and a.position != "mlp"
            t["projections"] += M * c * 3 * D + M * D * c_out
            t["QKᵀ·AV"] += 2 * G * h * T * T * d
            t["attention bias adds"] += M * 3 * D * a.qkv_bias + M * c_out * a.proj_bias
            t["softmax elements"] += G * h * T * T
            t["q-scale muls"] += M * D
            assert row.cost.macs == M * c * 3 * D + M * D * c_out + 2 * G * h * T * T * d
            assert row.cost.muls == M * D and row.cost.divs == G * h * T * T
        if row.type == "patch_merging":  # LayerNorm(4C), then Linear 4C → C_out without bias
            i = inp(row)
            t["patch-merging LayerNorm elements"] += row.activations // row.output_shape.c * 4 * i.c
            t["patch-merging linear params"] += 4 * i.c * row.output_shape.c
    t["LayerNorm elements"] = sum(row.activations for row in r.layers if row.type == "layernorm") \
        + t.pop("patch-merging LayerNorm elements", 0)
    assert 2 * t["LayerNorm elements"] == bucket({"layernorm", "patch_merging"}, "muls")
    t.update({
        "conv macs": bucket({"conv"}, "macs"),
        "conv bias adds": bucket({"conv"}, "adds"),
        "linear macs": bucket(linear, "macs"),
        "linear bias adds": bucket(linear, "adds"),
        "patch-merging macs": bucket({"patch_merging"}, "macs"),
        "GELU elements": bucket({"gelu"}, "special"),
        "global pool (adds + divs)": bucket(gap, "adds") + bucket(gap, "divs"),
        "global pool outputs": sum(row.output_shape[0] for row in r.layers if row.type in gap),
        "attention params": bucket({"attention"}, "params"),
        "pos_embed params": bucket({"pos_embed"}, "params"),
        "class_token params": bucket({"class_token"}, "params"),
        "linear params": bucket(linear, "params"),
        "LayerNorm params": bucket({"layernorm", "patch_merging"}, "params") - t["patch-merging linear params"],
    })
    assert t["macs"] == sum(t[k] for k in ("conv macs", "linear macs", "patch-merging macs", "projections",
                                            "QKᵀ·AV"))
    return t


def transformer_formulas(name, cond):
    """Each tool's total, params and parts as formulas of convcalc's buckets: lists of (coefficient, term)."""
    fast, math = not cond.startswith("nofast"), cond.endswith("math")
    P, Q = (1, "projections"), (1, "QKᵀ·AV")
    conv, lin, pm = [(1, "conv macs")], [(1, "linear macs")], [(1, "patch-merging macs")]
    conv_b, lin_b, att_b = [(1, "conv bias adds")], [(1, "linear bias adds")], [(1, "attention bias adds")]
    ln, gelu, gp = (1, "LayerNorm elements"), (1, "GELU elements"), (1, "global pool (adds + divs)")
    params = [(1, "params")]
    if name == "vit_b_16":
        # the fast path hides all of attention from the dispatch-level counters; without it they see
        # in_proj/out_proj as addmm, and QKᵀ/AV only as MATH's bmms (no formula for the CPU flash kernel)
        seen = [] if fast else [P, Q] if math else [P]
        mha = [P, Q, (1, "attention bias adds"), (1, "q-scale muls"), (1, "softmax elements")]
        return {
            "FlopCounterMode//2": (params, {"aten.convolution": conv, "aten.addmm": lin + seen[:1],
                                            "aten.bmm": seen[1:]}),
            "ptflops(aten)": (params, {"aten.convolution": conv + conv_b,
                                       "aten.addmm": lin + lin_b + (seen[:1] + att_b if seen else []),
                                       "aten.bmm": seen[1:]}),
            # hooks on the modules: nn.MultiheadAttention's own formula, whichever path it takes; nn.GELU's
            # hook and the patched F.gelu that it calls both count GELU
            "ptflops(pytorch)": (params, {"module Conv2d": conv + conv_b, "module Linear": lin + lin_b,
                                          "module LayerNorm": [ln], "module MultiheadAttention": mha,
                                          "module GELU": [gelu], "F.gelu": [gelu]}),
            # jit trace: the fused MHA op or aten::scaled_dot_product_attention (any kernel) is unsupported
            "fvcore": (params, {"conv": conv, "linear": lin + ([] if fast else [P]),
                                "layer_norm": [(5, "LayerNorm elements")]}),
            # leaf modules only: nn.MultiheadAttention is not a leaf and its out_proj never runs as a
            # module; params are those of the hooked leaves
            "thop": ([(1, "params"), (-1, "attention params"), (-1, "pos_embed params"),
                      (-1, "class_token params")],
                     {"Conv2d": conv, "Linear": lin, "LayerNorm": [(4, "LayerNorm elements")]}),
            # batch × params for a non-conv leaf (a Linear on 197 tokens counts as one), params × output
            # positions for a conv; the MHA row is not a leaf, so not in the total
            "torchinfo": (params, {"Conv2d": conv + conv_b, "Linear": [(1, "linear params")],
                                   "LayerNorm": [(1, "LayerNorm params")]}),
        }
    assert name == "swin_t" and cond == "default"
    return {
        "FlopCounterMode//2": (params, {"aten.convolution": conv, "aten.addmm": lin + [P], "aten.mm": pm,
                                        "aten.bmm": [Q]}),
        "ptflops(aten)": (params, {"aten.convolution": conv + conv_b, "aten.addmm": lin + lin_b + [P] + att_b,
                                   "aten.mm": pm, "aten.bmm": [Q]}),
        # qkv and proj are F.linear calls (not patched): projections and their biases are missed;
        # the q * scale, bias-table and mask adds are operators (not patched) either
        "ptflops(pytorch)": (params, {"module Conv2d": conv + conv_b, "module Linear": lin + lin_b + pm,
                                      "module LayerNorm": [ln], "Tensor.matmul": [Q],
                                      "F.softmax": [(1, "softmax elements")], "module GELU": [gelu],
                                      "F.gelu": [gelu], "module AdaptiveAvgPool2d": [gp],
                                      "F.adaptive_avg_pool2d": [gp]}),
        "fvcore": (params, {"conv": conv, "linear": lin + [P] + pm, "matmul": [Q],
                            "layer_norm": [(5, "LayerNorm elements")], "adaptive_avg_pool2d": [gp]}),
        "thop": ([(1, "params"), (-1, "attention params")],
                 {"Conv2d": conv, "Linear": lin + pm, "LayerNorm": [(4, "LayerNorm elements")],
                  "AdaptiveAvgPool2d": [gp, (1, "global pool outputs")]}),
        "torchinfo": (params, {"Conv2d": conv + conv_b,
                               "Linear": [(1, "linear params"), (1, "patch-merging linear params")],
                               "LayerNorm": [(1, "LayerNorm params")]}),
    }


#: each total in short: macs minus what the tool misses plus what it adds
TOTALS = {
    ("vit_b_16", "default"): {
        "FlopCounterMode//2": ["macs", "-projections", "-QKᵀ·AV"],
        "ptflops(aten)": ["macs", "-projections", "-QKᵀ·AV", "conv bias adds", "linear bias adds"],
        "ptflops(pytorch)": ["macs", "conv bias adds", "linear bias adds", "attention bias adds", "q-scale muls",
                             "softmax elements", "LayerNorm elements", "2 GELU elements"],
        "fvcore": ["macs", "-projections", "-QKᵀ·AV", "5 LayerNorm elements"],
        "thop": ["macs", "-projections", "-QKᵀ·AV", "4 LayerNorm elements"],
        "torchinfo": ["conv macs", "conv bias adds", "linear params", "LayerNorm params"],
    },
    ("vit_b_16", "nofast"): {
        "FlopCounterMode//2": ["macs", "-QKᵀ·AV"],
        "ptflops(aten)": ["macs", "-QKᵀ·AV", "conv bias adds", "linear bias adds", "attention bias adds"],
        "fvcore": ["macs", "-QKᵀ·AV", "5 LayerNorm elements"],
    },
    ("vit_b_16", "nofast+math"): {
        "FlopCounterMode//2": ["macs"],
        "ptflops(aten)": ["macs", "conv bias adds", "linear bias adds", "attention bias adds"],
        "fvcore": ["macs", "-QKᵀ·AV", "5 LayerNorm elements"],
    },
    ("swin_t", "default"): {
        "FlopCounterMode//2": ["macs"],
        "ptflops(aten)": ["macs", "conv bias adds", "linear bias adds", "attention bias adds"],
        "ptflops(pytorch)": ["macs", "-projections", "conv bias adds", "linear bias adds", "LayerNorm elements",
                             "softmax elements", "2 GELU elements", "2 global pool (adds + divs)"],
        "fvcore": ["macs", "5 LayerNorm elements", "global pool (adds + divs)"],
        "thop": ["macs", "-projections", "-QKᵀ·AV", "4 LayerNorm elements", "global pool (adds + divs)",
                 "global pool outputs"],
        "torchinfo": ["conv macs", "conv bias adds", "linear params", "patch-merging linear params",
                      "LayerNorm params"],
    },
}


def short(name, cond, tool):
    """TOTALS' formula of a tool (vit_b_16's conditions inherit the default's)."""
    terms = TOTALS[name, cond].get(tool) or TOTALS[name, "default"][tool]
    out = []
    for s in terms:
        sign, s = (-1, s[1:]) if s.startswith("-") else (1, s)
        coef, _, rest = s.partition(" ")
        out.append((sign * int(coef), rest) if coef.isdigit() else (sign, s))
    return out


def evaluate(formula, t):
    """A formula's value and its text, with and without the numbers (terms that are 0 left out)."""
    items = [(c, k) for c, k in formula if t[k]]
    value = sum(c * t[k] for c, k in items)

    def text(show):
        s = ""
        for n, (c, k) in enumerate(items):
            s += ("−" if c < 0 else "+" if n else "") + (" " if n or c < 0 else "")
            s += (f"{abs(c)} × " if abs(c) != 1 else "") + (f"{t[k]}" if show else k)
            s += " " if n < len(items) - 1 else ""
        return s.replace("+ −", "−") or "0"

    return value, text(False), text(True)


def reconcile_transformers(tf):
    section("transformers: each total, params and part rebuilt from convcalc's buckets")
    ok = True

    def check(tag, tool_value, formula, t):
        nonlocal ok
        value, words, numbers = evaluate(formula, t)
        if tool_value == value == 0:  # e.g. aten.bmm, which only MATH's attention calls
            return
        same = tool_value == value
        ok = ok and same
        verdict = "equal" if same else f"DIFFERENT (tool printed {tool_value})"
        print(f"{tag:<56s} {value:>12d}  {verdict:<5s} = {words}" + (f" = {numbers}" if words != numbers else ""))

    terms = {}
    for (name, cond), runs in tf.items():
        if name not in terms:
            terms[name] = t = transformer_terms(name)
            print(f"convcalc {name}: " + ", ".join(f"{k}={v}" for k, v in t.items()))
        t = terms[name]
        for tool, (params, parts) in transformer_formulas(name, cond).items():
            run = runs[tool]
            tag = f"{label(name, cond)} {tool}"
            check(f"{tag}", run.total, short(name, cond, tool), t)
            check(f"{tag} (sum of the parts)", run.total, [f for p in parts.values() for f in p], t)
            for part, formula in parts.items():
                check(f"    {part}", run.parts.get(part, 0), formula, t)
            extra = set(run.parts) - set(parts)
            if extra:
                ok = False
                print(f"    DIFFERENT: parts the tool has and convcalc's rebuild has not: {extra}")
            check("    params", run.params, params, t)
    return ok


if __name__ == "__main__":
    main()
