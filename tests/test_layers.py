"""The layers hold: theory <- empirical <- verify, and claim modules share code only through ``_<topic>.py``.

Read from the source (every import, at module level or inside a function, absolute or relative), with the same
import parser as the results protocol (``verify.codedeps.import_edges``).
"""

from __future__ import annotations

import pytest

from memsep.verify import codedeps

FILES = codedeps.module_files()
LAYER = {"theory": 0, "empirical": 1, "verify": 2}


def _layer(module: str) -> int:
    return LAYER[module.split(".")[1]]


def _edges():
    return [(name, target) for name in sorted(FILES) for target, _ in codedeps.import_edges(name, FILES)]


def test_the_parser_sees_the_imports_it_must_judge():
    """A guard on the guard: the edges below exist, so an empty edge list cannot pass the tests vacuously."""
    edges = set(_edges())
    assert ("memsep.empirical.targets", "memsep.theory.validation") in edges
    assert ("memsep.verify.claims.a4", "memsep.verify.claims._approx") in edges
    assert any(_layer(a) > _layer(b) for a, b in edges)


@pytest.mark.parametrize("lower", ["theory", "empirical"])
def test_no_layer_imports_a_higher_one(lower):
    bad = [(a, b) for a, b in _edges() if a.split(".")[1] == lower and _layer(b) > _layer(a)]
    assert bad == [], f"{lower} imports a higher layer: {bad}"


def test_no_claim_module_imports_another_claim_module():
    def is_claim(m: str) -> bool:
        parts = m.split(".")
        return parts[:3] == ["memsep", "verify", "claims"] and len(parts) == 4 and not parts[3].startswith("_")

    bad = [(a, b) for a, b in _edges() if is_claim(a) and is_claim(b) and a != b]
    assert bad == [], f"claim modules import each other (move the shared code to claims/_<topic>.py): {bad}"
