"""The paper's MuJoCo figures as data: timing scenarios, panels, methods and claims.

Adding a figure is a few lines here: an :class:`Experiment` with its panels (environment x
timing scenario), its methods and the :class:`Claim` s the paper makes about it. Nothing in
this module imports torch or gymnasium.

Paper: Section 6 (Figure 1), Appendix H (Figures 2-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from algorithms.sim.timing import resolve_kappa, resolve_times
from theory import checks

if TYPE_CHECKING:
    from theory.cluster_file import ClusterSpec

#: Horizon H of each Appendix H task (1024 for tasks the paper does not list).
PAPER_H = {"Humanoid-v4": 512, "Reacher-v4": 1024, "Walker2d-v4": 1024, "Hopper-v4": 1024}


def paper_H(env_id: str) -> int:
    """The paper's horizon for ``env_id`` (Appendix H; 1024 for tasks it does not list)."""
    return PAPER_H.get(env_id, 1024)


@dataclass(frozen=True)
class Scenario:
    """Computation and communication times of one panel (Appendix H).

    key:    short identifier (file names)
    label:  the paper's wording
    h:      profile name (``equal``, ``sqrt``, ``quarter``) or explicit h_i
    kappa:  a number (every kappa_i), ``sqrt`` (kappa_i = sqrt(i)) or ``sqrt_d4``
            (kappa_i = sqrt(i) d^(1/4), d = number of policy parameters); read by
            :func:`algorithms.sim.timing.resolve_kappa`
    """

    key: str
    label: str
    h: str | tuple[float, ...]
    kappa: str | float

    def times(self, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(h_i, kappa_i) for agents i = 1..n and d policy parameters.

        Notes
        -----
        .. math:: \\kappa_i \\in \\{0,\\ \\sqrt{i},\\ \\sqrt{i}\\, d^{1/4}\\}

        Paper: Appendix H.1-H.2 (Figures 1-8).
        """
        n = checks.count("n", n)
        return resolve_times("h", self.h, n), resolve_kappa(self.kappa, n, d)

    def cluster(self, n: int, d: int) -> ClusterSpec:
        """The scenario's cluster of n agents (fixed times; :meth:`times`) as the one cluster
        value the simulated clock reads."""
        from theory.cluster_file import ClusterSpec

        return ClusterSpec(*self.times(n, d))


EQUAL = Scenario("equal", "h_i = 1, kappa_i = 0", "equal", 0.0)
SQRT_FREE = Scenario("sqrt-0", "h_i = sqrt(i), kappa_i = 0", "sqrt", 0.0)
SQRT_SQRT = Scenario("sqrt-sqrt", "h_i = sqrt(i), kappa_i = sqrt(i)", "sqrt", "sqrt")
SQRT_D4 = Scenario("sqrt-sqrtd4", "h_i = sqrt(i), kappa_i = sqrt(i) d^(1/4)", "sqrt", "sqrt_d4")
QUARTER_D4 = Scenario(
    "quarter-sqrtd4", "h_i = i^(1/4), kappa_i = sqrt(i) d^(1/4)", "quarter", "sqrt_d4"
)
FAST_SLOW = Scenario("1-10", "h = (1, 10), kappa = 0", (1.0, 10.0), 0.0)


@dataclass(frozen=True)
class Panel:
    """One subplot: an environment under one timing scenario."""

    env_id: str
    scenario: Scenario

    @property
    def key(self) -> str:
        return f"{self.env_id}_{self.scenario.key}"


@dataclass(frozen=True)
class Claim:
    """A statement of the paper about a figure, as tests on the runs
    (:mod:`algorithms.experiments.judging` decides them).

    key:        identifier (JSON)
    source:     where the sentence is (section)
    text:       the paper's sentence (verbatim)
    tests:      what the wording asserts, all of which must hold:
                ``better``: ``subject`` beats every method of ``others`` on ``panel`` (by
                ``effect`` x the panel's gain: "much higher", "significantly");
                ``similar``: every pair of subject and others within 20% of the gain;
                ``robust``: subject's degradation from ``ref_panel`` (the easy scenario) to
                ``panel`` is smaller than every other's ("the only robust method");
                ``gap_grows``: subject's lead over each other is larger on ``panel`` than on
                ``ref_panel``; ``gap_smaller``: ... smaller, in units of each panel's gain
    panel:      panel key, scenario key or environment; ``figN:KEY`` is a panel of figure N
                (read from its folder given to ``--merge``)
    subject:    the method the claim is about
    others:     the methods it is compared with (default: the paper's baselines, AFedPG as
                its paper defines it and Synchronized NIGT)
    ref_panel:  the reference panel of ``robust`` / ``gap_*``
    metric:     the metric the wording names: ``average`` (time-averaged return over
                [0, T]: "converges faster", "performance") or ``final`` (return at T:
                "achieves a much higher reward")
    effect:     the lead ``better`` requires, as a fraction of the panel's gain (0: any)
    family:     ``paper`` (the paper's claims) or ``ours`` (our own checks): the Holm family
                is one figure's judged claims of one family on one metric
    note:       how the wording was made testable
    untestable: why the claim cannot be tested from these runs (then never judged)
    """

    key: str
    source: str
    text: str
    tests: tuple[str, ...]
    panel: str
    subject: str = "rennala_nigt"
    others: tuple[str, ...] = ("afedpg_agent", "sync_nigt")
    ref_panel: str | None = None
    metric: str = "average"
    effect: float = 0.0
    family: str = "paper"
    note: str = ""
    untestable: str = ""

    @property
    def kind(self) -> str:
        """The tests joined by '+' (tables)."""
        return "+".join(self.tests) if not self.untestable else "untestable"


@dataclass(frozen=True)
class Experiment:
    """One of the paper's figures.

    name:           CLI name
    paper:          where it is in the paper
    n:              number of agents
    panels:         subplots (environment x timing scenario)
    methods:        registry names compared
    heterogeneous:  Appendix H.3 pair of environments (agent i uses env i % 2)
    claims:         what the paper says about the figure
    runs_of:        the experiment whose runs this one judges (Figure 2 shows Figure 1's
                    runs): the same plan id, so ``--merge`` reads that experiment's folders
    refs:           experiments whose panels claims refer to (``figN:KEY``); their folders
                    may be given to ``--merge``
    """

    name: str
    paper: str
    n: int
    panels: tuple[Panel, ...]
    methods: tuple[str, ...] = ("rennala_nigt", "afedpg_agent", "sync_nigt")
    heterogeneous: bool = False
    claims: tuple[Claim, ...] = ()
    runs_of: str | None = None
    refs: tuple[str, ...] = ()


BASELINES_48 = ("afedpg_agent", "sync_nigt")
#: Figure 1 also runs AFedPG with server-side momentum (our stronger variant, not the paper's)
FIG1_METHODS = ("rennala_nigt", "afedpg_agent", "afedpg", "sync_nigt")
S6 = "Section 6"
OURS = "not in the paper"
_VS_SERVER = (
    "(our check) Rennala NIGT against AFedPG with server-side momentum, the stronger variant"
)
_EQUAL_TEXT = (
    "i) when the computation times are equal, all methods exhibit almost the same "
    "performance, which is expected since they reduce to nearly the same algorithm"
)
#: "much higher", "significantly": a lead of at least this fraction of the panel's gain
LARGE = 0.2
_ROBUST_NOTE = ("'only robust': its loss from the equal-times panel (the easy scenario) to "
                "this one is smaller than every baseline's")
_FIG1_CLAIMS = (
    Claim("s6-i", S6, _EQUAL_TEXT, ("similar",), "equal",
          note="'almost the same performance': time-averaged returns within 20% of the "
               "panel's gain, pairwise"),
    Claim(
        "s6-ii",
        S6,
        "ii) when the computation times are heterogeneous, Rennala NIGT converges faster "
        "than other methods",
        ("better",),
        "sqrt-sqrt",
        note="'converges faster': a higher time-averaged return than each baseline",
    ),
    Claim(
        "s6-iii-robust",
        S6,
        "iii) when the computation times are heterogeneous and the communication times are "
        "large, Rennala NIGT is the only robust method",
        ("robust",),
        "sqrt-sqrtd4",
        ref_panel="equal",
        note=_ROBUST_NOTE,
    ),
    Claim(
        "s6-iii-gap",
        S6,
        "... and the gap increases even more",
        ("gap_grows",),
        "sqrt-sqrtd4",
        ref_panel="sqrt-sqrt",
        note="the lead over each baseline is larger than in the middle panel",
    ),
    # not the paper's: the same comparisons against our server-momentum AFedPG
    Claim("x-server-ii", OURS, _VS_SERVER, ("better",), "sqrt-sqrt", others=("afedpg",),
          family="ours"),
    Claim("x-server-iii", OURS, _VS_SERVER, ("better",), "sqrt-sqrtd4", others=("afedpg",),
          family="ours"),
)


def _fig48(fig: int, sc: Scenario, *claims: Claim, refs: tuple[str, ...] = ()) -> Experiment:
    return Experiment(
        f"fig{fig}",
        f"Figure {fig} (Appendix H.2; the text does not list the tasks, we use those of "
        "Figure 3)",
        100,
        tuple(Panel(e, sc) for e in ("Reacher-v4", "Walker2d-v4", "Hopper-v4")),
        claims=claims,
        refs=refs,
    )


H1 = "Appendix H.1"
H2 = "Appendix H.2"
_FIG1_PANELS = tuple(Panel("Humanoid-v4", s) for s in (EQUAL, SQRT_SQRT, SQRT_D4))
_FIG3_TEXT = (
    "We observe that our algorithm converges faster on Humanoid-v4 and Reacher-v4. However, "
    "for Walker2d-v4 and Hopper-v4, the gap between the algorithms is less pronounced."
)
_H1_ROBUST = ("We observe that Rennala NIGT is the only robust method, and converges faster "
              "than other methods")
_FASTER = "'converges faster': a higher time-averaged return than each baseline"
_LESS = ("'less pronounced': Rennala NIGT's lead over each baseline, in units of the "
         "panel's gain, is smaller than on Reacher-v4")
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "fig1",
            "Figure 1 (Section 6): Humanoid-v4, increasing heterogeneity",
            10,
            _FIG1_PANELS,
            FIG1_METHODS,
            claims=_FIG1_CLAIMS,
        ),
        Experiment(
            "fig2",
            "Figure 2 (Appendix H.1): the Figure 1 runs, with the H.1 text",
            10,
            _FIG1_PANELS,
            FIG1_METHODS,
            runs_of="fig1",
            claims=(
                Claim("h1-equal", H1,
                      "observe that the performance of all methods is almost the same",
                      ("similar",), "equal",
                      note="time-averaged returns within 20% of the panel's gain, pairwise"),
                Claim("h1-robust-sqrt", H1, _H1_ROBUST + " (h_i = sqrt(i), kappa_i = sqrt(i))",
                      ("robust", "better"), "sqrt-sqrt", ref_panel="equal",
                      note=_ROBUST_NOTE + "; and " + _FASTER),
                Claim("h1-robust-d4", H1,
                      _H1_ROBUST + " (h_i = sqrt(i), kappa_i = sqrt(i) d^(1/4))",
                      ("robust", "better"), "sqrt-sqrtd4", ref_panel="equal",
                      note=_ROBUST_NOTE + "; and " + _FASTER),
            ),
        ),
        Experiment(
            "fig3",
            "Figure 3 (Appendix H.1): Reacher-v4, Walker2d-v4, Hopper-v4 (Humanoid-v4 is "
            "the right panel of fig1)",
            10,
            tuple(Panel(e, SQRT_D4) for e in ("Reacher-v4", "Walker2d-v4", "Hopper-v4")),
            claims=(
                Claim("h1-reacher", H1, _FIG3_TEXT, ("better",), "Reacher-v4", note=_FASTER
                      + " (the Humanoid-v4 half is s6-iii-robust's panel, judged in fig1)"),
                Claim("h1-walker2d", H1, _FIG3_TEXT, ("gap_smaller",), "Walker2d-v4",
                      ref_panel="Reacher-v4", note=_LESS),
                Claim("h1-hopper", H1, _FIG3_TEXT, ("gap_smaller",), "Hopper-v4",
                      ref_panel="Reacher-v4", note=_LESS),
            ),
        ),
        _fig48(
            4,
            EQUAL,
            Claim(
                "h2-fig4",
                H2,
                "in the equal-times case shown in Figure 4, all algorithms scale with the "
                "number of agents and exhibit similar performance",
                ("similar",),
                "equal",
                others=BASELINES_48,
                note="'similar performance': time-averaged returns within 20% of the panel's "
                     "gain, pairwise",
            ),
            Claim(
                "h2-fig4-scale",
                H2,
                "all algorithms scale with the number of agents",
                (),
                "equal",
                untestable="scaling needs runs of the same task at several n on one time "
                "axis; Figure 4 has n = 100 only, and Figure 1 (n = 10) is another task "
                "with another horizon and time axis",
            ),
        ),
        _fig48(
            5,
            SQRT_FREE,
            Claim(
                "h2-fig5",
                H2,
                "In Figure 5, communication is free while computation times are "
                "heterogeneous. We observe that Rennala NIGT converges faster",
                ("better",),
                "sqrt-0",
                others=BASELINES_48,
                note=_FASTER,
            ),
        ),
        _fig48(
            6,
            SQRT_SQRT,
            Claim(
                "h2-fig6",
                H2,
                "In Figure 6, communication times are equal to computation times. Here, "
                "Rennala NIGT still achieves the best convergence rate",
                ("better",),
                "sqrt-sqrt",
                others=BASELINES_48,
                note="'the best convergence rate': a higher time-averaged return than each "
                     "baseline",
            ),
        ),
        _fig48(
            7,
            SQRT_D4,
            Claim(
                "h2-fig7",
                H2,
                "In Figure 7, we increase the communication time and observe that the "
                "performance gap also increases: Rennala NIGT is significantly faster",
                ("better",),
                "sqrt-sqrtd4",
                others=BASELINES_48,
                effect=LARGE,
                note="'significantly faster': a time-averaged return higher than each "
                     f"baseline's by more than {LARGE:.0%} of the panel's gain",
            ),
            Claim(
                "h2-fig7-gap",
                H2,
                "In Figure 7, we increase the communication time and observe that the "
                "performance gap also increases",
                ("gap_grows",),
                "sqrt-sqrtd4",
                others=BASELINES_48,
                ref_panel="fig6:sqrt-sqrt",
                note="the lead over each baseline is larger than in Figure 6 (same task, "
                     "seeds and budget; needs fig6's folder in --merge)",
            ),
            refs=("fig6",),
        ),
        _fig48(
            8,
            QUARTER_D4,
            Claim(
                "h2-fig8",
                H2,
                "in Figure 8, we examine the case where computation times decrease and find "
                "that Rennala NIGT remains the fastest method",
                ("better",),
                "quarter-sqrtd4",
                others=BASELINES_48,
                note="'the fastest method': a higher time-averaged return than each baseline",
            ),
        ),
        Experiment(
            "fig9",
            "Figure 9 (Appendix H.3): heterogeneous Humanoid-v4 pair",
            2,
            (Panel("Humanoid-v4", FAST_SLOW),),
            ("malenia_nigt", "rennala_nigt", "afedpg_agent", "sync_nigt"),
            heterogeneous=True,
            claims=(
                Claim(
                    "h3-malenia",
                    "Appendix H.3",
                    "In Figure 9, we can see a large gap between Malenia NIGT and AFedPG: "
                    "Malenia NIGT achieves a much higher reward",
                    ("better",),
                    "1-10",
                    subject="malenia_nigt",
                    others=("afedpg_agent",),
                    metric="final",
                    effect=LARGE,
                    note="'a much higher reward': a final return higher than AFedPG's by "
                         f"more than {LARGE:.0%} of the panel's gain",
                ),
            ),
        ),
    )
}
