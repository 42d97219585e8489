"""Variational autoencoders: the reparameterization trick, the ELBO and the IWAE bound.

The assignment, parts 1 and 2. A Gaussian ``q(z | x) = N(mu, L L^T)`` is sampled by
transforming standard normal noise, ``z = mu + L eps`` (:func:`reparameterize`), so that a
Monte Carlo bound is a differentiable function of ``q``'s parameters. With ``k`` samples
``z_i ~ q`` and log importance weights ``log w_i = log p(x, z_i) - log q(z_i | x)``:

* the ELBO, ``L_1 = E[log w]``, estimated by :func:`elbo` (the mean of the log-weights);
* the IWAE bound (Burda et al. 2015), ``L_k = E[log (1/k) sum_i w_i]``, estimated by
  :func:`iwae_bound` (their log-mean-exp). By Jensen's inequality ``L_k <= log p(x)``, and
  since the mean of ``k`` weights is the average of the means of its ``k - 1``-subsets,
  ``L_{k-1} <= L_k``: in particular ``L_1 <= L_2``.

Three estimators of ``L_k``'s gradient in ``q``'s parameters (:class:`EncoderGradient`,
:func:`iwae_objective`): the reparameterized one, sticking the landing (Roeder et al. 2017)
and the doubly reparameterized one (DReG, Tucker et al. 2018); the model's gradient is the
same for all three.

The linear-Gaussian model ``p(z) = N(0, I)``, ``p(x | z) = N(W z + b, s^2 I)`` has a closed
form ``log p(x)`` and posterior, against which the bounds can be measured exactly.
Per-datapoint Gaussians optimized alone (the mean field ``q*``, :func:`fit_mean_field`)
split the gap of an amortized encoder into approximation and amortization (Cremer et al.
2018).
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.scipy.stats import multivariate_normal

__all__ = [
    "ENCODER_GRADIENTS",
    "DiagonalGaussian",
    "EncoderGradient",
    "FullCovarianceGaussian",
    "ImportanceEstimates",
    "LinearEncoder",
    "LinearGaussian",
    "active_units",
    "bernoulli_log_prob",
    "elbo",
    "fit_mean_field",
    "gaussian_log_prob",
    "importance_estimates",
    "iwae_bound",
    "iwae_objective",
    "linear_encoder",
    "linear_gaussian_bound",
    "linear_gaussian_log_joint",
    "linear_gaussian_log_marginal",
    "linear_gaussian_posterior",
    "linear_gaussian_sample",
    "log_weights",
    "reparameterize",
    "standard_normal_log_prob",
]


class DiagonalGaussian(NamedTuple):
  """``N(mean, diag(exp(2 log_std)))``; both fields ``[..., d]``."""

  mean: jax.Array
  log_std: jax.Array


class FullCovarianceGaussian(NamedTuple):
  """``N(mean, L L^T)``: ``mean`` ``[..., d]``, ``scale_tril`` ``[..., d, d]``.

  Only the lower triangle of ``scale_tril`` is read; its diagonal must be non-zero.
  """

  mean: jax.Array
  scale_tril: jax.Array


Gaussian = DiagonalGaussian | FullCovarianceGaussian


def reparameterize(q: Gaussian, noise: jax.Array) -> jax.Array:
  """``z = mean + L noise``: a sample of ``q`` from standard normal ``noise`` ``[..., d]``.

  ``L`` is ``diag(exp(log_std))`` or the lower triangle of ``scale_tril``; ``q``'s and
  ``noise``'s batch shapes broadcast, so ``noise`` ``[k, d]`` gives ``k`` samples of one ``q``.
  """
  if isinstance(q, DiagonalGaussian):
    return q.mean + jnp.exp(q.log_std) * noise
  return q.mean + jnp.einsum("...ij,...j->...i", jnp.tril(q.scale_tril), noise)


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
  """``log N(z; 0, I)`` of ``z`` ``[..., d]``, the density over the last axis."""
  return multivariate_normal.logpdf(z, jnp.zeros(z.shape[-1], z.dtype), 1.0)


def gaussian_log_prob(q: Gaussian, z: jax.Array) -> jax.Array:
  """``log q(z)`` for ``z`` ``[..., d]``; batch shapes broadcast as in :func:`reparameterize`."""
  if isinstance(q, DiagonalGaussian):
    # Standardized, not norm.logpdf(z, mean, exp(log_std)), which squares the scale: in
    # float32, NaN at |log_std| = 50 and an overflowed gradient at |log_std| = 30.
    standardized = (z - q.mean) * jnp.exp(-q.log_std)
    return standard_normal_log_prob(standardized) - jnp.sum(q.log_std, axis=-1)
  difference = z - q.mean
  scale_tril = jnp.broadcast_to(
      jnp.tril(q.scale_tril), (*difference.shape[:-1], *q.scale_tril.shape[-2:])
  )
  difference = jnp.broadcast_to(difference, scale_tril.shape[:-1])
  # Solved against L, not multivariate_normal.logpdf(z, mean, L L^T), which factors L L^T
  # again: in float32 that lost 19% of log q at cond(L) = 5e3, where this solve kept 6e-8.
  standardized = jax.scipy.linalg.solve_triangular(scale_tril, difference[..., None], lower=True)
  log_det = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(scale_tril, axis1=-2, axis2=-1))), axis=-1)
  return standard_normal_log_prob(standardized[..., 0]) - log_det


def bernoulli_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
  """``log Bernoulli(x; sigmoid(logits))`` summed over the last axis, in logit space.

  ``x log sigmoid(l) + (1 - x) log sigmoid(-l) = x l - softplus(l)``: exact for any logit.
  """
  # One softplus, not optax.sigmoid_binary_cross_entropy's two log-sigmoids: those made the
  # digits VAE's training at k = 50 17% slower on the CPU (1.85 s to 2.17 s per 200 steps).
  return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


def log_weights(
    log_joint: Callable[[jax.Array], jax.Array], q: Gaussian, noise: jax.Array
) -> jax.Array:
  """Log importance weights ``log p(x, z_i) - log q(z_i)``, ``z_i = mean + L noise_i``.

  Args:
    log_joint: ``z [k, d] -> log p(x, z) [k]`` for the one ``x`` that ``q`` approximates.
    q: the proposal, of batch shape ``()``.
    noise: ``[k, d]`` standard normal draws.

  Returns:
    ``[k]`` log-weights, differentiable in ``q`` and in whatever ``log_joint`` closes over.
  """
  z = reparameterize(q, noise)
  return log_joint(z) - gaussian_log_prob(q, z)


def elbo(log_weights: jax.Array, axis: int = -1) -> jax.Array:
  """The ELBO estimate: the mean of the log importance weights along ``axis``."""
  return jnp.mean(log_weights, axis=axis)


def iwae_bound(log_weights: jax.Array, axis: int = -1) -> jax.Array:
  """The IWAE bound estimate ``log (1/k) sum_i exp(log_weights_i)`` along ``axis``.

  A log-sum-exp, so log-weights of any magnitude (``-1e4``, ``+1e4``) neither underflow
  nor overflow; with ``k = 1`` it is the ELBO estimate.
  """
  k = log_weights.shape[axis]
  return jax.nn.logsumexp(log_weights, axis=axis) - math.log(k)


class EncoderGradient(NamedTuple):
  """An estimator of ``L_k``'s gradient in ``q``'s parameters ``phi``, as two numbers.

  With ``z_i = mean + L eps_i``, ``w_i = p(x, z_i) / q(z_i)`` and ``v_i = w_i / sum_j w_j``,
  the reparameterized gradient is ``sum_i v_i (d log w_i / d z_i  d z_i / d phi
  - d log q(z_i) / d phi)``: a path term and a score term. The score term has expectation
  0 at ``k = 1`` and is what makes the estimator's variance stay as ``q`` nears the posterior:
  sticking the landing (STL, Roeder et al. 2017) drops it, unbiased at ``k = 1`` only. DReG
  (Tucker et al. 2018) reparameterizes it once more: unbiased for every ``k``, the
  gradient is ``sum_i v_i^2 d log w_i / d z_i  d z_i / d phi``.

  Both fields are floats in {0, 1} and may be vmapped leaves, so runs with different
  estimators share one program; :data:`ENCODER_GRADIENTS` names the three.

  Attributes:
    score_term: 1 keeps the score term (reparameterized), 0 drops it (STL, DReG).
    squared_weights: 1 weights each sample's path term by ``v_i^2`` (DReG), 0 by ``v_i``.
  """

  score_term: jax.Array | float
  squared_weights: jax.Array | float


ENCODER_GRADIENTS = {
    "reparameterized": EncoderGradient(score_term=1.0, squared_weights=0.0),
    "stl": EncoderGradient(score_term=0.0, squared_weights=0.0),
    "dreg": EncoderGradient(score_term=0.0, squared_weights=1.0),
}


def _value_while_tracing(x: jax.Array | float) -> float | None:
  """``x``'s value when it is known at trace time (a Python or numpy number), else None."""
  return None if isinstance(x, jax.core.Tracer) else float(x)


def iwae_objective(
    log_joint: Callable[[jax.Array], jax.Array],
    q: Gaussian,
    noise: jax.Array,
    encoder_gradient: EncoderGradient = ENCODER_GRADIENTS["reparameterized"],
) -> jax.Array:
  """The ``k``-sample IWAE bound estimate, whose gradient in ``q`` is ``encoder_gradient``'s.

  Its value is ``iwae_bound(log_weights(log_joint, q, noise))`` whatever the estimator, and
  so is its gradient in whatever ``log_joint`` closes over (the model).

  Args:
    log_joint: ``z [k, d] -> log p(x, z) [k]`` for the one ``x`` that ``q`` approximates.
    q: the proposal, of batch shape ``()``.
    noise: ``[k, d]`` standard normal draws.
    encoder_gradient: the estimator. A field known at trace time costs nothing when 0; a
      traced ``squared_weights`` (a vmapped leaf) costs DReG's extra forward pass of
      ``log_joint`` (for the weights) in every run.

  Returns:
    The scalar estimate.
  """
  z = reparameterize(q, noise)
  fixed = jax.lax.stop_gradient(q)
  if _value_while_tracing(encoder_gradient.squared_weights) != 0.0:
    # DReG: sample i's path term weighted by v_i^2 rather than v_i, by scaling the cotangent
    # of z_i by v_i; z keeps its value exactly (z + v * 0).
    normalized = jax.nn.softmax(
        jax.lax.stop_gradient(log_joint(z) - gaussian_log_prob(fixed, z))
    )
    scale = 1.0 + encoder_gradient.squared_weights * (normalized - 1.0)
    still = jax.lax.stop_gradient(z)
    z = still + scale[:, None] * (z - still)
  score_term = _value_while_tracing(encoder_gradient.score_term)
  if score_term == 1.0:
    log_q = gaussian_log_prob(q, z)
  else:
    log_q = gaussian_log_prob(fixed, z)  # d log q / d z only: no score term.
    if score_term != 0.0:  # Adds score_term times the score term; log q's value is kept.
      log_q = log_q + encoder_gradient.score_term * (gaussian_log_prob(q, z) - log_q)
  return iwae_bound(log_joint(z) - log_q)


class ImportanceEstimates(NamedTuple):
  """The two bounds from one set of ``num_samples`` importance weights.

  Attributes:
    elbo: the mean log-weight, an estimate of ``L_1``.
    iwae: their log-mean-exp, an estimate of ``L_num_samples``: with thousands of samples,
      the usual estimate of ``log p(x)`` (Burda et al. 2015).
  """

  elbo: jax.Array
  iwae: jax.Array


def importance_estimates(
    log_weights_of: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    num_samples: int,
    chunk_size: int,
) -> ImportanceEstimates:
  """ELBO and IWAE estimates from ``num_samples`` weights, made ``chunk_size`` at a time.

  A ``lax.scan`` over chunks carries the running sum and log-sum-exp of the log-weights,
  so memory holds one chunk however many samples there are.

  Args:
    log_weights_of: ``key -> [chunk_size]`` log-weights of fresh draws.
    key: a typed key; chunk ``i`` draws with ``fold_in(key, i)``.
    num_samples: the total number of weights, a multiple of ``chunk_size``.
    chunk_size: weights per chunk.

  Returns:
    The :class:`ImportanceEstimates`.
  """
  if num_samples % chunk_size:
    raise ValueError(f"num_samples={num_samples} must be a multiple of chunk_size={chunk_size}")

  def chunk(carry, index):
    total, log_sum = carry
    weights = log_weights_of(jax.random.fold_in(key, index))
    return (total + jnp.sum(weights), jnp.logaddexp(log_sum, jax.nn.logsumexp(weights))), None

  # The first chunk starts the carry: it then has the type (and the sharding) of the rest.
  first = log_weights_of(jax.random.fold_in(key, 0))
  init = (jnp.sum(first), jax.nn.logsumexp(first))
  (total, log_sum), _ = jax.lax.scan(chunk, init, jnp.arange(1, num_samples // chunk_size))
  return ImportanceEstimates(elbo=total / num_samples, iwae=log_sum - math.log(num_samples))


def active_units(posterior_means: jax.Array, threshold: float = 0.01) -> jax.Array:
  """How many latent units are active (Burda et al. 2015, section 5.2).

  Unit ``u`` is active when ``Cov_x(E_q[z_u | x]) > threshold``: its posterior mean moves
  with the data.

  Args:
    posterior_means: ``[n, d]`` encoder means of ``n`` data points.
    threshold: the variance threshold, 0.01 in Burda et al.

  Returns:
    The integer count.
  """
  return jnp.sum(jnp.var(posterior_means, axis=0) > threshold)


def fit_mean_field(
    log_joint: Callable[[jax.Array], jax.Array],
    init: DiagonalGaussian,
    key: jax.Array,
    num_steps: int,
    num_samples: int,
    learning_rate: float,
) -> tuple[DiagonalGaussian, jax.Array]:
  """The per-datapoint Gaussian ``q*`` that maximizes the ELBO of one ``x``, by Adam.

  Each step follows the pathwise gradient of a ``num_samples``-sample ELBO estimate; the
  step size decays to 0 on a cosine, so the noisy iterates settle.
  Started at an encoder's output, ``L[q*] - L[q_encoder]`` is its amortization gap.

  Args:
    log_joint: ``z [k, d] -> log p(x, z) [k]`` for the one ``x``.
    init: the starting Gaussian, batch shape ``()``.
    key: a typed key; step ``t`` draws with ``fold_in(key, t)``.
    num_steps: optimization steps.
    num_samples: samples per ELBO estimate.
    learning_rate: Adam's initial step size.

  Returns:
    ``(q*, elbo_trace)``: the optimized Gaussian and the ``[num_steps]`` ELBO estimate of
    each step (before its update), to judge convergence.
  """
  optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps))

  def negative_elbo(q, step_key):
    noise = jax.random.normal(step_key, (num_samples, init.mean.shape[-1]))
    return -elbo(log_weights(log_joint, q, noise))

  def step(carry, t):
    q, opt_state = carry
    loss, gradient = jax.value_and_grad(negative_elbo)(q, jax.random.fold_in(key, t))
    updates, opt_state = optimizer.update(gradient, opt_state, q)
    return (optax.apply_updates(q, updates), opt_state), -loss

  (q, _), trace = jax.lax.scan(step, (init, optimizer.init(init)), jnp.arange(num_steps))
  return q, trace


class LinearGaussian(NamedTuple):
  """The model ``p(z) = N(0, I_d)``, ``p(x | z) = N(weight z + bias, exp(2 log_noise_std) I_D)``.

  Attributes:
    weight: ``[D, d]``.
    bias: ``[D]``.
    log_noise_std: a scalar.
  """

  weight: jax.Array
  bias: jax.Array
  log_noise_std: jax.Array


class LinearEncoder(NamedTuple):
  """``q(z | x) = N(weight x + bias, diag(exp(2 log_std)))``: ``[d, D]``, ``[d]``, ``[d]``."""

  weight: jax.Array
  bias: jax.Array
  log_std: jax.Array


def linear_encoder(encoder: LinearEncoder, x: jax.Array) -> DiagonalGaussian:
  """The encoder's Gaussian for ``x`` ``[..., D]``."""
  mean = x @ encoder.weight.T + encoder.bias
  return DiagonalGaussian(mean, jnp.broadcast_to(encoder.log_std, mean.shape))


def linear_gaussian_log_joint(model: LinearGaussian, x: jax.Array, z: jax.Array) -> jax.Array:
  """``log p(z) + log p(x | z)`` for ``x`` ``[..., D]`` and ``z`` ``[..., d]`` (broadcast)."""
  likelihood = DiagonalGaussian(
      z @ model.weight.T + model.bias, jnp.broadcast_to(model.log_noise_std, x.shape)
  )
  return standard_normal_log_prob(z) + gaussian_log_prob(likelihood, x)


def _marginal(model: LinearGaussian) -> FullCovarianceGaussian:
  """``p(x) = N(bias, W W^T + s^2 I)``."""
  data_dim = model.bias.shape[-1]
  covariance = model.weight @ model.weight.T + jnp.exp(2 * model.log_noise_std) * jnp.eye(
      data_dim, dtype=model.weight.dtype
  )
  return FullCovarianceGaussian(model.bias, jnp.linalg.cholesky(covariance))


def linear_gaussian_log_marginal(model: LinearGaussian, x: jax.Array) -> jax.Array:
  """The exact ``log p(x)`` for ``x`` ``[..., D]``."""
  return gaussian_log_prob(_marginal(model), x)


def linear_gaussian_sample(key: jax.Array, model: LinearGaussian, num_samples: int) -> jax.Array:
  """``[num_samples, D]`` draws of ``x ~ p(x)``."""
  marginal = _marginal(model)
  return reparameterize(marginal, jax.random.normal(key, (num_samples, model.bias.shape[-1])))


def linear_gaussian_posterior(model: LinearGaussian, x: jax.Array) -> FullCovarianceGaussian:
  """The exact posterior ``p(z | x)`` of one ``x`` ``[D]``.

  ``N(Sigma W^T (x - b) / s^2, Sigma)`` with ``Sigma^-1 = I + W^T W / s^2``. With it as
  the proposal every importance weight equals ``p(x)``, and every bound is ``log p(x)``.
  """
  noise_precision = jnp.exp(-2 * model.log_noise_std)
  latent_dim = model.weight.shape[-1]
  precision = jnp.eye(latent_dim, dtype=model.weight.dtype) + noise_precision * (
      model.weight.T @ model.weight
  )
  covariance = jnp.linalg.inv(precision)
  mean = noise_precision * covariance @ (model.weight.T @ (x - model.bias))
  return FullCovarianceGaussian(mean, jnp.linalg.cholesky(covariance))


def linear_gaussian_bound(
    model: LinearGaussian,
    encoder: LinearEncoder,
    x: jax.Array,
    noise: jax.Array,
    encoder_gradient: EncoderGradient = ENCODER_GRADIENTS["reparameterized"],
) -> jax.Array:
  """The ``k``-sample IWAE bound estimate of one ``x`` ``[D]``, from ``noise`` ``[k, d]``.

  Differentiable in the model and the encoder: the model's gradient is the IWAE's, the
  encoder's ``encoder_gradient``'s (:func:`iwae_objective`).
  """
  return iwae_objective(
      lambda z: linear_gaussian_log_joint(model, x, z), linear_encoder(encoder, x), noise,
      encoder_gradient,
  )
