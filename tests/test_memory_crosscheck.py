"""convcalc's memory pass against PyTorch's own memory (``tests/memory_measure.py``): the bytes autograd
saves for backward (``saved_tensors_hooks``) and the peak of live tensor storages of an inference forward
(a ``TorchDispatchMode``), on the PyTorch build of bundled zoo models and of random specs, at batch 2 and 3
(batch-norm statistics do not scale with the batch; batch 1 cannot train BN on a 1×1 map).

The module is convcalc's exporter (``convcalc.torch_export``), so this proves the memory rules match what
PyTorch does with the modules convcalc builds, kind by kind and in every combination drawn; the ground truth
for torchvision's own modules is ``tests/data/torchvision-memory.csv`` where recorded. Deformable convs are
left out (the exporter's pure-PyTorch reference is not torchvision's ``deform_conv2d``, which the rule models).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.conftest import import_torch
from tests.strategies import GeneratedSpec, specs

torch = import_torch()

from convcalc.lang.sources import open_source  # noqa: E402
from convcalc.lang.yaml_source import load_text  # noqa: E402
from convcalc.metrics.analysis import graphs_of  # noqa: E402
from convcalc.metrics.memory import MemoryOptions, memory_of  # noqa: E402
from convcalc.torch_export import to_torch  # noqa: E402
from tests.memory_measure import AllOutputs, inference_peak, saved_bytes  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]
EXAMPLES = int(os.environ.get("CONVCALC_MEMORY_EXAMPLES", "60"))

ZOO = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "densenet121",
       "shufflenet_v2_x0_5", "efficientnet_b0", "regnet_y_400mf", "googlenet", "convnext_tiny", "alexnet"]


def check(graph: object, batch: int) -> None:
    from convcalc.graph import Graph

    assert isinstance(graph, Graph)
    graph.batch = batch
    m = memory_of(graph, MemoryOptions())
    torch.manual_seed(0)
    net = AllOutputs(to_torch(graph))
    x = torch.randn(batch, *graph.input)
    saved = saved_bytes(net, x)
    peak = inference_peak(net, x)
    where = f"{graph.name} at batch {batch}"
    assert m.train_activation_bytes == saved, f"{where}: saved {m.train_activation_bytes} (convcalc) vs {saved}"
    assert m.inference_peak_bytes == peak, f"{where}: peak {m.inference_peak_bytes} (convcalc) vs {peak}"


@pytest.mark.parametrize("name", ZOO)
def test_zoo_memory_matches_pytorch(name: str) -> None:
    for batch in (2, 3):
        check(graphs_of(open_source(name))[0], batch)


def test_random_specs_memory_matches_pytorch() -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs())
    def run(gen: GeneratedSpec) -> None:
        for g in graphs_of(load_text(gen.text, "random.yaml")):
            if any(n.layer is not None and n.layer.kind == "deform" for n in g.nodes):
                continue
            check(g, 2)

    run()
