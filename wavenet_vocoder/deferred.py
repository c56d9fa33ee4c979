"""Imports deferred to first use, so that a command answers ``--help`` or a usage mistake before torch loads.

``torch = deferred_import("torch")`` at the top of a module binds a stand-in; the first attribute
read (``torch.zeros``) imports torch with an ordinary, complete ``import`` and every later read
is passed to the real module.  Unlike ``importlib.util.LazyLoader`` (which ``lazy_loader.load``
builds on), the module is never executed inside a half-made lazy module object: CPython 3.12.3's
LazyLoader (the Python of Ubuntu 24.04) recursed without end on torch 2.11, whose ``__init__``
deletes one of its own attributes while it runs, so every task command failed there.
"""
import importlib


class DeferredModule:
    """Stands for the module ``name`` until an attribute is read, then imports it and reads from it."""

    __slots__ = ("_name", "_module")

    def __init__(self, name):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_module", None)

    def __getattr__(self, attr):
        module = self._module
        if module is None:
            module = importlib.import_module(self._name)
            object.__setattr__(self, "_module", module)
        return getattr(module, attr)

    def __setattr__(self, attr, value):
        raise AttributeError(f"{self._name} is imported on first use: set {attr!r} on the module itself")

    def __repr__(self):
        state = "imported" if self._module is not None else "not imported yet"
        return f"<deferred import of {self._name!r}, {state}>"


def deferred_import(name):
    """A stand-in for the module ``name`` (dotted names too: "scipy.signal") that imports it on first use."""
    return DeferredModule(name)
