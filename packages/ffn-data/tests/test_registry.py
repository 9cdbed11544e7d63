"""The registry: every file belongs to exactly one dataset, with a pinned upstream URL, size and hash."""

import re
from collections import Counter

import pytest

from ffn_data import DATASETS, dataset
from ffn_data.registry import _registry


def test_every_registry_file_belongs_to_exactly_one_dataset():
    owners = Counter(f.path for spec in DATASETS.values() for f in spec.files)
    assert set(owners) == set(_registry()), set(_registry()) ^ set(owners)
    assert max(owners.values()) == 1, [p for p, n in owners.items() if n > 1]


@pytest.mark.parametrize("name", list(DATASETS))
def test_each_file_has_a_pinned_url_a_size_and_a_sha256(name):
    spec = DATASETS[name]
    assert spec.files, name
    for file in spec.files:
        assert file.path.startswith(spec.folder + "/")
        assert re.fullmatch(r"[0-9a-f]{64}", file.sha256), file
        assert file.size > 0
        # a commit or a release tag, never a moving branch
        assert re.match(r"https://github\.com/[^/]+/[^/]+/raw/([0-9a-f]{8,40}|v[0-9.]+)/", file.url), file.url
        assert file.url.endswith("/" + file.path.rsplit("/", 1)[1])


def test_known_sizes_of_the_standard_datasets():
    assert len(dataset("FSDD").files) == 3000
    assert len(dataset("Libri2Mix-samples").files) == 36 * 5
    assert [f.path for f in dataset("ETTh1").files] == ["ett/ETTh1.csv"]
    assert len(dataset("Cora").files) == 8 and all(".cora." in f.path for f in dataset("Cora").files)
    assert [f.path.rsplit("/", 1)[1] for f in dataset("fb237_v1_ind").files] == [
        "test.txt",
        "train.txt",
        "valid.txt",
    ]


def test_names_are_case_insensitive_and_an_unknown_one_lists_the_names():
    assert dataset("umls") is dataset("UMLS")
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'; registered: ETTh1, ETTh2, Cora"):
        dataset("nope")
