"""Divergences between two 1-D densities, by quadrature in log space.

Densities enter as log-densities on the points of a :class:`Quadrature`, and every formula
stays in log space, so the tails, where densities underflow, cost nothing. These are the
exact sides of the theory's identities: each generator objective's record
(:mod:`gan_theory.objectives`) names the divergence its gradient follows at the optimal
discriminator, and each discriminator loss the minimum it reaches there, as one of these.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "Quadrature",
    "expectation",
    "js_divergence",
    "kl_divergence",
    "pearson_chi2",
    "reverse_kl_divergence",
    "squared_hellinger",
    "trapezoid",
]


class Quadrature(NamedTuple):
  """Points and log-weights of a quadrature rule on an interval of the real line.

  Attributes:
    points: ``[n]`` the nodes.
    log_weights: ``[n]`` the logs of their weights.
  """

  points: jax.Array
  log_weights: jax.Array


def trapezoid(low: float, high: float, num_points: int) -> Quadrature:
  """The trapezoid rule with ``num_points`` evenly spaced nodes on ``[low, high]``."""
  points = jnp.linspace(low, high, num_points)
  step = (high - low) / (num_points - 1)
  weights = jnp.full(num_points, step).at[0].set(step / 2).at[-1].set(step / 2)
  return Quadrature(points=points, log_weights=jnp.log(weights))


def expectation(quadrature: Quadrature, log_density: jax.Array, values: jax.Array) -> jax.Array:
  """``E_p[f] = int p(x) f(x) dx`` from ``log p`` and ``f`` on the quadrature's points."""
  return jnp.sum(jnp.exp(quadrature.log_weights + log_density) * values)


def kl_divergence(quadrature: Quadrature, log_p: jax.Array, log_q: jax.Array) -> jax.Array:
  """``KL(p || q) = E_p[log p - log q]``, by quadrature."""
  return expectation(quadrature, log_p, log_p - log_q)


def reverse_kl_divergence(
    quadrature: Quadrature, log_p: jax.Array, log_q: jax.Array
) -> jax.Array:
  """``KL(q || p)``, the f-divergence of ``f(u) = -log u``, by quadrature."""
  return kl_divergence(quadrature, log_q, log_p)


def js_divergence(quadrature: Quadrature, log_p: jax.Array, log_q: jax.Array) -> jax.Array:
  """``JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``, by quadrature."""
  log_m = jnp.logaddexp(log_p, log_q) - math.log(2.0)
  return 0.5 * kl_divergence(quadrature, log_p, log_m) + 0.5 * kl_divergence(
      quadrature, log_q, log_m
  )


def pearson_chi2(quadrature: Quadrature, log_p: jax.Array, log_q: jax.Array) -> jax.Array:
  """``chi^2(p || q) = E_p[p / q] - 1``, the f-divergence of ``f(u) = (u - 1)^2``."""
  return jnp.sum(jnp.exp(quadrature.log_weights + 2.0 * log_p - log_q)) - 1.0


def squared_hellinger(quadrature: Quadrature, log_p: jax.Array, log_q: jax.Array) -> jax.Array:
  """``int (sqrt p - sqrt q)^2 = 2 - 2 int sqrt(p q)``, of ``f(u) = (sqrt u - 1)^2``."""
  return 2.0 - 2.0 * jnp.sum(jnp.exp(quadrature.log_weights + 0.5 * (log_p + log_q)))
