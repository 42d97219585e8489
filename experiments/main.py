"""The launcher: flags -> config -> experiment.run(config, workdir).

  python -m experiments.main --config=experiments/configs/ring.py --workdir=results/ring
  python -m experiments.main --config=experiments/configs/grid.py --workdir=results/grid \
      --config.num_seeds=16 --config.objectives=non_saturating,maximum_likelihood
"""

import re
import sys
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from experiments import gan_sweep
from experiments.workdir import WorkdirError
from gan_theory.validation import ConfigError, check_choice

EXPERIMENTS = {"gan_sweep": gan_sweep}


def _unknown_field(error: Exception, argv: list[str]) -> str:
  # The error's text is the repr of a KeyError: the quoted field, maybe a suggestion.
  text = str(error)
  field = re.search(r"'([^'\\]+)", text)
  field = field.group(1) if field else text
  flag = next(
      (a.split("=")[0] for a in argv if a.split("=")[0].startswith("--config.")
       and a.split("=")[0].endswith(f".{field}")),
      field,
  )
  suggestion = re.search(r'Did you mean "([^"]+)"', text)
  hint = f"; did you mean {suggestion.group(1)!r}?" if suggestion else ""
  return f"error: {flag}: no such field in the config{hint}"


# ml_collections parses the default config and its --config.* overrides right here, and
# raises AttributeError or KeyError, with a long traceback, for a field it lacks.
try:
  _CONFIG = config_flags.DEFINE_config_file(
      "config",
      str(Path(__file__).parent / "configs" / "ring.py"),
      "Experiment config file; override fields with --config.<field>=<value>.",
      lock_config=True,
  )
except (AttributeError, KeyError) as error:
  sys.exit(_unknown_field(error, sys.argv))

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the results.", required=True)
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Replace results of a different config in --workdir."
)


def _parse_flags(argv: list[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as error:  # An explicit --config file's overrides.
    sys.exit(_unknown_field(error, argv))


def _split_name_lists(config) -> None:
  # `--config.objectives=a,b` arrives as the 1-tuple ("a,b",); make it ("a", "b").
  for field, value in config.items():
    if hasattr(value, "items"):
      _split_name_lists(value)
    elif isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
      config[field] = tuple(name.strip() for v in value for name in v.split(",") if name.strip())



def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  config = _CONFIG.value
  _split_name_lists(config)
  try:
    experiment = EXPERIMENTS[check_choice(config, "experiment", EXPERIMENTS)]
    experiment.run(config, _WORKDIR.value, overwrite=_OVERWRITE.value)
  except (ConfigError, WorkdirError) as error:
    sys.exit(f"error: {error}")


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
