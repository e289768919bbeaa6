"""Bundled device profiles for the roofline (:mod:`convcalc.lang.device` reads them).

One ``*.yaml`` per device, named by its stem (``nvidia-t4``). Every figure is the vendor's dense one (no
structured sparsity), in FLOP/s (op/s for int8) and bytes/s with 1 GB = 10⁹ bytes, and each file's ``sources:``
names the document and the table it comes from.
"""
