"""Neutral PyTorch builders of public architectures, written for the cross-checks (torch only)."""
