"""The bundled zoo: one spec per model, or one family file per torchvision family.

A family file declares ``params:`` and ``variants:`` (each variant's parameter values, by zoo name).
:data:`FAMILIES` lists each family file's variants (one line per family; a test checks it against the
files); every other ``*.yaml`` here is one model named by its stem.
"""

FAMILIES: dict[str, tuple[str, ...]] = {
    "efficientnet": tuple(f"efficientnet_b{i}" for i in range(8)),  # efficientnet_b0 … efficientnet_b7
    "efficientnet_v2": ("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"),
    "convnext": ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large"),
    "mobilenet_v3": ("mobilenet_v3_large", "mobilenet_v3_small"),
}

#: zoo name → family file stem
VARIANTS: dict[str, str] = {v: stem for stem, names in FAMILIES.items() for v in names}
