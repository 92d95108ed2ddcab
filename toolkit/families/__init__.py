"""Model families, one folder each (``toolkit.registry`` finds them by name), and the registration
of the toolkit's own model types (rnn_lm, elmo ...) with transformers' Auto classes and pipelines.

Importing this package imports no family and no torch. Registration needs both, so it happens on
demand: every toolkit function that loads a model folder calls ``ensure_registered()`` first, and
``import toolkit`` arranges (``register_when_transformers_loads``) that transformers' own
``AutoModel...`` classes and ``pipeline`` know the types too, as the README and model cards promise.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import sys

# Imported by every use of transformers' Auto model classes (pipeline included), after
# transformers.modeling_utils, so registering at its end finds transformers fully importable.
_AUTO_MODELS = "transformers.models.auto.modeling_auto"


@functools.cache
def ensure_registered() -> None:
    """Make the toolkit's own model types loadable through transformers' Auto classes (imports torch)."""
    _remove_hook()  # registering imports the Auto classes itself: no second registration from the hook
    from .. import registry

    for family in registry.all_families():
        if family.register_auto_classes is not None:
            family.register_auto_classes()


class _RegisterAfterAutoModels(importlib.abc.MetaPathFinder):
    """Finds transformers' Auto model module once, and registers the toolkit's types right after it runs."""

    def __init__(self):
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        if name != _AUTO_MODELS or self._finding:
            return None
        self._finding = True  # the real spec comes from the finders after this one
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        ensure_registered()

    def __getattr__(self, name):  # get_source, get_resource_reader ... of the real loader
        return getattr(self._loader, name)


def _remove_hook() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _RegisterAfterAutoModels)]


def register_when_transformers_loads() -> None:
    """Register now if transformers' Auto model classes are already loaded, else right after they are."""
    if _AUTO_MODELS in sys.modules:
        ensure_registered()
    elif not any(isinstance(finder, _RegisterAfterAutoModels) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterAutoModels())
