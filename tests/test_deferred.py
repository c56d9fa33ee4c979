"""The deferred import the task commands reach torch through: nothing is imported until first use,
then the real module, executed once, in a normal import."""
import sys

import pytest

from wavenet_vocoder.deferred import deferred_import

# A module that, like torch 2.11's __init__, deletes one of its own attributes through
# sys.modules while it runs (what sent CPython 3.12.3's LazyLoader into endless recursion), and
# counts how often its body ran.
SELF_EDITING_MODULE = """
import sys
import builtins
builtins.pnf_deferred_runs = getattr(builtins, "pnf_deferred_runs", 0) + 1
TensorBase = object()
delattr(sys.modules[__name__], "TensorBase")
value = 42
def twice(x):
    return 2 * x
"""


@pytest.fixture
def self_editing_module(tmp_path, monkeypatch):
    name = "pnf_deferred_probe"
    (tmp_path / f"{name}.py").write_text(SELF_EDITING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    import builtins
    monkeypatch.setattr(builtins, "pnf_deferred_runs", 0, raising=False)
    yield name
    sys.modules.pop(name, None)


def test_nothing_is_imported_before_the_first_attribute_read(self_editing_module):
    probe = deferred_import(self_editing_module)
    import builtins
    assert self_editing_module not in sys.modules and builtins.pnf_deferred_runs == 0
    assert "not imported yet" in repr(probe)


def test_the_first_read_imports_the_module_once_even_when_it_edits_itself(self_editing_module):
    probe = deferred_import(self_editing_module)
    assert probe.value == 42 and probe.twice(21) == 42
    import builtins
    real = sys.modules[self_editing_module]
    assert builtins.pnf_deferred_runs == 1                  # executed once, for both reads
    assert probe.twice is real.twice                        # the real module's objects, not copies
    assert not hasattr(real, "TensorBase")                  # its own deletion took effect
    assert "imported" in repr(probe) and "not" not in repr(probe)


def test_dotted_names_import_the_submodule():
    decoder = deferred_import("json.decoder")
    import json.decoder
    assert decoder.JSONDecodeError is json.decoder.JSONDecodeError


def test_a_missing_attribute_and_a_write_fail_clearly(self_editing_module):
    probe = deferred_import(self_editing_module)
    with pytest.raises(AttributeError):
        probe.no_such_name
    with pytest.raises(AttributeError, match="imported on first use"):
        probe.value = 1
