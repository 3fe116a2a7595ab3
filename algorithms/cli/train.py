"""``apga train``: one method on a tabular setting, on the simulated clock."""

from __future__ import annotations

import argparse

from algorithms.cli import _common
from algorithms.cli import _types as ty

COMMAND = "train"
ORDER = 40
HELP = "train one method on a tabular MDP on the simulated clock (records, plot, checkpoints)"
DESCRIPTION = """Train one method on a tabular MDP on the simulated clock.

Default: Rennala NIGT on a 10-state, 3-action Garnet MDP (gamma 0.9, H 30), n = 10 agents
with h_i = sqrt(i), kappa = 0, 1000 simulated seconds, seed 0. Writes
<out>/<method>_seed<s>.csv (one row per iteration: simulated time, gradients evaluated
and simulated, communications, exact J and ||grad J||), <out>/summary.json and
<out>/train.png. Resume an interrupted run with --resume. An --out folder holds one run:
another run into it (other seed, hyperparameters or setting) is refused, and so is a
second process writing into it at the same time."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method", default="rennala_nigt", help="method name (see `apga compare --list`)"
    )
    p.add_argument("--seed", type=ty.integer(0), default=0, help="run seed (default %(default)s)")
    _common.add_setting_arguments(p)
    _common.add_checkpoint_arguments(p)
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write TensorBoard scalars of every run under DIR (simulated "
                   "seconds on the Relative axis; needs the tensorboard extra)")


def run(args: argparse.Namespace) -> int:
    import warnings

    from algorithms.methods.registry import get
    from algorithms.run.report import plot_runs
    from theory import jsonio

    spec = get(args.method)
    if args.tensorboard is not None:
        from algorithms.run.tensorboard import require

        require()
    setting = _common.setting_from(args)
    identity = _common.run_identity(args, setting, [spec], method=spec.name, seed=args.seed)
    if args.dry_run:
        return _common.dry_run(args, setting, [spec], 1, identity)
    with _common.open_out(args, f"{spec.name}-seed{args.seed}", identity) as out:
        note = _common.homogeneous_note(spec, setting)
        if note:
            warnings.warn(note, stacklevel=1)
        prepared = _common.prepare(spec, setting, args)
        result = _common.run_one(
            spec, setting, args.seed, args, out, prepared, progress=_common.progress_enabled(args)
        )
        if args.tensorboard is not None:
            from algorithms.run.tensorboard import write_records

            write_records(args.tensorboard, f"{spec.name}-seed{args.seed}", result.records)
        summary = _common.summarise({spec.name: [result]}, args.target, args.target_J)
        payload = {
            "command": "train",
            "setting": setting.to_dict(),
            "seed": args.seed,
            "cluster": args.cluster,
            "summary": summary,
            "theory": result.meta.get("theory", {}),
            "records": f"{spec.name}_seed{args.seed}.csv",
        }
        out.write_json("summary.json", payload)
        if not args.no_plot:
            with out.writing("train.png") as tmp:
                plot_runs(
                    {spec.title: [result]},
                    tmp,
                    title=f"{spec.title} on {setting.env} "
                    f"(n={setting.n}, h={setting.h}, kappa={setting.kappa})",
                )
    if args.json:
        print(jsonio.dumps(payload, indent=2))
    else:
        _common.print_summary(summary, args.target, f"apga train: {spec.title}", args.target_J)
        print(f"records, summary{'' if args.no_plot else ' and plot'} written to {out.path}/")
    return 0
