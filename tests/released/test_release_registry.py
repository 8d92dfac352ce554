"""experiments/released.yaml: every published file, validated against the runs, cells and the
key manifests, and each published layout equal to the model the suite builds for it."""

import shutil

import pytest
import torch
from publisher_files import REGISTRY

from benchmark.errors import RegistryError
from benchmark.experiment.registry import load_registry
from benchmark.experiment.releases import load_releases, target_run
from benchmark.models import build_model
from benchmark.models.checkpoint_files import publisher_key


@pytest.fixture(scope="module")
def registry():
    return load_registry(REGISTRY)


@pytest.fixture(scope="module")
def releases(registry):
    return load_releases(registry)


def test_every_published_file_has_an_entry(releases):
    ids = set(releases.releases)
    assert {"msl-c-voc", "msl-c-coco", "msl-v-wider"} <= ids
    assert len([i for i in ids if i.startswith("csra-")]) == 9
    voc = releases.releases["msl-c-voc"]
    assert voc.file == "msl_c_voc.pth" and voc.reported == {"mAP": 96.1}
    assert voc.dataset == "voc2007"
    assert voc.targets[0].cells == (
        "t2.resnet-cut-msl.voc2007",
        "t5.msl-c-high.voc2007",
        "t6.msl.voc2007",
    )
    # Table 6's baseline is a stand-in, and says so.
    ((stand_in, target),) = [(r, t) for r, t in releases.speaking_to("t6.csra-resnet-cut.voc2007")]
    assert stand_in.id == "csra-voc-resnetcut" and "batch 64" in stand_in.stand_in
    vit448 = releases.releases["csra-coco-vitl16-448-86.5"]
    assert vit448.targets == () and "785" in vit448.unmapped
    # The WIDER file is either ViT-L/16 or ViT-B/16; only L/16 speaks to Table 3.
    wider = releases.releases["msl-v-wider"]
    assert [t.manifest[:7] for t in wider.targets] == ["vit_l16", "vit_b16"]
    assert [bool(t.cells) for t in wider.targets] == [True, False]
    assert releases.select("msl-*") == [
        releases.releases[i] for i in ("msl-c-voc", "msl-c-coco", "msl-v-wider")
    ]
    with pytest.raises(RegistryError, match="matches no release"):
        releases.select("nope-*")


def test_each_published_layout_is_the_suite_model_key_for_key(registry, releases):
    """The publishers' files (manifests) fit the models the suite builds: same keys in the same
    order, same shapes and dtypes (built on the meta device: no memory, no weights)."""
    checked = set()
    for release in releases.releases.values():
        for target in release.targets:
            spec = target_run(registry, release.id, target, "paper")
            if target.manifest in checked:  # same architecture: built once
                continue
            with torch.device("meta"):
                model = build_model(spec)
            state = model.state_dict()
            manifest = releases.manifests[target.manifest]
            assert [publisher_key(k) for k in state] == [k.name for k in manifest.keys]
            for key, (name, tensor) in zip(manifest.keys, state.items(), strict=True):
                assert tuple(tensor.shape) == key.shape, name
                assert str(tensor.dtype) == f"torch.{key.dtype}", name
            checked.add(target.manifest)
    assert len(checked) == 5  # every manifest a release loads into


def _broken(tmp_path, old, new):
    root = tmp_path / "experiments"
    shutil.copytree(REGISTRY, root)
    path = root / "released.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return load_registry(root)


@pytest.mark.parametrize(
    "old,new,message",
    [
        (
            "like: voc-resnetcut-csra-msl-high",
            "like: voc-resnetcut-csra-msl-hgh",
            r"released.yaml: release msl-c-voc: loads_into\[0\]: field 'like': no run named",
        ),
        (
            "        num_heads: 4\n",
            "",
            r"release csra-coco-resnet101: loads_into\[0\]: field 'num_heads': run "
            r"coco-resnetcut-csra gives num_heads 6, manifest resnet101_csra_h4_lam0.5_c80 has 4",
        ),
        (
            "cells: [t5.msl-c-high.coco2014, t6.msl.coco2014]",
            "cells: [t5.msl-c-high.voc2007]",
            r"release msl-c-coco: loads_into\[0\]: field 'cells': t5.msl-c-high.voc2007 is on "
            r"voc2007",
        ),
        (
            "manifest: resnet101_csra_h6_lam0.4_c80\n        like: coco-resnetcut-csra-msl-high",
            "manifest: resnet101_csra_h6_lam0.4_c81\n        like: coco-resnetcut-csra-msl-high",
            r"release msl-c-coco: loads_into\[0\]: field 'manifest': no file "
            r".*released_manifests/resnet101_csra_h6_lam0.4_c81.json",
        ),
        (
            "    reported: {mAP: 90.2}",
            "    reported: {mAP: 90.2, F1: 3}",
            r"release csra-wider-vitl16: field 'reported': 'F1' is not one of",
        ),
        (
            "    reported: {mAP: 86.9}\n",
            "    reported: {mAP: 86.9}\n    loads_into: []\n",
            r"release csra-coco-vitl16-448-86.9: field 'loads_into': give exactly one of",
        ),
    ],
)
def test_bad_release_entry_names_file_release_and_field(tmp_path, old, new, message):
    registry = _broken(tmp_path, old, new)
    with pytest.raises(RegistryError, match=message):
        load_releases(registry)
