"""Discriminator and generator objectives as functions of the discriminator logit.

The discriminator outputs a logit ``a`` and ``D = sigmoid(a)``. Every cost here is
written in logit space, so no ``log(sigmoid(.))`` is ever formed:

* ``log D = -softplus(-a)`` and ``log(1 - D) = -softplus(a)``;
* the maximum-likelihood cost of seed 000, eq. 3.7, ``f = -exp(a) = -D / (1 - D)``,
  which at the optimal discriminator equals ``-p_data / p_G``.

Each generator objective is a function ``fake_logits -> scalar`` that the generator
*minimizes*; :data:`GENERATOR_OBJECTIVES` names them in a fixed order, which is also
the branch order of :func:`generator_loss_by_index`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = [
    "GENERATOR_OBJECTIVES",
    "MAX_LIKELIHOOD_LOGIT",
    "discriminator_loss",
    "generator_loss",
    "generator_loss_by_index",
    "maximum_likelihood",
    "minimax",
    "non_saturating",
]

# Above this logit the maximum-likelihood cost -exp(a) continues as its tangent line,
# so the per-sample weight exp(a) is capped at exp(20) ~ 4.9e8. There D(x) already
# rounds to 1 in float32 (it does so from a ~ 17), while the uncapped weight exp(80)
# ~ 5.5e34 would overflow Adam's second moment (g^2 > 3.4e38) and turn the update into
# inf or NaN.
MAX_LIKELIHOOD_LOGIT = 20.0

GeneratorObjective = Callable[[jax.Array], jax.Array]


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
  capped = jnp.minimum(fake_logits, max_logit)
  exp_capped = jnp.exp(capped)
  cost = -exp_capped * (1.0 + fake_logits - capped)
  return jnp.mean(cost)


_OBJECTIVES: dict[str, GeneratorObjective] = {
    "minimax": minimax,
    "non_saturating": non_saturating,
    "maximum_likelihood": maximum_likelihood,
}
GENERATOR_OBJECTIVES: tuple[str, ...] = tuple(_OBJECTIVES)


def _lookup(name: str) -> GeneratorObjective:
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
  return _lookup(name)(fake_logits)


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
  branches = [_lookup(name) for name in names]
  return jax.lax.switch(index, branches, fake_logits)
