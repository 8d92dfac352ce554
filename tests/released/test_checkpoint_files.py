"""Strict loading of checkpoints in the publishers' layout (and the suite's own), and the
logits it gives against a forward pass written here from the formulas.

The files are written from the manifests (exact keys, order, shapes, dtypes; random values) at
the real sizes: a ResNet-101's weights do not depend on the input size, so the forward runs at
64 px to stay fast. ViT-L files (1.2 GB) are not written: their layout is checked key for key
against the built model in test_release_registry.py, and the ViT path is run here with timm's
small test ViT in the same layout.
"""

import math

import pytest
import timm
import torch
import torchvision
from publisher_files import REGISTRY, manifest_state, save_bare

from benchmark.experiment.registry import load_registry
from benchmark.experiment.releases import known_layouts, load_releases, target_run
from benchmark.models import build_model
from benchmark.models.checkpoint_files import (
    CheckpointMismatch,
    load_strict,
    mismatch,
    publisher_layout,
    suite_key,
)
from benchmark.spec import CSRA_TEMPERATURES

COCO = "resnet101_csra_h6_lam0.4_c80"  # MSL-C COCO: 6 heads, one of them T = ∞


@pytest.fixture(scope="module")
def registry():
    return load_registry(REGISTRY)


@pytest.fixture(scope="module")
def releases(registry):
    return load_releases(registry)


@pytest.fixture(scope="module")
def coco(tmp_path_factory, releases):
    state = manifest_state(releases.manifests[COCO], seed=1)
    folder = tmp_path_factory.mktemp("published")
    return state, save_bare(state, folder / "msl_c_coco.pth"), folder


def release_model(registry, releases, release_id, profile="paper", device=None):
    release = releases.releases[release_id]
    spec = target_run(registry, release_id, release.targets[0], profile)
    if device is None:
        return build_model(spec).eval()
    with torch.device(device):
        return build_model(spec)


def csra_formula(features, state, num_heads, lam):
    """docs/spec.md §1.3 in float64 from the file's own head keys: per head, s = x·m/‖m‖ at each
    location; logit = mean(s) + λ·att, att = Σ softmax(T·s)·s (max for T = ∞); heads summed."""
    x = features.double().flatten(2)  # B×D×N
    total = 0
    for h, t in enumerate(CSRA_TEMPERATURES[num_heads]):
        m = state[f"classifier.multi_head.{h}.head.weight"].double().flatten(1)  # C×D
        s = torch.einsum("cd,bdn->bcn", m / m.norm(dim=1, keepdim=True), x)
        att = s.amax(-1) if math.isinf(t) else (torch.softmax(t * s, -1) * s).sum(-1)
        total = total + s.mean(-1) + lam * att
    return total


def torchvision_features(state, images):
    """layer4 of torchvision's own ResNet-101 filled with the file's backbone keys."""
    net = torchvision.models.resnet101(weights=None)
    backbone = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = net.load_state_dict(backbone, strict=False)
    assert sorted(missing) == ["fc.bias", "fc.weight"] and not unexpected
    net.eval()
    with torch.no_grad():
        x = net.maxpool(net.relu(net.bn1(net.conv1(images))))
        return net.layer4(net.layer3(net.layer2(net.layer1(x))))


def assert_relative(actual, expected, tol=1e-4):
    scale = expected.abs().max()
    assert torch.isfinite(actual).all() and scale > 0
    assert (actual.double() - expected).abs().max() <= tol * scale


def test_published_resnet_file_loads_strictly_and_gives_the_formula_logits(
    registry, releases, coco
):
    state, path, _ = coco
    model = release_model(registry, releases, "msl-c-coco")
    loaded = load_strict(model, path, known_layouts(releases))
    assert (loaded.layout, loaded.num_keys) == ("publisher", 630)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(images)
    expected = csra_formula(torchvision_features(state, images), state, num_heads=6, lam=0.4)
    assert logits.shape == (2, 80)
    assert_relative(logits, expected)


def _renamed(state):
    return {
        ("layer3.7.bn2.weightt" if k == "layer3.7.bn2.weight" else k): v for k, v in state.items()
    }


def _reshaped(state):
    changed = dict(state)
    changed["classifier.multi_head.5.head.weight"] = torch.zeros(81, 2048, 1, 1)
    return changed


@pytest.mark.parametrize(
    "edit,message",
    [
        (
            _renamed,
            r"1 missing key\(s\) \[layer3\.7\.bn2\.weight\]; 1 unexpected key\(s\) "
            r"\[layer3\.7\.bn2\.weightt\]; closest known layout: architecture "
            r"resnet101_csra_h6_lam0\.4_c80 \(release msl-c-coco, csra-coco-resnetcut\)",
        ),
        (
            _reshaped,
            r"1 shape\(s\) differ \[classifier\.multi_head\.5\.head\.weight \[81, 2048, 1, 1\] "
            r"in the file, \[80, 2048, 1, 1\] in the model\]; closest known layout: "
            r"architecture resnet101_csra_h6_lam0\.4_c80",
        ),
        (
            lambda s: {f"module.{k}": v for k, v in s.items()},
            r"630 of 630 keys carry DataParallel's 'module\.' prefix \(e\.g\. 'module\.conv1\."
            r"weight'\); published files have plain keys",
        ),
        (
            lambda s: {"state_dict": s, "epoch": 3},
            r"the state dict is wrapped in a dict \(keys 'state_dict', 'epoch'\); published "
            r"files are the bare state dict",
        ),
    ],
    ids=["renamed-key", "changed-shape", "module-prefix", "wrapper"],
)
def test_a_file_that_does_not_fit_gets_one_named_error(registry, releases, coco, edit, message):
    state, _, folder = coco
    path = save_bare(edit(state), folder / "edited.pth")
    model = release_model(registry, releases, "msl-c-coco", device="meta")
    with pytest.raises(CheckpointMismatch, match=message) as err:
        load_strict(model, path, known_layouts(releases))
    assert "\n" not in str(err.value)


def test_another_release_file_is_named_for_what_it_is(registry, releases, coco):
    _, path, _ = coco
    voc_model = release_model(registry, releases, "msl-c-voc", device="meta")
    with pytest.raises(CheckpointMismatch) as err:
        load_strict(voc_model, path, known_layouts(releases))
    text = str(err.value)
    assert "5 unexpected key(s) [classifier.multi_head.1.head.weight" in text
    assert "classifier.multi_head.0.head.weight [80, 2048, 1, 1] in the file, [20, 2048" in text
    assert text.endswith(
        "it is exactly the layout of architecture resnet101_csra_h6_lam0.4_c80 "
        "(release msl-c-coco, csra-coco-resnetcut)"
    )


def test_csra_448_vit_file_is_recognised(releases):
    shapes = {
        suite_key(k): s
        for k, s in releases.manifests["vit_l16_224_csra_h8_lam1.0_c80"].shapes().items()
    }
    file = dict(shapes, **{suite_key("pos_embed"): (1, 785, 1024)})
    problem = mismatch(file, shapes, known_layouts(releases))
    assert problem.startswith("1 shape(s) differ [pos_embed [1, 785, 1024] in the file, [1, 197")
    assert "CSRA's 448-px ViT-L/16 COCO file" in problem


def test_vit_file_in_publisher_layout_gives_the_formula_logits(registry, releases, tmp_path):
    """The ViT path (smoke stand-in of msl_v_wider.pth): patch tokens after the final norm,
    class token dropped, reshaped to D×h×w, CSRA head (H=1, λ=0.3)."""
    source = release_model(registry, releases, "msl-v-wider", profile="smoke")
    state = publisher_layout(source)
    assert "pos_embed" in state and "classifier.multi_head.0.head.weight" in state
    path = save_bare(state, tmp_path / "msl_v_wider.pth")
    model = release_model(registry, releases, "msl-v-wider", profile="smoke")
    assert load_strict(model, path).layout == "publisher"
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        logits = model(images)
        vit = timm.create_model("test_vit", img_size=64, num_classes=0).eval()
        vit.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")})
        tokens = vit.forward_features(images)[:, vit.num_prefix_tokens :]
        side = int(math.isqrt(tokens.shape[1]))
        features = tokens.transpose(1, 2).reshape(3, -1, side, side)
    assert_relative(logits, csra_formula(features, state, num_heads=1, lam=0.3))

    # A file for another input size: the position embedding's token count says so.
    bigger = target_run(
        registry, "msl-v-wider", releases.releases["msl-v-wider"].targets[0], "smoke"
    )
    with torch.device("meta"):
        model96 = build_model(
            bigger.__class__(**{**bigger.to_dict(), "img_size": 96, "synth": None})
        )
    with pytest.raises(CheckpointMismatch, match=r"pos_embed \[1, 17, \d+\] in the file, \[1, 37"):
        load_strict(model96, path)


def test_suite_checkpoints_load_strictly(registry, releases, tmp_path):
    model = release_model(registry, releases, "msl-c-voc", profile="smoke")
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "best.pt")
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    fresh = release_model(registry, releases, "msl-c-voc", profile="smoke")
    loaded = load_strict(fresh, tmp_path / "best.pt")
    assert (loaded.layout, loaded.epoch) == ("suite-checkpoint", 3)
    assert load_strict(fresh, tmp_path / "bare.pt").layout == "suite-state-dict"
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
