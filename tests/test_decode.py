"""decode_audio: every supported format decodes correctly, every bad input raises a named reason;
the WAV fast path equals soundfile bit for bit."""
import io
import pickle
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from nnaudio_data.data import SampleError, decode_audio
from nnaudio_data.data._wav import WAVE_FORMAT_EXTENSIBLE, parse_wav, read_wav

# (format, subtype, bits, float): the WAV variants the fast path handles
WAV_VARIANTS = [("WAV", "PCM_U8", 8, False), ("WAV", "PCM_16", 16, False), ("WAV", "PCM_24", 24, False),
                ("WAV", "PCM_32", 32, False), ("WAV", "FLOAT", 32, True), ("WAV", "DOUBLE", 64, True),
                ("WAVEX", "PCM_16", 16, False), ("WAVEX", "PCM_24", 24, False), ("WAVEX", "FLOAT", 32, True)]


def encode(x: np.ndarray, sr: int, fmt: str, subtype: str) -> bytes:
    """x: (T, C) float64 in [-1, 1)."""
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def source(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.99, 0.99, (frames, channels))


def riff(fmt_body: bytes, data: bytes, extra_chunks: bytes = b"", data_size=None) -> bytes:
    """A hand-built RIFF/WAVE file: fmt chunk, optional chunks, data chunk."""
    size = len(data) if data_size is None else data_size
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra_chunks
            + b"data" + struct.pack("<I", size) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def reason_of(data: bytes, **kw) -> str:
    with pytest.raises(SampleError) as info:
        decode_audio(data, "shard.tar", "k", **kw)
    assert info.value.url == "shard.tar" and info.value.key == "k"
    return info.value.reason


@pytest.mark.parametrize("fmt,subtype,bits,is_float", WAV_VARIANTS)
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_fast_path_equals_soundfile_and_source(fmt, subtype, bits, is_float, channels):
    x = source(1000, channels)
    data = encode(x, 16000, fmt, subtype)
    assert parse_wav(data) is not None, "this variant must take the fast path"
    got, sr = decode_audio(data)
    ref = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)[0].T
    assert sr == 16000 and got.dtype == np.float32 and got.shape == (channels, 1000)
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, ref)  # exactly libsndfile's scaling
    # against the source: within two quantisation steps (libsndfile writes with scale 2**(b-1) - 1
    # and reads with 2**(b-1), a relative error of 2**-(b-1) on top of rounding); never below
    # float32 resolution near 1.0 (6e-8), which bounds 32-bit PCM and float files
    atol = 6e-8 if is_float else max(2.0 ** -(bits - 1) * 2, 6e-8)
    np.testing.assert_allclose(got, x.T, atol=atol, rtol=0)


@pytest.mark.parametrize("sr", [8000, 11025, 22050, 44100, 48000, 96000])
def test_rates(sr):
    x = source(sr // 10, 2, seed=sr)
    got, got_sr = decode_audio(encode(x, sr, "WAV", "PCM_16"))
    assert got_sr == sr and got.shape == (2, sr // 10)


@pytest.mark.parametrize("channels", range(1, 9))
@pytest.mark.parametrize("fmt,subtype", [("FLAC", "PCM_16"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")])
def test_flac_and_ogg(fmt, subtype, channels):
    # tones under 120 Hz: 6-channel Vorbis is 5.1, whose LFE channel the encoder low-passes
    t = np.arange(4800) / 48000
    x = np.stack([0.5 * np.sin(2 * np.pi * (40 + 10 * c) * t) for c in range(channels)], axis=1)
    got, sr = decode_audio(encode(x, 48000, fmt, subtype))
    assert sr == 48000 and got.shape == (channels, 4800)
    ref = sf.read(io.BytesIO(encode(x, 48000, fmt, subtype)), dtype="float32", always_2d=True)[0].T
    np.testing.assert_array_equal(got, ref)
    if fmt == "FLAC":  # lossless: within the quantisation step
        np.testing.assert_allclose(got, x.T, atol=2.0 ** -(int(subtype[-2:]) - 1) * 2, rtol=0)
    else:  # lossy: each channel keeps its own tone (in its 10 Hz bin), in channel order
        peaks = np.abs(np.fft.rfft(got, axis=1)).argmax(axis=1) * 10
        assert peaks.tolist() == [40 + 10 * c for c in range(channels)]
        assert np.abs(got - x.T).max() < 0.2  # vorbis at default quality, amplitude 0.5


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(WAV_VARIANTS), st.integers(1, 6), st.integers(1, 300), st.integers(0, 2 ** 31))
def test_fast_path_property(variant, channels, frames, seed):
    fmt, subtype, _, _ = variant
    data = encode(source(frames, channels, seed), 8000, fmt, subtype)
    ref = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)[0].T
    np.testing.assert_array_equal(decode_audio(data)[0], ref)


def test_full_scale_integers():
    """Extremes of each integer width map exactly as libsndfile maps them."""
    for dtype, lo, hi, scale in [("<i2", -32768, 32767, 2.0 ** -15), ("<i4", -2 ** 31, 2 ** 31 - 1, 2.0 ** -31)]:
        bits = np.dtype(dtype).itemsize * 8
        pcm = np.array([lo, -1, 0, 1, hi], dtype)
        data = riff(struct.pack("<HHIIHH", 1, 1, 8000, 8000 * bits // 8, bits // 8, bits), pcm.tobytes())
        got = decode_audio(data)[0][0]
        np.testing.assert_array_equal(got, (pcm.astype(np.float64) * scale).astype(np.float32))
        np.testing.assert_array_equal(got, sf.read(io.BytesIO(data), dtype="float32")[0])


def test_chunks_before_data_and_odd_padding():
    pcm = np.array([[100, -100], [2000, -2000], [-32768, 32767]], "<i2")
    extra = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"  # odd-sized chunk plus its pad byte
    data = riff(struct.pack("<HHIIHH", 1, 2, 8000, 32000, 4, 16), pcm.tobytes(), extra)
    np.testing.assert_array_equal(decode_audio(data)[0], pcm.T / 32768.0)
    np.testing.assert_array_equal(decode_audio(data)[0], sf.read(io.BytesIO(data), dtype="float32")[0].T)


def test_extensible_with_fewer_valid_bits_falls_back_to_soundfile():
    """20 valid bits in a 24-bit container: unusual, so soundfile decodes it (same answer)."""
    guid = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHHHHI", WAVE_FORMAT_EXTENSIBLE, 1, 8000, 24000, 3, 24, 22, 20, 4) + guid
    samples = (np.array([1, -1, 1000, -1000], "<i4") << 4)
    pcm = b"".join(int(s).to_bytes(4, "little", signed=True)[:3] for s in samples)
    data = riff(fmt, pcm)
    assert parse_wav(data) is None
    got = decode_audio(data)[0][0]
    np.testing.assert_array_equal(got, sf.read(io.BytesIO(data), dtype="float32")[0])
    np.testing.assert_array_equal(got, samples * 2.0 ** -23)


def test_empty_member_and_zero_frames():
    assert reason_of(b"") == "empty"
    assert reason_of(encode(np.zeros((0, 1)), 8000, "WAV", "PCM_16")) == "empty"


def test_truncated_wav():
    data = encode(source(1000, 2), 8000, "WAV", "PCM_16")
    # libsndfile itself silently returns fewer frames here; the fast path's header check does not
    assert sf.read(io.BytesIO(data[:2000]))[0].shape[0] < 1000
    assert reason_of(data[:2000]) == "truncated"
    assert reason_of(data[:30]) == "truncated"  # ends inside the fmt chunk, before data


def test_truncated_wav_on_the_soundfile_path():
    """A codec the fast path leaves to soundfile (IMA ADPCM) is still checked against its header."""
    data = encode(source(4000, 1), 8000, "WAV", "IMA_ADPCM")
    assert parse_wav(data) is None
    assert decode_audio(data)[0].shape[1] >= 4000  # ADPCM pads the last block
    assert reason_of(data[: len(data) // 2]) == "truncated"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_flac(cut):
    data = encode(source(20000, 2), 16000, "FLAC", "PCM_16")
    assert reason_of(data[: int(len(data) * cut)]) == "truncated"


def test_flac_with_unknown_length():
    """A streamed FLAC (STREAMINFO total 0): libsndfile reports SF_COUNT_MAX frames; read in blocks."""
    x = source(70000, 2)
    data = bytearray(encode(x, 16000, "FLAC", "PCM_16"))
    info = struct.unpack_from(">Q", data, 18)[0]  # rate(20) channels(3) bits(5) total samples(36)
    struct.pack_into(">Q", data, 18, info & ~((1 << 36) - 1))
    data[26:42] = bytes(16)  # no MD5 either, as a streaming encoder writes it
    got, sr = decode_audio(bytes(data))
    np.testing.assert_array_equal(got, decode_audio(encode(x, 16000, "FLAC", "PCM_16"))[0])
    assert sr == 16000 and got.shape == (2, 70000)


def test_not_audio():
    assert reason_of(b"this is a text file, not audio" * 10) == "decode"
    assert reason_of(np.random.default_rng(0).bytes(5000)) == "decode"


def test_unsupported_formats():
    m4a = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom" + bytes(200)
    assert reason_of(m4a) == "unsupported_format"
    assert reason_of(b"\xff\xf1\x50\x80" + bytes(300)) == "unsupported_format"  # AAC ADTS frame
    # a WAV carrying a codec libsndfile has no decoder for (0x00FF: AAC)
    assert reason_of(riff(struct.pack("<HHIIHH", 0xFF, 1, 8000, 16000, 2, 16), bytes(100))) == "unsupported_format"
    # unknown bytes under an extension soundfile has no reader for
    assert reason_of(b"\x01\x02garbage" * 20, ext="wma") == "unsupported_format"
    assert reason_of(b"\x01\x02garbage" * 20, ext="wav") == "decode"


@pytest.mark.parametrize("fmt", ["WAV", "W64"])  # fast path, and soundfile path
def test_non_finite(fmt):
    x = source(100, 1)
    x[50, 0] = np.nan
    assert reason_of(encode(x, 8000, fmt, "FLOAT")) == "non_finite"
    x[50, 0] = np.inf
    assert reason_of(encode(x, 8000, fmt, "DOUBLE")) == "non_finite"


def test_sample_error_pickles_with_reason():
    with pytest.raises(SampleError) as info:
        decode_audio(b"", "s.tar", "key1")
    err = pickle.loads(pickle.dumps(info.value))
    assert (err.url, err.key, err.reason) == ("s.tar", "key1", "empty")


def test_read_wav_from_memoryview():
    data = encode(source(10, 2), 8000, "WAV", "PCM_24")
    info = parse_wav(memoryview(data))
    np.testing.assert_array_equal(read_wav(memoryview(data), info), decode_audio(data)[0])


@pytest.mark.parametrize("variant", [v for v in WAV_VARIANTS if not v[3]])
@pytest.mark.parametrize("channels,mono", [(1, True), (2, False), (2, True)])
@pytest.mark.parametrize("frames,offset,length,crop", [(500, 0, 300, "start"), (500, 50, 800, "start"),
                                                       (500, 20, 100, "center"), (500, 0, 120, "random"),
                                                       (300, 400, 50, "start")])
def test_window_decode_equals_full_decode(variant, channels, mono, frames, offset, length, crop):
    """make_item decodes only the kept window of a PCM WAV at the target rate: the same item (or
    the same rejection) as decoding the whole file and cutting it, bit for bit."""
    import torch

    from nnaudio_data.data._samples import ClipSpec, make_item, prepare_clip

    fmt, subtype, _, _ = variant
    data = encode(source(frames, channels, seed=frames + offset), 8000, fmt, subtype)
    spec = ClipSpec(sr=8000, offset=offset, length=length, mono=mono, crop=crop)
    sample = {"__key__": "k", "__url__": "a.tar", "wav": data}

    def run(fn):
        try:
            return fn(torch.Generator().manual_seed(3))
        except SampleError as e:
            return e.reason

    got = run(lambda g: make_item(sample, spec, g))
    want = run(lambda g: prepare_clip(*decode_audio(data), spec, "a.tar", "k", None, g))
    if isinstance(want, str):
        assert got == want
    else:
        assert got["length"] == want["length"] and torch.equal(got["waveform"], want["waveform"])
        assert got["waveform"].dtype == torch.float32 and got["waveform"].is_contiguous()
