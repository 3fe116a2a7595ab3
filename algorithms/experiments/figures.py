"""The paper's MuJoCo figures as data: timing scenarios, panels, methods and claims.

Adding a figure is a few lines here: an :class:`Experiment` with its panels (environment x
timing scenario), its methods and the :class:`Claim` s the paper makes about it. Nothing in
this module imports torch or gymnasium.

Paper: Section 6 (Figure 1), Appendix H (Figures 2-9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.sim.timing import resolve_kappa, resolve_times
from theory import checks

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
    """A statement of the paper about a figure, as a test on the runs.

    key:      identifier (JSON)
    source:   where the sentence is (section)
    text:     the paper's sentence (verbatim)
    kind:     ``better``: ``subject`` ends higher than every method in ``others``;
              ``similar``: every pair of the panel's methods differs by less than the margin;
              ``gap_grows``: subject's lead over ``others`` is larger on ``panel`` than on
              ``ref_panel``; ``gap_smaller``: subject's lead over the best of ``others``,
              divided by the panel's gain, is smaller on ``panel`` than on ``ref_panel``
    panel:    panel key or scenario key the claim is about
    subject:  the method the claim is about (``better``, ``gap_*``)
    others:   the methods it is compared with (default: the paper's baselines, AFedPG as
              its paper defines it and Synchronized NIGT; ``similar`` compares subject and
              others pairwise)
    ref_panel: the reference panel of ``gap_*`` claims
    """

    key: str
    source: str
    text: str
    kind: str
    panel: str
    subject: str = "rennala_nigt"
    others: tuple[str, ...] = ("afedpg_agent", "sync_nigt")
    ref_panel: str | None = None


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
    """

    name: str
    paper: str
    n: int
    panels: tuple[Panel, ...]
    methods: tuple[str, ...] = ("rennala_nigt", "afedpg_agent", "sync_nigt")
    heterogeneous: bool = False
    claims: tuple[Claim, ...] = ()
    runs_of: str | None = None


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
_FIG1_CLAIMS = (
    Claim("s6-i", S6, _EQUAL_TEXT, "similar", "equal"),
    Claim(
        "s6-ii",
        S6,
        "ii) when the computation times are heterogeneous, Rennala NIGT converges faster "
        "than other methods",
        "better",
        "sqrt-sqrt",
    ),
    Claim(
        "s6-iii-robust",
        S6,
        "iii) when the computation times are heterogeneous and the communication times are "
        "large, Rennala NIGT is the only robust method",
        "better",
        "sqrt-sqrtd4",
    ),
    Claim(
        "s6-iii-gap",
        S6,
        "... and the gap increases even more",
        "gap_grows",
        "sqrt-sqrtd4",
        ref_panel="sqrt-sqrt",
    ),
    # not the paper's: the same comparisons against our server-momentum AFedPG
    Claim("x-server-ii", OURS, _VS_SERVER, "better", "sqrt-sqrt", others=("afedpg",)),
    Claim("x-server-iii", OURS, _VS_SERVER, "better", "sqrt-sqrtd4", others=("afedpg",)),
)


def _fig48(fig: int, sc: Scenario, claim: Claim) -> Experiment:
    return Experiment(
        f"fig{fig}",
        f"Figure {fig} (Appendix H.2; the text does not list the tasks, we use those of "
        "Figure 3)",
        100,
        tuple(Panel(e, sc) for e in ("Reacher-v4", "Walker2d-v4", "Hopper-v4")),
        claims=(claim,),
    )


H2 = "Appendix H.2"
_FIG1_PANELS = tuple(Panel("Humanoid-v4", s) for s in (EQUAL, SQRT_SQRT, SQRT_D4))
_FIG3_TEXT = (
    "We observe that our algorithm converges faster on Humanoid-v4 and Reacher-v4. However, "
    "for Walker2d-v4 and Hopper-v4, the gap between the algorithms is less pronounced."
)
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
                Claim(
                    "h1-equal",
                    "Appendix H.1",
                    "observe that the performance of all methods is almost the same",
                    "similar",
                    "equal",
                ),
                Claim(
                    "h1-robust-sqrt",
                    "Appendix H.1",
                    "We observe that Rennala NIGT is the only robust method, and converges "
                    "faster than other methods (h_i = sqrt(i), kappa_i = sqrt(i))",
                    "better",
                    "sqrt-sqrt",
                ),
                Claim(
                    "h1-robust-d4",
                    "Appendix H.1",
                    "We observe that Rennala NIGT is the only robust method, and converges "
                    "faster than other methods (h_i = sqrt(i), kappa_i = sqrt(i) d^(1/4))",
                    "better",
                    "sqrt-sqrtd4",
                ),
            ),
        ),
        Experiment(
            "fig3",
            "Figure 3 (Appendix H.1): Reacher-v4, Walker2d-v4, Hopper-v4 (Humanoid-v4 is "
            "the right panel of fig1)",
            10,
            tuple(Panel(e, SQRT_D4) for e in ("Reacher-v4", "Walker2d-v4", "Hopper-v4")),
            claims=(
                Claim("h1-reacher", "Appendix H.1", _FIG3_TEXT, "better", "Reacher-v4"),
                Claim(
                    "h1-walker2d",
                    "Appendix H.1",
                    _FIG3_TEXT,
                    "gap_smaller",
                    "Walker2d-v4",
                    ref_panel="Reacher-v4",
                ),
                Claim(
                    "h1-hopper",
                    "Appendix H.1",
                    _FIG3_TEXT,
                    "gap_smaller",
                    "Hopper-v4",
                    ref_panel="Reacher-v4",
                ),
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
                "similar",
                "equal",
                others=BASELINES_48,
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
                "better",
                "sqrt-0",
                others=BASELINES_48,
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
                "better",
                "sqrt-sqrt",
                others=BASELINES_48,
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
                "better",
                "sqrt-sqrtd4",
                others=BASELINES_48,
            ),
        ),
        _fig48(
            8,
            QUARTER_D4,
            Claim(
                "h2-fig8",
                H2,
                "in Figure 8, we examine the case where computation times decrease and find "
                "that Rennala NIGT remains the fastest method",
                "better",
                "quarter-sqrtd4",
                others=BASELINES_48,
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
                    "better",
                    "1-10",
                    subject="malenia_nigt",
                    others=("afedpg_agent",),
                ),
            ),
        ),
    )
}
