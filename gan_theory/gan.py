"""One GAN run as one pure function of a key: ``make_train(config) -> train(key, setting)``.

Everything static (sizes, step counts, the list of objectives) is closed over; what sets a
run apart besides its seed, its objective and its learning rates (:class:`RunSetting`), are
leaves of its state, so runs with different objectives and learning rates share one
compiled program; every objective is read from the registry
(:mod:`gan_theory.objectives`). The generator is an MLP or one with an exact density
(``generator.kind``: a RealNVP ``"flow"`` or a ``"gaussian"``), which allows the
objectives that need one (such as ``"mle"``, maximum likelihood of the data batch), the
oracle discriminator and the divergence metrics. The discriminator is trained,
``discriminator_steps`` updates per generator update, or is the ``"oracle"``, the optimal
discriminator of the current generator. A run's randomness comes from its key alone, split
into streams with ``fold_in``: the initial parameters, the data batches and latents of step
``t``, and the evaluation sample depend on the seed only, never on the objective or the
learning rates (common random numbers: runs are compared paired).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax.flatten_util import ravel_pytree

from gan_theory import distributions, engine, networks, objectives, theory, two_sample
from gan_theory.metrics import mode_statistics
from gan_theory.validation import (
    ConfigError,
    check_choice,
    check_choices,
    check_int,
    check_positive,
    check_positive_ints,
    check_positive_numbers,
)

__all__ = [
    "DENSITY_GENERATORS",
    "DENSITY_METRICS",
    "DISCRIMINATORS",
    "EvalMetrics",
    "GENERATORS",
    "RunSetting",
    "RunState",
    "SampleGradients",
    "Trainer",
    "make_train",
    "learning_rates",
    "make_trainer",
    "measured_metrics",
    "run_setting",
    "validate",
]

OPTIMIZERS = ("adam", "sgd")
GENERATORS = ("mlp", "flow", "gaussian")
DENSITY_GENERATORS = ("flow", "gaussian")  # Those with an exact log_prob.
DISCRIMINATORS = ("mlp", "oracle")

# fold_in tags of the key streams of a run.
_INIT, _TRAIN, _EVAL, _SAMPLE, _COMPARE, _SELECT = 0, 1, 2, 3, 4, 5


class RunSetting(NamedTuple):
  """What sets a run of a sweep apart besides its seed: leaves, vmapped like the key.

  Attributes:
    objective: int32 index into ``config.objectives`` of the generator objective.
    generator_learning_rate: the generator optimizer's step size.
    discriminator_learning_rate: the discriminator optimizer's step size.
  """

  objective: jax.Array
  generator_learning_rate: jax.Array
  discriminator_learning_rate: jax.Array


@flax.struct.dataclass
class RunState:
  """Everything one run carries from step to step.

  Attributes:
    step: number of training steps taken.
    key: the run's root key; every draw derives from it with ``fold_in``.
    setting: the run's :class:`RunSetting`.
    generator_params: flax params of the generator.
    discriminator_params: flax params of the discriminator (empty for the oracle).
    generator_opt_state: optax state of the generator's optimizer.
    discriminator_opt_state: optax state of the discriminator's optimizer.
    diverged_step: the first step whose losses or updated parameters were not all
      finite, or -1 while the run is finite.
  """

  step: jax.Array
  key: jax.Array
  setting: RunSetting
  generator_params: Any
  discriminator_params: Any
  generator_opt_state: optax.OptState
  discriminator_opt_state: optax.OptState
  diverged_step: jax.Array


class EvalMetrics(NamedTuple):
  """Metrics of one evaluation, on ``config.eval_samples`` generator samples.

  Every metric of a run is NaN from the evaluation after it diverged on.

  Attributes:
    modes: modes captured (VEEGAN protocol, :func:`gan_theory.metrics.mode_statistics`).
    high_quality: percentage of samples within 3 std of their nearest mode.
    mode_kl: KL of the high-quality samples' mode histogram from uniform (PacGAN).
    mmd2: unbiased MMD^2 between generator and fresh data samples.
    discriminator_accuracy: fraction of data and generator samples the discriminator
      classifies right (logit > 0 means data).
    discriminator_loss: the discriminator's cross-entropy on the evaluation samples, for
      every run (an f-GAN discriminator trains on its own bound, with the same optimum).
    generator_loss: the run's generator objective on a batch of ``config.batch_size``
      evaluation samples (and as many data), the mean over the evaluation draw's batches.
    generator_grad_norm: global norm of its gradient in the generator's parameters (the
      mean of the batches' gradients).
    weight_ess: the maximum-likelihood cost's weights ``w = exp(a)`` on a batch of
      ``config.batch_size`` generator samples, their Kish effective sample size
      ``(sum w)^2 / sum w^2`` as a fraction of the batch (1: equal weights; 1/n: one
      sample carries the batch), the mean over the evaluation draw's batches.
    generator_grad_variance: the variance of the objective's gradient on one batch, the
      trace of its covariance over the evaluation draw's batches.
    selection_score: what hyperparameters are chosen by, lower is better, on a second
      evaluation draw of its own (so that the reported metrics do not choose): the
      held-out negative log-likelihood of ``eval_samples`` data for a generator with a
      density, the MMD^2 of ``mmd_samples`` generator samples and as many data otherwise.
    discriminator_gap: the discriminator's cross-entropy minus the optimal
      discriminator's ``a* = log p_data - log p_G`` on the same evaluation samples: its
      distance to D* (non-negative in expectation, 0 for the oracle).
    nll: held-out negative log-likelihood of data under the generator, ``-E_data log
      p_G``, in nats, on ``eval_samples`` data samples never trained on.
    forward_kl: ``KL(p_data || p_G) = E_data[log p_data - log p_G]``.
    reverse_kl: ``KL(p_G || p_data) = E_G[log p_G - log p_data]``.
    jsd: Jensen-Shannon divergence, ``(E_data[log 2 p_data / (p_data + p_G)] +
      E_G[log 2 p_G / (p_data + p_G)]) / 2``.
    nll_stderr, forward_kl_stderr, reverse_kl_stderr, jsd_stderr: the Monte Carlo
      standard errors of those four estimates.

  The discriminator's gap and the last eight need the generator's density: they are None
  (not measured) for an MLP generator (see :func:`measured_metrics`). Against the oracle, the discriminator's
  accuracy and loss are those of the optimal discriminator.
  """

  modes: jax.Array
  high_quality: jax.Array
  mode_kl: jax.Array
  mmd2: jax.Array
  discriminator_accuracy: jax.Array
  discriminator_loss: jax.Array
  generator_loss: jax.Array
  generator_grad_norm: jax.Array
  weight_ess: jax.Array
  generator_grad_variance: jax.Array
  selection_score: jax.Array
  discriminator_gap: jax.Array | None
  nll: jax.Array | None
  forward_kl: jax.Array | None
  reverse_kl: jax.Array | None
  jsd: jax.Array | None
  nll_stderr: jax.Array | None
  forward_kl_stderr: jax.Array | None
  reverse_kl_stderr: jax.Array | None
  jsd_stderr: jax.Array | None


# The metrics that need the generator's density.
DENSITY_METRICS = ("discriminator_gap", *theory.DivergenceEstimates._fields)


def measured_metrics(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The :class:`EvalMetrics` fields that ``config``'s runs measure."""
  if config.generator.kind in DENSITY_GENERATORS:
    return EvalMetrics._fields
  return tuple(name for name in EvalMetrics._fields if name not in DENSITY_METRICS)


class SampleGradients(NamedTuple):
  """Where a generator's gradient comes from, sample by sample (for the cost curves).

  Attributes:
    discriminator_output: ``[n]`` ``D(G(z_i))`` of each generator sample.
    grad_norm: ``[n]`` the norm of sample ``i``'s part of the gradient of the batch's
      cost in the generator's parameters, times ``n``: how much that sample pushes the
      generator (for a mean over samples, the gradient of its own cost). For an objective
      that reads the data's likelihood, sample ``i``'s part adds that of data point ``i``.
  """

  discriminator_output: jax.Array
  grad_norm: jax.Array


class Trainer(NamedTuple):
  """The pure pieces of one run: an :class:`gan_theory.engine.Trainer`, and what the GAN
  sweep asks of a trained run.

  Attributes:
    init: ``(key, setting) -> RunState``, ``setting`` a :class:`RunSetting`.
    evaluate: ``RunState -> EvalMetrics``.
    train_step: ``RunState -> RunState``: ``config.discriminator_steps`` discriminator
      updates (none for the oracle), then one generator update.
    train_period: ``RunState -> (RunState, EvalMetrics)``: ``config.eval_every``
      steps under ``lax.scan``, then an evaluation.
    sample: ``(state, num_samples) -> [num_samples, d]`` generator samples from the
      run's own sampling stream; ``num_samples`` is static.
    sample_gradients: ``(state, num_samples) -> SampleGradients`` of the same samples.
    compare: ``state -> two_sample.Evaluation``: ``config.two_sample.num_samples``
      generator samples against as many fresh (held-out) data by every two-sample test;
      the data and the tests' randomness depend on the seed only. NaN once diverged.
    num_periods: ``config.num_steps // config.eval_every``.
    period_steps: ``config.eval_every``.
  """

  init: Callable[[jax.Array, RunSetting], RunState]
  evaluate: Callable[[RunState], EvalMetrics]
  train_step: Callable[[RunState], RunState]
  train_period: Callable[[RunState], tuple[RunState, EvalMetrics]]
  sample: Callable[[RunState, int], jax.Array]
  sample_gradients: Callable[[RunState, int], SampleGradients]
  compare: Callable[[RunState], two_sample.Evaluation]
  num_periods: int
  period_steps: int


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field a GAN run reads.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  target = check_choice(config, "target", distributions.TARGETS)
  names = check_choices(config, "objectives", objectives.names())
  for field in ("num_seeds", "num_steps", "batch_size", "eval_every", "latent_dim"):
    check_int(config, field)
  kind = check_choice(config, "generator.kind", GENERATORS)
  if kind == "flow":
    check_int(config, "generator.num_couplings")
  density_kinds = " or ".join(repr(k) for k in DENSITY_GENERATORS)
  if kind not in DENSITY_GENERATORS:
    for name in names:
      if objectives.get(name).needs_density:
        raise ConfigError(
            f"config.objectives={names!r} includes {name!r}, which needs a density:"
            f" config.generator.kind={density_kinds}"
        )
  discriminator_kind = check_choice(config, "discriminator.kind", DISCRIMINATORS)
  discriminator_steps = check_int(config, "discriminator_steps")
  if discriminator_kind == "oracle":
    if kind not in DENSITY_GENERATORS:
      raise ConfigError(
          f"config.discriminator.kind='oracle' needs the generator's density:"
          f" config.generator.kind={density_kinds}, not {kind!r}"
      )
    if discriminator_steps != 1:
      raise ConfigError(
          f"config.discriminator_steps={discriminator_steps} must be 1 with"
          " config.discriminator.kind='oracle', which is not trained"
      )
  check_int(config, "first_seed", minimum=0)
  check_int(config, "vmap_size", minimum=0)  # 0: automatic.
  check_int(config, "eval_samples", minimum=2)
  if config.eval_samples < 2 * config.batch_size:
    raise ConfigError(
        f"config.eval_samples={config.eval_samples} must hold at least two batches of"
        f" config.batch_size={config.batch_size} (the weights' effective sample size and the"
        " gradient's variance are measured per batch)"
    )

  check_int(config, "mmd_samples", minimum=2)
  if config.mmd_samples > config.eval_samples:
    raise ConfigError(
        f"config.mmd_samples={config.mmd_samples} must not exceed"
        f" config.eval_samples={config.eval_samples}"
    )
  if config.first_seed + config.num_seeds > 2**32:
    raise ConfigError(
        f"config.first_seed + config.num_seeds = {config.first_seed + config.num_seeds}"
        " must not exceed 2**32 (seeds are uint32)"
    )
  if config.num_steps % config.eval_every:
    raise ConfigError(
        f"config.eval_every={config.eval_every} must divide"
        f" config.num_steps={config.num_steps}"
    )
  check_int(config, "checkpoint_every", minimum=0)  # 0: only at the end.
  if config.checkpoint_every % config.eval_every:
    raise ConfigError(
        f"config.checkpoint_every={config.checkpoint_every} must be a multiple of"
        f" config.eval_every={config.eval_every} (or 0: only at the end)"
    )
  check_positive(config, "mmd_bandwidth")
  if not isinstance(config.two_sample_tests, bool):
    raise ConfigError(f"config.two_sample_tests={config.two_sample_tests!r} must be True or False")
  two_sample.validate(config, "two_sample")
  for network in ("generator", "discriminator"):
    check_positive_ints(config, f"{network}.hidden_sizes")
    check_choice(config, f"{network}.activation", networks.ACTIVATIONS)
    check_positive_numbers(config, f"{network}.learning_rate")
  check_choice(config, "optimizer.name", OPTIMIZERS)
  for field in ("b1", "b2"):
    beta = config.optimizer[field]
    if not 0.0 <= beta < 1.0:
      raise ConfigError(f"config.optimizer.{field}={beta!r} must be in [0, 1)")
  try:
    dim = distributions.make_target(target, **config[target]).dim
  except (TypeError, ValueError) as error:
    raise ConfigError(f"config.{target} is not valid for target {target!r}: {error}") from None
  if kind in DENSITY_GENERATORS and config.latent_dim != dim:
    raise ConfigError(
        f"config.latent_dim={config.latent_dim} must equal the dimension of the data, {dim},"
        f" with config.generator.kind={kind!r} (a bijection of the latents)"
    )


def learning_rates(config: ml_collections.ConfigDict, network: str) -> tuple[float, ...]:
  """The values of ``config.<network>.learning_rate``, one number or a list, as a tuple of
  numbers (a flag's list may hold them as words).

  Raises:
    ConfigError: if they are not distinct finite positive numbers.
  """
  return check_positive_numbers(config, f"{network}.learning_rate")


def run_setting(
    config: ml_collections.ConfigDict,
    objective: int | str = 0,
    generator_learning_rate: float | None = None,
    discriminator_learning_rate: float | None = None,
) -> RunSetting:
  """A :class:`RunSetting` of ``config``: an objective (its name or its index in
  ``config.objectives``, which may be traced) and learning rates (by default each
  network's first value)."""
  if isinstance(objective, str):
    objective = tuple(config.objectives).index(objective)
  if generator_learning_rate is None:
    generator_learning_rate = learning_rates(config, "generator")[0]
  if discriminator_learning_rate is None:
    discriminator_learning_rate = learning_rates(config, "discriminator")[0]
  return RunSetting(jnp.asarray(objective, jnp.int32),
                    jnp.asarray(generator_learning_rate, jnp.float32),
                    jnp.asarray(discriminator_learning_rate, jnp.float32))


def _optimizer(
    config: ml_collections.ConfigDict, learning_rate: float | jax.Array
) -> optax.GradientTransformation:
  if config.optimizer.name == "adam":
    return optax.adam(learning_rate, b1=config.optimizer.b1, b2=config.optimizer.b2)
  return optax.sgd(learning_rate)


def make_trainer(config: ml_collections.ConfigDict) -> Trainer:
  """Builds the pure pieces of one run from ``config``.

  Args:
    config: a GAN config, as in ``experiments/configs/ring.py``.

  Returns:
    The :class:`Trainer`.

  Raises:
    ConfigError: if ``config`` is not valid; raised before anything is traced.
  """
  validate(config)
  target = distributions.make_target(config.target, **config[config.target])
  hidden_sizes, activation = tuple(config.generator.hidden_sizes), config.generator.activation
  if config.generator.kind == "flow":
    generator = networks.RealNVP(
        target.dim, config.generator.num_couplings, hidden_sizes, activation
    )
  elif config.generator.kind == "gaussian":
    generator = networks.GaussianGenerator(target.dim)
  else:
    generator = networks.Generator(hidden_sizes, target.dim, activation)
  oracle = config.discriminator.kind == "oracle"
  discriminator = networks.Discriminator(
      tuple(config.discriminator.hidden_sizes), config.discriminator.activation
  )
  objective_names = tuple(config.objectives)
  batch_size, latent_dim = config.batch_size, config.latent_dim

  records = [objectives.get(name) for name in objective_names]
  needs_density = [record.needs_density for record in records]

  def generator_log_prob(generator_params, x):
    return generator.apply(generator_params, x, method="log_prob")

  def discriminate(discriminator_params, generator_params, x):
    """The discriminator's logits on ``x``; the oracle's are ``log p_data - log p_G``,
    with the generator's parameters held fixed, as D* is in the theory."""
    if oracle:
      return target.log_prob(x) - generator_log_prob(
          jax.lax.stop_gradient(generator_params), x)
    return discriminator.apply(discriminator_params, x)

  def data_nll(objective, generator_params, real):
    """``-E_data log p_G``; 0 when no objective needs it, so it costs nothing then."""
    if not any(needs_density):
      return jnp.zeros(())
    # Under vmap every run computes this branch. Other runs see it through a select, with
    # no gradient path, so an overflow here cannot reach their parameters as 0 * inf.
    params = jax.tree.map(
        lambda p: jnp.where(
            jnp.asarray(needs_density)[objective], p, jax.lax.stop_gradient(p)
        ),
        generator_params,
    )
    return -jnp.mean(generator_log_prob(params, real))

  # The distinct discriminator losses of the objectives, and which one each uses; a sweep
  # of the minimax game's costs has a single one and needs no switch.
  discriminator_losses = list(dict.fromkeys(record.discriminator_loss for record in records))
  discriminator_loss_index = jnp.asarray(
      [discriminator_losses.index(record.discriminator_loss) for record in records]
  )

  def batch_cost(objective, generator_params, discriminator_params, fake, real, nll):
    """The objective's cost of a batch of generator samples (with their logits as
    auxiliary output)."""
    fake_logits = discriminate(discriminator_params, generator_params, fake)
    batch = objectives.GeneratorBatch(fake_logits, fake, real, nll)
    return objectives.generator_cost_by_index(objective_names, objective, batch), fake_logits

  def generator_cost(objective, generator_params, discriminator_params, latents, real):
    """The run's generator cost of a batch of latents (and a data batch)."""
    fake = generator.apply(generator_params, latents)
    nll = data_nll(objective, generator_params, real)
    return batch_cost(objective, generator_params, discriminator_params, fake, real, nll)[0]

  def generate(generator_params, key, num_samples):
    return generator.apply(generator_params, jax.random.normal(key, (num_samples, latent_dim)))

  def sample(state, num_samples):
    return generate(state.generator_params, jax.random.fold_in(state.key, _SAMPLE), num_samples)

  def sample_gradients(state, num_samples):
    sample_key = jax.random.fold_in(state.key, _SAMPLE)
    latents = jax.random.normal(sample_key, (num_samples, latent_dim))  # Those of `sample`.
    real = target.sample(jax.random.fold_in(sample_key, 0), num_samples)  # For densities.
    objective, params = state.setting.objective, state.generator_params
    fake = generator.apply(params, latents)
    nll = data_nll(objective, params, real)
    # The cost's gradient in each sample and in the data's negative log-likelihood; sample
    # i's part of the gradient in the parameters follows by the chain rule through G(z_i)
    # (and through -log p_G(x_i) / n).
    (fake_grads, nll_grad), logits = jax.grad(
        lambda f, l: batch_cost(objective, params, state.discriminator_params, f, real, l),
        argnums=(0, 1), has_aux=True,
    )(fake, nll)

    def one_sample(inputs):
      latent, real_point, fake_grad = inputs

      def part(p):
        pushed = jnp.vdot(fake_grad, generator.apply(p, latent[None])[0])
        return num_samples * pushed + nll_grad * data_nll(objective, p, real_point[None])

      return optax.tree.norm(jax.grad(part)(params))

    # In chunks: a gradient per sample at once would take num_samples x params of memory.
    norms = jax.lax.map(one_sample, (latents, real, fake_grads),
                        batch_size=min(num_samples, 100))
    return SampleGradients(discriminator_output=jax.nn.sigmoid(logits), grad_norm=norms)

  compare_samples = two_sample.make_evaluate(config.two_sample)

  def compare(state):
    num_samples = config.two_sample.num_samples
    data_key, test_key = jax.random.split(jax.random.fold_in(state.key, _COMPARE))
    evaluation = compare_samples(
        test_key, target.sample(data_key, num_samples), sample(state, num_samples)
    )
    diverged = state.diverged_step >= 0
    return jax.tree.map(lambda m: jnp.where(diverged, jnp.nan, m), evaluation)

  def init(key, setting):
    generator_key, discriminator_key = jax.random.split(jax.random.fold_in(key, _INIT))
    generator_params = generator.init(generator_key, jnp.zeros((1, latent_dim)))
    discriminator_params = {} if oracle else discriminator.init(
        discriminator_key, jnp.zeros((1, target.dim)))
    setting = RunSetting(
        objective=jnp.asarray(setting.objective, jnp.int32),
        generator_learning_rate=jnp.asarray(setting.generator_learning_rate, jnp.float32),
        discriminator_learning_rate=jnp.asarray(
            setting.discriminator_learning_rate, jnp.float32),
    )
    # An optimizer's state does not depend on its step size, which each step reads from
    # the run's setting.
    return RunState(
        step=jnp.zeros((), jnp.int32),
        key=key,
        setting=setting,
        generator_params=generator_params,
        discriminator_params=discriminator_params,
        generator_opt_state=_optimizer(config, 1.0).init(generator_params),
        discriminator_opt_state=_optimizer(config, 1.0).init(discriminator_params),
        diverged_step=jnp.full((), -1, jnp.int32),
    )

  def discriminator_update(state, data_key, latent_key):
    """One step of descent on the loss paired with the run's objective, on fresh batches."""
    real = target.sample(data_key, batch_size)
    fake = generate(state.generator_params, latent_key, batch_size)

    def discriminator_cost(params):
      real_logits = discriminator.apply(params, real)
      fake_logits = discriminator.apply(params, fake)
      if len(discriminator_losses) == 1:
        return discriminator_losses[0](real_logits, fake_logits)
      return jax.lax.switch(
          discriminator_loss_index[state.setting.objective], discriminator_losses,
          real_logits, fake_logits,
      )

    loss, grads = jax.value_and_grad(discriminator_cost)(state.discriminator_params)
    optimizer = _optimizer(config, state.setting.discriminator_learning_rate)
    updates, opt_state = optimizer.update(
        grads, state.discriminator_opt_state, state.discriminator_params
    )
    return state.replace(
        discriminator_params=optax.apply_updates(state.discriminator_params, updates),
        discriminator_opt_state=opt_state,
    ), loss

  def train_step(state):
    step_key = jax.random.fold_in(jax.random.fold_in(state.key, _TRAIN), state.step)
    data_key, discriminator_latent_key, generator_latent_key = jax.random.split(step_key, 3)

    # The discriminator's updates; update j > 0 draws its batches from the step's keys
    # folded with j, update 0 from the keys themselves: one update per step draws what it
    # always has.
    discriminator_losses_of_step = jnp.zeros(())
    if not oracle:
      def keys_of(key):
        return jax.vmap(lambda j: jnp.where(j == 0, key, jax.random.fold_in(key, j)))(
            jnp.arange(config.discriminator_steps))

      state, discriminator_losses_of_step = jax.lax.scan(
          lambda s, keys: discriminator_update(s, *keys), state,
          (keys_of(data_key), keys_of(discriminator_latent_key)))

    # Generator: one step on its objective, against the updated discriminator (a density's
    # cost on the first discriminator update's data batch).
    real = target.sample(data_key, batch_size)
    latents = jax.random.normal(generator_latent_key, (batch_size, latent_dim))
    generator_loss, grads = jax.value_and_grad(generator_cost, argnums=1)(
        state.setting.objective, state.generator_params, state.discriminator_params, latents,
        real,
    )
    optimizer = _optimizer(config, state.setting.generator_learning_rate)
    updates, generator_opt_state = optimizer.update(
        grads, state.generator_opt_state, state.generator_params
    )
    generator_params = optax.apply_updates(state.generator_params, updates)

    finite = jnp.all(
        jnp.stack([
            jnp.all(jnp.isfinite(discriminator_losses_of_step)),
            jnp.isfinite(generator_loss),
            *(jnp.all(jnp.isfinite(leaf))
              for leaf in jax.tree.leaves((generator_params, state.discriminator_params))),
        ])
    )
    first_divergence = (state.diverged_step < 0) & ~finite
    return state.replace(
        step=state.step + 1,
        diverged_step=jnp.where(first_divergence, state.step + 1, state.diverged_step),
        generator_params=generator_params,
        generator_opt_state=generator_opt_state,
    )

  def evaluate(state):
    # The same evaluation draws at every evaluation, so curves move with the model only.
    latent_key, data_key = jax.random.split(jax.random.fold_in(state.key, _EVAL))
    latents = jax.random.normal(latent_key, (config.eval_samples, latent_dim))
    real = target.sample(data_key, config.eval_samples)
    real_logits = discriminate(state.discriminator_params, state.generator_params, real)
    fake = generator.apply(state.generator_params, latents)
    fake_logits = discriminate(state.discriminator_params, state.generator_params, fake)
    modes = mode_statistics(fake, target.modes, target.std)
    # The objective on the evaluation draw cut into training batches: a cost of the whole
    # batch (a self-normalized weight, a two-sample statistic) means what it means in
    # training, and the batches' spread is the gradient's variance.
    num_batches = config.eval_samples // batch_size
    in_batches = lambda x: x[: num_batches * batch_size].reshape(num_batches, batch_size, -1)

    def batch_cost_and_gradient(batch_latents, batch_real):
      cost, gradient = jax.value_and_grad(generator_cost, argnums=1)(
          state.setting.objective, state.generator_params, state.discriminator_params,
          batch_latents, batch_real)
      return cost, ravel_pytree(gradient)[0]

    batch_costs, batch_gradients = jax.vmap(batch_cost_and_gradient)(
        in_batches(latents), in_batches(real))
    batch_logits = in_batches(fake_logits[:, None])[..., 0]
    select_latent_key, select_data_key = jax.random.split(jax.random.fold_in(state.key, _SELECT))
    if config.generator.kind in DENSITY_GENERATORS:
      selection_score = -jnp.mean(generator_log_prob(
          state.generator_params, target.sample(select_data_key, config.eval_samples)))
    else:
      selection_score = two_sample.mmd2_unbiased(
          generate(state.generator_params, select_latent_key, config.mmd_samples),
          target.sample(select_data_key, config.mmd_samples), config.mmd_bandwidth)
    log_ess = 2 * jax.nn.logsumexp(batch_logits, axis=1) - jax.nn.logsumexp(
        2 * batch_logits, axis=1)
    if config.generator.kind in DENSITY_GENERATORS:
      real_log_p_generator = generator_log_prob(state.generator_params, real)
      fake_log_p_generator = generator.apply(
          state.generator_params, latents, method="sample_and_log_prob")[1]
      real_log_p_data, fake_log_p_data = target.log_prob(real), target.log_prob(fake)
      density = theory.divergence_estimates(
          real_log_p_data=real_log_p_data, real_log_p_generator=real_log_p_generator,
          fake_log_p_data=fake_log_p_data, fake_log_p_generator=fake_log_p_generator,
      )._asdict()
      density["discriminator_gap"] = objectives.CROSS_ENTROPY(real_logits, fake_logits) - (
          objectives.CROSS_ENTROPY(real_log_p_data - real_log_p_generator,
                                   fake_log_p_data - fake_log_p_generator))
    else:
      density = dict.fromkeys(DENSITY_METRICS)
    metrics = EvalMetrics(
        modes=modes.modes,
        high_quality=modes.high_quality,
        mode_kl=modes.mode_kl,
        mmd2=two_sample.mmd2_unbiased(
            fake[: config.mmd_samples], real[: config.mmd_samples], config.mmd_bandwidth
        ),
        discriminator_accuracy=0.5 * (jnp.mean(real_logits > 0) + jnp.mean(fake_logits < 0)),
        discriminator_loss=objectives.CROSS_ENTROPY(real_logits, fake_logits),
        generator_loss=jnp.mean(batch_costs),
        generator_grad_norm=jnp.linalg.norm(jnp.mean(batch_gradients, axis=0)),
        weight_ess=jnp.mean(jnp.exp(log_ess)) / batch_size,
        generator_grad_variance=jnp.sum(jnp.var(batch_gradients, axis=0, ddof=1)),
        selection_score=selection_score,
        **density,
    )
    # A diverged run's numbers mean nothing; NaN keeps them out of every mean.
    diverged = state.diverged_step >= 0
    return jax.tree.map(lambda m: jnp.where(diverged, jnp.nan, m.astype(jnp.float32)), metrics)

  def train_period(state):
    state, _ = jax.lax.scan(lambda s, _: (train_step(s), None), state, length=config.eval_every)
    return state, evaluate(state)

  return Trainer(
      init=init,
      evaluate=evaluate,
      train_step=train_step,
      train_period=train_period,
      sample=sample,
      sample_gradients=sample_gradients,
      compare=compare,
      num_periods=config.num_steps // config.eval_every,
      period_steps=config.eval_every,
  )


def make_train(
    config: ml_collections.ConfigDict,
) -> Callable[[jax.Array, RunSetting], tuple[RunState, EvalMetrics]]:
  """Returns ``train(key, setting) -> (final_state, metrics)`` for one run.

  ``metrics`` leaves have a leading axis of ``num_steps // eval_every + 1``
  evaluations, at steps ``0, eval_every, ..., num_steps``. ``train`` is pure and
  traceable: ``jax.jit(jax.vmap(train))`` runs a sweep.

  Args:
    config: a GAN config, as in ``experiments/configs/ring.py``.

  Raises:
    ConfigError: if ``config`` is not valid.
  """
  return engine.make_train(make_trainer(config))
