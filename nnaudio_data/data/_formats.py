"""Which file extensions are audio: decided once, here, from what the installed libsndfile decodes.

The writer packs these extensions from a folder, the reader picks a sample's audio member by them,
and ``nd.wrap``, ``nd.collate_audio`` and the webdataset stage find a dict's audio entry by them,
so a file the writer packs is a file the reader reads.

Each major format ``soundfile.available_formats()`` lists brings its file extensions
(:data:`FORMAT_EXTENSIONS`: libsndfile's own name for it and the common aliases, such as ``oga``
for Ogg and ``aif`` for AIFF); Ogg also brings ``opus`` when libsndfile lists the OPUS subtype.
A format missing from the installed libsndfile (MP3 before libsndfile 1.1, for one) brings none.
:data:`LEFT_OUT` names the formats whose extensions stay out, and why.
"""
from __future__ import annotations

from pathlib import PurePath
from typing import Dict, Mapping, Optional, Sequence, Tuple

import soundfile as sf

# libsndfile's major formats (the keys of soundfile.available_formats()) -> file extensions, lower case
FORMAT_EXTENSIONS: Mapping[str, Tuple[str, ...]] = {
    "WAV": ("wav", "wave"), "WAVEX": ("wav",), "RF64": ("rf64",), "W64": ("w64",), "FLAC": ("flac",),
    "OGG": ("ogg", "oga"), "MP3": ("mp3",), "AIFF": ("aiff", "aif", "aifc"), "AU": ("au", "snd"),
    "CAF": ("caf",), "NIST": ("sph", "nist"), "IRCAM": ("sf",), "VOC": ("voc",), "AVR": ("avr",),
    "PAF": ("paf",), "PVF": ("pvf",), "SDS": ("sds",), "HTK": ("htk",),
    "SVX": ("iff", "svx", "8svx"), "WVE": ("wve",), "XI": ("xi",),
}
# formats libsndfile lists whose extensions are not taken as audio
LEFT_OUT: Mapping[str, str] = {
    "RAW": "header-less: nothing in the file says its rate, channels or encoding",
    "MAT4": "'.mat' files are mostly MATLAB data, not audio",
    "MAT5": "'.mat' files are mostly MATLAB data, not audio",
    "MPC2K": "'.mpc' files are mostly Musepack, which libsndfile does not read",
    "SD2": "Sound Designer II keeps its header in a resource fork, a second file a shard does not carry",
}
# extensions of common audio formats libsndfile has no reader for
UNSUPPORTED_EXTENSIONS = ("m4a", "mp4", "aac", "wma", "wv", "ape", "ac3", "amr", "webm", "mka")


def decodable_extensions() -> Dict[str, str]:
    """Extension -> libsndfile major format, for every format the installed libsndfile lists
    (less :data:`LEFT_OUT`); the first format listed for an extension names it.

    Example:
        >>> exts = decodable_extensions(); exts["flac"], exts["oga"], exts["aif"]
        ('FLAC', 'OGG', 'AIFF')
    """
    out: Dict[str, str] = {}
    for fmt in sf.available_formats():
        for ext in () if fmt in LEFT_OUT else FORMAT_EXTENSIONS.get(fmt, (fmt.lower(),)):
            out.setdefault(ext, fmt)
    if "OGG" in out.values() and "OPUS" in sf.available_subtypes("OGG"):
        out.setdefault("opus", "OGG")
    return out


# the audio extensions of this installation, the most common first (as messages list them)
_FIRST = ("flac", "wav", "ogg", "oga", "opus", "mp3")
AUDIO_EXTENSIONS: Tuple[str, ...] = tuple(sorted(decodable_extensions(), key=lambda e: (
    _FIRST.index(e) if e in _FIRST else len(_FIRST), e)))


def extension(path: str) -> str:
    """The lower-case extension of a file name, without its dot ("" when it has none).

    Example:
        >>> extension("dog/Bark.OGA"), extension("README")
        ('oga', '')
    """
    return PurePath(path).suffix.lower().lstrip(".")


def not_audio_reason(path: str) -> Optional[str]:
    """Why a file in a source folder is not packed as audio, or None when its extension is audio.

    Example:
        >>> not_audio_reason("a.flac") is None, not_audio_reason("a.m4a"), not_audio_reason("notes")
        (True, 'unsupported format .m4a: libsndfile has no reader for it (convert it, e.g. to .flac)', 'no extension')
    """
    ext = extension(path)
    if ext in AUDIO_EXTENSIONS:
        return None
    if not ext:
        return "no extension"
    if ext in UNSUPPORTED_EXTENSIONS:
        return f"unsupported format .{ext}: libsndfile has no reader for it (convert it, e.g. to .flac)"
    return f"extension .{ext} is not an audio format the installed libsndfile reads"


def check_extensions(extensions: Sequence[str]) -> Tuple[str, ...]:
    """``extensions`` lower-cased without dots, each one the reader takes as audio; else a ValueError
    that names the extension and the audio extensions of this installation.

    Example:
        >>> check_extensions([".WAV", "oga"])
        ('wav', 'oga')
    """
    if isinstance(extensions, str):
        extensions = [extensions]
    out = tuple(str(e).lower().lstrip(".") for e in extensions)
    for ext in out:
        if ext not in AUDIO_EXTENSIONS:
            why = not_audio_reason(f"x.{ext}") if ext else "an empty extension"
            raise ValueError(f"extensions must each be an audio extension the reader takes "
                             f"({', '.join(AUDIO_EXTENSIONS)}), got {ext!r}: {why}")
    return out
