"""Discriminator and generator objectives as functions of the discriminator logit.

The discriminator outputs a logit ``a`` and ``D = sigmoid(a)``. Every cost here is
written in logit space, so no ``log(sigmoid(.))`` is ever formed:

* ``log D = -softplus(-a)`` and ``log(1 - D) = -softplus(a)``;
* the maximum-likelihood cost of seed 000, eq. 3.7, ``f = -exp(a) = -D / (1 - D)``,
  which at the optimal discriminator equals ``-p_data / p_G``.

Each generator objective is a function ``fake_logits -> scalar`` that the generator
*minimizes*, paired with the loss its discriminator minimizes;
:data:`GENERATOR_OBJECTIVES` names them in a fixed order, which is also the branch
order of :func:`generator_loss_by_index`; :func:`paired_discriminator_loss` gives each
one's discriminator loss.

The f-GAN games (Nowozin et al. 2016), ``f_<divergence>`` for each of
:data:`F_DIVERGENCES`, train the discriminator to maximize the variational lower bound
``F(a) = E_data[T(a)] - E_G[f*(T(a))] <= D_f(p_data || p_G)`` and the generator to
minimize ``-E_G[f*(T(a))]``. The output activation ``T(a)`` of each is chosen so that
the optimal logit is ``a* = log p_data - log p_G`` for every game, as for the
cross-entropy: ``T(a*) = f'(p_data / p_G)``, and ``D = sigmoid(a)`` is the same classifier
throughout. With ``a*`` held fixed, the generator's cost then has the gradient of
``D_f`` itself (``f*(f'(u)) = u f'(u) - f(u)``). The discriminator reads its logit
through :func:`soft_clip`, so no exponential overflows and ``F`` stays a true lower
bound; the generator's cost, ``f(u) - u f'(u)`` at ``u = exp(a)``, is only capped above
against overflow (:class:`FGan`).
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "FGan",
    "F_DIVERGENCES",
    "F_GANS",
    "GENERATOR_OBJECTIVES",
    "MAX_LIKELIHOOD_LOGIT",
    "capped_exp",
    "discriminator_loss",
    "f_divergence_of",
    "f_gan",
    "generator_loss",
    "generator_loss_by_index",
    "maximum_likelihood",
    "minimax",
    "non_saturating",
    "paired_discriminator_loss",
    "soft_clip",
    "variational_bound",
]

# Above this logit the maximum-likelihood cost -exp(a) continues as its tangent line,
# so the per-sample weight exp(a) is capped at exp(20) ~ 4.9e8. There D(x) already
# rounds to 1 in float32 (it does so from a ~ 17), while the uncapped weight exp(80)
# ~ 5.5e34 would overflow Adam's second moment (g^2 > 3.4e38) and turn the update into
# inf or NaN.
MAX_LIKELIHOOD_LOGIT = 20.0

GeneratorObjective = Callable[[jax.Array], jax.Array]
DiscriminatorLoss = Callable[[jax.Array, jax.Array], jax.Array]


def capped_exp(x: jax.Array, max_exponent: float = MAX_LIKELIHOOD_LOGIT) -> jax.Array:
  """``exp(x)``, continued by its tangent line above ``max_exponent``.

  Value and gradient stay finite and continuous for every finite ``x``, and the
  exponential is only evaluated at ``min(x, max_exponent)``, so neither it nor its
  gradient can overflow (no NaN can come out of an unselected ``where`` branch).
  """
  capped = jnp.minimum(x, max_exponent)
  return jnp.exp(capped) * (1.0 + x - capped)


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Binary cross-entropy of the minimax game, which the discriminator minimizes.

  ``-E_data log D(x) - E_G log(1 - D(G(z))) = mean softplus(-a_real) + mean
  softplus(a_fake)``; its minimum over D is ``log 4 - 2 JSD(p_data, p_G)``.

  Args:
    real_logits: discriminator logits on data samples, any shape.
    fake_logits: discriminator logits on generator samples, any shape.

  Returns:
    The scalar loss.
  """
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def minimax(fake_logits: jax.Array) -> jax.Array:
  """The minimax cost ``E log(1 - D(G(z))) = -E softplus(a)``.

  Its gradient in ``a`` is ``-D``: it vanishes where the discriminator rejects the
  samples confidently (D -> 0), the saturation that motivates the other costs.

  Args:
    fake_logits: discriminator logits on generator samples.

  Returns:
    The scalar cost the generator minimizes.
  """
  return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating(fake_logits: jax.Array) -> jax.Array:
  """The non-saturating cost ``-E log D(G(z)) = E softplus(-a)``.

  Its gradient in ``a`` is ``-(1 - D)``: largest where the samples are rejected.

  Args:
    fake_logits: discriminator logits on generator samples.

  Returns:
    The scalar cost the generator minimizes.
  """
  return jnp.mean(jax.nn.softplus(-fake_logits))


def maximum_likelihood(
    fake_logits: jax.Array, max_logit: float = MAX_LIKELIHOOD_LOGIT
) -> jax.Array:
  """The maximum-likelihood cost ``E[-exp(a(G(z)))]`` (seed 000, eq. 3.7).

  With the optimal discriminator, ``exp(a) = p_data / p_G`` and the gradient of this
  cost equals the gradient of ``KL(p_data || p_G)``. Above ``max_logit`` the cost
  continues linearly, ``-exp(m) (1 + a - m)``: value and gradient stay finite and
  continuous, and a sample's weight never exceeds ``exp(m)``. The exponential is
  only ever evaluated at ``min(a, m)``, so neither branch of the ``where`` can
  overflow, and no NaN can appear in the gradient either.

  Args:
    fake_logits: discriminator logits on generator samples.
    max_logit: the logit above which the cost is linear.

  Returns:
    The scalar cost the generator minimizes.
  """
  return -jnp.mean(capped_exp(fake_logits, max_logit))


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
  """

  variational_function: Callable[[jax.Array], jax.Array]
  conjugate: Callable[[jax.Array], jax.Array]
  generator_cost: Callable[[jax.Array], jax.Array]


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
        lambda a: -capped_exp(a),
    ),
    # f(u) = -log u, f'(u) = -1/u, f*(t) = -1 - log(-t).
    "reverse_kl": FGan(
        lambda a: -jnp.exp(-soft_clip(a, 20.0)), lambda a: soft_clip(a, 20.0) - 1.0,
        lambda a: 1.0 - a,
    ),
    # f(u) = (u - 1)^2, f'(u) = 2 (u - 1), f*(t) = t^2 / 4 + t.
    "pearson": FGan(
        lambda a: 2.0 * (jnp.exp(soft_clip(a, 10.0)) - 1.0),
        lambda a: jnp.exp(2.0 * soft_clip(a, 10.0)) - 1.0,
        lambda a: 1.0 - capped_exp(2.0 * a),
    ),
    # f(u) = (sqrt(u) - 1)^2, f'(u) = 1 - 1/sqrt(u), f*(t) = t / (1 - t).
    "squared_hellinger": FGan(
        lambda a: 1.0 - jnp.exp(-0.5 * soft_clip(a, 40.0)),
        lambda a: jnp.exp(0.5 * soft_clip(a, 40.0)) - 1.0,
        lambda a: 1.0 - capped_exp(0.5 * a),
    ),
    # f(u) = u log u - (u + 1) log((u + 1) / 2), D_f = 2 JSD: T = log 2 - softplus(-a),
    # f*(t) = -log(2 - exp(t)); softplus needs no clipping.
    "jensen_shannon": FGan(
        lambda a: _LOG_2 - jax.nn.softplus(-a), lambda a: jax.nn.softplus(a) - _LOG_2,
        lambda a: _LOG_2 - jax.nn.softplus(a),
    ),
}
F_DIVERGENCES: tuple[str, ...] = tuple(F_GANS)


def variational_bound(name: str, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """``F = E_data[T(a)] - E_G[f*(T(a))]``, a lower bound on ``D_f(p_data || p_G)``.

  Equality holds at the optimal logit ``a* = log p_data - log p_G``.

  Args:
    name: one of :data:`F_DIVERGENCES`.
    real_logits: discriminator logits on data samples.
    fake_logits: discriminator logits on generator samples.

  Returns:
    The scalar bound.
  """
  game = f_gan(name)
  return jnp.mean(game.variational_function(real_logits)) - jnp.mean(game.conjugate(fake_logits))


def f_divergence_of(objective: str) -> str | None:
  """The f-divergence of f-GAN objective ``f_<name>``, or None for another objective."""
  name = objective.removeprefix("f_")
  return name if objective.startswith("f_") and name in F_GANS else None


def f_gan(name: str) -> FGan:
  """The :class:`FGan` of f-divergence ``name``, one of :data:`F_DIVERGENCES`.

  Raises:
    ValueError: if ``name`` is not one of them.
  """
  try:
    return F_GANS[name]
  except KeyError:
    raise ValueError(f"unknown f-divergence {name!r}; valid: {', '.join(F_DIVERGENCES)}") from None


class _Objective(NamedTuple):
  generator: GeneratorObjective
  discriminator: DiscriminatorLoss


def _f_gan_objective(name: str) -> _Objective:
  game = F_GANS[name]
  return _Objective(
      generator=lambda fake_logits: jnp.mean(game.generator_cost(fake_logits)),
      discriminator=lambda real_logits, fake_logits: -variational_bound(
          name, real_logits, fake_logits
      ),
  )


_OBJECTIVES: dict[str, _Objective] = {
    "minimax": _Objective(minimax, discriminator_loss),
    "non_saturating": _Objective(non_saturating, discriminator_loss),
    "maximum_likelihood": _Objective(maximum_likelihood, discriminator_loss),
    **{f"f_{name}": _f_gan_objective(name) for name in F_DIVERGENCES},
}
GENERATOR_OBJECTIVES: tuple[str, ...] = tuple(_OBJECTIVES)


def _lookup(name: str) -> _Objective:
  try:
    return _OBJECTIVES[name]
  except KeyError:
    raise ValueError(
        f"unknown generator objective {name!r}; valid: {', '.join(GENERATOR_OBJECTIVES)}"
    ) from None


def generator_loss(name: str, fake_logits: jax.Array) -> jax.Array:
  """The cost that generator objective ``name`` minimizes.

  Args:
    name: one of :data:`GENERATOR_OBJECTIVES`.
    fake_logits: discriminator logits on generator samples.

  Returns:
    The scalar cost.

  Raises:
    ValueError: if ``name`` is not a known objective.
  """
  return _lookup(name).generator(fake_logits)


def paired_discriminator_loss(name: str) -> DiscriminatorLoss:
  """The loss ``(real_logits, fake_logits) -> scalar`` of the discriminator that trains
  against generator objective ``name``.

  The cross-entropy :func:`discriminator_loss` (the same function object) for the three
  costs of the minimax game, ``-F`` (:func:`variational_bound`) for the f-GAN games.

  Raises:
    ValueError: if ``name`` is not a known objective.
  """
  return _lookup(name).discriminator


def generator_loss_by_index(
    names: tuple[str, ...], index: jax.Array, fake_logits: jax.Array
) -> jax.Array:
  """The cost of objective ``names[index]``, with ``index`` a traced integer.

  This lets the objective be a pytree leaf, so one compiled program can ``vmap``
  over runs with different objectives. Under ``vmap`` a batched ``lax.switch``
  evaluates every branch for every run and selects; each branch is finite in value
  and gradient for every finite logit, so an unselected branch cannot leak a NaN.

  Args:
    names: the objectives that ``index`` selects from (static).
    index: integer scalar in ``[0, len(names))``.
    fake_logits: discriminator logits on generator samples.

  Returns:
    The scalar cost.

  Raises:
    ValueError: if a name is not a known objective.
  """
  branches = [_lookup(name).generator for name in names]
  return jax.lax.switch(index, branches, fake_logits)
