"""Command line: ``sklearn-lt demo`` (the main job) and helpers.

The demo needs no data folder: it makes scikit-learn's bundled digits
long-tailed, trains a small backbone with plain instance-balanced sampling,
then re-balances only the classifier with each stage-2 head on the cached
features (the decoupling recipe of Kang et al., ICLR 2020).
"""

import argparse
import sys
import time


def _row(name, y_test, proba, classes, counts, seconds):
    from .metrics import expected_calibration_error, negative_log_likelihood, shot_accuracy

    acc = shot_accuracy(y_test, classes[proba.argmax(1)], counts)
    return (name, acc["many"], acc["medium"], acc["few"], acc["all"],
            negative_log_likelihood(y_test, proba, labels=classes),
            expected_calibration_error(y_test, proba, labels=classes), seconds)


def _demo(args):
    import numpy as np

    from . import heads
    from .backbone import Backbone
    from .datasets import load_digits_lt
    kw = {} if args.imbalance_factor is None else {"imbalance_factor": args.imbalance_factor}
    d = load_digits_lt(random_state=args.seed, **kw)
    counts = dict(zip(*np.unique(d.y_train, return_counts=True)))
    print(f"digits-LT: {len(d.y_train)} train samples, class counts "
          f"{[int(counts[c]) for c in sorted(counts)]}; balanced test set of {len(d.y_test)}")

    t0 = time.perf_counter()
    # SWAG (SWA from 75% of the epochs, two snapshots per epoch) gives every head
    # the averaged features and SWAGReprClassifier its stochastic representations.
    backbone = Backbone(module="mlp", max_epochs=args.epochs, batch_size=64, lr=0.05,
                        weight_decay=5e-4, swag=True, swa_snapshots_per_epoch=2,
                        random_state=args.seed, verbose=args.verbose)
    Z_train = backbone.fit_transform(d.X_train, d.y_train)
    t_backbone = time.perf_counter() - t0
    print(f"stage 1: MLP backbone, {args.epochs} epochs, instance-balanced CE, SWA + SWAG "
          f"({backbone.swag_samples} sampled networks), {t_backbone:.1f}s")

    # Features are computed once and shared by every head (stage 2 never
    # re-runs the backbone).
    Z_test = backbone.transform(d.X_test)
    # The stage-2 SGD defaults are Kang et al.'s ImageNet-LT config (batch 512):
    # on 489 images that is 5 steps in 5 epochs, too few to move anything.
    # A class-aware epoch is K * max_j n_j = 1,440 draws here; batch 64 with the
    # lr scaled linearly and 10 epochs gives about 230 steps. The meta-weighted
    # head samples instances (the paper's): its epoch is 489 draws, so it gets
    # 80 steps and trails the others here (its docstring gives budgets).
    catalog = heads.head_catalog(joint_head=(backbone.coef_, backbone.intercept_),
                                 sgd_params=dict(batch_size=64, lr=0.025, epochs=10),
                                 random_state=args.seed)
    rows = [_row("joint", d.y_test, backbone.predict_proba(d.X_test), backbone.classes_,
                 counts, t_backbone)]
    for name, head in catalog:
        t0 = time.perf_counter()
        head.fit(Z_train, d.y_train)
        seconds = time.perf_counter() - t0
        rows.append(_row(name, d.y_test, head.predict_proba(Z_test), head.classes_, counts,
                         seconds))

    header = (f"{'method':<18}{'many':>7}{'medium':>8}{'few':>7}{'all':>7}{'NLL':>7}{'ECE':>7}"
              f"{'fit s':>8}")
    print(header)
    print("-" * len(header))
    for name, *vals in rows:
        many, med, few, all_, nll, ece, sec = vals
        print(f"{name:<18}{100 * many:>7.1f}{100 * med:>8.1f}{100 * few:>7.1f}{100 * all_:>7.1f}"
              f"{nll:>7.3f}{ece:>7.3f}{sec:>8.2f}")
    print("many/medium/few: classes with >100 / 20-100 / <20 training samples; "
          "'all' = mean per-class accuracy on the balanced test set (%).")
    return 0


def main(argv=None):
    """Run the ``sklearn-lt`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``None`` reads ``sys.argv``.
        Without a command, ``demo`` runs.

    Returns
    -------
    status : int
        Exit status, 0 once the command has run (invalid arguments make
        argparse exit with status 2).
    """
    parser = argparse.ArgumentParser(prog="sklearn-lt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="decoupled training on digits-LT (no data folder needed)")
    demo.add_argument("--epochs", type=int, default=60)
    demo.add_argument("--imbalance-factor", type=float, default=None,
                      help="default: load_digits_lt's default")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--verbose", type=int, default=0)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo", *argv]  # no command: the demo, with its options
    args = parser.parse_args(argv)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
