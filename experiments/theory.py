"""The theory experiment: the value identity and each generator cost's gradient identity,
estimated pathwise and by the score function, against the exact side, as n grows.

Writes to the workdir: config.json, identities.csv (a row per identity, estimator, sample
size, parameter and seed), summary.md (the value identity, the estimates at the largest
sample size, each estimator's variance, and how fast the error falls), errors.png and
cost_curves.png (each cost and its derivative in the logit against D(G(z))), and, for
discriminators trained alone against the generator, discriminators.csv and .png (their
distance to D* against steps).
"""

import csv
import functools
import io
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from experiments import plots, workdir as workdir_lib
from gan_theory import divergences, networks, objectives, theory
from gan_theory.distributions import GaussianMixture
from gan_theory.metrics import mean_and_stderr, power_law_exponent
from gan_theory.validation import (
    ConfigError,
    check_choice,
    check_choices,
    check_int,
    check_positive,
    check_positive_ints,
)

OUTPUTS = (
    "config.json", "identities.csv", "discriminators.csv", "summary.md", "errors.png",
    "cost_curves.png", "discriminators.png",
)
ESTIMATORS = ("pathwise", "score_function")


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field the theory experiment reads.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  names = check_choices(config, "objectives", objectives.names())
  for name in names:
    record = objectives.get(name)
    if record.sample_cost is None or record.divergence is None:
      raise ConfigError(
          f"config.objectives={names!r} includes {name!r}, which is not a cost of the"
          " discriminator's logit with a divergence at D*"
      )
  for value in check_positive_ints(config, "num_samples"):
    if value < 2:
      raise ConfigError(f"config.num_samples={config.num_samples!r}: each must be at least 2")
  check_int(config, "num_seeds")
  check_int(config, "first_seed", minimum=0)
  for field in ("data_std", "generator_std"):
    check_positive(config, field)
  modes = config.data_modes
  if not isinstance(modes, (tuple, list)) or not modes or not all(
      isinstance(m, (int, float)) and not isinstance(m, bool) for m in modes
  ):
    raise ConfigError(f"config.data_modes={modes!r} must be a non-empty list of numbers")
  if not isinstance(config.generator_mean, (int, float)):
    raise ConfigError(f"config.generator_mean={config.generator_mean!r} must be a number")
  check_int(config, "quadrature.num_points", minimum=3)
  names = check_choices(config, "discriminator.objectives", objectives.names())
  for name in names:
    if objectives.get(name).discriminator_loss.minimum is None:
      raise ConfigError(
          f"config.discriminator.objectives={names!r} includes {name!r}, whose discriminator"
          " loss states no minimum"
      )
  check_positive_ints(config, "discriminator.hidden_sizes")
  check_choice(config, "discriminator.activation", networks.ACTIVATIONS)
  check_positive(config, "discriminator.learning_rate")
  for field in ("batch_size", "num_steps", "eval_every", "num_seeds"):
    check_int(config, f"discriminator.{field}")
  if config.discriminator.num_steps % config.discriminator.eval_every:
    raise ConfigError(
        f"config.discriminator.eval_every={config.discriminator.eval_every} must divide"
        f" config.discriminator.num_steps={config.discriminator.num_steps}"
    )
  low, high = config.quadrature.low, config.quadrature.high
  if not low < high:
    raise ConfigError(
        f"config.quadrature.low={low!r} must be below config.quadrature.high={high!r}"
    )


def _problem(config: ml_collections.ConfigDict):
  data = GaussianMixture(modes=jnp.asarray(np.array(config.data_modes, np.float32)[:, None]),
                         std=config.data_std)
  theta0 = theory.Gaussian(mean=jnp.float32(config.generator_mean),
                           log_std=jnp.float32(math.log(config.generator_std)))
  quadrature = divergences.trapezoid(
      config.quadrature.low, config.quadrature.high, config.quadrature.num_points
  )
  return data, theta0, quadrature


def run(config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False) -> None:
  """Runs the theory checks of ``config`` and writes their results to ``workdir``.

  Raises:
    ConfigError: if the config is not valid; nothing compiles, nothing is written.
    WorkdirError: if the workdir cannot take the results; nothing compiles.
  """
  validate(config)
  path = workdir_lib.claim_on_process_0(workdir, config, OUTPUTS, overwrite)
  names = tuple(config.objectives)
  data, theta0, quadrature = _problem(config)

  def log_p_data(x):
    return data.log_prob(x[..., None])

  seeds = config.first_seed + np.arange(config.num_seeds)

  # One program per sample size: every objective (vmapped) and every seed (lax.map,
  # which bounds memory to one seed's per-sample gradients).
  @jax.jit
  def checks(noise):
    return jax.lax.map(
        lambda one: theory.gradient_checks(names, log_p_data, theta0, quadrature, one), noise
    )

  def draws(n, seed):  # A fresh draw for each seed and sample size.
    return jax.random.normal(jax.random.fold_in(jax.random.key(seed), n), (n,))

  by_size = []
  for n in config.num_samples:
    noise = jax.vmap(functools.partial(draws, n))(jnp.asarray(seeds, jnp.uint32))
    by_size.append(jax.device_get(checks(noise)))
    logging.info("%d samples: done", n)
  # [sizes, seeds, objectives] for every field.
  results = jax.tree.map(lambda *sizes: np.stack(sizes), *by_size)

  disc = config.discriminator
  discriminator_seeds = config.first_seed + np.arange(disc.num_seeds)
  keys = jax.vmap(jax.random.key)(jnp.asarray(discriminator_seeds, jnp.uint32))
  distances = {}  # Objective -> DistanceToOptimum of arrays [seeds, evaluations].
  for objective in disc.objectives:
    train_discriminator = theory.make_discriminator_train(
        log_p_data, lambda key, n: data.sample(key, n)[:, 0], theta0, quadrature,
        tuple(disc.hidden_sizes), disc.activation, disc.learning_rate, disc.batch_size,
        disc.num_steps, disc.eval_every, objective,
    )
    distances[objective] = jax.device_get(jax.jit(jax.vmap(train_discriminator))(keys))
    logging.info("%d discriminators for %s trained", disc.num_seeds, objective)
  discriminator_steps = disc.eval_every * np.arange(disc.num_steps // disc.eval_every + 1)

  log_p_data_points = log_p_data(quadrature.points)
  log_p_generator = theory.gaussian_log_prob(theta0, quadrature.points)
  value = theory.game_value(
      "minimax", quadrature, log_p_data_points, log_p_generator,
      theory.optimal_discriminator_logit(log_p_data_points, log_p_generator),
  )
  jsd = divergences.js_divergence(quadrature, log_p_data_points, log_p_generator)
  optimum = theory.optimal_discriminator_logit(log_p_data_points, log_p_generator)
  # Each f-GAN bound at the optimal logit, at discriminators off it, and the divergence.
  bounds = {
      name: jax.device_get([
          objectives.f_gan(name).divergence(quadrature, log_p_data_points, log_p_generator),
          *(theory.game_value(f"f_{name}", quadrature, log_p_data_points, log_p_generator, a)
            for a in (optimum, 0.5 * optimum, optimum + 0.5)),
      ])
      for name in objectives.F_DIVERGENCES
  }

  if jax.process_index() != 0:
    return
  sizes = np.asarray(config.num_samples)
  rms_errors = _rms_errors(results)
  workdir_lib.write_text(path / "identities.csv", _identities_csv(names, sizes, seeds, results))
  workdir_lib.write_text(
      path / "discriminators.csv",
      _discriminators_csv(discriminator_seeds, discriminator_steps, distances),
  )
  workdir_lib.write_text(
      path / "summary.md",
      _summary_md(config, names, sizes, results, rms_errors, float(value), float(jsd))
      + _discriminators_md(config, discriminator_steps, distances)
      + _bounds_md(bounds),
  )
  workdir_lib.write_figure(
      path / "errors.png",
      plots.errors_figure(names, sizes, rms_errors, _mean_stderrs(results)),
  )
  discriminator_outputs = np.linspace(0.001, 0.999, 999)
  costs, derivatives = jax.device_get(theory.cost_curves(names, discriminator_outputs))
  workdir_lib.write_figure(
      path / "cost_curves.png",
      plots.cost_curves_figure(names, discriminator_outputs, costs, derivatives),
  )
  curves = {
      title: {
          objective: tuple(np.asarray(s) for s in mean_and_stderr(getattr(values, field)))
          for objective, values in distances.items()
      }
      for title, field in (("E_data |D - D*|", "under_data"), ("E_G |D - D*|", "under_generator"),
                           ("gap to the maximum of its objective", "value_gap"))
  }
  workdir_lib.write_figure(
      path / "discriminators.png",
      plots.curves_figure(discriminator_steps, curves, disc.num_seeds),
  )
  logging.info("wrote %s to %s", ", ".join(OUTPUTS), path)


def _rms_errors(results: theory.GradientCheck) -> dict[str, theory.Gaussian]:
  """Estimator -> root mean square error over seeds, ``[sizes, objectives]`` a parameter."""
  return {
      estimator: jax.tree.map(
          lambda estimate, exact: np.sqrt(np.mean((estimate - exact) ** 2, axis=1)),
          getattr(results, estimator), results.exact,
      )
      for estimator in ESTIMATORS
  }


def _mean_stderrs(results: theory.GradientCheck) -> dict[str, theory.Gaussian]:
  """Estimator -> the standard error it reports, averaged over seeds."""
  return {
      estimator: jax.tree.map(lambda s: s.mean(axis=1), getattr(results, f"{estimator}_stderr"))
      for estimator in ESTIMATORS
  }


def _identities_csv(names, sizes, seeds, results: theory.GradientCheck) -> str:
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(
      ["identity", "estimator", "num_samples", "parameter", "seed", "exact", "estimate",
       "std_error"]
  )
  for o, name in enumerate(names):
    for estimator in ESTIMATORS:
      for i, n in enumerate(sizes):
        for parameter in theory.Gaussian._fields:
          for s, seed in enumerate(seeds):
            exact = getattr(results.exact, parameter)[i, s, o]
            estimate = getattr(getattr(results, estimator), parameter)[i, s, o]
            stderr = getattr(getattr(results, f"{estimator}_stderr"), parameter)[i, s, o]
            writer.writerow([name, estimator, int(n), parameter, int(seed),
                             f"{exact:.9g}", f"{estimate:.9g}", f"{stderr:.9g}"])
  return buffer.getvalue()


def _discriminators_csv(seeds, steps, distances: dict[str, theory.DistanceToOptimum]) -> str:
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(["objective", "seed", "step", *theory.DistanceToOptimum._fields])
  for objective, values in distances.items():
    for s, seed in enumerate(seeds):
      for e, step in enumerate(steps):
        writer.writerow([objective, int(seed), int(step),
                         *(f"{field[s, e]:.9g}" for field in values)])
  return buffer.getvalue()


def _discriminators_md(config, steps, distances: dict[str, theory.DistanceToOptimum]) -> str:
  disc = config.discriminator
  evaluations = sorted({0, 1, len(steps) // 2, len(steps) - 1})

  def cell(values, e, digits=4):
    mean, stderr = mean_and_stderr(values[:, e])
    return f"{float(mean):.{digits}f} ± {float(stderr):.1g}"

  rows = [
      [objective, int(steps[e]), *(cell(field, e) for field in values)]
      for objective, values in distances.items() for e in evaluations
  ]
  return "\n".join([
      "",
      "## Discriminators towards D*",
      "",
      f"{disc.num_seeds} discriminators ({tuple(disc.hidden_sizes)} {disc.activation} MLPs, Adam"
      f" {disc.learning_rate}, batches of {disc.batch_size}) per objective, trained alone"
      " against the generator at theta0 on the objective's discriminator loss, in one vmapped"
      " program; mean ± standard error over seeds of the distance to D* and of the gap between"
      " the maximum of the discriminator's objective (2 JSD - log 4 for the cross-entropy,"
      " D_f for an f-GAN bound) and its value, integrated by quadrature.",
      "",
      workdir_lib.markdown_table(
          ["objective", "step", "E_data abs(D - D*)", "E_G abs(D - D*)", "gap to the maximum"],
          rows, align="lrrrr",
      ),
      "",
  ])


def _table(names, header, cells, align) -> str:
  """A markdown table: per identity and parameter, the two and ``cells(index, parameter)``."""
  rows = [
      [name, parameter, *cells(index, parameter)]
      for index, name in enumerate(names)
      for parameter in theory.Gaussian._fields
  ]
  return workdir_lib.markdown_table(["identity", "parameter", *header], rows, align)


def _summary_md(config, names, sizes, results: theory.GradientCheck, rms, value, jsd) -> str:
  largest = len(sizes) - 1
  last_seed = config.first_seed + config.num_seeds - 1

  def at_largest(field: str, index: int, parameter: str) -> np.ndarray:
    """``[seeds]`` values of a :class:`GradientCheck` field at the largest sample size."""
    return getattr(getattr(results, field), parameter)[largest, :, index]

  def estimates(index, parameter):
    cells = [f"{at_largest('exact', index, parameter)[0]:.5f}"]
    for estimator in ESTIMATORS:
      mean, stderr = mean_and_stderr(at_largest(estimator, index, parameter))
      cells.append(f"{float(mean):.5f} ± {float(stderr):.1g}")
    return cells

  def variances(index, parameter):
    pathwise, score = (
        float(np.mean(sizes[largest] * at_largest(f"{estimator}_stderr", index, parameter) ** 2))
        for estimator in ESTIMATORS
    )
    better = "pathwise" if score > pathwise else "score function"
    return [f"{pathwise:.4g}", f"{score:.4g}", f"{score / pathwise:.2f}", better]

  def exponents(index, parameter):
    return [
        f"{power_law_exponent(sizes, getattr(rms[estimator], parameter)[:, index]):.3f}"
        for estimator in ESTIMATORS
    ]

  value_identity = 2 * jsd - math.log(4)
  lines = [
      "# The GAN game's identities on a 1-D problem",
      "",
      f"p_data: equal mixture of N(m, {config.data_std}^2) for m in {list(config.data_modes)};"
      f" generator x = {config.generator_mean} + {config.generator_std} z, z ~ N(0, 1)."
      f" Exact sides by the trapezoid rule on [{config.quadrature.low}, {config.quadrature.high}]"
      f" with {config.quadrature.num_points} points.",
      "",
      "## Value identity",
      "",
      f"V(D*, G) = {value:.7f}; 2 JSD(p_data, p_G) - log 4 = {value_identity:.7f};"
      f" difference {value - value_identity:.2g}.",
      "",
      f"## Gradient identities at n = {sizes[largest]:,}",
      "",
      f"Mean ± standard error over seeds {config.first_seed}..{last_seed} of each estimate; the"
      " exact side is the gradient of the divergence by quadrature.",
      "",
      _table(names, ["exact", "pathwise", "score function"], estimates, "llrrr"),
      "",
      "## Variance of each estimator",
      "",
      f"Per-sample variance (n x standard error^2 at n = {sizes[largest]:,}, averaged over seeds):"
      " the lower one needs fewer samples for the same error, by their ratio.",
      "",
      _table(names, ["pathwise", "score function", "score function / pathwise", "better"],
             variances, "llrrrl"),
      "",
      "## How fast the error falls",
      "",
      "Exponent b of a least-squares fit RMS error ~ c n^b over the sample sizes, the RMS taken"
      " over seeds; Monte Carlo predicts b = -0.5.",
      "",
      _table(names, ["pathwise", "score function"], exponents, "llrr"),
  ]
  return "\n".join(lines + [""])


def _bounds_md(bounds: dict[str, list[float]]) -> str:
  lines = [
      "",
      "## f-GAN variational bounds",
      "",
      "D_f(p_data || p_G) from its closed form by quadrature, against the bound"
      " F(a) = E_data[T(a)] - E_G[f*(T(a))] that an f-GAN discriminator with logit a"
      " maximizes (Nowozin et al. 2016): at the optimal logit a* = log p_data - log p_G,"
      " at a* / 2 and at a* + 1/2. Jensen-Shannon's f gives D_f = 2 JSD. Each game clips"
      " its logit (softly, beyond |a| = 20; 10 for Pearson) so that no exponential"
      " overflows; where a* lies beyond, F(a*) falls short of D_f.",
      "",
      workdir_lib.markdown_table(
          ["divergence", "D_f", "F(a*)", "F(a* / 2)", "F(a* + 1/2)"],
          ([name, *(f"{float(v):.6f}" for v in values)] for name, values in bounds.items()),
      ),
      "",
  ]
  return "\n".join(lines)

