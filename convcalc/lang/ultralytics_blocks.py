"""The Ultralytics modules as convcalc named blocks (written from ``ultralytics/nn/modules``, 8.4.190).

Each block's parameters are the module's arguments after its input channels (``c1`` is the block's input);
the layer names inside follow the module's attributes (``cv1``, ``m``, ``cv2``), so a layer of YAML row 4 reads
``model.4/cv1/conv`` where Ultralytics prints ``model.4.cv1.conv``. ``ACT`` stands for the model's activation
(``activation:`` in the YAML; SiLU by default). :data:`NEEDS` lists the blocks each block calls.
"""

from __future__ import annotations

BLOCKS: dict[str, str] = {
    "Conv": """\
  Conv:   # Conv(c1, c2, k, s, p, g, d, act): Conv2d without bias (padding k // 2: autopad), BatchNorm2d, activation
    params: {c2: null, k: 1, s: 1, d: 1, p: "${(d * (k - 1) + 1) // 2}", g: 1, act: true}
    body:
      - conv: {name: conv, out: $c2, kernel: $k, stride: $s, padding: $p, groups: $g, dilation: $d, bias: false}
      - bn: {name: bn}
      - ACT: {name: act, if: $act}
""",
    "Bottleneck": """\
  Bottleneck:   # Bottleneck(c1, c2, shortcut, g, k, e): two Convs, plus the input where shortcut and c1 == c2
    params: {c2: null, shortcut: true, g: 1, k: [3, 3], e: 0.5, c1: "${in_channels}", c_: "${int(c2 * e)}"}
    body:
      - residual:
          when: "${shortcut and c1 == c2}"
          body:
            - Conv: {name: cv1, c2: $c_, k: "${k[0]}"}
            - Conv: {name: cv2, c2: $c2, k: "${k[1]}", g: $g}
""",
    "C2f": """\
  C2f:   # C2f(c1, c2, n, shortcut, g, e): cv1 to 2c, chunk(2), n Bottlenecks on the second half, all concatenated
    params: {c2: null, n: 1, shortcut: false, g: 1, e: 0.5, c: "${int(c2 * e)}"}
    body:
      - Conv: {name: cv1, c2: "${2 * c}"}
      - slice: {name: y0, stop: $c}
      - slice: {name: y1, from: cv1, start: $c}
      - repeat: {name: m, n: $n, body: [Bottleneck: {c2: $c, shortcut: $shortcut, g: $g, e: 1.0}]}
      - concat: {name: cat, from: [y0, y1, m/*]}
      - Conv: {name: cv2, c2: $c2}
""",
    "C3k2": """\
  C3k2:   # C3k2(c1, c2, n, c3k, e, attn, g, shortcut): a C2f of C3k blocks (c3k) or Bottlenecks (e 0.5)
    params: {c2: null, n: 1, c3k: false, e: 0.5, g: 1, shortcut: true, c: "${int(c2 * e)}",
             block: "${'C3k' if c3k else 'Bottleneck'}"}
    body:
      - Conv: {name: cv1, c2: "${2 * c}"}
      - slice: {name: y0, stop: $c}
      - slice: {name: y1, from: cv1, start: $c}
      - repeat: {name: m, n: $n, body: [$block: {c2: $c, shortcut: $shortcut, g: $g}]}
      - concat: {name: cat, from: [y0, y1, m/*]}
      - Conv: {name: cv2, c2: $c2}
""",
    "C3": """\
  C3:   # C3(c1, c2, n, shortcut, g, e): cv1 and n Bottlenecks (1x1, 3x3) beside cv2, concatenated, cv3
    params: {c2: null, n: 1, shortcut: true, g: 1, e: 0.5, c_: "${int(c2 * e)}"}
    body:
      - branches:
          merge: concat
          paths:
            - [Conv: {name: cv1, c2: $c_},
               repeat: {name: m, n: $n, body: [Bottleneck: {c2: $c_, shortcut: $shortcut, g: $g, k: [1, 3], e: 1.0}]}]
            - [Conv: {name: cv2, c2: $c_}]
      - Conv: {name: cv3, c2: $c2}
""",
    "C3k": """\
  C3k:   # C3k(c1, c2, n, shortcut, g, e, k): a C3 whose n Bottlenecks have k x k kernels
    params: {c2: null, n: 2, shortcut: true, g: 1, e: 0.5, k: 3, c_: "${int(c2 * e)}"}
    body:
      - branches:
          merge: concat
          paths:
            - [Conv: {name: cv1, c2: $c_},
               repeat: {name: m, n: $n, body: [Bottleneck: {c2: $c_, shortcut: $shortcut, g: $g, k: [$k, $k], e: 1.0}]}]
            - [Conv: {name: cv2, c2: $c_}]
      - Conv: {name: cv3, c2: $c2}
""",
    "SPPF": """\
  SPPF:   # SPPF(c1, c2, k, n, shortcut): cv1 (no activation) to c1 // 2, n chained k x k max pools, concatenated, cv2
    params: {c2: null, k: 5, n: 3, shortcut: false, c1: "${in_channels}", c_: "${in_channels // 2}"}
    body:
      - residual:
          when: "${shortcut and c1 == c2}"
          body:
            - Conv: {name: cv1, c2: $c_, act: false}
            - repeat: {name: m, n: $n, body: [maxpool: {kernel: $k, stride: 1, padding: "${k // 2}"}]}
            - concat: {name: cat, from: [cv1, m/*]}
            - Conv: {name: cv2, c2: $c2}
""",
    "PSABlock": """\
  PSABlock:   # PSABlock(c, attn_ratio, num_heads, shortcut): attention, then a two-Conv feed-forward, each added
    params: {heads: 4, attn_ratio: 0.5, shortcut: true, c: "${in_channels}"}
    body:
      - residual: {when: $shortcut, body: [psa_attention: {name: attn, heads: $heads, attn_ratio: $attn_ratio}]}
      - residual:
          when: $shortcut
          body:
            - sequence: {name: ffn, body: [Conv: {name: "0", c2: "${2 * c}"}, Conv: {name: "1", c2: $c, act: false}]}
""",
    "C2PSA": """\
  C2PSA:   # C2PSA(c1, c2, n, e): cv1 to 2c, split, n PSABlocks on the second half, concatenated, cv2 back to c1
    params: {c2: null, n: 1, e: 0.5, c1: "${in_channels}", c: "${int(in_channels * e)}"}
    body:
      - Conv: {name: cv1, c2: "${2 * c}"}
      - slice: {name: a, stop: $c}
      - slice: {name: b, from: cv1, start: $c}
      - repeat: {name: m, n: $n, body: [PSABlock: {heads: "${max(c // 64, 1)}"}]}
      - concat: {name: cat, from: [a, m]}
      - Conv: {name: cv2, c2: $c1}
""",
    "DetectLevel": """\
  DetectLevel:   # one level of Detect(nc, reg_max, ch): box branch cv2 and DFL, class branch cv3 and sigmoid
    params: {nc: null, c2: null, c3: null, reg_max: 16, legacy: true, shared: false, c1: "${in_channels}"}
    body:
      - branches:
          merge: concat
          paths:
            - - sequence:
                  name: cv2
                  body:
                    - Conv: {name: "0", c2: $c2, k: 3}
                    - Conv: {name: "1", c2: $c2, k: 3}
                    - conv: {name: "2", out: "${4 * reg_max}", kernel: 1, bias: true}
              - dfl: {name: dfl, if: "${reg_max > 1}", bins: $reg_max, shared: $shared}
            - - sequence:
                  name: cv3
                  body:   # legacy (v8): two 3x3 Convs; else (YOLO11): a depthwise 3x3 Conv and a 1x1 Conv, twice
                    - Conv: {name: "0", if: $legacy, c2: $c3, k: 3}
                    - Conv: {name: "1", if: $legacy, c2: $c3, k: 3}
                    - sequence: {name: "0", if: "${not legacy}", body: [Conv: {name: "0", c2: $c1, k: 3, g: $c1},
                                                                        Conv: {name: "1", c2: $c3}]}
                    - sequence: {name: "1", if: "${not legacy}", body: [Conv: {name: "0", c2: $c3, k: 3, g: $c3},
                                                                        Conv: {name: "1", c2: $c3}]}
                    - conv: {name: "2", out: $nc, kernel: 1, bias: true}
              - sigmoid: {name: sigmoid}
""",
    "Classify": """\
  Classify:   # Classify(c1, c2, k, s, p, g): Conv to 1280, average pool, dropout, linear to c2 (nc), softmax
    params: {c2: null, k: 1, s: 1, p: "${k // 2}", g: 1}
    body:
      - Conv: {name: conv, c2: 1280, k: $k, s: $s, p: $p, g: $g}
      - global_avgpool: {name: pool}
      - flatten: {name: flatten}
      - dropout: {name: drop, p: 0.0, inplace: true}
      - linear: {name: linear, out: $c2}
      - softmax: {name: softmax}
""",
}

#: the blocks each block calls (C3k2 calls C3k or Bottleneck)
NEEDS: dict[str, tuple[str, ...]] = {
    "Conv": (), "Bottleneck": ("Conv",), "C2f": ("Conv", "Bottleneck"), "C3k2": ("Conv", "Bottleneck", "C3k"),
    "C3": ("Conv", "Bottleneck"), "C3k": ("Conv", "Bottleneck"), "SPPF": ("Conv",), "PSABlock": ("Conv",),
    "C2PSA": ("Conv", "PSABlock"), "DetectLevel": ("Conv",), "Classify": ("Conv",),
}


def blocks_text(used: set[str], act: str) -> str:
    """The ``blocks:`` section for the blocks used (and those they call), with the model's activation."""
    need = set(used)
    for name in used:
        need.update(NEEDS[name])
    body = "".join(BLOCKS[n] for n in BLOCKS if n in need)
    return "blocks:\n" + body.replace("ACT: ", f"{act}: ")
