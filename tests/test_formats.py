"""The writer and the reader agree on what is audio: every format the installed libsndfile lists is
either audio (its extensions packed by the writer and picked by the reader, the webdataset stage and
the collate) or left out with a reason; a folder's other files are listed, never dropped silently."""
import numpy as np
import pytest
import soundfile as sf
import webdataset as wds
from hypothesis import HealthCheck, given, settings, strategies as st

import nnaudio_data as nd
from nnaudio_data.data._formats import AUDIO_EXTENSIONS, FORMAT_EXTENSIONS, LEFT_OUT, decodable_extensions

RATE = 8000  # every listed format writes 8 kHz (Psion WVE writes nothing else); XI reads back as 44100 Hz


def _pairs():
    """(format, subtype, extension) for every writable format libsndfile lists and each extension of it."""
    out = []
    for fmt in sorted(sf.available_formats()):
        if fmt in LEFT_OUT:
            continue
        for ext in FORMAT_EXTENSIONS.get(fmt, (fmt.lower(),)):
            out.append((fmt, None, ext))
    if "OPUS" in sf.available_subtypes("OGG"):
        out.append(("OGG", "OPUS", "opus"))
    return out


PAIRS = _pairs()


def _case(ext: str, how: int) -> str:
    return (ext, ext.upper(), ext.capitalize())[how]


def test_every_listed_format_is_audio_or_left_out_with_a_reason():
    exts = decodable_extensions()
    for fmt in sf.available_formats():
        if fmt in LEFT_OUT:
            assert LEFT_OUT[fmt] and not {e for e, f in exts.items() if f == fmt}
        else:
            assert set(FORMAT_EXTENSIONS.get(fmt, (fmt.lower(),))) <= set(AUDIO_EXTENSIONS), fmt
    assert "oga" in AUDIO_EXTENSIONS and "ogg" in AUDIO_EXTENSIONS  # the regression: Ogg named .oga
    assert ("mp3" in AUDIO_EXTENSIONS) == ("MP3" in sf.available_formats())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(st.sampled_from(PAIRS), st.integers(0, 2), st.integers(200, 1200)),
                      min_size=1, max_size=4),
       junk=st.sampled_from(["notes.txt", "cover.jpg", "x.m4a", "README", "take.mat"]))
def test_what_the_writer_packs_the_reader_reads(tmp_path_factory, files, junk):
    src = tmp_path_factory.mktemp("src")
    out = src.parent / (src.name + "-out")
    made, paths = {}, []
    for i, ((fmt, subtype, ext), how, frames) in enumerate(files):
        x = 0.5 * np.sin(np.arange(frames) * (0.05 + 0.01 * i))
        path = src / "c" / f"clip{i}.{_case(ext, how)}"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, x, RATE, format=fmt, subtype=subtype)  # to a file: libsndfile's MP3 written to a
        # BytesIO does not read back ("bad data offset"), the same clip written to a file does
        paths.append(str(path))
        made[f"c__clip{i}"] = ext
    (src / junk).write_bytes(b"\x00" * 64)

    summary = nd.write_shards(src, out, progress=False)
    # the writer packs every audio file and lists the other one, with its reason
    assert [p for p, _ in summary.skipped] == [str(src / junk)], summary.skipped
    assert summary.clips == len(made)

    # the reader (and, on the same raw samples, the webdataset stage and the collate) reads them all
    items = list(nd.ShardedAudioDataset(str(out / "shard-000000.tar"), sr=RATE, on_error="raise"))
    assert sorted(it["key"] for it in items) == sorted(made)
    assert all(it["length"] > 0 and it["waveform"].shape[0] == 1 for it in items)
    raw = list(wds.WebDataset(str(out / "shard-000000.tar"), shardshuffle=False))
    assert {s["__key__"]: next(k for k in s if not k.startswith("__") and k != "json") for s in raw} == made
    stage = nd.prepare_stage(sr=RATE)
    assert sorted(stage(s)["key"] for s in raw) == sorted(made)
    decoded = [{"__key__": s["__key__"], made[s["__key__"]]: nd.data.decode_audio(s[made[s["__key__"]]])[0]}
               for s in raw]
    assert nd.collate_audio(decoded).waveform.shape[0] == len(made)
    wrapped = nd.wrap(paths, sr=RATE, on_error="raise")  # nd.wrap over the files themselves
    assert all(wrapped[i]["length"] > 0 for i in range(len(paths)))


def test_an_extension_the_reader_does_not_take_is_refused_by_the_writer(tmp_path):
    with pytest.raises(ValueError, match=r"extensions must each be an audio extension .* got 'm4a': "
                                         r"unsupported format \.m4a"):
        nd.write_shards(tmp_path, tmp_path / "out", extensions=("wav", "m4a"))


def test_a_folder_of_oga_files_packs_and_reads(tmp_path):
    """The reported case: Ogg Vorbis files named .oga were neither packed nor listed."""
    (tmp_path / "src").mkdir()
    for i in range(3):
        sf.write(tmp_path / "src" / f"s{i}.oga", np.zeros(800) + 0.1, RATE, format="OGG")
    summary = nd.write_shards(tmp_path / "src", tmp_path / "out", progress=False)
    assert summary.clips == 3 and summary.skipped == []
    assert len(list(nd.ShardedAudioDataset(str(tmp_path / "out" / "shard-000000.tar"), sr=RATE,
                                           on_error="raise"))) == 3

