"""Layer kinds: each family's module declares its kinds with every rule (see :mod:`convcalc.kinds.core`).

Importing this package registers every kind into :data:`KINDS`. The families: ``conv`` (convolutions),
``pool`` (pooling), ``norm`` (normalisation and scaling), ``activation``, ``linear`` (linear, SE), ``yolo`` (DFL),
``reshape`` (flatten, shuffles, upsampling, dropout), ``tokens`` (token sequences), ``attention``
(attention, patch merging); ``merge`` holds the multi-input nodes.
"""

from convcalc.kinds import activation, attention, conv, linear, norm, pool, reshape, tokens, yolo  # noqa: F401
from convcalc.kinds.core import GROUPS, KINDS, Cost, Kind, Layer, LayerShapeError, Shape, kind_group, kinds_by_group

#: Layer kinds with learnable weights (counted as "weight layers" in depth).
WEIGHT_KINDS = frozenset(name for name, k in KINDS.items() if k.weights)

__all__ = ["GROUPS", "KINDS", "WEIGHT_KINDS", "Cost", "Kind", "Layer", "LayerShapeError", "Shape", "kind_group",
           "kinds_by_group"]
