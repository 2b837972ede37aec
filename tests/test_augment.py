"""The augmentation mechanism and the basic waveform / spectrogram augmentations, against float64
numpy references."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.augment._spec import fill_slices
from nnaudio_data.augment import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse,
                                  BandPass, Compose, FrequencyMasking, Gain, HighPass, LowPass,
                                  Mixup, OneOf, PitchShift, PolarityInversion, RandomCrop, SomeOf,
                                  SpeedPerturb, TimeMasking, TimeShift, TimeStretch)

# One tolerance table for this module.
TOL = {
    "gain_rel": 1e-6,      # float32 product x * 10^(g/20): one rounding of each factor
    "snr_db": 0.1,         # achieved SNR vs drawn, per example (the requirement)
    "slope": 0.15,         # fitted log-log PSD slope of colored noise vs -decay (random estimate
                           # from 64 x 16384 samples; observed error < 0.05)
    "batch_abs": 1e-5,     # batched vs one-example FFTs (different padded lengths, plans): float32
                           # rounding of unit-scale signals
    "half_abs": 2e-2,      # float16 round trip of values of magnitude <= 4: 2^-9 relative, x 4,
                           # loosened for bfloat16 (2^-8 relative): 4 * 2^-8 = 1.6e-2
}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tone_batch(b=8, c=1, t=4000, seed=0):
    r = np.random.default_rng(seed)
    return torch.from_numpy(r.standard_normal((b, c, t))).float()


ALL = [
    lambda: Gain((-6.0, 6.0), p=0.5),
    lambda: PolarityInversion(p=0.5),
    lambda: TimeShift(0.3, p=0.5),
    lambda: TimeShift((-50, 50), rollover=False),
    lambda: AddColoredNoise((0.0, 20.0), color=(0.0, 2.0), p=0.7),
    lambda: RandomCrop(1000),
    lambda: Mixup(0.5, p=0.5),
    lambda: LowPass(16000, (500.0, 4000.0), p=0.5),
    lambda: HighPass(16000, (100.0, 2000.0)),
    lambda: BandPass(16000),
    lambda: SpeedPerturb((0.8, 1.2)),
    lambda: PitchShift((-3.0, 3.0), n_fft=256),
    lambda: ApplyImpulseResponse([torch.randn(200, generator=gen(i)) for i in range(5)], p=0.5),
    lambda: AddBackgroundNoise([torch.randn(1, 300 * i + 100, generator=gen(i)) for i in range(5)]),
    lambda: Compose([Gain(), OneOf([PolarityInversion(), TimeShift(0.1)]),
                     SomeOf(1, [Gain(), TimeShift(0.2)])]),
]
SPEC = [
    lambda: FrequencyMasking(5, n_masks=(0, 3), p=0.5),
    lambda: TimeMasking(10, n_masks=2, value=-1.0),
    lambda: FrequencyMasking(8, inplace=True),
    lambda: TimeStretch((0.7, 1.3), p=0.5),
]


@pytest.mark.parametrize("make", ALL + SPEC)
def test_replay_is_exact_and_seeds_matter(make):
    x = tone_batch(16, 2, 4000) if make in ALL else tone_batch(16, 40, 50)
    aug = make()
    a = aug(x.clone(), generator=gen(1))             # clones: one case fills its input in place
    again = make()(x.clone(), generator=gen(1))
    assert torch.equal(a.x, again.x), "same seed, same output"
    assert torch.equal(make()(x.clone(), params=a.params).x, a.x), "replay from params"
    b = aug(x.clone(), generator=gen(2))
    assert not torch.equal(a.x, b.x), "different seed, different output"
    assert a.x.dtype == x.dtype and torch.isfinite(a.x).all()


def example(params, i):
    """The parameters of example i alone (every tensor has the batch as leading dim)."""
    if isinstance(params, dict):
        return {k: example(v, i) for k, v in params.items()}
    if isinstance(params, list):
        return [example(v, i) for v in params]
    return params[i:i + 1] if isinstance(params, torch.Tensor) else params


# per-example augmentations: no batch-wide draw (noise seeds, Mixup partners, RIR padding aside)
PER_EXAMPLE = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 13, 14]


@pytest.mark.parametrize("k", PER_EXAMPLE)
def test_batched_equals_one_example_at_a_time(k):
    x = tone_batch(6, 2, 3000)
    out = ALL[k]()(x, generator=gen(11))
    for i in range(6):
        one = ALL[k]()(x[i:i + 1], params=example(out.params, i)).x
        torch.testing.assert_close(one[0], out.x[i], atol=TOL["batch_abs"], rtol=TOL["batch_abs"])


def test_gain_exact_against_float64():
    x = tone_batch()
    out = Gain((-20.0, 20.0))(x, generator=gen(3))
    g = out.params["gain_db"].double().numpy()
    ref = x.double().numpy() * (10.0 ** (g / 20.0))[:, None, None]
    np.testing.assert_allclose(out.x.numpy(), ref, rtol=TOL["gain_rel"], atol=0)
    assert (g >= -20).all() and (g <= 20).all() and np.ptp(g) > 1.0


def test_p_mask_per_example_and_untouched_examples_exact():
    x = tone_batch(64)
    out = Gain((6.0, 12.0), p=0.5)(x, generator=gen(0))
    mask = out.params["mask"]
    assert 10 < int(mask.sum()) < 54, "p=0.5 over 64 examples"
    assert torch.equal(out.x[~mask], x[~mask])
    assert (out.x[mask].abs().sum((1, 2)) > x[mask].abs().sum((1, 2))).all()
    assert torch.equal(PolarityInversion(p=0.0)(x).x, x)


def test_time_shift_matches_numpy_roll():
    x = tone_batch(6, 2, 100)
    for rollover in (True, False):
        out = TimeShift((-30, 30), rollover=rollover)(x, generator=gen(4))
        for i, s in enumerate(out.params["shift"].tolist()):
            ref = np.roll(x[i].numpy(), s, axis=-1)
            if not rollover:
                ref[:, :s] = 0 if s > 0 else ref[:, :s]
                ref[:, ref.shape[-1] + s:] = 0 if s < 0 else ref[:, ref.shape[-1] + s:]
            np.testing.assert_array_equal(out.x[i].numpy(), ref)
        assert len(set(out.params["shift"].tolist())) > 1


def test_time_shift_torch_path_matches_and_carries_gradients():
    x = tone_batch(4, 2, 300)
    for rollover in (True, False):
        ref = TimeShift(0.4, rollover=rollover)(x, generator=gen(1))
        xg = x.clone().requires_grad_()          # takes the torch slicing path (as on a GPU)
        out = TimeShift(0.4, rollover=rollover)(xg, params=ref.params)
        assert torch.equal(out.x.detach(), ref.x)
        out.x.sum().backward()
        kept = (ref.x != 0).sum() if not rollover else x.numel()
        assert int(xg.grad.sum()) == int(kept)


def test_time_shift_fraction_bounds():
    out = TimeShift(0.1)(tone_batch(32, 1, 1000), generator=gen(0))
    assert out.params["shift"].abs().max() <= 100


def test_random_crop_is_a_window_of_the_input():
    x = torch.arange(3 * 500.0).view(3, 1, 500)
    out = RandomCrop(120)(x, generator=gen(0))
    assert out.x.shape == (3, 1, 120)
    for i, o in enumerate(out.params["offset"].tolist()):
        assert 0 <= o <= 380
        assert torch.equal(out.x[i, 0], x[i, 0, o:o + 120])
    with pytest.raises(ValueError, match="length"):
        RandomCrop(600)(x)


def snr_db(x, y):
    x, n = x.double(), (y - x).double()
    return 10 * torch.log10(x.pow(2).mean((1, 2)) / n.pow(2).mean((1, 2)))


@pytest.mark.parametrize("color", ["white", "pink", "brown", (-1.0, 2.0)])
def test_colored_noise_hits_snr_per_example(color):
    x = tone_batch(16, 2, 8000) * torch.linspace(0.01, 10, 16).view(16, 1, 1)
    out = AddColoredNoise((-5.0, 40.0), color=color)(x, generator=gen(5))
    err = (snr_db(x, out.x) - out.params["snr_db"].double()).abs()
    assert err.max() < TOL["snr_db"], err.max()


@pytest.mark.parametrize("color,decay", [("white", 0.0), ("pink", 1.0), ("brown", 2.0)])
def test_colored_noise_spectral_slope(color, decay):
    x = torch.ones(64, 1, 16384)
    noise = AddColoredNoise(0.0, color=color)(x, generator=gen(6)).x - x
    psd = np.abs(np.fft.rfft(noise[:, 0].double().numpy(), axis=-1)) ** 2
    f = np.arange(psd.shape[-1])
    band = (f >= 16) & (f <= 4096)
    slope = np.polyfit(np.log(f[band]), np.log(psd.mean(0)[band]), 1)[0]
    assert abs(slope + decay) < TOL["slope"], slope


def test_silence_gets_no_nan():
    x = torch.zeros(4, 1, 1000)
    x[0] = 1e-3 * tone_batch(1, 1, 1000)[0]
    out = AddColoredNoise(10.0, color="pink")(x, generator=gen(0))
    assert torch.isfinite(out.x).all()
    assert torch.equal(out.x[1:], x[1:]), "silent examples stay silent"
    assert abs(float(snr_db(x[:1], out.x[:1])) - 10.0) < TOL["snr_db"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_computed_in_float32(dtype):
    x = tone_batch(8, 1, 2000).clamp(-4, 4)
    aug = Compose([Gain((-3.0, 3.0)), AddColoredNoise(20.0, color="pink"), TimeShift(0.2)])
    ref = aug(x, generator=gen(7))
    out = aug(x.to(dtype), params=ref.params)
    assert out.x.dtype == dtype and torch.isfinite(out.x).all()
    torch.testing.assert_close(out.x.float(), ref.x, atol=TOL["half_abs"] * 4, rtol=TOL["half_abs"])
    spec = FrequencyMasking(3)(torch.ones(2, 10, 5, dtype=dtype)).x
    assert spec.dtype == dtype


@pytest.mark.parametrize("cls,axis", [(FrequencyMasking, -2), (TimeMasking, -1)])
def test_masks_within_bounds_and_independent(cls, axis):
    x = torch.ones(32, 2, 40, 60)
    out = cls(max_width=7, n_masks=(1, 3), value=-5.0)(x, generator=gen(8))
    start, width = out.params["start"], out.params["width"]
    size = x.shape[axis]
    assert (width >= 0).all() and (width <= 7).all() and (start >= 0).all()
    assert (start + width <= size).all()
    assert ((width > 0).sum(1) <= 3).all()
    other = -1 if axis == -2 else -2
    masked = (out.x == -5.0).all(other)                    # (B, C, size): whole lines masked
    assert torch.equal(masked[:, 0], masked[:, 1]), "channels share an example's masks"
    for i in range(32):
        expect = torch.zeros(size, dtype=torch.bool)
        for s, w in zip(start[i].tolist(), width[i].tolist()):
            expect[s:s + w] = True
        assert torch.equal(masked[i, 0], expect)
    assert len({tuple(m.nonzero().flatten().tolist()) for m in masked[:, 0]}) > 16, "independent per example"


def test_inplace_masks_fill_the_input_and_respect_p():
    x = torch.rand(32, 20, 30)
    ref = TimeMasking(10, n_masks=2, p=0.5)(x, generator=gen(3))
    y = x.clone()
    out = TimeMasking(10, n_masks=2, p=0.5, inplace=True)(y, generator=gen(3))
    assert torch.equal(out.x, ref.x) and torch.equal(y, ref.x)
    off = ~ref.params["mask"]
    assert off.any() and torch.equal(y[off], x[off])
    z = x.clone()     # the vectorised in-place path (what accelerators take) gives the same
    assert torch.equal(z.masked_fill_(TimeMasking(10).band(z, ref.params), 0.0), ref.x)
    assert torch.equal(fill_slices(x.clone(), ref.params, -1, 0.0), ref.x)


def test_time_stretch_moves_an_event():
    x = torch.zeros(2, 3, 100)
    x[..., 40] = 1.0
    out = TimeStretch(rate=(0.5, 2.0))(x, params={"mask": torch.ones(2, dtype=torch.bool),
                                                   "rate": torch.tensor([0.5, 2.0])})
    assert int(out.x[0, 0].argmax()) == 80 and int(out.x[1, 0].argmax()) == 20


def test_one_of_picks_one_and_some_of_counts():
    x = tone_batch(50, 1, 100)
    one = OneOf([Gain(), PolarityInversion(), TimeShift(0.1)], weights=[1, 0, 1])(x, generator=gen(0))
    chosen = one.params["chosen"]
    assert torch.equal(chosen.sum(1), torch.ones(50, dtype=torch.long)) and not chosen[:, 1].any()
    assert torch.equal(one.params["children"][0]["mask"], chosen[:, 0])
    some = SomeOf((2, 3), [Gain(), PolarityInversion(), TimeShift(0.1)])(x, generator=gen(0))
    k = some.params["chosen"].sum(1)
    assert ((k >= 2) & (k <= 3)).all() and len(set(k.tolist())) == 2


def test_compose_probability_gates_children():
    x = tone_batch(40, 1, 100)
    out = Compose([Gain(), PolarityInversion()], p=0.5)(x, generator=gen(2))
    off = ~out.params["mask"]
    assert off.any() and torch.equal(out.x[off], x[off])


@pytest.mark.parametrize("bad,match", [
    (lambda: Gain(p=1.5), "p must"),
    (lambda: Gain((3.0, -3.0)), "gain_db"),
    (lambda: AddColoredNoise(color="green"), "color"),
    (lambda: FrequencyMasking(-1), "max_width"),
    (lambda: SomeOf(4, [Gain()]), "n must"),
    (lambda: Compose([]), "transforms"),
    (lambda: Gain()(torch.ones(3, 4)), "rank 3"),
    (lambda: PitchShift(n_fft=512)(torch.ones(2, 1, 200)), "n_fft / 2"),
    (lambda: LowPass(16000, 9000.0), "cutoff"),
    (lambda: Gain()(torch.ones(3, 1, 4), generator=0), "generator must be a CPU"),
    (lambda: Gain()(torch.ones(3, 1, 4), params={"mask": torch.ones(2, dtype=torch.bool)}), "params"),
])
def test_errors_name_the_argument(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_repr_shows_non_defaults():
    assert repr(Gain((-3.0, 3.0), p=0.5)) == "Gain(gain_db=(-3.0, 3.0), p=0.5)"
    assert repr(Compose([PolarityInversion()])) == "Compose([PolarityInversion()])"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_replays_cpu_params():
    """Parameters are drawn on the CPU, so a CPU call's params replay on CUDA (noise fields are
    drawn per device from the recorded seed, so the chain here has none)."""
    x = tone_batch(8, 2, 4000)
    aug = Compose([Gain(), TimeShift(0.3), LowPass(16000, (300.0, 3000.0)), SpeedPerturb((0.9, 1.1))])
    cpu = aug(x, generator=gen(0))
    gpu = aug(x.cuda(), params=cpu.params)
    assert gpu.x.is_cuda
    torch.testing.assert_close(gpu.x.cpu(), cpu.x, atol=1e-4, rtol=1e-4)  # FFT libraries differ
    spec = torch.rand(4, 2, 30, 40)
    ref = TimeMasking(9, inplace=True)(spec.clone(), generator=gen(1))
    assert torch.equal(TimeMasking(9, inplace=True)(spec.cuda(), params=ref.params).x.cpu(), ref.x)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 6), f=st.integers(1, 30), n=st.integers(1, 30), width=st.integers(0, 40),
       masks=st.integers(0, 4), seed=st.integers(0, 2**31))
def test_mask_bounds_property(b, f, n, width, masks, seed):
    x = torch.rand(b, f, n)
    for cls, size, other in ((FrequencyMasking, f, n), (TimeMasking, n, f)):
        out = cls(width, n_masks=(0, masks), value=-1.0)(x, generator=gen(seed))
        start, w = out.params["start"], out.params["width"]
        assert (w <= min(width, size)).all() and (start >= 0).all() and (start + w <= size).all()
        assert int((out.x == -1.0).sum()) <= b * masks * min(width, size) * other


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 200), shift=st.integers(0, 300), rollover=st.booleans(), seed=st.integers(0, 2**31))
def test_time_shift_property(t, shift, rollover, seed):
    x = torch.rand(3, 2, t) + 1.0
    out = TimeShift((-shift, shift), rollover=rollover)(x, generator=gen(seed))
    for i, s in enumerate(out.params["shift"].tolist()):
        if rollover:
            assert torch.equal(out.x[i], torch.roll(x[i], s, -1))
        else:
            kept = max(t - abs(s), 0)
            assert int((out.x[i] != 0).sum(-1)[0]) == kept
