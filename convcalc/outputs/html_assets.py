"""The fixed parts of the report page: its style, its script (sorting and filtering the tables; no library, no
network) and the conventions section. Nothing here comes from a spec."""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { --ink: #1d2430; --muted: #5b6472; --line: #d9dee5; --head: #f2f4f7; --accent: #1f5fa8; --fail: #b3261e;
        --pass: #1e7b34; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 1.5rem 2rem 4rem; color: var(--ink); background: #fff;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.35rem; margin: 2.4rem 0 .6rem; padding-top: .6rem; border-top: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p, li { max-width: 75rem; }
.meta, .note, figcaption, .count { color: var(--muted); font-size: .9rem; }
.missing { border-left: 4px solid #e0a100; background: #fff8e1; padding: .5rem .8rem; color: var(--ink); }
.error { border-left: 4px solid var(--fail); background: #fdecea; padding: .5rem .8rem; }
.error h2 { border-top: none; margin-top: .2rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; font-size: .85rem; }
nav ul { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; list-style: none; }
a { color: var(--accent); }
.scroll { overflow-x: auto; max-width: 100%; }
.tall { max-height: 36rem; overflow-y: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .55rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; z-index: 1; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:hover, table.sortable th:focus { background: #e3e8ef; outline: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: .7em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: .7em; }
.num { text-align: right; white-space: nowrap; }
td.name { overflow-wrap: anywhere; min-width: 10rem; }
tfoot td { font-weight: 600; background: var(--head); }
.pass { color: var(--pass); font-weight: 600; }
.fail { color: var(--fail); font-weight: 700; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
svg.chart { display: block; max-width: 100%; height: auto; margin: .6rem 0; }
svg.chart * { stroke-linejoin: round; stroke-linecap: butt; }
.footprints { display: flex; flex-wrap: wrap; gap: 1.5rem; }
figure.footprint { margin: .3rem 0; max-width: 380px; }
img.heatmap { image-rendering: pixelated; image-rendering: crisp-edges; border: 1px solid var(--ink);
              min-width: 160px; height: auto; display: block; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid var(--ink); vertical-align: -.1em; }
.swatch.hole { background: #fff; }
.ramp { display: inline-block; width: 4em; height: .9em; vertical-align: -.1em; border: 1px solid var(--ink); }
svg.profiles .profile { fill: none; stroke: #1f77b4; stroke-width: 1.2; }
svg.profiles .erf50 { fill: none; stroke: #ff7f0e; stroke-dasharray: 4 2; }
svg.profiles .erf95 { fill: none; stroke: #d62728; stroke-dasharray: 1 2; }
svg.profiles .axis { font-size: 11px; fill: var(--muted); }
.filterbar { display: flex; gap: 1rem; align-items: center; margin: .4rem 0; }
input.filter { font: inherit; padding: .25rem .5rem; min-width: 18rem; border: 1px solid #aab2bd; border-radius: 4px; }
@media print { .tall { max-height: none; overflow: visible; } input.filter { display: none; } }
"""

JS = """
(function () {
  "use strict";
  function key(cell, numeric) {
    if (numeric) {
      var v = parseFloat(cell.getAttribute("data-v"));
      return isNaN(v) ? -Infinity : v;
    }
    return cell.textContent.toLowerCase();
  }
  function sortTable(table, col, th) {
    var numeric = th.classList.contains("num");
    var first = numeric ? "descending" : "ascending";
    var dir = th.getAttribute("aria-sort") === first ? (numeric ? "ascending" : "descending") : first;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
      var c = x < y ? -1 : x > y ? 1 : 0;
      if (dir === "descending") { c = -c; }
      return c || (Number(a.getAttribute("data-i")) - Number(b.getAttribute("data-i")));
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, col, th); }
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    var id = input.getAttribute("data-for");
    var table = document.getElementById(id);
    var count = document.getElementById(id + "-count");
    if (!table) { return; }
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase(), shown = 0, rows = table.tBodies[0].rows;
      for (var i = 0; i < rows.length; i++) {
        var hit = !q || rows[i].textContent.toLowerCase().indexOf(q) !== -1;
        rows[i].hidden = !hit;
        if (hit) { shown++; }
      }
      if (count) { count.textContent = shown + " of " + rows.length + " rows"; }
    });
  });
})();
"""


def script_hash() -> str:
    """The page's Content-Security-Policy source for :data:`JS` (only that script may run)."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(JS.encode("utf-8")).digest()).decode("ascii") + "'"


CONVENTIONS = """
<section id="conventions">
<h2>Conventions</h2>
<p>convcalc counts from the spec, with no framework: every number is an exact integer (shown here in SI units:
11.7M = 11.7 million, 1.81G = 1.81 billion; hover a number for its exact value).</p>
<dl class="summary">
<dt>params</dt><dd>learnable parameters (PyTorch semantics). Batch norm has 2C params (γ, β) and 2C
<em>buffers</em> (running mean and variance), reported separately.</dd>
<dt>MACs</dt><dd>multiply-accumulates of dot-product work: convolution, linear, attention's matrix products,
bilinear interpolation. This is what torchvision's model cards call "GFLOPS", what fvcore and thop call "flops",
and what the ResNet and MobileNet papers call "multiply-adds". A bias is not a MAC.</dd>
<dt>FLOPs</dt><dd>2·MACs + adds + muls + divs. The other work is counted per element in separate buckets: adds
(bias, residual add, BN shift, pooling sums), muls (BN scale, gates, SiLU), divs (average pooling), cmps (ReLU,
max pooling) and special functions (sigmoid, tanh, GELU, …); cmps and special are reported, not folded in.</dd>
<dt>activations</dt><dd>elements of each layer's output; a model's activations are those of all its layer
outputs, summed.</dd>
<dt>RF</dt><dd>the receptive field per axis (h×w, in input pixels): the largest window of input pixels one unit of
the layer depends on (smallest–largest where the units' windows differ), correct across branches and merges;
padded pixels are inside it.</dd>
<dt>stride</dt><dd>the effective stride (jump): how many input pixels apart neighbouring units' windows are.</dd>
<dt>footprint, ERF</dt><dd>the footprint of an output's centre unit ((h − 1) // 2, (w − 1) // 2): how many paths
through the layer graph lead from each input pixel to it (each kernel tap once, as with uniform weights); a zero
inside its window is a hole (the gridding of stacked dilations). ERF50 and ERF95, the effective receptive field:
the smallest centred windows holding 50% and 95% of the paths.</dd>
<dt>peak memory</dt><dd>the inference peak of live tensors: the most bytes of tensors alive at once under
<code>no_grad</code>, each alive from the operation that makes it to its last reader, in the spec's order of
execution; in-place layers and views allocate nothing; weights are not in it (they are listed apart).</dd>
<dt>fp32, batch</dt><dd>bytes are fp32 (4 bytes per element). Every figure is per sample (batch 1) unless the spec
sets <code>input.batch</code> or the command line <code>--batch</code>; padded taps count (the dense
convention).</dd>
<dt>budgets</dt><dd>the limits of the spec's own <code>budget:</code>, checked as <code>convcalc check</code> checks
them (budgets files are not read here: run <code>convcalc check</code> for those).</dd>
</dl>
</section>
"""
