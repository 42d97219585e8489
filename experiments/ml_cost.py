"""Does the maximum-likelihood cost recover maximum likelihood? Each generator objective
against the oracle discriminator and against discriminators trained k steps per generator
step, paired with maximum likelihood itself (the `mle` row) on the same seeds.

A GAN sweep per discriminator setting (``config.oracle``, then each of
``config.discriminator_step_counts``), every objective at every seed in each, resumed from
``workdir/checkpoints/<setting>``. The costs that do not read the discriminator (`mle`,
`mmd`) would train the same runs in every setting, so they run in the first setting
alone: each setting's runs are paired with its `mle` runs, the baseline.

Writes to the workdir: config.json; checkpoints/; results.csv (a row per setting,
objective, seed and evaluation step: the held-out NLL, its excess over the paired `mle`
run's, the discriminator's distance to D*, the weights' effective sample size, the
gradient's variance); summary.md (final values, mean ± standard error over seeds, as
objective x setting tables, and the headline); curves.png.
"""

import copy
import functools
from pathlib import Path
from typing import NamedTuple

import ml_collections
import numpy as np

from experiments import checkpoints, plots, workdir as workdir_lib
from experiments.progress import log_progress
from gan_theory import gan, metrics, objectives, sweep
from gan_theory.validation import ConfigError, check_positive_ints

OUTPUTS = ("config.json", checkpoints.DIRECTORY, "results.csv", "summary.md", "curves.png")
BASELINE = "mle"
# The signed-rank test's level in the headline.
_LEVEL = 0.05
# The costs whose answer the experiment is about.
MAXIMUM_LIKELIHOOD_COSTS = ("maximum_likelihood", "maximum_likelihood_self_normalized")
# What the tables show, by EvalMetrics field.
_QUANTITIES = {
    "nll_excess": "held-out NLL minus the paired mle run's (nats)",
    "discriminator_gap": "discriminator's distance to D* (cross-entropy minus D*'s, nats)",
    "weight_ess": "effective sample size of the weights exp(a), fraction of a batch",
    "generator_grad_variance": "variance of a batch's generator gradient (trace)",
}
# The figure's panels: quantity -> (title after the setting's name, y label, scale).
_PANELS = {
    "nll_excess": ("NLL minus mle's", "nats", "symlog"),
    "weight_ess": ("ESS of the weights exp(a)", "fraction of a batch", "log"),
    "discriminator_gap": ("distance to D*", "cross-entropy minus D*'s (nats)", "symlog"),
}


class Results(NamedTuple):
  """Per discriminator setting (``"oracle"``, ``"k=5"``), the GAN sweep's result."""

  sweeps: dict[str, sweep.SweepResult]


def _reads_discriminator(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  return tuple(name for name in config.objectives if objectives.get(name).reads_discriminator)


def _setting(config: ml_collections.ConfigDict, name: str,
             objective_names: tuple[str, ...]) -> ml_collections.ConfigDict:
  """The GAN sweep config of the discriminator setting ``name`` ("oracle", "k=5")."""
  sweep_config = copy.deepcopy(config)
  sweep_config.experiment = "gan_sweep"
  sweep_config.discriminator.kind = "oracle" if name == "oracle" else "mlp"
  sweep_config.discriminator_steps = 1 if name == "oracle" else int(name[2:])
  sweep_config.objectives = objective_names
  return sweep_config


def _setting_names(config: ml_collections.ConfigDict) -> list[str]:
  return (["oracle"] if config.oracle else []) + [
      f"k={k}" for k in config.discriminator_step_counts]


def settings(config: ml_collections.ConfigDict) -> dict[str, ml_collections.ConfigDict]:
  """The GAN sweep config of each discriminator setting, by name, the oracle first: every
  objective in the first, those that read the discriminator in the others."""
  first, *others = _setting_names(config)
  return {first: _setting(config, first, tuple(config.objectives)),
          **{name: _setting(config, name, _reads_discriminator(config)) for name in others}}


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field the experiment reads: its own, then each sweep's
  (:func:`gan_theory.gan.validate`)."""
  if not isinstance(config.oracle, bool):
    raise ConfigError(f"config.oracle={config.oracle!r} must be True or False")
  if not (config.oracle and not config.discriminator_step_counts):  # Empty: the oracle alone.
    check_positive_ints(config, "discriminator_step_counts")
  if config.oracle and config.generator.kind not in gan.DENSITY_GENERATORS:
    raise ConfigError(
        f"config.oracle=True needs the generator's density: config.generator.kind="
        f"{' or '.join(map(repr, gan.DENSITY_GENERATORS))}, not {config.generator.kind!r}")
  for network in ("generator", "discriminator"):
    rates = gan.learning_rates(config, network)
    if len(rates) != 1:  # Each run is paired with the mle run of its seed alone.
      raise ConfigError(
          f"config.{network}.learning_rate={rates!r} must be one value in this experiment")
  if BASELINE not in config.objectives:
    raise ConfigError(
        f"config.objectives={tuple(config.objectives)!r} must include {BASELINE!r}, the"
        " maximum-likelihood baseline every run is paired with")
  # Every objective by name before their records are read.
  gan.validate(_setting(config, _setting_names(config)[0], tuple(config.objectives)))
  if not _reads_discriminator(config):
    raise ConfigError(
        f"config.objectives={tuple(config.objectives)!r} must include a cost that reads the"
        " discriminator, such as 'maximum_likelihood'")
  for sweep_config in settings(config).values():
    gan.validate(sweep_config)


def compute(config: ml_collections.ConfigDict, workdir: Path) -> Results:
  """Trains each setting's sweep, resuming each from its checkpoints in ``workdir``."""
  results = Results({})
  for name, sweep_config in settings(config).items():
    with checkpoints.SweepCheckpoints(workdir / checkpoints.DIRECTORY / name) as checkpointer:
      results.sweeps[name] = sweep.run_sweep(
          sweep_config, num_samples=1, checkpointer=checkpointer,
          on_progress=functools.partial(log_progress, what=f"{name}: ", finishing="done"),
      )
  return results


def failure(config: ml_collections.ConfigDict, results: Results) -> str | None:
  """The line naming each setting whose every run diverged; None if none."""
  del config
  failed = [name for name, result in results.sweeps.items() if result.all_diverged]
  return f"every run diverged with the discriminator {', '.join(failed)}" if failed else None


def _by_objective(result: sweep.SweepResult, values: np.ndarray) -> dict[str, np.ndarray]:
  """``values`` ``[runs, ...]`` as ``[seeds, ...]`` per objective."""
  objectives = np.asarray(result.objectives)
  return {name: values[objectives == name] for name in dict.fromkeys(result.objectives)}


def _quantities(result: sweep.SweepResult,
                baseline_nll: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
  """Each quantity per objective, ``[seeds, evaluations]``; the NLL's excess paired by seed
  with ``baseline_nll``, the `mle` runs' ``[seeds, evaluations]``."""
  nll = _by_objective(result, result.metrics.nll)
  quantities = {"nll": nll,
                "nll_excess": {name: values - baseline_nll for name, values in nll.items()}}
  for field in ("discriminator_gap", "weight_ess", "generator_grad_variance"):
    quantities[field] = _by_objective(result, getattr(result.metrics, field))
  return quantities


def _by_setting(results: Results) -> dict[str, dict[str, dict[str, np.ndarray]]]:
  """:func:`_quantities` per setting, each paired with the first setting's `mle` runs."""
  first = next(iter(results.sweeps.values()))
  baseline_nll = _by_objective(first, first.metrics.nll)[BASELINE]
  return {name: _quantities(result, baseline_nll) for name, result in results.sweeps.items()}


def _cell(values: np.ndarray) -> str:
  mean, stderr = metrics.mean_and_stderr(np.asarray(values, np.float64))
  return f"{float(mean):.4g} ± {float(stderr):.2g}"


def _headline(config: ml_collections.ConfigDict, finals: dict[str, dict]) -> list[str]:
  """Per maximum-likelihood cost and setting, the final NLL's paired excess over `mle`'s;
  the settings where it is within two standard errors and the signed-rank test does not
  tell the two apart (a mean's standard error says little of a heavy-tailed NLL)."""
  rows, lines = [], []
  for cost in (c for c in MAXIMUM_LIKELIHOOD_COSTS if c in config.objectives):
    close = []
    for name, quantities in finals.items():
      excess = np.asarray(quantities["nll_excess"][cost], np.float64)
      mean, stderr = metrics.mean_and_stderr(excess)
      p_value = metrics.signed_rank_p_value(excess)
      if abs(float(mean)) <= 2 * float(stderr) and p_value >= _LEVEL:
        close.append(name)
      rows.append([f"`{cost}`", name, _cell(excess), f"{np.nanmedian(excess):.4g}",
                   f"{np.sum(excess > 0)} of {np.sum(~np.isnan(excess))}", f"{p_value:.2g}"])
    lines.append(f"- `{cost}`: as `{BASELINE}` with the discriminator"
                 f" {', '.join(close) if close else 'of no setting'}.")
  return [
      *lines, "",
      f"A cost is as `{BASELINE}` where its paired excess is within two standard errors of 0"
      f" and Wilcoxon's signed-rank test does not reject 0 at {_LEVEL:.0%}.", "",
      workdir_lib.markdown_table(
          ["cost", "discriminator", "NLL minus mle's (nats)", "median",
           "seeds above mle", "signed-rank p"], rows),
  ]


def _summary_md(config: ml_collections.ConfigDict, results: Results) -> str:
  finals = {name: {quantity: {objective: values[:, -1] for objective, values in per.items()}
                   for quantity, per in quantities.items()}
            for name, quantities in _by_setting(results).items()}
  objective_names = tuple(config.objectives)
  lines = [
      f"# Does the maximum-likelihood cost recover maximum likelihood? {config.target},"
      f" {config.generator.kind} generator",
      "",
      f"Final values at step {config.num_steps:,}, mean ± standard error over seeds"
      f" {config.first_seed}..{config.first_seed + config.num_seeds - 1} (the same seeds,"
      " hence the same initial generators and batches, for every objective and setting). A"
      " column per discriminator: the oracle (the optimal discriminator of the current"
      " generator, exact), or trained k steps per generator step. The NLL's excess is"
      f" paired: each run's held-out NLL minus that of the `{BASELINE}` run of its seed.",
      "",
      "## Headline",
      "",
      *_headline(config, finals),
  ]
  for quantity, description in (("nll", "held-out NLL (nats)"), *_QUANTITIES.items()):
    first = next(iter(finals))
    rows = [[objective, *(_cell(finals[name][quantity][objective])
                          if objective in finals[name][quantity] else f"as {first}"
                          for name in finals)]
            for objective in objective_names]
    lines += ["", f"## {description}", "",
              workdir_lib.markdown_table(["objective", *finals], rows)]
  seconds = sum(r.compile_seconds + r.train_seconds for r in results.sweeps.values())
  runs = sum(len(result.seeds) for result in results.sweeps.values())
  lines += ["", f"{len(results.sweeps)} sweeps, {runs} runs in {seconds:.0f} s, compilation"
                " included.", ""]
  return "\n".join(lines)


def _results_csv(results: Results) -> str:
  fields = ("nll", *_QUANTITIES)
  rows = []
  for (name, result), quantities in zip(results.sweeps.items(), _by_setting(results).values()):
    seeds = _by_objective(result, result.seeds)
    for objective, objective_seeds in seeds.items():
      for s, seed in enumerate(objective_seeds):
        for e, step in enumerate(result.steps):
          values = (quantities[field][objective][s, e] for field in fields)
          rows.append([name, objective, int(seed), int(step),
                       *("" if np.isnan(v) else f"{v:.9g}" for v in values)])
  return workdir_lib.csv_text(["discriminator", "objective", "seed", "step", *fields], rows)


def report(config: ml_collections.ConfigDict, results: Results) -> dict[str, object]:
  """results.csv, summary.md and curves.png."""
  steps = next(iter(results.sweeps.values())).steps
  by_setting = _by_setting(results)
  first = next(iter(by_setting.values()))
  curves, panels = {}, {}
  for quantity, (title, ylabel, scale) in _PANELS.items():
    for name, quantities in by_setting.items():
      if quantity == "nll_excess":  # Every objective, those run once from the first setting.
        per_objective = {objective: quantities[quantity].get(objective, first[quantity][objective])
                         for objective in config.objectives}
      else:  # The weights and the distance for the costs they drive.
        per_objective = {objective: values for objective, values in quantities[quantity].items()
                         if objective in MAXIMUM_LIKELIHOOD_COSTS}
      curves[f"{quantity}: {name}"] = {
          objective: tuple(np.asarray(s) for s in metrics.mean_and_stderr(values))
          for objective, values in per_objective.items()}
      panels[f"{quantity}: {name}"] = plots.Panel(f"{name}: {title}", ylabel, scale)
  return {
      "results.csv": _results_csv(results),
      "summary.md": _summary_md(config, results),
      "curves.png": plots.curves_figure(
          steps, curves, panels, config.num_seeds,
          title=f"Does the maximum-likelihood cost recover maximum likelihood? {config.target}"
                f" target, {config.generator.kind} generator, discriminator: "
                f"{', '.join(results.sweeps)}",
      ),
  }
