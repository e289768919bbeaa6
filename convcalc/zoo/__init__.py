"""The bundled zoo: one spec per model, or one family file per torchvision family.

A family file declares ``params:`` and ``variants:`` (each variant's parameter values, by zoo name).
:data:`FAMILIES` lists each family file's variants (one line per family; a test checks it against the
files); every other ``*.yaml`` here is one model named by its stem.
"""

FAMILIES: dict[str, tuple[str, ...]] = {
    "efficientnet": tuple(f"efficientnet_b{i}" for i in range(8)),  # efficientnet_b0 … efficientnet_b7
    "efficientnet_v2": ("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"),
    "convnext": ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large"),
    "vit": ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"),
    "swin": ("swin_t", "swin_s", "swin_b"),
    "swin_v2": ("swin_v2_t", "swin_v2_s", "swin_v2_b"),
    "mobilenet_v3": ("mobilenet_v3_large", "mobilenet_v3_small"),
    "resnet": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
               "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"),
    "vgg": ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"),
    "squeezenet": ("squeezenet1_0", "squeezenet1_1"),
    "densenet": ("densenet121", "densenet161", "densenet169", "densenet201"),
    "shufflenet_v2": ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"),
    "regnet": (*(f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
               *(f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf"))),
}

#: zoo name → family file stem
VARIANTS: dict[str, str] = {v: stem for stem, names in FAMILIES.items() for v in names}
