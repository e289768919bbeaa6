"""The token and attention kinds' formulas as arithmetic (kinds/tokens.py, kinds/attention.py docstrings).

Notation: G groups of T tokens, M = G·T tokens through the projections, h heads of d (D = h·d)."""

from __future__ import annotations

import pytest

from convcalc.errors import SpecError
from convcalc.kinds import Cost
from convcalc.lang.spec import Settings, parse_spec
from convcalc.lang.yaml_source import load_text
from convcalc.metrics.analysis import analyze_text
from tests.conftest import chain
from tests.test_errors import errors


def softmax(rows: int, t: int) -> Cost:
    """Softmax over t values in each of ``rows`` rows: cmps t − 1, adds 2t − 1, special t, divs t per row."""
    return Cost(cmps=rows * (t - 1), adds=rows * (2 * t - 1), special=rows * t, divs=rows * t)


def test_tokens_class_token_and_positions_of_vit() -> None:
    """ViT-B/16's input stage on 224: 14×14 patches → 196 tokens, a class token, a learned table of 197."""
    r = chain("3,224,224", "conv: {out: 768, kernel: 16, stride: 16, bias: true}", "tokens: {}", "class_token: {}",
              "pos_embed: {}", "select_token: {token: 0}")
    conv, tokens, cls, pos, sel = r.layers
    assert tokens.output_shape == (768, 1, 196)
    assert tokens.cost == Cost()
    assert cls.output_shape == (768, 1, 197)
    assert cls.cost == Cost(params=768)
    assert pos.cost == Cost(params=197 * 768, adds=197 * 768)
    assert sel.output_shape == (768, 1, 1)
    assert r.params == 768 * 3 * 16 * 16 + 768 + 768 + 197 * 768


def test_global_attention_is_nn_multihead_attention() -> None:
    """nn.MultiheadAttention(768, 12) on 197 tokens: in_proj 3·768² + 3·768, out_proj 768² + 768; QKᵀ and AV
    12·197²·64 MACs each; the scale 197·768 muls; softmax over 197 in 12·197 rows."""
    (a,) = chain("768,1,197", "attention: {heads: 12}").layers
    n, c, h, d = 197, 768, 12, 64
    assert a.output_shape == (768, 1, 197)
    assert a.cost.params == c * 3 * c + 3 * c + c * c + c == 2_362_368
    assert a.cost.macs == n * c * 3 * c + 2 * h * n * n * d + n * c * c
    sm = softmax(h * n, n)
    assert a.cost.adds == n * 3 * c + n * c + sm.adds
    assert a.cost.muls == n * c
    assert (a.cost.cmps, a.cost.special, a.cost.divs) == (sm.cmps, sm.special, sm.divs)


def test_head_dim_and_out_may_differ_from_the_channels() -> None:
    (a,) = chain("64,4,4", "attention: {heads: 2, head_dim: 8, out: 32, qkv_bias: false, proj_bias: false}").layers
    assert a.output_shape == (32, 4, 4)
    assert a.cost.params == 64 * 3 * 16 + 16 * 32
    assert a.cost.macs == 16 * 64 * 48 + 2 * 2 * 16 * 16 * 8 + 16 * 16 * 32


def test_swin_windows_pad_the_map_and_shift_adds_the_mask() -> None:
    """Swin: a 10×10 map and window 7 are padded to 14×14: G = 4 windows of T = 49, M = 196 tokens; the
    position table has 3·13² params and a 49² index buffer; the shift 3 adds its mask to the 4·3·49² logits."""
    (plain,) = chain("96,10,10", "attention: {heads: 3, window: 7, position: table}").layers
    (shifted,) = chain("96,10,10", "attention: {heads: 3, window: 7, shift: 3, position: table}").layers
    g, t, m, c, h, d = 4, 49, 196, 96, 3, 32
    assert plain.cost.params == c * 3 * c + 3 * c + c * c + c + h * 13 * 13
    assert plain.cost.buffers == t * t
    assert plain.cost.macs == m * c * 3 * c + 2 * g * h * t * t * d + m * c * c
    assert plain.cost.muls == m * c
    assert plain.cost.adds == m * 3 * c + m * c + g * h * t * t + softmax(g * h * t, t).adds
    assert shifted.cost.adds - plain.cost.adds == g * h * t * t
    assert shifted.cost.macs == plain.cost.macs


def test_no_shift_where_the_window_covers_the_map() -> None:
    """torchvision's rule: a window that covers the (padded) map is not shifted, so there is no mask."""
    (plain,) = chain("32,5,5", "attention: {heads: 2, window: 7}").layers
    (shifted,) = chain("32,5,5", "attention: {heads: 2, window: 7, shift: 3}").layers
    assert shifted.cost == plain.cost
    assert plain.cost.macs == 49 * 32 * 96 + 2 * 2 * 49 * 49 * 16 + 49 * 32 * 32  # one padded window of 49


def test_swin_v2_position_mlp_and_cosine_attention() -> None:
    """v2: the MLP 2 → 512 → h on the R = 13² offsets (params 2·512 + 512 + 512·h, macs R·(2·512 + 512·h)),
    16·sigmoid on the h·T² gathered biases, buffers R·2 + T²; cosine: the logit scale (h params) times the
    logits, and 2·M·h normalisations of d."""
    (a,) = chain("32,7,7", "attention: {heads: 2, window: 7, position: mlp, cosine: true}").layers
    g, t, m, c, h, d, r = 1, 49, 49, 32, 2, 16, 13 * 13
    assert a.cost.params == c * 3 * c + 3 * c + c * c + c + (2 * 512 + 512 + 512 * h) + h
    assert a.cost.buffers == 2 * r + t * t
    assert a.cost.macs == m * c * 3 * c + 2 * g * h * t * t * d + m * c * c + r * (2 * 512 + 512 * h)
    vecs = 2 * m * h
    assert a.cost.muls == h * t * t + vecs * d + g * h * t * t
    assert a.cost.special == h * t * t + vecs + h + softmax(g * h * t, t).special
    assert a.cost.divs == vecs * d + softmax(g * h * t, t).divs


def test_grid_attention_groups_tokens_spread_over_the_map() -> None:
    """MaxViT's grid of 2×2 on an 8×8 map: 16 groups of 4 tokens, 4 apart."""
    (a,) = chain("16,8,8", "attention: {heads: 2, window: 2, partition: grid, position: table}").layers
    assert a.cost.macs == 64 * 16 * 48 + 2 * 16 * 2 * 4 * 4 * 8 + 64 * 16 * 16
    assert a.cost.params == 16 * 48 + 48 + 16 * 16 + 16 + 2 * 3 * 3


def test_patch_merging_pads_odd_maps() -> None:
    """7×7 → 4×4 (padded by one): linear 4C → 2C on 16 positions; LayerNorm over 4C before (v1) or 2C after."""
    (v1,) = chain("8,7,7", "patch_merging: {}").layers
    (v2,) = chain("8,7,7", "patch_merging: {norm: after}").layers
    assert v1.output_shape == v2.output_shape == (16, 4, 4)
    assert v1.cost.macs == v2.cost.macs == 16 * 32 * 16
    assert v1.cost.params == 32 * 16 + 2 * 32
    assert v2.cost.params == 32 * 16 + 2 * 16


def test_psa_attention_is_ultralytics_attention() -> None:
    """Attention(64, heads 2, attn_ratio 0.5) on 8×8: d = 32, key_dim 16, qkv width 64 + 2·16·2 = 128; conv+BN
    for qkv, pe (3×3 depthwise) and proj; QᵀK (h·N²·kd) and V·Aᵀ (h·N²·d) on N = 64 positions."""
    (a,) = chain("64,8,8", "psa_attention: {heads: 2}").layers
    n = 64
    assert a.cost.params == (64 * 128 + 2 * 128) + (9 * 64 + 2 * 64) + (64 * 64 + 2 * 64) == 13_376
    assert a.cost.buffers == 2 * 128 + 2 * 64 + 2 * 64
    assert a.cost.macs == n * 64 * 128 + 2 * n * n * 16 + 2 * n * n * 32 + n * 64 * 9 + n * 64 * 64


def test_linear_acts_on_each_token_of_a_sequence() -> None:
    (a,) = chain("64,1,10", "linear: {out: 256}").layers
    assert a.output_shape == (256, 1, 10)
    assert a.cost == Cost(params=64 * 256 + 256, macs=10 * 64 * 256, adds=10 * 256)


def test_to_map_takes_the_tokens_after_the_skipped_ones() -> None:
    r = chain("8,4,6", "tokens: {}", "class_token: {tokens: 2}", "to_map: {height: 4, width: 6, skip: 2}")
    assert r.layers[-1].output_shape == (8, 4, 6)


@pytest.mark.parametrize(("layers", "message"), [
    ("class_token: {}", "class_token needs a token sequence C×1×N, found the map 8×4×4"),
    ("attention: {heads: 3}", "attention heads 3 must divide the channels 8"),
    ("attention: {heads: 2, window: 3, partition: grid}", "attention window 3 does not divide the height 4"),
    ("attention: {heads: 2, window: 3, pad: false}", "attention window 3 does not divide the height 4 (pad: false)"),
    ("attention: {heads: 2, shift: 1}", "shift, partition and pad need a window"),
    ("attention: {heads: 2, window: 2, shift: 2}", "attention shift 2 must be smaller than the window 2"),
    ("to_map: {height: 2, width: 2}", "to_map needs a token sequence"),
])
def test_attention_errors(layers: str, message: str) -> None:
    assert message in errors(f"input: {{channels: 8, size: 4}}\nlayers:\n  - {layers}\n")


def test_to_map_counts_the_tokens() -> None:
    msg = errors("input: {channels: 8, size: 4}\nlayers:\n  - tokens: {}\n  - to_map: {height: 3, width: 5}\n")
    assert "to_map 3×5 needs 15 tokens after the 0 skipped, found 16 of 16" in msg


def test_input_multiple_of_refuses_other_sizes() -> None:
    """ViT runs only on whole patches: `input.multiple_of` makes another size an error, located, with sizes
    that work."""
    text = ("params: {p: 16}\ninput: {channels: 3, size: 32, multiple_of: '${p}'}\n"
            "layers:\n  - conv: {out: 4, kernel: 3}\n")
    (ok,) = analyze_text(text)
    assert ok.input_shape == (3, 32, 32)
    with pytest.raises(SpecError) as e:
        parse_spec(load_text(text, "vit.yaml"), settings=Settings(size=(40, 48)))
    assert str(e.value) == ("vit.yaml:2:45: input.multiple_of: the input 40×48 is not a multiple of 16×16, which "
                            "this model needs\n  hint: use an input size such as 32×48 or 48×48 (--size)")


# ---------------------------------------------------------------- what attention reads (per axis)


def reads_of(r: object, n: int) -> list[tuple[int, int] | None]:
    """(first, last) unit each of units 0 … n − 1 reads (one run per unit), or None."""
    from convcalc.kinds.reads import Reads

    assert isinstance(r, Reads)
    out: list[tuple[int, int] | None] = []
    for u in range(n):
        q, phi = divmod(u, r.period)
        runs = r.phases[phi]
        out.append(None if not runs else (q * r.shift + runs[0].first,
                                          q * r.shift + runs[-1].first + (runs[-1].n - 1) * runs[-1].step))
    return out


def test_swin_shifted_windows_read_their_region_of_the_map() -> None:
    """14 units, window 7, shift 3 (torchvision's mask): the wrapped region [0, 3) and the last [10, 14) are
    windows of their own; nothing past the map."""
    from convcalc.kinds.reads import windows_on

    got = reads_of(windows_on(14, 7, 3), 28)
    assert got[:14] == [(0, 2)] * 3 + [(3, 9)] * 7 + [(10, 13)] * 4
    assert got[14:] == [None] * 14


def test_padded_windows_read_only_the_map() -> None:
    """10 units, window 7: padded to 14; the second window holds units 7 … 9 of the map and 4 padding tokens."""
    from convcalc.kinds.reads import windows_on

    assert reads_of(windows_on(10, 7), 10) == [(0, 6)] * 7 + [(7, 9)] * 3


def test_global_and_grid_attention_read_across_the_map() -> None:
    from convcalc.kinds.reads import grid, whole_map

    assert reads_of(whole_map(5), 10) == [(0, 4)] * 5 + [None] * 5
    g = grid(8, 2)  # 2 groups' tokens 4 apart: unit u reads u mod 4 and u mod 4 + 4
    assert [[run.first + k * run.step for run in g.phases[u] for k in range(run.n)] for u in range(8)] == \
        [[u % 4, u % 4 + 4] for u in range(8)]


def test_a_token_reads_its_patch_and_the_class_token_reads_nothing() -> None:
    """ViT-like: 4×4 patches of 8 px on 32×32; token 5 (row 1, column 1) reads pixels 8 … 15 × 8 … 15, and
    after a class token it is unit 6; the class token (unit 0) reads no pixel; to_map puts it back."""
    from convcalc.graph import build_graph
    from convcalc.metrics.channels import support
    from convcalc.metrics.support import unit

    text = ("input: {channels: 3, size: 32}\nlayers:\n  - conv: {out: 8, kernel: 8, stride: 8}\n  - tokens: {}\n"
            "  - class_token: {}\n  - to_map: {height: 4, width: 4, skip: 1}\n")
    spec = parse_spec(load_text(text))
    graph = build_graph(spec, spec.models[0])
    assert graph is not None
    tokens, cls, back = (support(graph.nodes[i].windows) for i in (2, 3, 4))

    def box(s: object, uh: int, uw: int) -> tuple[int, int, int, int] | None:
        e = unit(s, uh, uw)  # type: ignore[arg-type]
        return None if e is None else (e[0].lo, e[0].hi, e[1].lo, e[1].hi)

    assert box(tokens, 0, 5) == (8, 15, 8, 15)
    assert box(cls, 0, 6) == (8, 15, 8, 15)
    assert box(cls, 0, 0) is None
    assert box(back, 1, 1) == (8, 15, 8, 15)
    assert box(back, 3, 2) == (24, 31, 16, 23)
