"""The theory experiment's computation: every array its report reads, from its config.

On a 1-D problem (a Gaussian mixture ``p_data``, a Gaussian generator at ``theta0``, a
trapezoid rule for the exact sides), for each generator cost in ``config.objectives``: its
gradient with ``D*`` frozen at ``theta0`` estimated pathwise and by the score function, at
each sample size and seed, against the gradient of its divergence; the value identity
``V(D*, G) = 2 JSD - log 4``; each f-GAN bound at and off the optimal logit; each cost
against ``D(G(z))``; and discriminators trained alone towards ``D*``. The maths is
:mod:`gan_theory.theory`'s; this module draws the noise, batches the programs and reduces
over seeds.
"""

import math
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_theory import divergences, engine, networks, objectives, theory
from gan_theory.distributions import GaussianMixture
from gan_theory.metrics import mean_and_stderr, power_law_exponent
from gan_theory.studies import no_progress
from gan_theory.validation import (
    ConfigError,
    check_choice,
    check_choices,
    check_int,
    check_positive,
    check_positive_ints,
)

__all__ = [
    "ESTIMATORS",
    "ByEstimator",
    "CostCurves",
    "FGanBounds",
    "OverSeeds",
    "Problem",
    "Results",
    "ValueIdentity",
    "compute",
    "cost_curves",
    "discriminator_distances",
    "discriminator_steps",
    "distance_curves",
    "error_exponents",
    "f_gan_bounds",
    "gradient_checks_by_size",
    "make_problem",
    "noise",
    "over_seeds",
    "per_sample_variances",
    "reported_stderrs",
    "rms_errors",
    "validate",
    "value_identity",
    "variance_ratios",
]

_Fields = TypeVar("_Fields", bound=tuple)  # A named tuple of arrays.


def _no_checkpointer(objective: str) -> None:
  del objective


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field the theory experiment reads.

  Args:
    config: the experiment's config (``experiments/configs/theory.py``).

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


class Problem(NamedTuple):
  """The 1-D problem: the data, the generator's parameters and the rule for exact sides.

  Attributes:
    data: ``p_data``, a mixture of 1-D Gaussians (points ``[..., 1]``).
    theta0: the generator ``x = mean + exp(log_std) z`` at which every identity is checked.
    quadrature: the trapezoid rule of the exact sides.
  """

  data: GaussianMixture
  theta0: theory.Gaussian
  quadrature: divergences.Quadrature

  def log_p_data(self, x: jax.Array) -> jax.Array:
    """``log p_data`` of an array of 1-D points, elementwise."""
    return self.data.log_prob(x[..., None])

  def sample_data(self, key: jax.Array, num_samples: int) -> jax.Array:
    """``[num_samples]`` draws from ``p_data``."""
    return self.data.sample(key, num_samples)[:, 0]

  def log_densities(self) -> tuple[jax.Array, jax.Array]:
    """``(log p_data, log p_G)`` at ``theta0`` on the quadrature's points, ``[points]`` each."""
    points = self.quadrature.points
    return self.log_p_data(points), theory.gaussian_log_prob(self.theta0, points)


def make_problem(config: ml_collections.ConfigDict) -> Problem:
  """The :class:`Problem` of a validated config.

  Args:
    config: reads ``data_modes``, ``data_std``, ``generator_mean``, ``generator_std`` and
      ``quadrature`` (``low``, ``high``, ``num_points``).

  Returns:
    The problem, in float32.
  """
  data = GaussianMixture(modes=jnp.asarray(np.array(config.data_modes, np.float32)[:, None]),
                         std=config.data_std)
  theta0 = theory.Gaussian(mean=jnp.float32(config.generator_mean),
                           log_std=jnp.float32(math.log(config.generator_std)))
  quadrature = divergences.trapezoid(
      config.quadrature.low, config.quadrature.high, config.quadrature.num_points
  )
  return Problem(data, theta0, quadrature)


def noise(seeds: np.ndarray, num_samples: int) -> jax.Array:
  """The generator's standard normal noise for each seed at one sample size.

  Each seed's draw depends on that seed and the size alone, so a seed gives the same result
  whichever others run beside it, and each size is a fresh draw, not a prefix of another.

  Args:
    seeds: ``[seeds]`` non-negative integers.
    num_samples: the sample size ``n``.

  Returns:
    ``[seeds, n]`` draws.
  """
  def draw(seed):
    return jax.random.normal(jax.random.fold_in(jax.random.key(seed), num_samples),
                             (num_samples,))

  return jax.vmap(draw)(jnp.asarray(seeds, jnp.uint32))


def gradient_checks_by_size(
    names: tuple[str, ...],
    problem: Problem,
    sizes: np.ndarray,
    seeds: np.ndarray,
    on_progress: Callable[[str], None] = no_progress,
) -> theory.GradientCheck:
  """:func:`gan_theory.theory.gradient_checks` at every sample size and seed.

  One program per sample size: every objective (vmapped) and every seed (``lax.map``,
  which bounds memory to one seed's per-sample gradients).

  Args:
    names: generator objectives with a ``sample_cost`` and a ``divergence``.
    problem: the data, ``theta0`` and the quadrature of the exact side.
    sizes: ``[sizes]`` sample sizes.
    seeds: ``[seeds]`` the seeds of :func:`noise`.
    on_progress: told when each size is done.

  Returns:
    The :class:`~gan_theory.theory.GradientCheck` on the host, every field ``[sizes,
    seeds, objectives]``.
  """
  @jax.jit
  def checks(draws):
    return jax.lax.map(
        lambda one: theory.gradient_checks(
            names, problem.log_p_data, problem.theta0, problem.quadrature, one
        ),
        draws,
    )

  by_size = []
  for n in sizes:
    by_size.append(jax.device_get(checks(noise(seeds, int(n)))))
    on_progress(f"{n} samples: done")
  return jax.tree.map(lambda *values: np.stack(values), *by_size)


class ByEstimator(NamedTuple):
  """One quantity for each gradient estimator, each a :class:`~gan_theory.theory.Gaussian`
  (a field a parameter) of arrays of the same shape.

  Attributes:
    pathwise: the pathwise estimator's.
    score_function: the score-function estimator's.
  """

  pathwise: theory.Gaussian
  score_function: theory.Gaussian


ESTIMATORS: tuple[str, ...] = ByEstimator._fields


def _by_estimator(function: Callable[[str], theory.Gaussian]) -> ByEstimator:
  return ByEstimator(*(function(estimator) for estimator in ESTIMATORS))


def _mean_and_stderr(fields: _Fields, axis: int) -> tuple[_Fields, _Fields]:
  """:func:`mean_and_stderr` of each field of a named tuple of arrays: two of its type."""
  pairs = [mean_and_stderr(values, axis=axis) for values in fields]
  return tuple(type(fields)(*(np.asarray(pair[i]) for pair in pairs)) for i in (0, 1))


def rms_errors(checks: theory.GradientCheck) -> ByEstimator:
  """Each estimator's root mean square error over seeds, against the exact side.

  Args:
    checks: host arrays ``[sizes, seeds, objectives]``, as :func:`gradient_checks_by_size`.

  Returns:
    ``[sizes, objectives]`` arrays.
  """
  return _by_estimator(lambda estimator: jax.tree.map(
      lambda estimate, exact: np.sqrt(np.mean((estimate - exact) ** 2, axis=1)),
      getattr(checks, estimator), checks.exact,
  ))


def reported_stderrs(checks: theory.GradientCheck) -> ByEstimator:
  """The standard error each estimator reports for itself, averaged over seeds.

  Args:
    checks: host arrays ``[sizes, seeds, objectives]``.

  Returns:
    ``[sizes, objectives]`` arrays: beside :func:`rms_errors`, whether it reports its error.
  """
  return _by_estimator(lambda estimator: jax.tree.map(
      lambda stderr: stderr.mean(axis=1), getattr(checks, f"{estimator}_stderr")
  ))


class OverSeeds(NamedTuple):
  """The estimates' mean over seeds and its standard error.

  Attributes:
    mean: ``[sizes, objectives]`` arrays.
    stderr: the standard error of each mean.
  """

  mean: ByEstimator
  stderr: ByEstimator


def over_seeds(checks: theory.GradientCheck) -> OverSeeds:
  """Each estimate's mean over seeds and its standard error, by :func:`mean_and_stderr`.

  Args:
    checks: arrays ``[sizes, seeds, objectives]``.

  Returns:
    The :class:`OverSeeds` on the host.
  """
  means, stderrs = zip(*(_mean_and_stderr(getattr(checks, e), axis=1) for e in ESTIMATORS))
  return OverSeeds(ByEstimator(*means), ByEstimator(*stderrs))


def per_sample_variances(checks: theory.GradientCheck, sizes: np.ndarray) -> ByEstimator:
  """Each estimator's variance per sample, ``n`` times its squared standard error.

  The lower one needs fewer samples for the same error, by the ratio of the two. Averaged
  over seeds in float64, on the host.

  Args:
    checks: host arrays ``[sizes, seeds, objectives]``.
    sizes: ``[sizes]`` the sample size of each.

  Returns:
    ``[sizes, objectives]`` float64 arrays.
  """
  n = np.asarray(sizes, np.int64)[:, None, None]
  return _by_estimator(lambda estimator: jax.tree.map(
      lambda stderr: np.mean(n * stderr**2, axis=1), getattr(checks, f"{estimator}_stderr")
  ))


def variance_ratios(variances: ByEstimator) -> theory.Gaussian:
  """The score function's per-sample variance over the pathwise one's: above 1, it is worse.

  Args:
    variances: as :func:`per_sample_variances`.

  Returns:
    Arrays of the variances' shape.
  """
  return jax.tree.map(np.divide, variances.score_function, variances.pathwise)


def error_exponents(sizes: np.ndarray, errors: ByEstimator) -> ByEstimator:
  """The exponent ``b`` of a fit ``error ~ c n^b`` over the sample sizes; Monte Carlo: -1/2.

  Args:
    sizes: ``[sizes]`` the sample sizes.
    errors: ``[sizes, objectives]`` arrays, as :func:`rms_errors`.

  Returns:
    ``[objectives]`` float64 arrays of exponents, by
    :func:`~gan_theory.metrics.power_law_exponent`.
  """
  return jax.tree.map(
      lambda error: np.array([power_law_exponent(sizes, column) for column in error.T]), errors
  )


class ValueIdentity(NamedTuple):
  """Both sides of ``V(D*, G) = 2 JSD(p_data, p_G) - log 4`` at ``theta0``, in float64.

  The float32 quadrature sums are widened before the arithmetic, so the difference shows
  their rounding, not more.

  Attributes:
    value: ``V(D*, G)``, the minimax game's value at the optimal discriminator.
    jsd: ``JSD(p_data, p_G)``.
    divergence_side: ``2 JSD - log 4``.
    difference: ``value - divergence_side``.
  """

  value: np.float64
  jsd: np.float64
  divergence_side: np.float64
  difference: np.float64


def value_identity(problem: Problem) -> ValueIdentity:
  """Both sides of the value identity, by quadrature.

  Args:
    problem: the data, ``theta0`` and the quadrature.

  Returns:
    The :class:`ValueIdentity`.
  """
  log_p_data, log_p_generator = problem.log_densities()
  optimum = theory.optimal_discriminator_logit(log_p_data, log_p_generator)
  value = np.float64(
      theory.game_value("minimax", problem.quadrature, log_p_data, log_p_generator, optimum)
  )
  jsd = np.float64(divergences.js_divergence(problem.quadrature, log_p_data, log_p_generator))
  divergence_side = 2 * jsd - math.log(4)
  return ValueIdentity(value, jsd, divergence_side, value - divergence_side)


class FGanBounds(NamedTuple):
  """Each f-divergence and its f-GAN bound ``F(a)`` at three logits, ``[divergences]`` each,
  in the order of :data:`gan_theory.objectives.F_DIVERGENCES`.

  Attributes:
    divergence: ``D_f(p_data || p_G)`` from its closed form.
    at_optimum: ``F(a*)``, ``a* = log p_data - log p_G``: ``D_f`` where no clipping bites.
    at_half_optimum: ``F(a* / 2)``, below ``D_f``.
    at_shifted_optimum: ``F(a* + 1/2)``, below ``D_f``.
  """

  divergence: np.ndarray
  at_optimum: np.ndarray
  at_half_optimum: np.ndarray
  at_shifted_optimum: np.ndarray


def f_gan_bounds(problem: Problem) -> FGanBounds:
  """Every f-GAN game's bound against its divergence, by quadrature at ``theta0``.

  Args:
    problem: the data, ``theta0`` and the quadrature.

  Returns:
    The :class:`FGanBounds` on the host.
  """
  log_p_data, log_p_generator = problem.log_densities()
  optimum = theory.optimal_discriminator_logit(log_p_data, log_p_generator)

  def bound(name, logit):
    return theory.game_value(f"f_{name}", problem.quadrature, log_p_data, log_p_generator, logit)

  rows = [
      [objectives.f_gan(name).divergence(problem.quadrature, log_p_data, log_p_generator),
       *(bound(name, logit) for logit in (optimum, 0.5 * optimum, optimum + 0.5))]
      for name in objectives.F_DIVERGENCES
  ]
  return FGanBounds(*np.array(jax.device_get(rows)).T)


class CostCurves(NamedTuple):
  """Each generator cost of one sample and its derivative in the logit, against ``D(G(z))``.

  Attributes:
    discriminator_outputs: ``[n]`` values of ``D`` in ``(0, 1)``.
    costs: ``[objectives, n]``.
    derivatives: ``[objectives, n]``.
  """

  discriminator_outputs: np.ndarray
  costs: np.ndarray
  derivatives: np.ndarray


def cost_curves(names: tuple[str, ...]) -> CostCurves:
  """:func:`gan_theory.theory.cost_curves` on ``D`` from 0.001 to 0.999 in steps of 0.001.

  Args:
    names: generator objectives with a ``sample_cost``.

  Returns:
    The :class:`CostCurves` on the host.
  """
  # Off 0 and 1, whose logits are infinite.
  discriminator_outputs = np.linspace(0.001, 0.999, 999)
  costs, derivatives = jax.device_get(theory.cost_curves(names, discriminator_outputs))
  return CostCurves(discriminator_outputs, costs, derivatives)


def discriminator_steps(num_steps: int, eval_every: int) -> np.ndarray:
  """``[num_steps // eval_every + 1]``: the step of each measurement, from 0."""
  return eval_every * np.arange(num_steps // eval_every + 1)


def discriminator_distances(
    problem: Problem,
    discriminator: ml_collections.ConfigDict,
    seeds: np.ndarray,
    on_progress: Callable[[str], None] = no_progress,
    checkpointer: Callable[[str], engine.Checkpointer | None] = _no_checkpointer,
) -> theory.DistanceToOptimum:
  """Discriminators trained alone against the generator at ``theta0``, and their distance to D*.

  The seeds of each objective through the engine
  (:func:`gan_theory.theory.make_discriminator_trainer`, :func:`gan_theory.engine.run`),
  snapshotted when trained, so that a rerun resumes after the last objective finished.

  Args:
    problem: the data, the generator at ``theta0`` and the quadrature of the distances.
    discriminator: reads ``objectives``, ``hidden_sizes``, ``activation``, ``learning_rate``,
      ``batch_size``, ``num_steps`` and ``eval_every``.
    seeds: ``[seeds]`` each discriminator's seed.
    on_progress: told when each objective's discriminators are trained.
    checkpointer: maps an objective's name to the :class:`~gan_theory.engine.Checkpointer`
      of its discriminators, or to None to keep no snapshots.

  Returns:
    The :class:`~gan_theory.theory.DistanceToOptimum` on the host, every field
    ``[objectives, seeds, evaluations]`` at :func:`discriminator_steps`.
  """
  by_objective = []
  for objective in discriminator.objectives:
    trainer = theory.make_discriminator_trainer(
        problem.log_p_data, problem.sample_data, problem.theta0, problem.quadrature,
        tuple(discriminator.hidden_sizes), discriminator.activation,
        discriminator.learning_rate, discriminator.batch_size, discriminator.num_steps,
        discriminator.eval_every, objective,
    )
    by_objective.append(engine.run(trainer, seeds, checkpointer=checkpointer(objective)).history)
    on_progress(f"{len(seeds)} discriminators for {objective} trained")
  return jax.tree.map(lambda *values: np.stack(values), *by_objective)


def distance_curves(
    distances: theory.DistanceToOptimum,
) -> tuple[theory.DistanceToOptimum, theory.DistanceToOptimum]:
  """The mean over seeds of each distance to D*, and its standard error.

  Args:
    distances: arrays ``[objectives, seeds, evaluations]``.

  Returns:
    ``(mean, stderr)``, each of host arrays ``[objectives, evaluations]``.
  """
  return _mean_and_stderr(distances, axis=1)


class Results(NamedTuple):
  """Every array the theory experiment reports, on the host.

  Attributes:
    num_samples: ``[sizes]`` the Monte Carlo sample sizes.
    seeds: ``[seeds]`` the seeds of the gradient checks.
    checks: the gradient identities, ``[sizes, seeds, objectives]``.
    rms_errors: ``[sizes, objectives]``, :func:`rms_errors`.
    reported_stderrs: ``[sizes, objectives]``, :func:`reported_stderrs`.
    over_seeds: ``[sizes, objectives]``, :func:`over_seeds`.
    variances: ``[sizes, objectives]``, :func:`per_sample_variances`.
    variance_ratios: ``[sizes, objectives]``, :func:`variance_ratios`.
    error_exponents: ``[objectives]``, :func:`error_exponents` of the RMS errors.
    value_identity: the :class:`ValueIdentity`.
    f_gan_bounds: the :class:`FGanBounds`.
    cost_curves: the :class:`CostCurves` of ``config.objectives``.
    discriminator_seeds: ``[discriminator seeds]``.
    discriminator_steps: ``[evaluations]``.
    distances: ``[discriminator objectives, discriminator seeds, evaluations]``.
    distance_means: ``[discriminator objectives, evaluations]``, over seeds.
    distance_stderrs: their standard errors.
  """

  num_samples: np.ndarray
  seeds: np.ndarray
  checks: theory.GradientCheck
  rms_errors: ByEstimator
  reported_stderrs: ByEstimator
  over_seeds: OverSeeds
  variances: ByEstimator
  variance_ratios: theory.Gaussian
  error_exponents: ByEstimator
  value_identity: ValueIdentity
  f_gan_bounds: FGanBounds
  cost_curves: CostCurves
  discriminator_seeds: np.ndarray
  discriminator_steps: np.ndarray
  distances: theory.DistanceToOptimum
  distance_means: theory.DistanceToOptimum
  distance_stderrs: theory.DistanceToOptimum


# Full float32 matmuls on every backend: the results are compared with exact values, which
# TF32, the default on recent NVIDIA GPUs, would miss by about 1e-3.
@jax.default_matmul_precision("highest")
def compute(
    config: ml_collections.ConfigDict,
    on_progress: Callable[[str], None] = no_progress,
    checkpointer: Callable[[str], engine.Checkpointer | None] = _no_checkpointer,
) -> Results:
  """Runs every check of a validated theory config.

  Args:
    config: the experiment's config (``experiments/configs/theory.py``), checked by
      :func:`validate`.
    on_progress: told as each sample size and each objective's discriminators finish.
    checkpointer: the checkpointer of each objective's discriminators
      (:func:`discriminator_distances`).

  Returns:
    The :class:`Results`.
  """
  names = tuple(config.objectives)
  problem = make_problem(config)
  sizes = np.asarray(config.num_samples)
  seeds = config.first_seed + np.arange(config.num_seeds)
  checks = gradient_checks_by_size(names, problem, sizes, seeds, on_progress)
  disc = config.discriminator
  discriminator_seeds = config.first_seed + np.arange(disc.num_seeds)
  distances = discriminator_distances(
      problem, disc, discriminator_seeds, on_progress, checkpointer
  )
  errors = rms_errors(checks)
  variances = per_sample_variances(checks, sizes)
  distance_means, distance_stderrs = distance_curves(distances)
  return Results(
      num_samples=sizes,
      seeds=seeds,
      checks=checks,
      rms_errors=errors,
      reported_stderrs=reported_stderrs(checks),
      over_seeds=over_seeds(checks),
      variances=variances,
      variance_ratios=variance_ratios(variances),
      error_exponents=error_exponents(sizes, errors),
      value_identity=value_identity(problem),
      f_gan_bounds=f_gan_bounds(problem),
      cost_curves=cost_curves(names),
      discriminator_seeds=discriminator_seeds,
      discriminator_steps=discriminator_steps(disc.num_steps, disc.eval_every),
      distances=distances,
      distance_means=distance_means,
      distance_stderrs=distance_stderrs,
  )
