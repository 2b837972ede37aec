"""Our tar reader against Python's ``tarfile``: random archives that ``tarfile`` writes (ustar, GNU,
pax; long names; pax records with arbitrary values; empty members) give the same regular
members, names and bytes, through both readers."""
import io
import tarfile

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nnaudio_data.data._tar import pax_path, tar_members

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
# pax keys tarfile reads as numbers or as its own fields (a random value there is not a valid
# archive, for either reader): left out of the drawn keys
NUMERIC_KEYS = {"size", "uid", "gid", "mtime", "atime", "ctime", "hdrcharset"}

text = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
component = st.text(text.filter(lambda c: c != "/"), min_size=1, max_size=40).filter(lambda s: s not in (".", ".."))
names = st.lists(component, min_size=1, max_size=8).map("/".join)
pax_key = st.one_of(st.sampled_from(["comment", "path", "linkpath", "uname", "gname", "NNAUDIO.note"]),
                    st.from_regex(r"[A-Za-z][A-Za-z0-9._]{0,12}", fullmatch=True)).filter(
    lambda k: k not in NUMERIC_KEYS and not k.startswith(("GNU.", "SCHILY.", "LIBARCHIVE.")))
pax_value = st.one_of(st.text(text, max_size=60), st.sampled_from(["x\n9 path=y\n", "\n", "30 path=z\n", "= =\n"]))
member = st.tuples(names, st.binary(max_size=1500), st.dictionaries(pax_key, pax_value, max_size=3),
                   st.sampled_from(["file", "file", "file", "dir"]))


def write(members, fmt: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=FORMATS[fmt], encoding="utf-8") as t:
        for name, data, pax, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(data)
            if fmt == "pax":
                if "path" in pax and (not pax["path"] or pax["path"].endswith("/") or "\x00" in pax["path"]):
                    pax = {k: v for k, v in pax.items() if k != "path"}
                info.pax_headers = pax
            t.addfile(info, io.BytesIO(data) if kind == "file" else None)
    return buf.getvalue()


def by_tarfile(raw: bytes):
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as t:
        return [(m.name, t.extractfile(m).read()) for m in t if m.isreg()]


def by_ours(raw: bytes):
    return list(tar_members(io.BytesIO(raw), "t.tar", lambda name, size: True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(member, max_size=6), st.sampled_from(sorted(FORMATS)))
def test_same_members_as_tarfile(members, fmt):
    try:
        raw = write(members, fmt)
    except ValueError:  # a name this format cannot hold (ustar: too long, no split point)
        assume(False)
    assert by_ours(raw) == by_tarfile(raw)


@given(st.dictionaries(pax_key, pax_value, max_size=4), names)
def test_pax_path_is_the_path_record(pax, name):
    """Whatever the other records hold, pax_path finds the ``path`` record tarfile writes (the
    archive's first header is the pax header of its one member)."""
    raw = write([("short", b"", dict(pax, path=name), "file")], "pax")
    assert raw[156:157] == tarfile.XHDTYPE
    size = int(raw[124:136].split(b"\0")[0].strip(), 8)
    assert pax_path(raw[512:512 + size]) == name


# -- one grouping rule: count_samples counts the samples tar_samples groups --------------------------
group_member = st.tuples(st.sampled_from(["a", "b", "d/a"]),
                         st.sampled_from(["flac", "cls", "seg.flac", "json", None]), st.binary(max_size=64))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.lists(group_member, max_size=12))
def test_count_samples_counts_what_tar_samples_groups(tmp_path, members):
    from nnaudio_data.data._errors import ErrorPolicy
    from nnaudio_data.data._shards import count_samples
    from nnaudio_data.data._tar_samples import tar_samples

    path = tmp_path / "s.tar"
    path.write_bytes(write([(k if e is None else f"{k}.{e}", data, {}, "file") for k, e, data in members],
                           "ustar"))
    policy = ErrorPolicy("skip")  # duplicate keys are counted skips, still samples of the shard
    indices = []
    with open(path, "rb") as f:
        indices += [s["__index__"] for s in tar_samples(f, str(path), policy, lambda i: True)]
    skipped = policy.stats.skipped  # an empty shard is reported, but holds no sample
    n = len(indices) + sum(v for reason, v in skipped.items() if reason != "empty_shard")
    assert indices == sorted(set(indices)) and count_samples(str(path)) == n
