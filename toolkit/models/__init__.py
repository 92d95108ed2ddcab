"""Kept so that ``import toolkit.models`` in model cards written by toolkit 0.1 still works.

The families moved to ``toolkit.families``; importing ``toolkit`` is what registers the toolkit's
model types with transformers, so this module needs nothing else.
"""
