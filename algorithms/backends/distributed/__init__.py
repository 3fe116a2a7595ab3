"""Real execution of the methods on torch.distributed processes (``apga launch``).

The simulated clock (:mod:`algorithms.sim.clock`) decides *when* gradients finish; this package
replaces it by real processes and wall-clock time while keeping everything else: the
method modules (Algorithm 1, AFedPG), the update rules, the oracles and the record types.
The seam is the ``clock`` of :class:`algorithms.methods.base.Context`: a real backend
object provides ``aggregate(kind, theta, M, ctx)`` (Algorithms 2 and 3, a synchronized
round) and ``greedy(oracle, rng)`` (AFedPG's scheduler), and the method code calls them
instead of planning on the simulated clock.

Modes (Assumption 2.5: centralized and decentralized communication):

- **allreduce** (decentralized, the default; :mod:`.allreduce`): every rank is an agent and
  holds theta; Algorithm 1 runs in lockstep; each aggregation is one ``all_reduce``.
- **server** (centralized; :mod:`.server`): one extra process holds theta; agents send
  every gradient as it finishes (point-to-point), the server receives from any source.

Launch: processes are started by torch's elastic agent (the engine behind ``torchrun``),
see :mod:`.node` and :mod:`.launcher` (signals, the run folder's lock, failures); every
process starts as :mod:`.startup` says (roll call, the same spec everywhere, device,
process group) and runs :mod:`.loop` (records, checkpoints, ``--resume``);
``apga launch`` (:mod:`algorithms.cli.launch`) is the command.

Importing this package imports torch: only ``apga launch`` / ``apga calibrate`` do.

Paper: Algorithms 1-3 and the note under Algorithm 3 (local aggregation, one AllReduce),
Assumption 2.5, Section 4.1 (AFedPG's greedy server).
"""
