"""VAEs and IWAEs on binary images: ``make_trainer(config, k, data)``, an engine
:class:`gan_theory.engine.Trainer`, and their evaluation.

The model: ``p(z) = N(0, I)``, ``p(x | z) = prod_j Bernoulli(x_j; sigmoid(l_j(z)))`` with
decoder logits ``l``; ``q(z | x)`` a diagonal Gaussian from an MLP encoder. A run trains
both on ``-L_k``, the ``k``-sample IWAE bound (``k = 1``: the VAE's ELBO), by Adam on
random batches, and evaluates on the validation set every ``eval_every`` steps. The
encoder's gradient is one of :data:`gan_theory.vae.ENCODER_GRADIENTS`, a leaf of the run's
state, so runs with each estimator share one program. Every draw is a function of the
run's key and step, so runs with different ``k`` or estimators and the same seed start
from the same parameters and see the same batches.

After training, :func:`make_test` measures a run on the test set the IWAE way (Burda et
al. 2015): ``log p(x)`` estimated by ``L_5000``, the number of active latent units, and,
on a subset of images, the mean field: per-image Gaussians optimized alone, which split
the encoder's gap into approximation and amortization (Cremer et al. 2018).
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan_theory import engine, networks, two_sample, vae
from gan_theory.digits import NUM_PIXELS, Split
from gan_theory.validation import (
    ConfigError,
    check_choice,
    check_choices,
    check_int,
    check_positive,
    check_positive_ints,
)

__all__ = [
    "Params",
    "Pictures",
    "TestMetrics",
    "TrainMetrics",
    "TrainState",
    "Trainer",
    "encoder_gradient_leaves",
    "make_test",
    "make_train",
    "make_trainer",
    "validate",
]


class Params(NamedTuple):
  """The encoder's and the decoder's flax parameters."""

  encoder: Any
  decoder: Any


@flax.struct.dataclass
class TrainState:
  """One run's root key, parameters, Adam state, step count and encoder gradient estimator."""

  key: jax.Array
  params: Params
  opt_state: optax.OptState
  step: jax.Array
  encoder_gradient: vae.EncoderGradient


class TrainMetrics(NamedTuple):
  """Validation-set averages at one evaluation, from the same ``k`` samples per image.

  Attributes:
    validation_bound: ``L_k``, the bound the run maximizes.
    validation_elbo: the ELBO, the mean log-weight.
  """

  validation_bound: jax.Array
  validation_elbo: jax.Array


class TestMetrics(NamedTuple):
  """A trained run on the test set.

  Attributes:
    log_likelihood: the average of ``L_N`` with ``N = evaluation.num_samples`` (5000).
    elbo: the average ELBO, from the same weights.
    active_units: latent units with ``Cov_x(E_q[z_u | x]) > evaluation.active_unit_threshold``.
    mean_field_log_likelihood: ``L_N`` averaged over the mean-field images.
    mean_field_elbo: ``L[q*]`` of the optimized per-image Gaussians, on those images.
    encoder_elbo: ``L[q]`` of the encoder, on those images.
    approximation_gap: ``log p(x) - L[q*]``, with ``L_N`` for ``log p(x)``.
    amortization_gap: ``L[q*] - L[q]``.
    mean_field_last_change: how much the mean field's ELBO estimate still rose over the
      last tenth of its steps (its mean there minus its mean over the tenth before): near 0
      once converged.
  """

  log_likelihood: jax.Array
  elbo: jax.Array
  active_units: jax.Array
  mean_field_log_likelihood: jax.Array
  mean_field_elbo: jax.Array
  encoder_elbo: jax.Array
  approximation_gap: jax.Array
  amortization_gap: jax.Array
  mean_field_last_change: jax.Array


class Pictures(NamedTuple):
  """Pixel probabilities ``[n, 64]``: decoded prior samples, and decoded test images."""

  samples: jax.Array
  reconstructions: jax.Array


class Trainer(NamedTuple):
  """One run maximizing ``L_k``, in the pieces :mod:`gan_theory.engine` puts together.

  Attributes:
    init: ``(key, leaves) -> TrainState``; ``leaves`` is the run's
      :class:`gan_theory.vae.EncoderGradient`, or None for the config's first.
    train_period: ``TrainState -> (TrainState, TrainMetrics)``: ``eval_every`` steps of
      Adam on ``-L_k`` under ``lax.scan``, then an evaluation.
    evaluate: ``TrainState -> TrainMetrics`` on the validation images.
    num_periods: ``num_steps // eval_every``.
    period_steps: ``eval_every``.
  """

  init: Callable[[jax.Array, None], TrainState]
  train_period: Callable[[TrainState], tuple[TrainState, TrainMetrics]]
  evaluate: Callable[[TrainState], TrainMetrics]
  num_periods: int
  period_steps: int


def _check_at_most(config: ml_collections.ConfigDict, field: str, maximum: int, what: str) -> None:
  value = check_int(config, field)
  if value > maximum:
    raise ConfigError(f"config.{field}={value} must be at most {maximum}, {what}")


def validate(config: ml_collections.ConfigDict, data: Split) -> None:
  """Checks every field that training and testing read, before anything compiles.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  ks = check_positive_ints(config, "num_importance_samples")
  if len(set(ks)) != len(ks):
    raise ConfigError(f"config.num_importance_samples={ks!r} must be distinct")
  check_choices(config, "encoder_gradients", vae.ENCODER_GRADIENTS)
  check_int(config, "num_seeds")
  check_int(config, "first_seed", minimum=0)
  check_int(config, "vmap_size", minimum=0)
  check_int(config, "latent_dim")
  for part in ("encoder", "decoder"):
    check_positive_ints(config, f"{part}.hidden_sizes")
    check_choice(config, f"{part}.activation", networks.ACTIVATIONS)
  check_positive(config, "learning_rate")
  _check_at_most(config, "batch_size", len(data.train), "the number of training images")
  for field in ("num_steps", "eval_every"):
    check_int(config, field)
  if config.num_steps % config.eval_every:
    raise ConfigError(
        f"config.eval_every={config.eval_every} must divide config.num_steps={config.num_steps}"
    )
  if check_int(config, "checkpoint_every", minimum=0) % config.eval_every:
    raise ConfigError(
        f"config.checkpoint_every={config.checkpoint_every} must be a multiple of"
        f" config.eval_every={config.eval_every}"
    )
  check_int(config, "evaluation.num_samples")
  check_int(config, "evaluation.chunk_size")
  if config.evaluation.num_samples % config.evaluation.chunk_size:
    raise ConfigError(
        f"config.evaluation.chunk_size={config.evaluation.chunk_size} must divide"
        f" config.evaluation.num_samples={config.evaluation.num_samples}"
    )
  check_positive(config, "evaluation.active_unit_threshold")
  _check_at_most(config, "mean_field.num_images", len(data.test), "the number of test images")
  check_int(config, "mean_field.num_steps", minimum=2)
  check_int(config, "mean_field.num_samples")
  check_positive(config, "mean_field.learning_rate")
  _check_at_most(config, "num_pictures", len(data.test), "the number of test images")
  two_sample.validate(config, "two_sample")
  _check_at_most(config, "two_sample.num_samples", len(data.test), "the number of test images")


class _Model(NamedTuple):
  encoder: networks.GaussianEncoder
  decoder: networks.MLP
  latent_dim: int

  def log_joint(self, decoder_params, x: jax.Array, z: jax.Array) -> jax.Array:
    """``log p(z) + log p(x | z)`` of one image ``x`` ``[64]`` and latents ``z`` ``[k, d]``."""
    logits = self.decoder.apply(decoder_params, z)
    return vae.standard_normal_log_prob(z) + vae.bernoulli_log_prob(logits, x)

  def log_weights(self, params: Params, x: jax.Array, noise: jax.Array) -> jax.Array:
    """``[k]`` log importance weights of one image under the encoder's ``q``."""
    q = self.encoder.apply(params.encoder, x)
    return vae.log_weights(functools.partial(self.log_joint, params.decoder, x), q, noise)

  def objective(self, params: Params, x: jax.Array, noise: jax.Array,
                encoder_gradient: vae.EncoderGradient) -> jax.Array:
    """One image's ``L_k`` estimate, its encoder gradient ``encoder_gradient``'s."""
    q = self.encoder.apply(params.encoder, x)
    return vae.iwae_objective(functools.partial(self.log_joint, params.decoder, x), q, noise,
                              encoder_gradient)


def _model(config: ml_collections.ConfigDict) -> _Model:
  return _Model(
      encoder=networks.GaussianEncoder(
          tuple(config.encoder.hidden_sizes), config.latent_dim, config.encoder.activation
      ),
      decoder=networks.MLP(
          tuple(config.decoder.hidden_sizes), NUM_PIXELS, config.decoder.activation
      ),
      latent_dim=config.latent_dim,
  )


def make_trainer(
    config: ml_collections.ConfigDict, num_importance_samples: int, data: Split
) -> Trainer:
  """Returns the :class:`Trainer` of runs maximizing ``L_k``, ``k = num_importance_samples``.

  Args:
    config: a config as in ``experiments/configs/digits.py`` (already validated).
    num_importance_samples: ``k``.
    data: the binarized images; their train and validation parts are used.
  """
  model = _model(config)
  k, latent_dim = num_importance_samples, config.latent_dim
  train_images, validation_images = jnp.asarray(data.train), jnp.asarray(data.validation)
  optimizer = optax.adam(config.learning_rate)
  # A field that every estimator of the config shares is a Python number, not the state's
  # leaf: vae.iwae_objective then skips what it does not need (DReG's extra forward pass).
  shared = vae.EncoderGradient(*(
      values[0] if len(set(values)) == 1 else None
      for values in zip(*(vae.ENCODER_GRADIENTS[name] for name in config.encoder_gradients))
  ))

  def encoder_gradient(state):
    return vae.EncoderGradient(*(
        leaf if value is None else value for value, leaf in zip(shared, state.encoder_gradient)
    ))

  def bounds(params, images, key):
    """``(L_k, ELBO)`` per image ``[n]`` with fresh noise ``[n, k, d]``."""
    noise = jax.random.normal(key, (images.shape[0], k, latent_dim))
    log_weights = jax.vmap(model.log_weights, in_axes=(None, 0, 0))(params, images, noise)
    return vae.iwae_bound(log_weights), vae.elbo(log_weights)

  def loss(params, key, estimator):
    batch_key, noise_key = jax.random.split(key)
    index = jax.random.choice(
        batch_key, train_images.shape[0], (config.batch_size,), replace=False
    )
    noise = jax.random.normal(noise_key, (config.batch_size, k, latent_dim))
    return -jnp.mean(jax.vmap(model.objective, in_axes=(None, 0, 0, None))(
        params, train_images[index], noise, estimator
    ))

  # fold_in tags of a run's key streams: runs with other k and the same seed share them.
  encoder_tag, decoder_tag, step_tag, eval_tag = range(4)

  def init(key, leaves=None):
    if leaves is None:
      leaves = vae.ENCODER_GRADIENTS[config.encoder_gradients[0]]
    params = Params(
        encoder=model.encoder.init(jax.random.fold_in(key, encoder_tag), jnp.zeros((NUM_PIXELS,))),
        decoder=model.decoder.init(jax.random.fold_in(key, decoder_tag), jnp.zeros((latent_dim,))),
    )
    return TrainState(
        key=key, params=params, opt_state=optimizer.init(params), step=jnp.zeros((), jnp.int32),
        encoder_gradient=jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), leaves),
    )

  def evaluate(state):
    # The same noise at every evaluation, so the curves move only with the parameters.
    bound, elbo = bounds(state.params, validation_images, jax.random.fold_in(state.key, eval_tag))
    return TrainMetrics(validation_bound=jnp.mean(bound), validation_elbo=jnp.mean(elbo))

  def train_step(state, _):
    step_key = jax.random.fold_in(jax.random.fold_in(state.key, step_tag), state.step)
    gradient = jax.grad(loss)(state.params, step_key, encoder_gradient(state))
    updates, opt_state = optimizer.update(gradient, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state.replace(params=params, opt_state=opt_state, step=state.step + 1), None

  def train_period(state):
    state, _ = jax.lax.scan(train_step, state, length=config.eval_every)
    return state, evaluate(state)

  return Trainer(
      init=init, train_period=train_period, evaluate=evaluate,
      num_periods=config.num_steps // config.eval_every, period_steps=config.eval_every,
  )


def encoder_gradient_leaves(names: Sequence[str], num_seeds: int) -> vae.EncoderGradient:
  """The leaves of ``len(names) * num_seeds`` runs, estimator-major: run ``e * num_seeds + s``
  is seed ``s`` with the estimator ``names[e]``; float32 arrays ``[runs]``."""
  return vae.EncoderGradient(*(
      np.repeat(np.asarray(values, np.float32), num_seeds)
      for values in zip(*(vae.ENCODER_GRADIENTS[name] for name in names))
  ))


def make_train(
    config: ml_collections.ConfigDict, num_importance_samples: int, data: Split
) -> Callable[[jax.Array, vae.EncoderGradient | None], tuple[TrainState, TrainMetrics]]:
  """Returns ``train(key, leaves=None) -> (state, metrics)``: one whole run maximizing ``L_k``.

  ``leaves`` is the run's :class:`gan_theory.vae.EncoderGradient` (None: the config's first).
  ``metrics`` leaves have a leading axis of ``num_steps // eval_every + 1`` evaluations,
  at steps ``0, eval_every, ..., num_steps``. ``train`` is pure: ``jit(vmap(train))``
  trains a run per key in one program.
  """
  return engine.make_train(make_trainer(config, num_importance_samples, data))


def make_test(
    config: ml_collections.ConfigDict, data: Split
) -> Callable[[Params, jax.Array], tuple[TestMetrics, Pictures, two_sample.Evaluation]]:
  """Returns ``test(params, key) -> (metrics, pictures, comparison)`` for one trained run.

  ``comparison`` holds every two-sample test of ``two_sample.num_samples`` binary images
  sampled from the model (``z ~ p(z)``, then ``x ~ p(x | z)``) against as many test images.

  Each test image's ``N`` importance weights are made ``chunk_size`` at a time
  (:func:`gan_theory.vae.importance_estimates`), and the images follow one another
  (``lax.map``), so memory holds one chunk of one image per run. The mean field starts at
  the encoder's Gaussian of each of the first ``mean_field.num_images`` test images and
  follows Adam on a ``mean_field.num_samples``-sample ELBO; its ``L[q*]`` is then estimated
  from ``N`` weights, like the encoder's.
  """
  model = _model(config)
  evaluation, mean_field = config.evaluation, config.mean_field
  test_images = jnp.asarray(data.test)
  num_samples, chunk_size = evaluation.num_samples, evaluation.chunk_size

  def estimates(q, log_joint, key):
    def log_weights_of(chunk_key):
      noise = jax.random.normal(chunk_key, (chunk_size, model.latent_dim))
      return vae.log_weights(log_joint, q, noise)

    return vae.importance_estimates(log_weights_of, key, num_samples, chunk_size)

  compare_samples = two_sample.make_evaluate(config.two_sample)
  num_compared = config.two_sample.num_samples

  def compare(params, key):
    latent_key, pixel_key, test_key = jax.random.split(key, 3)
    latents = jax.random.normal(latent_key, (num_compared, model.latent_dim))
    logits = model.decoder.apply(params.decoder, latents)
    samples = jax.random.bernoulli(pixel_key, jax.nn.sigmoid(logits)).astype(jnp.float32)
    return compare_samples(test_key, test_images[:num_compared], samples)

  def test(params, key):
    estimate_key, mean_field_key, picture_key, compare_key = (
        jax.random.fold_in(key, i) for i in range(4)
    )
    posteriors = model.encoder.apply(params.encoder, test_images)

    def per_image(args):
      x, q, image_key = args
      return estimates(q, functools.partial(model.log_joint, params.decoder, x), image_key)

    image_keys = jax.vmap(lambda i: jax.random.fold_in(estimate_key, i))(
        jnp.arange(test_images.shape[0])
    )
    encoder_estimates = jax.lax.map(per_image, (test_images, posteriors, image_keys))

    def fit(x, q, image_key):
      log_joint = functools.partial(model.log_joint, params.decoder, x)
      fitted, trace = vae.fit_mean_field(
          log_joint, q, jax.random.fold_in(image_key, 0), mean_field.num_steps,
          mean_field.num_samples, mean_field.learning_rate,
      )
      tenth = max(mean_field.num_steps // 10, 1)
      change = jnp.mean(trace[-tenth:]) - jnp.mean(trace[-2 * tenth : -tenth])
      return estimates(fitted, log_joint, jax.random.fold_in(image_key, 1)).elbo, change

    subset = slice(0, mean_field.num_images)
    subset_keys = jax.vmap(lambda i: jax.random.fold_in(mean_field_key, i))(
        jnp.arange(mean_field.num_images)
    )
    mean_field_elbo, change = jax.vmap(fit)(
        test_images[subset], jax.tree.map(lambda a: a[subset], posteriors), subset_keys
    )
    log_likelihood = jnp.mean(encoder_estimates.iwae[subset])
    mean_field_elbo, encoder_elbo = jnp.mean(mean_field_elbo), jnp.mean(
        encoder_estimates.elbo[subset]
    )
    metrics = TestMetrics(
        log_likelihood=jnp.mean(encoder_estimates.iwae),
        elbo=jnp.mean(encoder_estimates.elbo),
        active_units=vae.active_units(posteriors.mean, evaluation.active_unit_threshold),
        mean_field_log_likelihood=log_likelihood,
        mean_field_elbo=mean_field_elbo,
        encoder_elbo=encoder_elbo,
        approximation_gap=log_likelihood - mean_field_elbo,
        amortization_gap=mean_field_elbo - encoder_elbo,
        mean_field_last_change=jnp.mean(change),
    )
    latents = jax.random.normal(picture_key, (config.num_pictures, model.latent_dim))
    pictures = Pictures(
        samples=jax.nn.sigmoid(model.decoder.apply(params.decoder, latents)),
        reconstructions=jax.nn.sigmoid(
            model.decoder.apply(params.decoder, posteriors.mean[: config.num_pictures])
        ),
    )
    return metrics, pictures, compare(params, compare_key)

  return test
