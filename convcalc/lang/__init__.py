"""The spec language: YAML with locations, expressions, parameters, includes, and the typed top level.

Nothing here knows the layer kinds' rules; the layer lists stay raw until :mod:`convcalc.graph` expands them.
"""
