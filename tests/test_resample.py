"""The polyphase filter is designed once per (up, down, dtype): the cached filter equals a fresh
design, and resampling with it equals scipy's ``resample_poly`` bit for bit."""
import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.data._resample import _ratio, polyphase_filter, resample

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(RATES), st.sampled_from(RATES), st.integers(1, 3000), st.integers(1, 2),
       st.sampled_from([np.float32, np.float64, np.int16]), st.integers(0, 2**31 - 1))
def test_resample_equals_scipy_bit_for_bit(sr_in, sr_out, n, channels, dtype, seed):
    x = (np.random.default_rng(seed).standard_normal((channels, n)) * 1000).astype(dtype)
    got = resample(x, sr_in, sr_out)
    if sr_in == sr_out:
        assert got is x
        return
    up, down = _ratio(sr_in, sr_out)
    want = scipy.signal.resample_poly(x, up, down, axis=-1).astype(np.float32, copy=False)
    assert got.dtype == np.float32 and np.array_equal(got, want)


@pytest.mark.parametrize("up, down", [(2, 1), (160, 441), (320, 147), (1, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cached_filter_equals_a_fresh_design_and_is_shared(up, down, dtype):
    h = polyphase_filter(up, down, dtype)
    half = 10 * max(up, down)
    fresh = scipy.signal.firwin(2 * half + 1, 1.0 / max(up, down), window=("kaiser", 5.0)).astype(dtype)
    assert h.dtype == dtype and np.array_equal(h, fresh)
    assert polyphase_filter(up, down, dtype) is h, "designed once"
    with pytest.raises(ValueError):
        h[0] = 1.0  # read-only: resample_poly works on its own copy
    x = np.ones((1, 500), dtype)
    resample(x, down * 100, up * 100)
    assert np.array_equal(polyphase_filter(up, down, dtype), fresh), "a call leaves it unchanged"
