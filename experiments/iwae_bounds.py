"""The IWAE bounds on a model with an exact likelihood, and the gradient estimators behind them.

Writes to the workdir: config.json; bounds.csv (each bound L_k, averaged over the data,
per replicate, with the exact log p(x)); snr.csv (the signal-to-noise ratio of each
parameter's gradient of L_k, per parameter entry and k); estimator_variance.csv (the
pathwise and score-function estimators of a quadratic's gradient, per covariance,
dimension and parameter); summary.md (the tables and fitted slopes); bounds.png, snr.png
and estimator_variance.png.
"""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from experiments import plots, workdir as workdir_lib
from gan_theory import estimators, vae
from gan_theory.metrics import (
    mean_and_stderr,
    power_law_exponent,
    signal_to_noise,
    signal_to_noise_floor,
)
from gan_theory.validation import ConfigError, check_int, check_positive, check_positive_ints

OUTPUTS = (
    "config.json", "bounds.csv", "snr.csv", "estimator_variance.csv", "summary.md",
    "bounds.png", "snr.png", "estimator_variance.png",
)
COVARIANCES = ("diagonal", "full")
ESTIMATORS = ("pathwise", "score_function")
# The parameters whose gradient signal-to-noise ratio is measured, by model part.
PARAMETERS = {
    "decoder": ("weight", "bias", "log_noise_std"),
    "encoder": ("weight", "bias", "log_std"),
}
# Floats per lax.map batch of replicates: bounds the memory of the largest k.
_FLOATS_PER_BATCH = 1 << 23


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field the experiment reads.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  check_int(config, "seed", minimum=0)
  for field in ("dim", "num_data", "chunk_size"):
    check_int(config, field)
  check_int(config, "num_replicates", minimum=2)
  check_positive(config, "encoder_std")
  perturbation = config.perturbation
  if isinstance(perturbation, bool) or not isinstance(perturbation, (int, float)) or not (
      perturbation >= 0
  ):
    raise ConfigError(f"config.perturbation={perturbation!r} must be a non-negative number")
  chunk = config.chunk_size
  for k in check_positive_ints(config, "num_importance_samples"):
    if k > chunk and k % chunk:
      raise ConfigError(
          f"config.num_importance_samples={tuple(config.num_importance_samples)!r}: each must"
          f" be at most config.chunk_size={chunk} or a multiple of it"
      )
  check_positive_ints(config, "estimators.dims")
  check_int(config, "estimators.num_samples", minimum=2)


def _problem(config: ml_collections.ConfigDict):
  """The model, the perturbed encoder and the data, from ``config.seed``."""
  keys = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 0), 4)
  dim, identity = config.dim, jnp.eye(config.dim)
  prior_mean = jax.random.normal(keys[0], (dim,))
  model = vae.LinearGaussian(weight=identity, bias=prior_mean, log_noise_std=jnp.zeros(()))
  encoder = vae.LinearEncoder(
      weight=identity / 2 + config.perturbation * jax.random.normal(keys[1], (dim, dim)),
      bias=-prior_mean / 2 + config.perturbation * jax.random.normal(keys[2], (dim,)),
      log_std=jnp.full((dim,), math.log(config.encoder_std)),
  )
  return model, encoder, vae.linear_gaussian_sample(keys[3], model, config.num_data)


def _replicate_keys(config, purpose: int, k: int) -> jax.Array:
  """Independent keys, one per replicate, for one purpose (bounds, gradients) and ``k``."""
  base = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), purpose), k)
  return jax.vmap(lambda r: jax.random.fold_in(base, r))(jnp.arange(config.num_replicates))


def _batch_size(config, k: int) -> int:
  """Replicates per ``lax.map`` batch, so that a batch holds a bounded number of floats."""
  per_replicate = config.num_data * min(k, config.chunk_size) * config.dim
  return max(1, min(config.num_replicates, _FLOATS_PER_BATCH // per_replicate))


def _bounds(config, model, encoder, x, k: int) -> np.ndarray:
  """``[replicates]`` estimates of ``L_k`` averaged over the data, ``k`` samples each."""
  chunk = min(k, config.chunk_size)

  def one_point(model, encoder, key, point):
    q = vae.linear_encoder(encoder, point)

    def log_weights_of(chunk_key):
      noise = jax.random.normal(chunk_key, (chunk, config.dim))
      return vae.log_weights(lambda z: vae.linear_gaussian_log_joint(model, point, z), q, noise)

    return vae.importance_estimates(log_weights_of, key, k, chunk).iwae

  def one_replicate(model, encoder, x, key):
    point_keys = jax.vmap(lambda n: jax.random.fold_in(key, n))(jnp.arange(config.num_data))
    return jnp.mean(jax.vmap(one_point, in_axes=(None, None, 0, 0))(model, encoder, point_keys,
                                                                   x))

  @jax.jit
  def replicates(model, encoder, x, keys):
    return jax.lax.map(lambda key: one_replicate(model, encoder, x, key), keys,
                       batch_size=_batch_size(config, k))

  return np.asarray(replicates(model, encoder, x, _replicate_keys(config, 1, k)))


def _gradients(config, model, encoder, x, k: int):
  """``[replicates, ...]`` gradients of ``L_k`` averaged over the data, as two pytrees."""

  def mean_bound(params, x, key):
    noise = jax.random.normal(key, (config.num_data, k, config.dim))
    return jnp.mean(jax.vmap(vae.linear_gaussian_bound, in_axes=(None, None, 0, 0))(
        *params, x, noise
    ))

  @jax.jit
  def replicates(params, x, keys):
    return jax.lax.map(lambda key: jax.grad(mean_bound)(params, x, key), keys,
                       batch_size=_batch_size(config, k))

  return jax.device_get(replicates((model, encoder), x, _replicate_keys(config, 2, k)))


def _quadratic_problem(config, covariance: str, dim: int):
  """A Gaussian q, and the symmetric A and centre c of the quadratic, for one dimension."""
  keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(
      jax.random.key(config.seed), 3), dim), 4)
  mean = jax.random.normal(keys[0], (dim,))
  if covariance == "diagonal":
    q = vae.DiagonalGaussian(mean, 0.3 * jax.random.normal(keys[1], (dim,)))
  else:
    q = vae.FullCovarianceGaussian(
        mean, jnp.eye(dim) + jnp.tril(jax.random.normal(keys[1], (dim, dim)), -1) / math.sqrt(dim)
    )
  factor = jax.random.normal(keys[2], (dim, dim))
  hessian = factor @ factor.T / dim + 0.5 * jnp.eye(dim)
  return q, hessian, jax.random.normal(keys[3], (dim,))


def _estimator_moments(config, covariance: str, dim: int) -> dict[tuple[str, str], tuple]:
  """(estimator, parameter) -> (per-sample variance per entry, sum of z^2, entries).

  Over the parameter's entries (the lower triangle of ``scale_tril``, all that is read):
  the mean per-sample variance, and the sum of the squared z-scores ``(estimate -
  exact) / standard error``, whose mean is about 1 for an unbiased estimator.
  """
  q, hessian, centre = _quadratic_problem(config, covariance, dim)
  noise = jax.random.normal(
      jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), 4), dim),
      (config.estimators.num_samples, dim),
  )

  # Arguments, not closed-over constants, which XLA would fold at compile time.
  @jax.jit
  def moments(q, hessian, centre, noise):
    def quadratic(z):
      return 0.5 * (z - centre) @ hessian @ (z - centre)

    per_sample = {
        "pathwise": estimators.pathwise_gradients(quadratic, vae.reparameterize, q, noise),
        "score_function": estimators.score_function_gradients(
            quadratic, vae.gaussian_log_prob, q, vae.reparameterize(q, noise)
        ),
    }
    exact = estimators.quadratic_gradient(q, hessian, centre)
    out = {}
    for estimator, gradients in per_sample.items():
      for name, values, expected in zip(q._fields, gradients, exact):
        read = jnp.tril(jnp.ones(values.shape[1:], bool)) if name == "scale_tril" else True
        read = jnp.broadcast_to(read, values.shape[1:])
        mean, stderr = mean_and_stderr(values)
        variance = jnp.var(values, axis=0, ddof=1)
        out[estimator, name] = (
            jnp.sum(jnp.where(read, variance, 0.0)) / jnp.sum(read),
            jnp.sum(jnp.where(read, ((mean - expected) / stderr) ** 2, 0.0)),
            jnp.sum(read),
        )
    return out

  return jax.device_get(moments(q, hessian, centre, noise))


def run(config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False) -> None:
  """Measures the bounds, their gradients and the estimators, and writes them to ``workdir``.

  Raises:
    ConfigError: if the config is not valid; nothing compiles, nothing is written.
    WorkdirError: if the workdir cannot take the results; nothing compiles.
  """
  validate(config)
  path = workdir_lib.claim_on_process_0(workdir, config, OUTPUTS, overwrite)
  model, encoder, x = _problem(config)
  log_p_x = float(jnp.mean(vae.linear_gaussian_log_marginal(model, x)))
  ks = tuple(config.num_importance_samples)

  bounds, snr = {}, {}
  for k in ks:
    bounds[k] = _bounds(config, model, encoder, x, k)
    decoder_gradients, encoder_gradients = _gradients(config, model, encoder, x, k)
    for part, gradients in (("decoder", decoder_gradients), ("encoder", encoder_gradients)):
      for name in PARAMETERS[part]:
        snr[part, name, k] = np.asarray(signal_to_noise(getattr(gradients, name)))
    logging.info("k = %d: bounds and gradients done", k)

  dims = tuple(config.estimators.dims)
  moments = {
      (covariance, dim): _estimator_moments(config, covariance, dim)
      for covariance in COVARIANCES for dim in dims
  }
  logging.info("estimator variances done")

  if jax.process_index() != 0:
    return
  workdir_lib.write_text(path / "bounds.csv", _bounds_csv(ks, bounds, log_p_x))
  workdir_lib.write_text(path / "snr.csv", _snr_csv(ks, snr))
  workdir_lib.write_text(path / "estimator_variance.csv", _moments_csv(dims, moments))
  summaries = {k: mean_and_stderr(bounds[k]) for k in ks}
  mean_snr = {(part, name): np.array([np.mean(snr[part, name, k]) for k in ks])
              for part, names in PARAMETERS.items() for name in names}
  workdir_lib.write_text(
      path / "summary.md",
      _summary_md(config, ks, summaries, log_p_x, mean_snr, dims, moments),
  )
  workdir_lib.write_figure(path / "bounds.png", plots.bounds_figure(ks, summaries, log_p_x))
  floor = signal_to_noise_floor(config.num_replicates)
  workdir_lib.write_figure(path / "snr.png", plots.snr_figure(ks, mean_snr, floor))
  variance_curves = {
      (covariance, estimator, name): np.array(
          [moments[covariance, dim][estimator, name][0] for dim in dims]
      )
      for covariance in COVARIANCES for estimator, name in moments[covariance, dims[0]]
  }
  workdir_lib.write_figure(
      path / "estimator_variance.png", plots.estimator_variance_figure(dims, variance_curves)
  )
  logging.info("wrote %s to %s", ", ".join(OUTPUTS), path)


def _bounds_csv(ks, bounds, log_p_x) -> str:
  return workdir_lib.csv_text(
      ["k", "replicate", "bound", "log_p_x"],
      ([k, r, f"{value:.9g}", f"{log_p_x:.9g}"] for k in ks for r, value in enumerate(bounds[k])),
  )


def _snr_csv(ks, snr) -> str:
  return workdir_lib.csv_text(
      ["part", "parameter", "entry", "k", "snr"],
      ([part, name, entry, k, f"{value:.9g}"]
       for (part, name, k), values in snr.items()
       for entry, value in enumerate(np.ravel(values))),
  )


def _moments_csv(dims, moments) -> str:
  return workdir_lib.csv_text(
      ["covariance", "dim", "estimator", "parameter", "variance_per_entry", "sum_z_squared",
       "entries"],
      ([covariance, dim, estimator, name, f"{variance:.9g}", f"{z2:.6g}", int(entries)]
       for (covariance, dim), by_estimator in moments.items()
       for (estimator, name), (variance, z2, entries) in by_estimator.items()),
  )


def _fit(ks, values, keep) -> tuple[float, str]:
  """The power-law exponent of ``values`` over the ``k`` kept, and their range, as text."""
  ks, keep = np.asarray(ks), np.asarray(keep)
  if keep.sum() < 2:
    return float("nan"), "-"
  exponent = power_law_exponent(ks[keep], np.asarray(values)[keep])
  return exponent, f"{ks[keep].min()}..{ks[keep].max()}"


def _summary_md(config, ks, summaries, log_p_x, mean_snr, dims, moments) -> str:
  fit_from = 10 if sum(k >= 10 for k in ks) >= 2 else ks[0]
  rows, previous = [], None
  for k in ks:
    mean, stderr = (float(v) for v in summaries[k])
    step = "" if previous is None else (
        f"{mean - previous[0]:+.5f} ± {math.hypot(stderr, previous[1]):.1g}"
    )
    rows.append([k, f"{mean:.5f} ± {stderr:.1g}", f"{log_p_x - mean:.3g}", step])
    previous = (mean, stderr)
  steps_up = [
      float(summaries[b][0] - summaries[a][0]) + 4 * math.hypot(summaries[a][1], summaries[b][1])
      for a, b in zip(ks, ks[1:])
  ]
  last_mean, last_stderr = (float(v) for v in summaries[ks[-1]])
  ordered = all(step >= 0 for step in steps_up) and last_mean <= log_p_x + 4 * last_stderr
  # Fits over k >= fit_from where the measured value stands out of its noise.
  large = np.asarray(ks) >= fit_from
  gaps = np.array([log_p_x - float(summaries[k][0]) for k in ks])
  gap_slope, gap_range = _fit(
      ks, gaps, large & (gaps > 3 * np.array([float(summaries[k][1]) for k in ks]))
  )
  floor = signal_to_noise_floor(config.num_replicates)
  snr_rows = []
  for (part, name), values in mean_snr.items():
    above = values > 3 * floor
    exponent, fitted = _fit(ks, values, large & above)
    cells = [f"{v:.3g}" if a else f"({v:.2g})" for v, a in zip(values, above)]
    exponent = f"{exponent:+.3f}" if math.isfinite(exponent) else "-"
    snr_rows.append([part, name, *cells, exponent, fitted])
  variance_rows = []
  for covariance in COVARIANCES:
    for name in ("mean", "log_std" if covariance == "diagonal" else "scale_tril"):
      for estimator in ESTIMATORS:
        values = [moments[covariance, dim][estimator, name][0] for dim in dims]
        z2, entries = (sum(float(moments[covariance, dim][estimator, name][i]) for dim in dims)
                       for i in (1, 2))
        slope = (power_law_exponent(np.asarray(dims), np.asarray(values)) if len(dims) > 1
                 else float("nan"))
        variance_rows.append([
            covariance, name, estimator, *(f"{v:.3g}" for v in values), f"{slope:+.2f}",
            f"{z2 / entries:.3f} ± {math.sqrt(2 / entries):.2g}",
        ])
  return "\n".join([
      "# IWAE bounds on a linear-Gaussian model",
      "",
      f"p(z) = N(mu, I), p(x | z) = N(z, I) in {config.dim} dimensions; q(z | x) ="
      f" N(A x + c, {config.encoder_std:.4g}^2 I) at the optimal A, c perturbed by"
      f" N(0, {config.perturbation}^2) (Rainforth et al. 2018, section 4); {config.num_data}"
      f" data points from the model; seed {config.seed}.",
      "",
      "## L_1 <= L_2 <= ... <= L_k <= log p(x)",
      "",
      f"Mean ± standard error over {config.num_replicates} independent estimates of the"
      f" k-sample bound averaged over the data; exact log p(x) = {log_p_x:.5f} (the data's"
      " average).",
      "",
      workdir_lib.markdown_table(
          ["k", "L_k", "log p(x) - L_k", "L_k - previous"], rows, align="rrrr"
      ),
      "",
      f"Ordered within 4 standard errors (Burda et al. 2015, Theorem 1): {ordered}."
      f" The gap falls like k^{gap_slope:.3f} over k = {gap_range}, where it exceeds 3"
      " standard errors (a Taylor expansion predicts k^-1: gap ~ Var(w / p(x)) / 2k).",
      "",
      "## Signal-to-noise ratio of the gradients",
      "",
      f"|E g| / std(g) over {config.num_replicates} gradient estimates of the averaged"
      " bound, per parameter entry, averaged over the entries. A gradient with mean 0 would"
      f" measure {floor:.3f} (sqrt(2 / (pi M))); values below 3 times that are in"
      f" parentheses, noise-limited, and left out of the power-law fit, made over k >="
      f" {fit_from}. Rainforth et al. (2018) predict exponents +1/2 for the decoder (its"
      " gradient tends to that of log p(x), the noise falls like 1/sqrt(k)) and -1/2 for the"
      " encoder (its gradient vanishes like 1/k).",
      "",
      workdir_lib.markdown_table(
          ["part", "parameter", *(f"k = {k}" for k in ks), "exponent", "over k"], snr_rows,
          align="ll" + "r" * (len(ks) + 2),
      ),
      "",
      "## Pathwise against score-function gradients, by dimension",
      "",
      f"grad E_q[(z - c)^T A (z - c) / 2] in q's parameters, {config.estimators.num_samples}"
      " samples per dimension: the per-sample variance per parameter entry, the exponent of"
      " its power law in the dimension, and the mean of z^2, z = (estimate - exact) / standard"
      " error, over every entry and dimension: 1 for an unbiased estimator. After ± the"
      " spread of a mean of as many independent chi^2_1 variables; the entries of one"
      " dimension share their noise, so the actual spread is wider.",
      "",
      workdir_lib.markdown_table(
          ["covariance", "parameter", "estimator", *(f"d = {d}" for d in dims), "exponent",
           "mean z^2"], variance_rows, align="lll" + "r" * (len(dims) + 2),
      ),
      "",
  ])
