"""The polyphase resampler: its filter is scipy's design, its output is
``scipy.signal.resample_poly``'s (computed in float64) to float32 rounding on both of its paths
(the block matrix and the gather), a window of a signal resamples to the whole signal's values bit
for bit, and the filter and plan are designed once per rate pair."""
import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnaudio_data.data import _resample
from nnaudio_data.data._resample import _plan, _ratio, polyphase_filter, resample, source_window

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
ODD_RATES = [1000, 7919, 22254, 44099, 96000]  # ratios of thousands of phases: the gather path

TOL = {
    # |ours - resample_poly in float64| / max|x|. Ours is float32: inputs, taps and a matmul's
    # float32 sums over at most down + J terms (the block matrix's span); the phase's taps sum to
    # about 1, so the error is a few float32 ulps of the peak (measured worst: 3e-7). A wrong phase
    # or alignment errs by O(1).
    "vs_scipy": 2e-6,
    # our float64 filter against scipy.signal.firwin's: the same formula; np.kaiser's i0 against
    # scipy.special.i0 (measured: 1e-18)
    "filter": 1e-15,
}


@pytest.fixture(params=["block", "gather"])
def path(request, monkeypatch):
    """Run a test on the block-matrix path (the usual rate pairs) or force every ratio onto the
    gather path (what ratios of thousands of phases take). It sets a mode for the whole test, so
    hypothesis' inputs share it by design."""
    _plan.cache_clear()
    if request.param == "gather":
        monkeypatch.setattr(_resample, "DENSE_MAX", 0)
    yield request.param
    _plan.cache_clear()


def _reference(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    up, down = _ratio(sr_in, sr_out)
    return scipy.signal.resample_poly(x.astype(np.float64), up, down, axis=-1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(RATES + ODD_RATES), st.sampled_from(RATES), st.integers(1, 5000),
       st.integers(1, 2), st.sampled_from([np.float32, np.float64, np.int16]), st.integers(0, 2**31 - 1))
def test_resample_equals_scipy_to_float32_rounding(path, sr_in, sr_out, n, channels, dtype, seed):
    x = (np.random.default_rng(seed).standard_normal((channels, n)) * 1000).astype(dtype)
    got = resample(x, sr_in, sr_out)
    if sr_in == sr_out:
        assert got is x
        return
    want = _reference(x, sr_in, sr_out)
    assert got.dtype == np.float32 and got.shape == want.shape
    peak = max(1.0, float(np.abs(x.astype(np.float64)).max()))
    assert float(np.abs(got - want).max()) <= TOL["vs_scipy"] * peak


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(RATES + ODD_RATES), st.sampled_from(RATES), st.integers(200, 60000),
       st.integers(1, 2), st.floats(0, 1), st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_a_window_resamples_to_the_whole_signals_values(path, sr_in, sr_out, frames, channels, where, size, seed):
    # the promise the window decode rests on (source_window): bit for bit, not to a tolerance.
    # Without first= the products' rows would fall elsewhere: 78 of 734 such draws differed in
    # a last bit, mostly integer down-sampling ratios
    if sr_in == sr_out:
        return
    x = np.random.default_rng(seed).standard_normal((channels, frames)).astype(np.float32)
    whole = resample(x, sr_in, sr_out)
    total = whole.shape[-1]
    start = int(where * (total - 1))
    n = max(1, int(size * (total - start)))
    a, b, o = source_window(start, n, frames, sr_in, sr_out)
    part = resample(x[:, a:b], sr_in, sr_out, first=a)
    assert np.array_equal(part[:, start - o:start - o + n], whole[:, start:start + n])


@pytest.mark.parametrize("up, down", [(2, 1), (160, 441), (320, 147), (1, 3), (16000, 44099)])
def test_filter_is_scipys_design_and_shared(up, down):
    h = polyphase_filter(up, down)
    half = 10 * max(up, down)
    fresh = scipy.signal.firwin(2 * half + 1, 1.0 / max(up, down), window=("kaiser", 5.0))
    assert h.dtype == np.float64 and h.shape == fresh.shape
    assert float(np.abs(h - fresh).max()) <= TOL["filter"]
    assert polyphase_filter(up, down) is h, "designed once"
    with pytest.raises(ValueError):
        h[0] = 1.0  # read-only: shared by every call
    assert _plan(up, down) is _plan(up, down), "the plan is built once per ratio"


@pytest.mark.parametrize("sr_in, sr_out", [(44100, 16000), (22050, 16000), (8000, 16000), (16000, 44100)])
def test_the_usual_rate_pairs_take_the_block_path(sr_in, sr_out):
    # the block matrix stays small for them (what makes the path fast), and the odd ratio gathers
    plan = _plan(*_ratio(sr_in, sr_out))
    assert plan.block is not None and plan.block.numel() <= _resample.DENSE_MAX
    assert _plan(*_ratio(44099, 16000)).block is None


def test_bad_rates_are_refused():
    with pytest.raises(ValueError, match="sample rates must be > 0"):
        resample(np.zeros((1, 10), np.float32), 0, 16000)
