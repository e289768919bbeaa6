"""Sweeps: one spec (or several) over the product of parameter values, input sizes and batches, one row per
model and configuration. :mod:`convcalc.sweep.axes` reads the axes, :mod:`convcalc.sweep.run` runs them
(also in several processes, or mapped over an engine of your own), :mod:`convcalc.sweep.pareto` keeps a front.
"""

from convcalc.sweep.axes import Axis, AxisError, Config, grid, parse_axes, swept
from convcalc.sweep.pareto import PARETO_METRICS, pareto_front
from convcalc.sweep.run import Output, SweepRow, Target, Verdict, evaluate, load_target, run_config, run_sweep

__all__ = ["PARETO_METRICS", "Axis", "AxisError", "Config", "Output", "SweepRow", "Target", "Verdict",
           "evaluate", "grid", "load_target", "pareto_front", "parse_axes", "run_config", "run_sweep", "swept"]
