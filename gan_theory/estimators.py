"""Monte Carlo estimators of the gradient of an expectation, ``grad_theta E_{p_theta}[f(x)]``.

Two estimators of the same gradient (the assignment, eq. 3.3 and part 1):

* **pathwise** (reparameterized): write ``x = g(theta, eps)`` with ``eps`` from a fixed
  distribution, and average ``grad_theta f(g(theta, eps))``; needs ``f`` differentiable;
* **score function** (log-derivative trick, REINFORCE): average
  ``f(x) grad_theta log p_theta(x)`` over ``x ~ p_theta``; needs only ``f``'s values.

Both return per-sample gradients, stacked along a leading axis, so that the caller can
take their mean and its standard error (:func:`gan_theory.metrics.mean_and_stderr`).
:func:`quadratic_gradient` is the exact gradient that both estimate for a Gaussian and a
quadratic ``f``: the check.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gan_theory.vae import DiagonalGaussian, FullCovarianceGaussian

__all__ = ["pathwise_gradients", "quadratic_gradient", "score_function_gradients"]

Params = Any


def pathwise_gradients(
    f: Callable[[jax.Array], jax.Array],
    transform: Callable[[Params, jax.Array], jax.Array],
    params: Params,
    noise: jax.Array,
) -> Params:
  """Per-sample pathwise gradients ``grad_params f(transform(params, noise[i]))``.

  Args:
    f: a differentiable scalar function of one sample.
    transform: ``(params, eps) -> x``, the reparameterization of one sample.
    params: the pytree to differentiate in.
    noise: ``[n, ...]`` draws of ``eps``.

  Returns:
    A pytree like ``params`` with a leading axis of size ``n``.
  """
  gradient = jax.grad(lambda p, eps: f(transform(p, eps)))
  return jax.vmap(gradient, in_axes=(None, 0))(params, noise)


def score_function_gradients(
    f: Callable[[jax.Array], jax.Array],
    log_prob: Callable[[Params, jax.Array], jax.Array],
    params: Params,
    samples: jax.Array,
) -> Params:
  """Per-sample score-function gradients ``f(x_i) grad_params log p_params(x_i)``.

  Args:
    f: a scalar function of one sample; not differentiated.
    log_prob: ``(params, x) -> log p_params(x)`` for one sample.
    params: the pytree to differentiate in.
    samples: ``[n, ...]`` draws ``x_i ~ p_params``.

  Returns:
    A pytree like ``params`` with a leading axis of size ``n``.
  """

  def one(x):
    value = f(x)
    return jax.tree.map(lambda g: value * g, jax.grad(log_prob)(params, x))

  return jax.vmap(one)(samples)


def quadratic_gradient(
    q: DiagonalGaussian | FullCovarianceGaussian, hessian: jax.Array, centre: jax.Array
) -> DiagonalGaussian | FullCovarianceGaussian:
  """The exact gradient of ``E_q[(z - c)^T A (z - c) / 2]`` in ``q``'s parameters.

  With ``Sigma = L L^T`` the expectation is ``((m - c)^T A (m - c) + tr(A L L^T)) / 2``,
  so for a symmetric ``A`` the gradient in the mean is ``A (m - c)``, in the lower triangle
  of ``scale_tril`` it is ``tril(A L)``, and in ``log_std`` it is ``diag(A) std^2``.

  Args:
    q: a Gaussian of batch shape ``()``.
    hessian: ``A``, symmetric ``[d, d]``.
    centre: ``c``, ``[d]``.

  Returns:
    The gradient, a Gaussian-shaped pytree like ``q``.
  """
  mean = hessian @ (q.mean - centre)
  if isinstance(q, DiagonalGaussian):
    return DiagonalGaussian(mean, jnp.diagonal(hessian) * jnp.exp(2 * q.log_std))
  return FullCovarianceGaussian(mean, jnp.tril(hessian @ jnp.tril(q.scale_tril)))
