"""The theory of the GAN game as functions: the optimal discriminator, divergences, and the
value and gradient identities.

For a fixed generator density ``p_G``, the discriminator that maximizes the game's value
is ``D*(x) = p_data(x) / (p_data(x) + p_G(x))`` (Goodfellow et al. 2014, Proposition 1;
the lecture), whose logit is ``a*(x) = log p_data(x) - log p_G(x)``. At ``D*`` the value is
``V(D*, G) = 2 JSD(p_data, p_G) - log 4``, and with ``D*`` held fixed at the current
generator, each generator cost has the gradient of a divergence (the ``divergence`` of
its :class:`gan_theory.objectives.Objective`):

* minimax, ``E log(1 - D*(G(z)))``: ``2 JSD(p_data, p_G)``;
* non-saturating, ``E[-log D*(G(z))]``: ``KL(p_G || p_data) - 2 JSD(p_data, p_G)``
  (Arjovsky and Bottou 2017, Theorem 2.5);
* maximum likelihood, ``E[-exp(a*(G(z)))]``: ``KL(p_data || p_G)``, whose gradient is
  that of the negative log-likelihood ``-E_data log p_G`` (the assignment, eqs. 3.3 to 3.7).

Densities enter as log-densities on the points of a 1-D
:class:`gan_theory.divergences.Quadrature`.
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.scipy.stats import norm

from gan_theory import estimators, networks, objectives
from gan_theory.divergences import Quadrature, expectation
from gan_theory.metrics import mean_and_stderr

__all__ = [
    "Gaussian",
    "DistanceToOptimum",
    "DivergenceEstimates",
    "GradientCheck",
    "best_game_value",
    "cost_curves",
    "divergence_estimates",
    "gradient_checks",
    "game_value",
    "gaussian_log_prob",
    "gaussian_sample",
    "DiscriminatorState",
    "DiscriminatorTrainer",
    "make_discriminator_trainer",
    "optimal_discriminator_logit",
]


def optimal_discriminator_logit(log_p_data: jax.Array, log_p_generator: jax.Array) -> jax.Array:
  """``a*(x) = log p_data(x) - log p_G(x)``: ``sigmoid(a*) = p_data / (p_data + p_G)``."""
  return log_p_data - log_p_generator


class DivergenceEstimates(NamedTuple):
  """Monte Carlo estimates from samples of both distributions, with standard errors.

  Attributes:
    nll: ``-E_data log p_G``, the negative log-likelihood of the data, in nats.
    forward_kl: ``KL(p_data || p_G)``.
    reverse_kl: ``KL(p_G || p_data)``.
    jsd: ``JSD(p_data, p_G)``.
    nll_stderr, forward_kl_stderr, reverse_kl_stderr, jsd_stderr: their standard errors.
  """

  nll: jax.Array
  forward_kl: jax.Array
  reverse_kl: jax.Array
  jsd: jax.Array
  nll_stderr: jax.Array
  forward_kl_stderr: jax.Array
  reverse_kl_stderr: jax.Array
  jsd_stderr: jax.Array


def divergence_estimates(
    real_log_p_data: jax.Array,
    real_log_p_generator: jax.Array,
    fake_log_p_data: jax.Array,
    fake_log_p_generator: jax.Array,
) -> DivergenceEstimates:
  """Divergences between ``p_data`` and ``p_G`` from both log-densities on samples of each.

  Each estimate is a sample mean (the JSD: half the sum of one mean per distribution), and its
  standard error is the sample standard deviation over ``sqrt(n)``. The JSD's terms are
  ``log 2 p / (p + q) = log 2 + log p - logaddexp(log p, log q)``, in log space.

  Args:
    real_log_p_data: ``[n]`` ``log p_data`` on data samples.
    real_log_p_generator: ``[n]`` ``log p_G`` on the same data samples.
    fake_log_p_data: ``[m]`` ``log p_data`` on generator samples.
    fake_log_p_generator: ``[m]`` ``log p_G`` on the same generator samples.

  Returns:
    The :class:`DivergenceEstimates`.
  """
  real_log_m = jnp.logaddexp(real_log_p_data, real_log_p_generator) - math.log(2.0)
  fake_log_m = jnp.logaddexp(fake_log_p_data, fake_log_p_generator) - math.log(2.0)

  def sample_mean(values):  # Not NaN-aware (unlike metrics.mean_and_stderr): a NaN shows.
    return jnp.mean(values), jnp.std(values, ddof=1) / math.sqrt(values.shape[0])

  nll = sample_mean(-real_log_p_generator)
  forward_kl = sample_mean(real_log_p_data - real_log_p_generator)
  reverse_kl = sample_mean(fake_log_p_generator - fake_log_p_data)
  jsd_real = sample_mean(real_log_p_data - real_log_m)
  jsd_fake = sample_mean(fake_log_p_generator - fake_log_m)
  return DivergenceEstimates(
      nll=nll[0],
      forward_kl=forward_kl[0],
      reverse_kl=reverse_kl[0],
      jsd=0.5 * (jsd_real[0] + jsd_fake[0]),
      nll_stderr=nll[1],
      forward_kl_stderr=forward_kl[1],
      reverse_kl_stderr=reverse_kl[1],
      jsd_stderr=0.5 * jnp.hypot(jsd_real[1], jsd_fake[1]),
  )


def cost_curves(
    names: tuple[str, ...], discriminator_outputs: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """Each generator cost of one sample, and its derivative in the logit, against ``D(G(z))``.

  The curves of Goodfellow's NIPS 2016 tutorial, Figure 16: where the discriminator
  rejects a sample (``D -> 0``), the minimax cost is flat (its derivative is ``-D``), the
  non-saturating cost is steepest (``-(1 - D)``), and the maximum-likelihood cost is
  flat too, its derivative ``-D / (1 - D)`` growing only as ``D -> 1``.

  Args:
    names: registered generator objectives with a ``sample_cost``.
    discriminator_outputs: ``[n]`` values of ``D`` in ``(0, 1)``.

  Returns:
    ``(costs, derivatives)``, each ``[len(names), n]``.
  """
  logits = jnp.log(discriminator_outputs) - jnp.log1p(-discriminator_outputs)
  curves = [jax.vmap(jax.value_and_grad(objectives.get(name).sample_cost))(logits)
            for name in names]
  return jnp.stack([cost for cost, _ in curves]), jnp.stack([slope for _, slope in curves])


class Gaussian(NamedTuple):
  """Parameters of the 1-D generator ``x = mean + exp(log_std) z``, ``z ~ N(0, 1)``."""

  mean: jax.Array
  log_std: jax.Array


def gaussian_sample(params: Gaussian, noise: jax.Array) -> jax.Array:
  """``x = mean + exp(log_std) * noise``: the reparameterized sample."""
  return params.mean + jnp.exp(params.log_std) * noise


def gaussian_log_prob(params: Gaussian, x: jax.Array) -> jax.Array:
  """``log N(x | mean, exp(log_std)^2)``."""
  # Standardized, as in vae.gaussian_log_prob: norm.logpdf(x, mean, exp(log_std)) squares
  # the scale, NaN in float32 at |log_std| = 50.
  standardized = (x - params.mean) * jnp.exp(-params.log_std)
  return norm.logpdf(standardized) - params.log_std


class GradientCheck(NamedTuple):
  """A generator cost's gradient at ``theta0`` with ``D*`` frozen there: exact and estimated.

  Each field is a :class:`Gaussian` of arrays with a leading objective axis.

  Attributes:
    exact: the gradient of the cost's divergence (its objective's ``divergence``), by
      quadrature and autodiff, independent of the estimators.
    pathwise: the pathwise estimate, the mean of per-sample gradients.
    pathwise_stderr: its standard error.
    score_function: the score-function estimate.
    score_function_stderr: its standard error.
  """

  exact: Gaussian
  pathwise: Gaussian
  pathwise_stderr: Gaussian
  score_function: Gaussian
  score_function_stderr: Gaussian


def gradient_checks(
    names: tuple[str, ...],
    log_p_data: Callable[[jax.Array], jax.Array],
    theta0: Gaussian,
    quadrature: Quadrature,
    noise: jax.Array,
) -> GradientCheck:
  """Checks the gradient identity of every generator cost in ``names`` on one noise draw.

  The cost of a sample is the objective at the optimal discriminator's logit,
  ``a*(x) = log p_data(x) - log p_theta0(x)``, frozen at ``theta0``; both estimators
  use the same ``noise`` (``x = theta0.mean + exp(theta0.log_std) * noise``).

  Args:
    names: registered generator objectives with a ``sample_cost`` and a ``divergence``.
    log_p_data: the data log-density of an array of 1-D points.
    theta0: the generator's parameters.
    quadrature: the rule for the exact side.
    noise: ``[n]`` standard normal draws.

  Returns:
    The :class:`GradientCheck`, objectives along the leading axis, in ``names`` order.
  """
  log_p_data_points = log_p_data(quadrature.points)
  sample_costs = [objectives.get(name).sample_cost for name in names]

  def check(index):
    def cost(x):
      logit = optimal_discriminator_logit(log_p_data(x), gaussian_log_prob(theta0, x))
      return jax.lax.switch(index, sample_costs, logit)

    def divergence(params):
      log_p_generator = gaussian_log_prob(params, quadrature.points)
      branches = [objectives.get(name).divergence for name in names]
      return jax.lax.switch(index, branches, quadrature, log_p_data_points, log_p_generator)

    pathwise = estimators.pathwise_gradients(cost, gaussian_sample, theta0, noise)
    samples = gaussian_sample(theta0, noise)
    score = estimators.score_function_gradients(cost, gaussian_log_prob, theta0, samples)
    pathwise_mean, pathwise_stderr = _mean_and_stderr(pathwise)
    score_mean, score_stderr = _mean_and_stderr(score)
    return GradientCheck(
        jax.grad(divergence)(theta0), pathwise_mean, pathwise_stderr, score_mean, score_stderr
    )

  return jax.vmap(check)(jnp.arange(len(names)))


def _mean_and_stderr(per_sample: Gaussian) -> tuple[Gaussian, Gaussian]:
  pairs = [mean_and_stderr(values) for values in per_sample]
  return Gaussian(*(mean for mean, _ in pairs)), Gaussian(*(stderr for _, stderr in pairs))


def game_value(
    objective: str, quadrature: Quadrature, log_p_data: jax.Array, log_p_generator: jax.Array,
    logit: jax.Array,
) -> jax.Array:
  """What the discriminator paired with ``objective`` maximizes, at logit ``a``, by quadrature.

  Minus its loss, ``-(E_data[real(a)] + E_G[fake(a)])``: for the cross-entropy the game's
  value ``V(D, G) = E_data log D + E_G log(1 - D)``, for an f-GAN game the bound ``F``.
  """
  loss = objectives.get(objective).discriminator_loss
  return -(expectation(quadrature, log_p_data, loss.real(logit))
           + expectation(quadrature, log_p_generator, loss.fake(logit)))


def best_game_value(
    objective: str, quadrature: Quadrature, log_p_data: jax.Array, log_p_generator: jax.Array
) -> jax.Array:
  """The maximum of :func:`game_value` over discriminators: ``2 JSD - log 4``, or ``D_f``.

  Raises:
    ValueError: if the objective's discriminator loss does not state its minimum.
  """
  loss = objectives.get(objective).discriminator_loss
  if loss.minimum is None:
    raise ValueError(f"objective {objective!r}: its discriminator loss states no minimum")
  return -loss.minimum(quadrature, log_p_data, log_p_generator)


class DistanceToOptimum(NamedTuple):
  """How far a discriminator ``D = sigmoid(a)`` is from ``D*``, by quadrature.

  Attributes:
    under_data: ``E_data |D(x) - D*(x)|``.
    under_generator: ``E_G |D(x) - D*(x)|``.
    value_gap: :func:`best_game_value` minus :func:`game_value` of the discriminator,
      ``>= 0``: how far below its maximum the discriminator's own objective is.
  """

  under_data: jax.Array
  under_generator: jax.Array
  value_gap: jax.Array


@flax.struct.dataclass
class DiscriminatorState:
  """A discriminator trained alone: its key for the periods to come, period, params, Adam state."""

  key: jax.Array
  period: jax.Array
  params: Any
  opt_state: optax.OptState


class DiscriminatorTrainer(NamedTuple):
  """A discriminator trained alone, in the pieces :mod:`gan_theory.engine` puts together.

  Attributes:
    init: ``(key, leaves) -> DiscriminatorState``; ``leaves`` is unused (None).
    train_period: ``eval_every`` Adam steps, then :attr:`evaluate`.
    evaluate: ``DiscriminatorState -> DistanceToOptimum``.
    num_periods: ``num_steps // eval_every``.
    period_steps: ``eval_every``.
  """

  init: Callable[[jax.Array, None], DiscriminatorState]
  train_period: Callable[[DiscriminatorState], tuple[DiscriminatorState, DistanceToOptimum]]
  evaluate: Callable[[DiscriminatorState], DistanceToOptimum]
  num_periods: int
  period_steps: int


def make_discriminator_trainer(
    log_p_data: Callable[[jax.Array], jax.Array],
    sample_data: Callable[[jax.Array, int], jax.Array],
    generator: Gaussian,
    quadrature: Quadrature,
    hidden_sizes: tuple[int, ...],
    activation: str,
    learning_rate: float,
    batch_size: int,
    num_steps: int,
    eval_every: int,
    objective: str = "minimax",
) -> DiscriminatorTrainer:
  """A discriminator trained alone against a fixed generator, by Adam.

  Each step draws ``batch_size`` data and generator samples and takes a step on the loss
  of the discriminator paired with ``objective`` (its record's ``discriminator_loss``: the
  cross-entropy, or an f-GAN bound); every ``eval_every`` steps (and at step 0) the distance
  to ``D*`` and the gap of its objective to the maximum are measured on the quadrature's
  points. ``engine.make_train`` of it is ``train(key) -> (state, distances)``, the
  distances ``[num_steps // eval_every + 1]``; ``engine.run`` trains one per seed.

  Args:
    log_p_data: the data log-density of an array of 1-D points.
    sample_data: ``(key, n) -> [n]`` data samples.
    generator: the fixed 1-D Gaussian generator.
    quadrature: where the distance to ``D*`` is integrated.
    hidden_sizes: the discriminator MLP's hidden layers.
    activation: its activation, from :data:`gan_theory.networks.ACTIVATIONS`.
    learning_rate: Adam's step size.
    batch_size: samples of each distribution per step.
    num_steps: training steps; a multiple of ``eval_every``.
    eval_every: steps between measurements.
    objective: a registered generator objective, whose discriminator to train.
  """
  network = networks.Discriminator(hidden_sizes, activation)
  optimizer = optax.adam(learning_rate)
  discriminator_loss = objectives.get(objective).discriminator_loss
  log_p_data_points = log_p_data(quadrature.points)
  log_p_generator_points = gaussian_log_prob(generator, quadrature.points)
  optimum = jax.nn.sigmoid(optimal_discriminator_logit(log_p_data_points, log_p_generator_points))
  best = best_game_value(objective, quadrature, log_p_data_points, log_p_generator_points)
  num_periods = num_steps // eval_every

  def evaluate(state):
    logit = network.apply(state.params, quadrature.points[:, None])
    gap = jnp.abs(jax.nn.sigmoid(logit) - optimum)
    return DistanceToOptimum(
        expectation(quadrature, log_p_data_points, gap),
        expectation(quadrature, log_p_generator_points, gap),
        best - game_value(objective, quadrature, log_p_data_points, log_p_generator_points, logit),
    )

  def step(carry, step_key):
    params, opt_state = carry
    data_key, generator_key = jax.random.split(step_key)
    real = sample_data(data_key, batch_size)[:, None]
    fake = gaussian_sample(generator, jax.random.normal(generator_key, (batch_size,)))[:, None]

    def loss(params):
      return discriminator_loss(network.apply(params, real), network.apply(params, fake))

    updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state)
    return (optax.apply_updates(params, updates), opt_state), None

  def init(key, leaves=None):
    del leaves  # A discriminator is its seed.
    init_key, train_key = jax.random.split(key)
    params = network.init(init_key, jnp.zeros((1, 1)))
    return DiscriminatorState(
        key=train_key, period=jnp.zeros((), jnp.int32), params=params,
        opt_state=optimizer.init(params),
    )

  def train_period(state):
    period_key = jax.random.split(state.key, num_periods)[state.period]
    (params, opt_state), _ = jax.lax.scan(
        step, (state.params, state.opt_state), jax.random.split(period_key, eval_every)
    )
    state = state.replace(period=state.period + 1, params=params, opt_state=opt_state)
    return state, evaluate(state)

  return DiscriminatorTrainer(
      init=init, train_period=train_period, evaluate=evaluate, num_periods=num_periods,
      period_steps=eval_every,
  )
