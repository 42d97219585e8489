"""The launcher: flags -> config -> experiment.run(config, workdir).

  python -m experiments.main --config=experiments/configs/ring.py --workdir=results/ring
  python -m experiments.main --config=experiments/configs/grid.py --workdir=results/grid \
      --config.num_seeds=16 --config.objectives=non_saturating,maximum_likelihood
"""

import sys
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from experiments import gan_sweep
from experiments.workdir import WorkdirError
from gan_theory.validation import ConfigError, check_choice

EXPERIMENTS = {"gan_sweep": gan_sweep}

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    str(Path(__file__).parent / "configs" / "ring.py"),
    "Experiment config file; override fields with --config.<field>=<value>.",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the results.", required=True)
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Replace results of a different config in --workdir."
)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  config = _CONFIG.value
  try:
    experiment = EXPERIMENTS[check_choice(config, "experiment", EXPERIMENTS)]
    experiment.run(config, _WORKDIR.value, overwrite=_OVERWRITE.value)
  except (ConfigError, WorkdirError) as error:
    sys.exit(f"error: {error}")


if __name__ == "__main__":
  app.run(main)
