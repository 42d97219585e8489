"""THE registry of generator objectives: one record per objective, read by every module.

The discriminator outputs a logit ``a`` and ``D = sigmoid(a)``. An :class:`Objective` holds
everything the library knows of one generator objective:

* its cost per generator sample as a function of the logit, ``c(a)``, written in logit
  space, so no ``log(sigmoid(.))`` is ever formed (``log D = -softplus(-a)``,
  ``log(1 - D) = -softplus(a)``); or a cost of the whole batch (:class:`GeneratorBatch`:
  the logits, the samples, the data batch and its negative log-likelihood under the
  generator), for costs that are not a mean over samples; and whether it reads that
  likelihood (``needs_density``: the generator must have a density);
* the :class:`DiscriminatorLoss` it trains against, per-sample terms on data and generator
  logits, with the loss's minimum over discriminators;
* the divergence whose gradient the cost follows with the optimal discriminator
  ``a* = log p_data - log p_G`` held fixed (or none), by quadrature
  (:mod:`gan_theory.divergences`).

:func:`register` adds an objective, from user code too; :func:`get` and :func:`names` read
the registry; :func:`generator_cost_by_index` selects one by a traced index, so runs with
different objectives share one compiled program. The built-in records:

* the minimax game's three costs against the cross-entropy :data:`CROSS_ENTROPY`:
  ``minimax`` ``log(1 - D)``, ``non_saturating`` ``-log D``, and the assignment's
  maximum-likelihood cost (eq. 3.7) ``maximum_likelihood`` ``-exp(a) = -D / (1 - D)``,
  which at the optimal discriminator equals ``-p_data / p_G``;
* two more costs that follow ``KL(p_data || p_G)`` at the optimal discriminator:
  ``maximum_likelihood_self_normalized``, the maximum-likelihood cost with its weights
  ``exp(a)`` normalized over the batch (consistent, biased, far lower variance), and the
  continuous boundary-seeking cost ``boundary_seeking`` ``a^2 / 2`` (Hjelm et al. 2018),
  which pushes every sample towards ``D = 1/2``;
* ``mle``: maximum likelihood itself, ``-E_data log p_G``, for a generator with a density,
  and ``mmd``: the unbiased MMD^2 between the generator's batch and the data batch with a
  mixture of Gaussian kernels (Li et al. 2015, Dziugaite et al. 2015), a fixed two-sample
  statistic in place of the learned one (the discriminators of both train alongside, for
  their metrics only);
* the f-GAN games (Nowozin et al. 2016), ``f_<divergence>`` for each of
  :data:`F_DIVERGENCES`: the discriminator maximizes the variational lower bound
  ``F(a) = E_data[T(a)] - E_G[f*(T(a))] <= D_f(p_data || p_G)`` and the generator
  minimizes ``-E_G[f*(T(a))]``. Each output activation ``T(a)`` is chosen so that the
  optimal logit is ``a* = log p_data - log p_G`` for every game, as for the cross-entropy:
  ``T(a*) = f'(p_data / p_G)``, and ``D = sigmoid(a)`` is the same classifier throughout.
  With ``a*`` held fixed, the generator's cost then has the gradient of ``D_f`` itself
  (``f*(f'(u)) = u f'(u) - f(u)``). The discriminator reads its logit through
  :func:`soft_clip`, so no exponential overflows and ``F`` stays a true lower bound; the
  generator's cost, ``f(u) - u f'(u)`` at ``u = exp(a)``, is only capped above against
  overflow (:class:`FGan`).
"""

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gan_theory import divergences, two_sample
from gan_theory.divergences import Quadrature

__all__ = [
    "CROSS_ENTROPY",
    "DiscriminatorLoss",
    "FGan",
    "F_DIVERGENCES",
    "F_GANS",
    "GeneratorBatch",
    "MAX_LIKELIHOOD_LOGIT",
    "MMD_BANDWIDTHS",
    "Objective",
    "boundary_seeking",
    "capped_exp",
    "f_gan",
    "generator_cost_by_index",
    "get",
    "maximum_likelihood",
    "minimax",
    "mixture_mmd2",
    "names",
    "non_saturating",
    "register",
    "self_normalized_maximum_likelihood",
    "soft_clip",
]

# Above this logit the maximum-likelihood cost -exp(a) continues as its tangent line,
# so the per-sample weight exp(a) is capped at exp(20) ~ 4.9e8. There D(x) already
# rounds to 1 in float32 (it does so from a ~ 17), while the uncapped weight exp(80)
# ~ 5.5e34 would overflow Adam's second moment (g^2 > 3.4e38) and turn the update into
# inf or NaN.
MAX_LIKELIHOOD_LOGIT = 20.0


def capped_exp(x: jax.Array, max_exponent: float = MAX_LIKELIHOOD_LOGIT) -> jax.Array:
  """``exp(x)``, continued by its tangent line above ``max_exponent``.

  Value and gradient stay finite and continuous for every finite ``x``, and the
  exponential is only evaluated at ``min(x, max_exponent)``, so neither it nor its
  gradient can overflow (no NaN can come out of an unselected ``where`` branch).
  """
  capped = jnp.minimum(x, max_exponent)
  return jnp.exp(capped) * (1.0 + x - capped)


# (quadrature, log p_data, log p_G) -> a number: how a record states its exact sides.
QuadratureFunctional = Callable[[Quadrature, jax.Array, jax.Array], jax.Array]
SampleCost = Callable[[jax.Array], jax.Array]


class GeneratorBatch(NamedTuple):
  """What a generator cost may read of one training step.

  Attributes:
    fake_logits: ``[n]`` the discriminator's logits on the generator's samples.
    fake: ``[n, d]`` the generator's samples, differentiable in its parameters.
    real: ``[m, d]`` the data batch.
    data_nll: ``-E_data log p_G`` of the data batch; 0 unless an objective of the sweep
      ``needs_density``.
  """

  fake_logits: jax.Array
  fake: jax.Array
  real: jax.Array
  data_nll: jax.Array | float = 0.0


BatchCost = Callable[[GeneratorBatch], jax.Array]


@dataclasses.dataclass(frozen=True)
class DiscriminatorLoss:
  """The loss a discriminator minimizes, ``E_data[real(a)] + E_G[fake(a)]`` in its logit.

  Attributes:
    real: the per-sample term on the logits of data samples.
    fake: the per-sample term on the logits of generator samples.
    minimum: ``(quadrature, log p_data, log p_G) -> `` the loss's minimum over
      discriminators, by quadrature; the theory's discriminators measure their distance
      to it. None where it is not known. Every built-in game reaches it at the logit
      ``a* = log p_data - log p_G``.
  """

  real: SampleCost
  fake: SampleCost
  minimum: QuadratureFunctional | None = None

  def __call__(self, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """The scalar loss on a batch of data logits and one of generator logits."""
    return jnp.mean(self.real(real_logits)) + jnp.mean(self.fake(fake_logits))


@dataclasses.dataclass(frozen=True)
class Objective:
  """One generator objective: everything the library knows of it.

  Attributes:
    name: what configs, flags and tables call it.
    discriminator_loss: the loss of the discriminator that the generator trains against.
    sample_cost: ``c(a)``, the cost of one generator sample as a function of the
      discriminator's logit on it; the generator minimizes its mean. None for a cost
      that is not a mean over samples of the logit.
    batch_cost: ``GeneratorBatch -> `` a scalar the cost adds: for costs of the whole
      batch (a self-normalized weight, a two-sample statistic, the data's likelihood).
    needs_density: the cost reads ``GeneratorBatch.data_nll``: only a generator with an
      exact density can train it.
    reads_discriminator: whether the cost reads the discriminator's logits; one that does
      not (maximum likelihood itself, a fixed two-sample statistic) trains the generator
      with no discriminator in its gradient.
    divergence: ``(quadrature, log p_data, log p_G) ->`` the divergence whose gradient in
      the generator's parameters the cost has with the optimal discriminator held fixed
      (exactly, or as the batch grows for a self-normalized cost); None where there is
      none.

  Both costs must be finite, with a finite gradient, for every finite input: under
  ``vmap`` every objective of a sweep is evaluated for every run and selected, so an
  overflow in one would leak a NaN into the others.
  """

  name: str
  discriminator_loss: DiscriminatorLoss
  sample_cost: SampleCost | None = None
  batch_cost: BatchCost | None = None
  needs_density: bool = False
  reads_discriminator: bool = True
  divergence: QuadratureFunctional | None = None

  def generator_cost(self, batch: GeneratorBatch) -> jax.Array:
    """The scalar cost the generator minimizes on ``batch``: the mean sample cost plus
    the batch cost."""
    cost = jnp.zeros(())
    if self.sample_cost is not None:
      cost = cost + jnp.mean(self.sample_cost(batch.fake_logits))
    if self.batch_cost is not None:
      cost = cost + self.batch_cost(batch)
    return cost


def minimax(fake_logits: jax.Array) -> jax.Array:
  """The minimax cost of one sample, ``log(1 - D) = -softplus(a)``.

  Its gradient in ``a`` is ``-D``: it vanishes where the discriminator rejects the
  samples confidently (D -> 0), the saturation that motivates the other costs.
  """
  return -jax.nn.softplus(fake_logits)


def non_saturating(fake_logits: jax.Array) -> jax.Array:
  """The non-saturating cost of one sample, ``-log D = softplus(-a)``.

  Its gradient in ``a`` is ``-(1 - D)``: largest where the samples are rejected.
  """
  return jax.nn.softplus(-fake_logits)


def maximum_likelihood(
    fake_logits: jax.Array, max_logit: float = MAX_LIKELIHOOD_LOGIT
) -> jax.Array:
  """The maximum-likelihood cost of one sample, ``-exp(a)`` (the assignment, eq. 3.7).

  With the optimal discriminator, ``exp(a) = p_data / p_G`` and the gradient of this
  cost equals the gradient of ``KL(p_data || p_G)``. Above ``max_logit`` the cost
  continues linearly, ``-exp(m) (1 + a - m)`` (:func:`capped_exp`): value and gradient
  stay finite and continuous, and a sample's weight never exceeds ``exp(m)``.
  """
  return -capped_exp(fake_logits, max_logit)


def self_normalized_maximum_likelihood(fake_logits: jax.Array) -> jax.Array:
  """The maximum-likelihood cost with self-normalized weights, on a batch of logits.

  ``-sum_i stop_gradient(w_i / sum_j w_j) a_i`` with ``w = exp(a)``: the gradient
  ``-sum_i w_i grad a_i / sum_j w_j`` is that of the maximum-likelihood cost,
  ``-(1/n) sum_i w_i grad a_i``, with the batch's ``(1/n) sum_j w_j`` in place of its
  expectation, which is 1 at the optimal discriminator. Consistent and biased (the bias
  is O(1/n)), with far lower variance when a few weights dominate; the weights are a
  softmax of the logits, so none overflows.
  """
  weights = jax.lax.stop_gradient(jax.nn.softmax(fake_logits))
  return -jnp.sum(weights * fake_logits)


def boundary_seeking(fake_logits: jax.Array) -> jax.Array:
  """The continuous boundary-seeking cost of one sample, ``a^2 / 2`` (Hjelm et al. 2018).

  ``(log D - log(1 - D))^2 / 2``: its gradient ``a`` pushes every sample towards the
  decision boundary ``D = 1/2``, where ``p_data = p_G`` at the optimal discriminator.
  """
  return 0.5 * jnp.square(fake_logits)


def _boundary_seeking_divergence(
    quadrature: Quadrature, log_p_data: jax.Array, log_p_g: jax.Array
) -> jax.Array:
  """``int p_G g(p_data / p_G)`` with ``g(u) = (log u)^2 / 2 + log u + 1 - u``, the
  functional whose gradient ``E_G[a*^2 / 2]`` follows with ``a*`` fixed:
  ``g(u) - u g'(u) = (log u)^2 / 2``, and ``g(1) = 0``. It equals
  ``E_G[(log p_data - log p_G)^2] / 2 - KL(p_G || p_data)``, and is zero, and stationary,
  at ``p_G = p_data``. (``g`` is not convex, so it is not an f-divergence.)"""
  log_ratio = log_p_data - log_p_g
  return (0.5 * divergences.expectation(quadrature, log_p_g, jnp.square(log_ratio))
          - divergences.reverse_kl_divergence(quadrature, log_p_data, log_p_g))


# The bandwidths of the `mmd` objective's kernel mixture, from a tenth of the targets'
# narrowest mode width to about their spread, so that some kernel sees every scale of
# the ring, the grid and the 1-D problem.
MMD_BANDWIDTHS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def mixture_mmd2(
    x: jax.Array, y: jax.Array, bandwidths: tuple[float, ...] = MMD_BANDWIDTHS
) -> jax.Array:
  """The unbiased MMD^2 of ``[n, d]``, ``[m, d]`` samples with the kernel
  ``sum_s exp(-|x - y|^2 / (2 s^2))`` over ``bandwidths``
  (:func:`gan_theory.two_sample.mmd2_unbiased`)."""
  return two_sample.mmd2_unbiased(x, y, bandwidths)


# -E_data log D - E_G log(1 - D), through optax; its minimum is log 4 - 2 JSD.
CROSS_ENTROPY = DiscriminatorLoss(
    real=lambda a: optax.sigmoid_binary_cross_entropy(a, jnp.ones_like(a)),
    fake=lambda a: optax.sigmoid_binary_cross_entropy(a, jnp.zeros_like(a)),
    minimum=lambda q, log_p_data, log_p_g: (
        math.log(4.0) - 2.0 * divergences.js_divergence(q, log_p_data, log_p_g)
    ),
)


class FGan(NamedTuple):
  """An f-GAN game in the logit parametrization, for ``D_f(P || Q) = E_Q f(p / q)``.

  Attributes:
    variational_function: ``a -> T(a)``, the discriminator's output, on data samples.
    conjugate: ``a -> f*(T(a))``, the convex conjugate of ``f`` at ``T(a)``, on
      generator samples.
    generator_cost: ``a -> -f*(f'(exp(a))) = f(u) - u f'(u)`` at ``u = exp(a)``, the
      cost of one generator sample. It equals ``-conjugate`` wherever the discriminator's
      logit is not clipped; beyond, it follows ``f`` exactly, capped only where an
      exponential would overflow, so that with ``a*`` fixed its gradient is that of
      ``D_f`` even where ``a*`` is extreme.
    divergence: ``D_f(p_data || p_G)`` from its own closed form, by quadrature,
      independently of ``variational_function`` and ``conjugate``.
  """

  variational_function: SampleCost
  conjugate: SampleCost
  generator_cost: SampleCost
  divergence: QuadratureFunctional


def soft_clip(x: jax.Array, limit: float) -> jax.Array:
  """``x`` on ``[-limit, limit]``, continued beyond by ``±(limit + log(1 + |x| - limit))``.

  Continuous and increasing, with slope ``1 / (1 + |x| - limit)`` beyond the limit, so
  ``exp(soft_clip(x, m))`` is ``exp(x)`` up to ``m`` and its tangent line above (as
  :func:`capped_exp`), and ``exp(-soft_clip(x, m))`` likewise below ``-m``.
  """
  excess = jnp.maximum(jnp.abs(x) - limit, 0.0)
  return jnp.clip(x, -limit, limit) + jnp.sign(x) * jnp.log1p(excess)


_LOG_2 = math.log(2.0)
# Each game's T(a) and f*(T(a)) in terms of a clipped logit l = soft_clip(a, limit): T is
# f'(exp(l)) and the conjugate is computed exactly at that T, so F is a lower bound on D_f
# for every logit, and T(a*) = f'(p/q) wherever |a*| <= limit. Each limit keeps every
# exponential at most exp(20), as for the maximum-likelihood cost; the generator's cost
# has only the upper caps that overflow needs.
F_GANS: dict[str, FGan] = {
    # f(u) = u log u, f'(u) = 1 + log u, f*(t) = exp(t - 1).
    "kl": FGan(
        lambda a: 1.0 + soft_clip(a, 20.0), lambda a: jnp.exp(soft_clip(a, 20.0)),
        lambda a: -capped_exp(a), divergences.kl_divergence,
    ),
    # f(u) = -log u, f'(u) = -1/u, f*(t) = -1 - log(-t).
    "reverse_kl": FGan(
        lambda a: -jnp.exp(-soft_clip(a, 20.0)), lambda a: soft_clip(a, 20.0) - 1.0,
        lambda a: 1.0 - a, divergences.reverse_kl_divergence,
    ),
    # f(u) = (u - 1)^2, f'(u) = 2 (u - 1), f*(t) = t^2 / 4 + t.
    "pearson": FGan(
        lambda a: 2.0 * (jnp.exp(soft_clip(a, 10.0)) - 1.0),
        lambda a: jnp.exp(2.0 * soft_clip(a, 10.0)) - 1.0,
        lambda a: 1.0 - capped_exp(2.0 * a), divergences.pearson_chi2,
    ),
    # f(u) = (sqrt(u) - 1)^2, f'(u) = 1 - 1/sqrt(u), f*(t) = t / (1 - t).
    "squared_hellinger": FGan(
        lambda a: 1.0 - jnp.exp(-0.5 * soft_clip(a, 40.0)),
        lambda a: jnp.exp(0.5 * soft_clip(a, 40.0)) - 1.0,
        lambda a: 1.0 - capped_exp(0.5 * a), divergences.squared_hellinger,
    ),
    # f(u) = u log u - (u + 1) log((u + 1) / 2), D_f = 2 JSD: T = log 2 - softplus(-a),
    # f*(t) = -log(2 - exp(t)); softplus needs no clipping.
    "jensen_shannon": FGan(
        lambda a: _LOG_2 - jax.nn.softplus(-a), lambda a: jax.nn.softplus(a) - _LOG_2,
        lambda a: _LOG_2 - jax.nn.softplus(a),
        lambda q, log_p, log_q: 2.0 * divergences.js_divergence(q, log_p, log_q),
    ),
}
F_DIVERGENCES: tuple[str, ...] = tuple(F_GANS)


def f_gan(name: str) -> FGan:
  """The :class:`FGan` of f-divergence ``name``, one of :data:`F_DIVERGENCES`.

  Raises:
    ValueError: if ``name`` is not one of them.
  """
  try:
    return F_GANS[name]
  except KeyError:
    raise ValueError(f"unknown f-divergence {name!r}; valid: {', '.join(F_DIVERGENCES)}") from None


def _f_gan_objective(name: str, game: FGan) -> Objective:
  return Objective(
      name=f"f_{name}",
      # -F = E_data[-T(a)] + E_G[f*(T(a))]; its minimum is -D_f.
      discriminator_loss=DiscriminatorLoss(
          real=lambda a: -game.variational_function(a),
          fake=game.conjugate,
          minimum=lambda q, log_p_data, log_p_g: -game.divergence(q, log_p_data, log_p_g),
      ),
      sample_cost=game.generator_cost,
      divergence=game.divergence,
  )


_REGISTRY: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
  """Adds ``objective`` to the registry, after the objectives already there.

  From then on every part of the library knows it by name: configs
  (``config.objectives``), sweeps, the theory's checks and the experiments' tables.
  Register from your own module, and name that module to the launcher
  (``--imports=my_module``) so that its sweeps can train the objective.

  Args:
    objective: the record; its name must be new, and it must have a ``sample_cost``, a
      ``batch_cost`` or both.

  Returns:
    ``objective``, so that registering can be a module-level assignment.

  Raises:
    ValueError: if the name is taken or is not a lowercase identifier (names are config
      values, flag values and CSV cells), or the record has no cost.
  """
  name = objective.name
  if not (isinstance(name, str) and name.isidentifier() and name == name.lower()):
    raise ValueError(f"objective name {name!r} must be a lowercase identifier")
  if name in _REGISTRY:
    raise ValueError(f"objective {name!r} is registered already")
  if not isinstance(objective.discriminator_loss, DiscriminatorLoss):
    raise ValueError(f"objective {name!r}: discriminator_loss must be a DiscriminatorLoss")
  if objective.sample_cost is None and objective.batch_cost is None:
    raise ValueError(f"objective {name!r} has no cost: give a sample_cost, a batch_cost or both")
  _REGISTRY[name] = objective
  return objective


def names() -> tuple[str, ...]:
  """The registered objectives' names, in registration order (built-ins first)."""
  return tuple(_REGISTRY)


def get(name: str) -> Objective:
  """The registered :class:`Objective` called ``name``.

  Raises:
    ValueError: if there is none, listing the names there are.
  """
  try:
    return _REGISTRY[name]
  except KeyError:
    raise ValueError(
        f"unknown generator objective {name!r}; valid: {', '.join(_REGISTRY)}"
    ) from None


def generator_cost_by_index(
    objective_names: tuple[str, ...], index: jax.Array, batch: GeneratorBatch
) -> jax.Array:
  """The cost of objective ``objective_names[index]``, with ``index`` a traced integer.

  This lets the objective be a pytree leaf, so one compiled program can ``vmap`` over
  runs with different objectives. Under ``vmap`` a batched ``lax.switch`` evaluates
  every branch for every run and selects; each branch is finite in value and gradient
  for every finite input, so an unselected branch cannot leak a NaN.

  Args:
    objective_names: the objectives that ``index`` selects from (static).
    index: integer scalar in ``[0, len(objective_names))``.
    batch: what the costs read.

  Returns:
    The scalar cost.

  Raises:
    ValueError: if a name is not a registered objective.
  """
  branches = [get(name).generator_cost for name in objective_names]
  return jax.lax.switch(index, branches, batch)


register(Objective(
    "minimax", CROSS_ENTROPY, sample_cost=minimax,
    # V(D*, G) = 2 JSD - log 4; the constant has no gradient.
    divergence=lambda q, log_p_data, log_p_g: 2.0 * divergences.js_divergence(
        q, log_p_data, log_p_g),
))
register(Objective(
    "non_saturating", CROSS_ENTROPY, sample_cost=non_saturating,
    # Arjovsky and Bottou 2017, Theorem 2.5.
    divergence=lambda q, log_p_data, log_p_g: (
        divergences.kl_divergence(q, log_p_g, log_p_data)
        - 2.0 * divergences.js_divergence(q, log_p_data, log_p_g)
    ),
))
register(Objective(
    "maximum_likelihood", CROSS_ENTROPY, sample_cost=maximum_likelihood,
    divergence=divergences.kl_divergence,  # The assignment, eqs. 3.3 to 3.7.
))
for _name, _game in F_GANS.items():
  register(_f_gan_objective(_name, _game))
register(Objective(
    "maximum_likelihood_self_normalized", CROSS_ENTROPY,
    batch_cost=lambda batch: self_normalized_maximum_likelihood(batch.fake_logits),
    divergence=divergences.kl_divergence,
))
register(Objective(
    "boundary_seeking", CROSS_ENTROPY, sample_cost=boundary_seeking,
    divergence=_boundary_seeking_divergence,
))
# The baselines without a discriminator in the generator's gradient: maximum likelihood
# itself, and a fixed two-sample statistic. Their discriminators train alongside, for
# their metrics only.
register(Objective(
    "mle", CROSS_ENTROPY, batch_cost=lambda batch: batch.data_nll, needs_density=True,
    reads_discriminator=False, divergence=divergences.kl_divergence,
))
register(Objective(
    "mmd", CROSS_ENTROPY, batch_cost=lambda batch: mixture_mmd2(batch.fake, batch.real),
    reads_discriminator=False,
))
