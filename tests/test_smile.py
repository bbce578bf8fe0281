"""openSMILE feature sets: shapes, names, and the one-pass LLD + delta config."""

from __future__ import annotations

import numpy as np
import opensmile
import pytest

from contaffect.errors import ConfigError, FeatureError
from contaffect.features import FEATURE_SETS, SmileExtractor, get_feature_set

from conftest import voiced_signal


@pytest.fixture(scope="module")
def signal():
    return voiced_signal(2.0)


def test_lld_one_pass_is_bit_identical_to_the_standard_levels(signal):
    ours = SmileExtractor("compare2016_lld")(signal)
    lld = opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                          opensmile.FeatureLevel.LowLevelDescriptors).process_signal(signal, 16000)
    de = opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                         opensmile.FeatureLevel.LowLevelDescriptors_Deltas).process_signal(signal, 16000)
    assert ours.values.shape == (len(lld), 130)
    np.testing.assert_array_equal(ours.values[:, :65], lld.to_numpy(np.float32))
    np.testing.assert_array_equal(ours.values[:, 65:], de.to_numpy(np.float32)[: len(lld)])
    assert list(ours.names) == list(lld.columns) + list(de.columns)
    assert ours.rate == 100.0
    np.testing.assert_allclose(ours.times[:3], [0.0, 0.01, 0.02])


@pytest.mark.parametrize("name,n", [("compare2016_func", 6373), ("egemaps_v02_func", 88),
                                    ("gemaps_v01b_func", 62)])
def test_functionals_have_one_row_of_the_published_size(signal, name, n):
    out = SmileExtractor(name)(signal)
    assert out.values.shape == (1, n) and FEATURE_SETS[name].n_features == n
    assert np.all(np.isfinite(out.values))


def test_feature_set_ids_differ_and_unknown_name_lists_choices():
    ids = {fs.id for fs in FEATURE_SETS.values()}
    assert len(ids) == len(FEATURE_SETS)
    with pytest.raises(ConfigError, match="compare2016_lld"):
        get_feature_set("mfcc")


def test_wrong_rate_refused(signal):
    with pytest.raises(FeatureError, match="16000"):
        SmileExtractor("egemaps_v02_func")(signal, 8000)
