"""The launcher: flags -> config -> :func:`run`, the one protocol of every experiment.

  python -m experiments.main --config=experiments/configs/ring.py --workdir=results/ring
  python -m experiments.main --config=experiments/configs/grid.py --workdir=results/grid \
      --config.num_seeds=16 --config.objectives=non_saturating,maximum_likelihood

Objectives registered from your own module train by name once the launcher imports it:

  python -m experiments.main --imports=my_objectives --config.objectives=minimax,my_cost ...

On several hosts, run the same command on each, with ``--coordinator_address`` (process
0's host:port), ``--num_processes`` and this host's ``--process_id``: the runs are
sharded over the devices of every process, and process 0 writes the results.
"""

import importlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jax
import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

from experiments import progress, workdir as workdir_lib
from experiments.workdir import WorkdirError
from gan_theory import engine, sharding
from gan_theory.validation import ConfigError, check_choice

if TYPE_CHECKING:
  from matplotlib.figure import Figure


class Experiment(Protocol):
  """What an experiment module holds: a config in, files out.

  Attributes:
    OUTPUTS: every file and directory it may write in the workdir, ``config.json`` first.
  """

  OUTPUTS: tuple[str, ...]

  def validate(self, config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError naming the first bad field; compiles nothing."""

  def compute(self, config: ml_collections.ConfigDict, workdir: Path) -> Any:
    """The results, on every process; may keep checkpoints in ``workdir`` to resume from."""

  def report(self, config: ml_collections.ConfigDict, results: Any) -> dict[str, "str | Figure"]:
    """The files to write, by name: texts and figures."""

  def failure(self, config: ml_collections.ConfigDict, results: Any) -> str | None:
    """One line if the run failed although it finished (every run diverged), else None."""


class RunFailed(Exception):
  """The experiment finished and wrote what it measured, but failed (every run diverged)."""


# Each experiment by the name a config gives in its `experiment` field: a module of
# experiments/, imported when a run needs it, so that a bad flag is told at once.
EXPERIMENTS = ("gan_sweep", "iwae_bounds", "likelihood_vs_samples", "ml_cost", "theory",
               "vae_digits")


def experiment_module(name: str) -> Experiment:
  """The module of the experiment called ``name``, one of :data:`EXPERIMENTS`."""
  return importlib.import_module(f"experiments.{name}")


def run(
    config: ml_collections.ConfigDict, workdir: str | os.PathLike, overwrite: bool = False
) -> None:
  """Runs the experiment that ``config`` names and writes its results to ``workdir``.

  The config is checked before anything compiles; process 0 claims the workdir (writing
  ``config.json``), every process computes, and process 0 writes each file atomically.

  Raises:
    ConfigError: if the config is not valid; nothing compiles, nothing is written.
    WorkdirError: if the workdir cannot take the results; nothing compiles.
    DoesNotFit: if the runs need more memory than there is; nothing trains, and a
      workdir that held no snapshots still holds no results: any config may take it.
    RunFailed: once the results are written, if the experiment failed (every run diverged).
  """
  experiment = experiment_module(check_choice(config, "experiment", EXPERIMENTS))
  experiment.validate(config)
  path = workdir_lib.claim_on_process_0(workdir, config, experiment.OUTPUTS, overwrite)
  logging.info("%s on the %s", config.experiment, progress.devices_line(jax.devices()))
  results = experiment.compute(config, path)
  if jax.process_index() == 0:
    logging.info("writing the tables and figures")
    files = experiment.report(config, results)
    for name, content in files.items():
      if isinstance(content, str):
        workdir_lib.write_text(path / name, content)
      else:
        workdir_lib.write_figure(path / name, content)
    logging.info("wrote %s to %s", ", ".join(files), path)
  problem = experiment.failure(config, results)
  if problem is not None:
    raise RunFailed(f"{problem}; the results measured until then are in {path}")


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
_IMPORTS = flags.DEFINE_list(
    "imports", [], "Modules to import first, such as ones that register objectives."
)
_COORDINATOR_ADDRESS = flags.DEFINE_string(
    "coordinator_address", None, "Multi-host: host:port of process 0, for jax.distributed."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", 1, "Multi-host: how many processes.")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", 0, "Multi-host: this process, 0 .. num_processes-1."
)


# The parsers' complaints about a value, and what such a flag takes.
_FLAG_TYPES = (
    ("invalid literal for int()", "must be an integer"),
    ("could not convert string to float", "must be a number"),
    ("Non-boolean argument", "must be true or false"),
    ("as tuple", "must be a comma-separated list with no empty item"),
)


def _config_file_error(argv: list[str], reason: str) -> str:
  config_file = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), "")
  return f"error: --config={config_file}: cannot load it ({reason})"


def _flag_error(error: flags.Error, argv: list[str]) -> str:
  """absl's message for a flag it cannot parse, as one line naming the flag."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  if "Error whilst parsing config file" in lines[0]:  # get_config() raised: its last line.
    return _config_file_error(argv, lines[-1])
  text = " ".join(lines)
  if isinstance(error, flags.UnrecognizedFlagError):
    suggestion = re.search(r"Did you mean: (\S+) \?", text)
    hint = f"; did you mean --{suggestion.group(1)}?" if suggestion else ""
    return f"error: --{error.flagname}: no such flag{hint}"
  if "--workdir=None" in text:
    return "error: --workdir is required: the directory that receives the results"
  flag_and_value = re.match(r"flag (--[^=]+=.*?): ", text)
  if flag_and_value is None:
    return "error: " + text
  for problem, allowed in _FLAG_TYPES:
    if problem in text:
      return f"error: {flag_and_value.group(1)} {allowed}"
  return "error: " + text.removeprefix("flag ")


def _parse_flags(argv: list[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as error:  # An explicit --config file's overrides.
    sys.exit(_unknown_field(error, argv))
  except flags.Error as error:  # A value of the wrong type, an unknown or missing flag.
    sys.exit(_flag_error(error, argv))
  except Exception as error:  # The --config file's own code failed, such as a syntax error.
    sys.exit(_config_file_error(argv, f"{type(error).__name__}: {error}"))


def _split_name_lists(config) -> None:
  # `--config.objectives=a,b` arrives as the 1-tuple ("a,b",); make it ("a", "b").
  for field, value in config.items():
    if hasattr(value, "items"):
      _split_name_lists(value)
    elif isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
      config[field] = tuple(name.strip() for v in value for name in v.split(",") if name.strip())



def import_modules(names: list[str]) -> None:
  """Imports each module in ``names``, for what it registers.

  Raises:
    ConfigError: naming the module that could not be imported, and why.
  """
  for name in names:
    try:
      importlib.import_module(name)
    except Exception as error:  # A user's module may fail in any way; say which, in one line.
      raise ConfigError(f"--imports: cannot import {name!r}: {error}") from None


def _initialize_processes() -> None:
  """Joins the other processes of a multi-host run; nothing to do for one process."""
  num_processes, process_id = _NUM_PROCESSES.value, _PROCESS_ID.value
  if num_processes < 1:
    raise ConfigError(f"--num_processes={num_processes} must be a positive integer")
  if not 0 <= process_id < num_processes:
    raise ConfigError(f"--process_id={process_id} must be in 0..{num_processes - 1}")
  if num_processes == 1:
    return
  if not _COORDINATOR_ADDRESS.value:
    raise ConfigError("--coordinator_address=host:port is required with --num_processes > 1")
  jax.distributed.initialize(
      coordinator_address=_COORDINATOR_ADDRESS.value,
      num_processes=num_processes,
      process_id=process_id,
  )


def interrupted_line(interrupt: KeyboardInterrupt) -> str:
  """The one line for Ctrl-C: the step reached, and what the same command does next."""
  if not isinstance(interrupt, engine.Interrupted):  # Before training, or after it.
    return "interrupted: the same command resumes from the last checkpoint, if there is one"
  if interrupt.saved_step is None:
    return f"interrupted at step {interrupt.steps_done:,}: the same command starts again"
  return (f"interrupted at step {interrupt.steps_done:,}: the same command resumes from the"
          f" checkpoint at step {interrupt.saved_step:,}")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    config = _CONFIG.value
    _split_name_lists(config)
  except OSError as error:  # ml_collections reports a config file it could not find here.
    sys.exit(_config_file_error(sys.argv, str(error).strip().splitlines()[-1].strip()))
  sharding.use_every_cpu_core()  # Before a user's module may start JAX.
  try:
    import_modules(_IMPORTS.value)
    check_choice(config, "experiment", EXPERIMENTS)
    _initialize_processes()
    run(config, _WORKDIR.value, overwrite=_OVERWRITE.value)
  except (ConfigError, WorkdirError, engine.DoesNotFit) as error:
    sys.exit(f"error: {error}")
  except RunFailed as error:
    sys.exit(f"failed: {error}")
  except jax.errors.JaxRuntimeError as error:  # Memory the estimate before training missed.
    if "RESOURCE_EXHAUSTED" not in str(error):
      raise
    sys.exit(f"error: out of memory ({str(error).splitlines()[0][:200]}): the same command"
             " resumes from the last checkpoint, if there is one; fewer runs or smaller sizes"
             " would fit")
  except KeyboardInterrupt as interrupt:
    sys.exit(interrupted_line(interrupt))


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
