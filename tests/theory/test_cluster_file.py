"""Cluster files: good files read exactly, every bad file is one line naming file and row."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import cluster_file as cf
from theory.cluster_file import ClusterSpec, read_cluster, write_cluster


def write(tmp_path, text, name="cluster.csv", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_minimal_file(tmp_path):
    c = read_cluster(write(tmp_path, "h,kappa\n1,0.5\n2,0.5\n4,0\n"))
    assert c.h.tolist() == [1.0, 2.0, 4.0] and c.kappa.tolist() == [0.5, 0.5, 0.0]
    assert c.timing == "fixed" and dict(c.options) == {} and c.n == 3
    assert c.agents is None and c.comments == () and c.source.endswith("cluster.csv")


def test_comments_blank_lines_optional_columns_labels_and_bom(tmp_path):
    text = ("\ufeff# measured by apga calibrate on node1\n#\n"
            "kappa , h ,agent,timing,log_sigma\n\n"
            '0.002,0.0132,"rank0@node1, gpu",lognormal,0.3\n'
            "# a comment between rows\n"
            "0.0023,0.0141,rank1@node1,lognormal,0.3\n")
    c = read_cluster(write(tmp_path, text))
    assert c.h.tolist() == [0.0132, 0.0141] and c.kappa.tolist() == [0.002, 0.0023]
    assert c.timing == "lognormal" and dict(c.options) == {"log_sigma": 0.3}
    assert c.agents == ("rank0@node1, gpu", "rank1@node1")
    assert c.comments == ("measured by apga calibrate on node1", "", "a comment between rows")


def test_empty_option_cell_means_the_default(tmp_path):
    c = read_cluster(write(tmp_path, "h,kappa,timing,jitter\n1,0,uniform,\n2,0,uniform,\n"))
    assert c.timing == "uniform" and dict(c.options) == {}
    c = read_cluster(write(tmp_path, "h,kappa,timing\n1,0,\n2,0,fixed\n", "b.csv"))
    assert c.timing == "fixed"


def test_write_then_read_is_exact_and_keeps_comments(tmp_path):
    rng = np.random.default_rng(0)
    h = rng.lognormal(size=7)  # floats with full mantissas: repr must round-trip them
    c = ClusterSpec(h, h / 3, "uniform", {"jitter": 0.25}, tuple(f"r{i},x" for i in range(7)),
                    ("first",))
    p = write_cluster(tmp_path / "sub" / "c.csv", c, ["measured 2026-01-01\nhost: node1"])
    back = read_cluster(p)
    assert back == ClusterSpec(h, h / 3, "uniform", {"jitter": 0.25}, c.agents,
                               ("first", "measured 2026-01-01", "host: node1"))
    assert np.array_equal(back.h, h)  # bit for bit
    text = p.read_text()
    assert text.startswith("# first\n# measured 2026-01-01\n# host: node1\nagent,h,kappa,")


def test_write_refuses_to_overwrite_unless_asked(tmp_path):
    c = ClusterSpec([1.0], [0.0])
    p = write_cluster(tmp_path / "c.csv", c)
    with pytest.raises(ValueError, match="exists; refusing to overwrite"):
        write_cluster(p, ClusterSpec([2.0], [0.0]))
    assert read_cluster(p).h.tolist() == [1.0]
    write_cluster(p, ClusterSpec([2.0], [0.0]), overwrite=True)
    assert read_cluster(p).h.tolist() == [2.0]
    assert sorted(os.listdir(tmp_path)) == ["c.csv"]  # no temporary file left behind


def test_write_to_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"cluster: .*cannot write") as info:
        write_cluster(blocker / "c.csv", ClusterSpec([1.0], [0.0]))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="is a directory"):
        write_cluster(tmp_path, ClusterSpec([1.0], [0.0]))


def test_models_and_defaults_agree_with_the_clock():
    from algorithms.sim import timing

    assert cf.TIMING_MODELS == timing.TIMING_MODELS
    for key, model in cf.OPTION_MODEL.items():
        assert timing.DEFAULT_OPTIONS[model] == {key: cf.OPTION_DEFAULT[key]}


@pytest.mark.parametrize("timing, options", [
    ("fixed", {}), ("exponential", {}), ("lognormal", {"log_sigma": 0.2}),
    ("uniform", {"jitter": 0.9}),
])
def test_clock_kwargs_build_the_same_clock_as_the_flags(timing, options):
    from algorithms.sim.clock import make_clock

    c = ClusterSpec([1.0, 2.0], [0.5, 1.0], timing, options)
    a = make_clock(**c.clock_kwargs(), seed=3)
    b = make_clock([1.0, 2.0], [0.5, 1.0], timing=timing, seed=3, **options)
    assert a.state_dict() == b.state_dict()


def test_first_n_agents():
    c = ClusterSpec([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], agents=("a", "b", "c"))
    assert c.first(2) == ClusterSpec([1.0, 2.0], [0.1, 0.2], agents=("a", "b"))
    with pytest.raises(ValueError, match="n: the cluster has 3 agents"):
        c.first(4)


def test_spec_is_frozen_and_validates():
    c = ClusterSpec([1.0], [0.0])
    with pytest.raises(ValueError):
        c.h[0] = 3.0  # read-only array
    for args, word in [(([0.0], [0.0]), "h must be > 0"), (([1.0], [-1.0]), "kappa"),
                       (([1.0, 2.0], [1.0, 2.0, 3.0]), "length mismatch"),
                       (([1e12], [0.0]), "exceeds"), (([1.0], [0.0], "gamma"), "timing"),
                       (([1.0], [0.0], "fixed", {"log_sigma": 0.1}), "log_sigma"),
                       (([1.0], [0.0], "uniform", {"jitter": 1.0}), "jitter")]:
        with pytest.raises(ValueError, match=word):
            ClusterSpec(*args)


GOOD_HEADER = "h,kappa\n"
BAD = [
    # (file content, words the one-line message must contain)
    ("", ["empty"]),
    ("# only a comment\n", ["only comments"]),
    ("h,kappa\n", ["no agent rows"]),
    ("h\n1\n", ["line 1", "missing column 'kappa'"]),
    ("kappa\n1\n", ["missing column 'h'"]),
    ("h,kapa\n1,1\n", ["unknown column 'kapa'"]),
    ("h,kappa,H\n1,1,30\n", ["unknown column 'H'"]),
    ("h,kappa,h\n1,1,1\n", ["appears twice"]),
    ("h,kappa,log_sigma\n1,1,0.3\n", ["needs the timing column"]),
    (GOOD_HEADER + "1,1\n2\n", ["row 2 (line 3)", "1 cells"]),
    (GOOD_HEADER + "1,1\nnan,1\n", ["row 2 (line 3), column h", "NaN"]),
    (GOOD_HEADER + "1,1\n1,nan\n", ["row 2 (line 3), column kappa", "NaN"]),
    (GOOD_HEADER + "-1,1\n", ["row 1 (line 2), column h", "> 0"]),
    (GOOD_HEADER + "1,-0.5\n", ["row 1 (line 2), column kappa", ">= 0"]),
    (GOOD_HEADER + "0,1\n", ["row 1 (line 2), column h", "> 0"]),
    (GOOD_HEADER + "1,1\n1,1\ninf,1\n", ["row 3 (line 4), column h", "not finite"]),
    (GOOD_HEADER + "1,1e400\n", ["row 1 (line 2), column kappa", "overflows"]),
    (GOOD_HEADER + "1" + "0" * 400 + ",1\n", ["row 1 (line 2), column h", "overflows"]),
    (GOOD_HEADER + "1e308,1\n", ["row 1 (line 2), column h", "exceed"]),
    (GOOD_HEADER + "fast,1\n", ["row 1 (line 2), column h", "'fast' is not a number"]),
    (GOOD_HEADER + "1_000,1\n", ["column h", "not a plain decimal"]),
    (GOOD_HEADER + ",1\n", ["row 1 (line 2), column h", "not a number"]),
    ("h,kappa,timing\n1,1,gamma\n", ["row 1 (line 2), column timing", "unknown model"]),
    ("h,kappa,timing\n1,1,fixed\n1,1,exponential\n", ["row 2 (line 3)", "one timing model"]),
    ("h,kappa,timing,log_sigma\n1,1,lognormal,0.3\n1,1,lognormal,0.4\n",
     ["row 2 (line 3)", "one timing model"]),
    ("h,kappa,timing,jitter\n1,1,uniform,1.5\n", ["row 1 (line 2), column jitter", "[0, 1)"]),
    ("h,kappa,timing,jitter\n1,1,fixed,0.5\n", ["column jitter", "only for timing uniform"]),
    ("h,kappa,timing,log_sigma\n1,1,lognormal,-1\n", ["column log_sigma", ">= 0"]),
]


@pytest.mark.parametrize("text, words", BAD)
def test_bad_file_is_one_line_naming_file_and_row(tmp_path, text, words):
    p = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        read_cluster(p)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"cluster: {str(p)!r}")
    for w in words:
        assert w in msg


def test_bad_paths_and_bytes(tmp_path):
    cases = [
        (tmp_path / "missing.csv", "no such file"),
        (tmp_path, "is a directory"),
        (write(tmp_path, b"h,kappa\n1,\xff\n", "latin.csv", "wb"), "not UTF-8"),
        (write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00", "img.csv", "wb"), "binary"),
    ]
    for path, word in cases:
        with pytest.raises(ValueError, match=word) as info:
            read_cluster(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_too_many_rows_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.setattr(cf, "MAX_AGENTS", 3)
    p = write(tmp_path, GOOD_HEADER + "1,1\n" * 4)
    with pytest.raises(ValueError, match="more than 3 agent rows"):
        read_cluster(p)
    monkeypatch.setattr(cf, "MAX_BYTES", 10)
    with pytest.raises(ValueError, match="exceed the limit"):
        read_cluster(p)


# Everything but surrogates, NUL and what str.splitlines treats as a line break.
_LABEL_CHARS = st.characters(blacklist_categories=("Cs",),
                             blacklist_characters="\x00\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@settings(max_examples=60)
@given(
    h=st.lists(st.floats(1e-6, 1e6, allow_nan=False), min_size=1, max_size=8),
    kappa_scale=st.floats(0.0, 10.0, allow_nan=False),
    model=st.sampled_from([("fixed", {}), ("exponential", {}), ("lognormal", {"log_sigma": 0.7}),
                           ("uniform", {"jitter": 0.1})]),
    labels=st.one_of(st.none(), st.lists(st.text(_LABEL_CHARS, max_size=12), min_size=8,
                                         max_size=8)),
    comment=st.text(_LABEL_CHARS, max_size=30),
)
def test_any_spec_round_trips_exactly(tmp_path_factory, h, kappa_scale, model, labels, comment):
    agents = None if labels is None else labels[: len(h)]
    c = ClusterSpec(h, [kappa_scale * x for x in h], model[0], model[1], agents)
    path = tmp_path_factory.mktemp("rt") / "c.csv"
    write_cluster(path, c, [comment])
    assert read_cluster(path) == ClusterSpec(c.h, c.kappa, c.timing, c.options, c.agents,
                                             (comment.strip(),))


def test_labels_and_comments_that_cannot_be_written_are_refused(tmp_path):
    for bad in ("a\nb", "a\u2028b", "a\x00b"):
        with pytest.raises(ValueError, match="agents: label"):
            ClusterSpec([1.0], [0.0], agents=(bad,))
    with pytest.raises(ValueError, match="comments"):
        write_cluster(tmp_path / "c.csv", ClusterSpec([1.0], [0.0]), ["a\x00b"])
    c = ClusterSpec([1.0, 2.0], [0.0, 0.0], agents=(" #1, \"x\" ", ""))
    assert c.agents == ('#1, "x"', "")  # stripped; quoted on write
    assert read_cluster(write_cluster(tmp_path / "d.csv", c)).agents == c.agents


# --- the companion cost file and the empirical model ------------------------------------
def test_cost_path_and_round_trip(tmp_path):
    assert cf.cost_path("a/my.csv") == Path("a/my.cost.json")
    assert cf.cost_path("noext") == Path("noext.cost.json")
    p = cf.write_cost(tmp_path / "c.cost.json", {"n": 2, "mode": "server", "x": [1.5]})
    d = cf.read_cost(p)
    assert (d["format"], d["version"], d["n"], d["x"], d["source"]) == (
        "apga-cost", 1, 2, [1.5], str(p))
    with pytest.raises(ValueError, match="exists; refusing to overwrite"):
        cf.write_cost(p, {"n": 2, "mode": "server"})
    with pytest.raises(ValueError, match="not finite"):
        cf.write_cost(tmp_path / "nan.cost.json", {"n": 1, "mode": "server", "x": math.nan})


@pytest.mark.parametrize("text, msg", [
    ("", "not JSON"),
    ("[1]", "not an apga cost file"),
    ('{"format": "apga-cost", "version": 2}', "version 2; this apga reads version 1"),
    ('{"format": "apga-cost", "version": 1, "n": 0, "mode": "server"}', "n must be"),
    ('{"format": "apga-cost", "version": 1, "n": 2, "mode": "ring"}', "mode must be"),
    ('{"format": "apga-cost", "version": 1, "n": 2, "mode": "server", "x": NaN}',
     "NaN is not strict JSON"),
])
def test_bad_cost_files_are_one_line_errors(tmp_path, text, msg):
    p = tmp_path / "b.cost.json"
    p.write_text(text)
    with pytest.raises(ValueError, match=msg):
        cf.read_cost(p)
    (tmp_path / "bin.cost.json").write_bytes(b"\x00\x01")
    with pytest.raises(ValueError, match="binary file"):
        cf.read_cost(tmp_path / "bin.cost.json")


def test_read_cluster_with_the_empirical_model(tmp_path):
    csv = cf.write_cluster(tmp_path / "m.csv", cf.ClusterSpec([0.2, 0.4], [0.0, 0.0]))
    with pytest.raises(ValueError, match=r"m\.cost\.json'?: no such file"):
        cf.read_cluster(csv, empirical=True)
    cf.write_cost(cf.cost_path(csv), {"n": 2, "mode": "allreduce",
                                      "gradient": {"seconds": [[0.1, 0.3], [0.4]]}})
    c = cf.read_cluster(csv, empirical=True)
    assert c.timing == "empirical" and [s.tolist() for s in c.samples] == [[0.1, 0.3], [0.4]]
    assert c.clock_kwargs()["samples"][0].tolist() == [0.1, 0.3]
    assert cf.read_cluster(csv).timing == "fixed"  # the CSV alone: its own model
    sub = c.subset([1])
    assert sub.h.tolist() == [0.4] and [s.tolist() for s in sub.samples] == [[0.4]]
    from algorithms.sim.clock import make_clock

    clock = make_clock(**c.clock_kwargs(), seed=1)
    d = clock.durations(clock.new_key(), clock.h_at(), [0] * 50, list(range(50)))
    assert set(np.round(d, 12)) <= {0.1, 0.3}  # h = 0.2, ratios 0.5 and 1.5
    with pytest.raises(ValueError, match="cannot hold the empirical model's samples"):
        cf.write_cluster(tmp_path / "e.csv", c)
    with pytest.raises(ValueError, match="samples: timing 'empirical' needs"):
        cf.ClusterSpec([1.0], [0.0], "empirical")
    with pytest.raises(ValueError, match="samples: only for timing 'empirical'"):
        cf.ClusterSpec([1.0], [0.0], "fixed", samples=([1.0],))
    cf.write_cost(cf.cost_path(tmp_path / "short.csv"), {"n": 2, "mode": "allreduce",
                                                         "gradient": {"seconds": [[0.1]]}})
    cf.write_cluster(tmp_path / "short.csv", cf.ClusterSpec([0.2, 0.4], [0.0, 0.0]))
    with pytest.raises(ValueError, match="one list of samples per agent"):
        cf.read_cluster(tmp_path / "short.csv", empirical=True)
