"""Outputs: JSON, CSV and Markdown strings, neutral tables, terminal fitting, the Rich view and the CI
formats. Never a computation; only :mod:`convcalc.outputs.richview` imports Rich."""
