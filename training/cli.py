"""``fakevlm-train``: run the training recipe from a YAML config plus ``key=value`` overrides.

A config whose ``method.kind`` is an expert detector's (``npr``, ``univfd``, ``cnn``) runs
:mod:`fakevlm_training.detectors`; any other runs the LLaVA recipe.

Works under every launcher: ``fakevlm-train --config C``, ``torchrun --nproc_per_node N -m
fakevlm_training.cli --config C``, ``accelerate launch -m fakevlm_training.cli --config C`` and
``deepspeed --num_gpus N --module fakevlm_training.cli --config C``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .config import ConfigError, dump, load_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fakevlm-train",
        description="Fine-tune LLaVA on FakeClue-format data (FakeVLM, NeurIPS 2025), or train an expert detector (NPR, UnivFD).",
        epilog="Example: fakevlm-train --config training/configs/fakevlm_7b.yaml "
        "data.train_json=/data/FakeClue/data_json/train.json data.image_roots=[/data/FakeClue/train]",
    )
    parser.add_argument("--config", required=True, help="recipe YAML (see training/configs/)")
    parser.add_argument("overrides", nargs="*", help="section.key=value (YAML values), e.g. training.learning_rate=1e-5")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    # The deepspeed launcher passes --local_rank; the process group is set up from the environment.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .detectors import DetectorTrainingRecipe, is_detector_config, load_detector_config

    try:
        detector = is_detector_config(args.config)
        load = load_detector_config if detector else load_config
        cfg = load(args.config, args.overrides, require_data=not args.print_config)
    except ConfigError as exc:
        print(f"fakevlm-train: invalid config: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print(dump(cfg), end="")
        return 0

    from .recipe import FakeVLMTrainingRecipe, setup_logging

    setup_logging(logging.INFO)
    try:
        (DetectorTrainingRecipe if detector else FakeVLMTrainingRecipe)(cfg).run()
    except ConfigError as exc:
        print(f"fakevlm-train: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
