"""Throughput of the compiled sweep for the default model, against this machine's peak.

  python -m experiments.benchmark [--runs=1,8,64] [--steps_per_call=100] \
      [--cpu_devices=1,2,4 --vmap_sizes=1,2,4,8 --device_runs=64] [--config.<field>=<value> ...]

Like the launcher, it gives a CPU one device per core unless ``JAX_NUM_CPU_DEVICES`` says
otherwise (:func:`gan_theory.sharding.use_every_cpu_core`). It prints, in one run on one
machine: the f32 matmul peak (a large jitted matmul); XLA's FLOP count of one training
step and one evaluation; the config's own sweep (its objectives x seeds, a period of
``eval_every`` steps and an evaluation) against one run of the same program, with the
evaluation's share of the period and the two MMD estimates' share of the evaluation;
for each number of runs, the
compile time of the sweep's own period program (sharded over the devices, runs vmapped
in groups), run-steps per second, the achieved FLOP/s as a fraction of the peak, the
speed-up over a Python loop that calls a jitted single step, the device memory per run
from XLA's memory analysis, and, for comparison, the run-steps per second of one vmap
of each device's runs. Every ratio is to a baseline measured in the same process. Each period
ends with an evaluation, as in a sweep.

Then the MMD permutation test (``gan_theory.two_sample``) of ``--mmd_points`` points a
side with ``--mmd_permutations`` permutations, against a plain numpy loop over
permutations on the same kernel matrix, timed over ``--numpy_permutations`` of them.

Then, for each of ``--discriminator_steps`` (k discriminator updates per generator update),
the sweep of ``--setting_runs`` runs: XLA's FLOPs per step and the time per run-step
against k = 1's, with every run at one pair of learning rates and, at k = 1, with the
runs spread over ``--learning_rates`` (the same values for both networks, every pair: a
learning-rate sweep, each rate a leaf of the one program).

With ``--cpu_devices``, it then measures the same sweep of ``--device_runs`` runs on
1, 2, 4, ... virtual CPU devices, each count in a subprocess of its own (the device
count is fixed when JAX starts), in vmap groups of each of ``--vmap_sizes`` runs,
against the first count's first size.

The model is the default GAN sweep's (``experiments/configs/ring.py``); ``--config`` and
``--config.<field>`` choose another, as in the launcher (the tests run a shrunken one).
"""

import copy
import functools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
import ml_collections
from ml_collections import config_flags

from experiments import workdir as workdir_lib
from gan_theory import gan, sharding, two_sample

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(Path(__file__).parent / "configs" / "ring.py"),
    "The GAN sweep config whose model to measure.", lock_config=True,
)

_RUNS = flags.DEFINE_list("runs", ["1", "8", "64"], "Numbers of runs to sweep at once.")
_STEPS_PER_CALL = flags.DEFINE_integer(
    "steps_per_call", 100, "Training steps per call of the compiled period program."
)
_MIN_SECONDS = flags.DEFINE_float("min_seconds", 3.0, "Time each measurement at least this long.")
_MATMUL_SIZE = flags.DEFINE_integer("matmul_size", 2048, "Side of the square peak-matmul.")
_ONE_VMAP_UP_TO = flags.DEFINE_integer(
    "one_vmap_up_to", 64,
    "Time one vmap of each device's runs (one group) only up to this many runs."
)
_CPU_DEVICES = flags.DEFINE_list(
    "cpu_devices", [], "Virtual CPU device counts to measure --device_runs runs on."
)
_DISCRIMINATOR_STEPS = flags.DEFINE_list(
    "discriminator_steps", ["1", "5", "25"],
    "Discriminator updates per generator update to measure --setting_runs runs at.",
)
_SETTING_RUNS = flags.DEFINE_integer(
    "setting_runs", 16, "Runs of the --discriminator_steps and --learning_rates sweeps."
)
_LEARNING_RATES = flags.DEFINE_list(
    "learning_rates", ["1e-3", "3e-4", "1e-4"],
    "Learning rates of the learning-rate sweep, for both networks (every pair).",
)
_VMAP_SIZES = flags.DEFINE_list(
    "vmap_sizes", ["0"], "Runs per vmap group of the --cpu_devices sweeps; 0: the default."
)
_DEVICE_RUNS = flags.DEFINE_integer("device_runs", 64, "Runs of the --cpu_devices sweeps.")
_MMD_POINTS = flags.DEFINE_integer("mmd_points", 2000, "Points per side of the MMD test.")
_MMD_PERMUTATIONS = flags.DEFINE_integer(
    "mmd_permutations", 1000, "Permutations of the MMD test."
)
_NUMPY_PERMUTATIONS = flags.DEFINE_integer(
    "numpy_permutations", 20, "Permutations the numpy baseline is timed over."
)
_JSON = flags.DEFINE_bool(
    "json", False,
    "Only measure the --runs sweeps at each of --vmap_sizes; print one JSON line each"
    " (for subprocesses).",
)


def _flops(function: Callable, *args) -> float:
  analysis = jax.jit(function).lower(*args).compile().cost_analysis()
  return float((analysis[0] if isinstance(analysis, list) else analysis)["flops"])


def _time(call: Callable[[], object], min_seconds: float) -> tuple[float, int]:
  """Seconds per call, over at least two calls and ``min_seconds``, after a warm-up."""
  jax.block_until_ready(call())
  calls, start = 0, time.perf_counter()
  while calls < 2 or time.perf_counter() - start < min_seconds:
    jax.block_until_ready(call())
    calls += 1
  return (time.perf_counter() - start) / calls, calls


def _compile(program: Callable, *args) -> tuple[Callable, float]:
  """``program`` compiled for ``args``, and the seconds that took."""
  start = time.perf_counter()
  compiled = program.lower(*args).compile()
  return compiled, time.perf_counter() - start


def _matmul_peak(size: int, min_seconds: float) -> float:
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
  matmul = jax.jit(jnp.matmul)
  seconds, _ = _time(lambda: matmul(a, b), min_seconds)
  return 2.0 * size**3 / seconds


def _memory_bytes(compiled) -> float:
  analysis = compiled.memory_analysis()
  return float(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
               + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes)


def _measure_sweep(
    trainer: gan.Trainer, states: Callable[[int], gan.RunState], num_runs: int,
    min_seconds: float, vmap_size: int = 0, function: Callable | None = None,
) -> dict:
  """Compile time, speed and memory of the sweep's own period program over ``num_runs``
  (or of ``function`` of one run's state, such as the evaluation, in the same layout)."""
  where = sharding.layout(num_runs, vmap_size)
  batch = jax.device_put(states(where.padded_runs), where.sharding)
  with jax.set_mesh(where.mesh):
    period, compile_seconds = _compile(
        jax.jit(sharding.shard_runs(function or trainer.train_period, where)), batch)
    seconds, _ = _time(lambda: period(batch), min_seconds)
  return {
      "layout": f"{where.mesh.size} x {where.group_size}",
      "compile_seconds": compile_seconds,
      "seconds": seconds,
      "run_steps": num_runs * trainer.period_steps / seconds,
      # Padding runs compute too: times one period's FLOPs, the work rate.
      "padded_run_periods_per_second": where.padded_runs / seconds,
      "memory_per_run": _memory_bytes(period) / where.padded_runs,
  }


def _machine() -> str:
  device = jax.devices()[0]
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  return (f"{device.platform} ({device.device_kind}), {jax.device_count()} device(s); "
          f"host {cpu}, {os.cpu_count()} cores; jax {jax.__version__}")


def _states(config: ml_collections.ConfigDict, trainer: gan.Trainer, num_runs: int,
            rates: tuple[float, ...] = ()) -> gan.RunState:
  """The initial states of ``num_runs`` runs: the objectives in turn, at the config's
  learning rates, or at every pair of ``rates`` in turn (a learning-rate sweep)."""
  keys = jax.vmap(jax.random.key)(jnp.arange(num_runs, dtype=jnp.uint32))
  run = np.arange(num_runs)
  objective = (run % len(config.objectives)).astype(np.int32)
  if rates:
    pair = run // len(config.objectives) % len(rates)**2
    generator_rate, discriminator_rate = (np.asarray(rates, np.float32)[pair // len(rates)],
                                          np.asarray(rates, np.float32)[pair % len(rates)])
  else:
    one = gan.run_setting(config)
    generator_rate, discriminator_rate = (np.full(num_runs, rate) for rate in one[1:])
  settings = gan.RunSetting(objective, generator_rate, discriminator_rate)
  return jax.vmap(trainer.init)(keys, settings)


def _discriminator_steps_and_learning_rates(config: ml_collections.ConfigDict,
                                            min_seconds: float) -> None:
  """The sweep of ``--setting_runs`` runs at each of ``--discriminator_steps``, and with
  its runs spread over the pairs of ``--learning_rates``. No FLOP counts: XLA's cost
  analysis counts the body of the discriminator updates' loop once, whatever k."""
  num_runs = _SETTING_RUNS.value
  rates = tuple(map(float, _LEARNING_RATES.value))
  print()
  print(f"{num_runs} runs by discriminator updates per generator update (k), and a"
        f" learning-rate sweep over {rates} x {rates}:")
  print()
  print(workdir_lib.markdown_table(
      ["k", "learning rates", "compile s", "run-steps/s",
       "time per run-step against k = 1, one pair"], (), align="r" * 5,
  ))
  baseline = None
  for steps in map(int, _DISCRIMINATOR_STEPS.value):
    k_config = copy.deepcopy(config)
    k_config.discriminator_steps = steps
    trainer = gan.make_trainer(k_config)
    for spread in ((), rates) if steps == 1 else ((),):
      states = functools.partial(_states, k_config, trainer, rates=spread)
      figures = _measure_sweep(trainer, states, num_runs, min_seconds)
      baseline = baseline or figures["run_steps"]
      print(workdir_lib.markdown_row([
          steps, f"{len(spread)**2} pairs" if spread else "one pair",
          f"{figures['compile_seconds']:.1f}", f"{figures['run_steps']:.0f}",
          f"{baseline / figures['run_steps']:.2f}x",
      ]))


def _config_sweep(config: ml_collections.ConfigDict, peak: float, step_flops: float,
                  min_seconds: float) -> None:
  """The config's own sweep and period against one run of it; the evaluation's share."""
  trainer = gan.make_trainer(config)
  states = functools.partial(_states, config, trainer)
  num_runs = len(config.objectives) * config.num_seeds
  one = trainer.init(jax.random.key(0), gan.run_setting(config))
  period_flops = trainer.period_steps * step_flops + _flops(trainer.evaluate, one)
  sweep = _measure_sweep(trainer, states, num_runs, min_seconds)
  alone = _measure_sweep(trainer, states, 1, min_seconds)
  evaluation = _measure_sweep(trainer, states, num_runs, min_seconds, function=trainer.evaluate)
  # The evaluation again with 2-point MMD estimates: the rest of its time.
  without_mmd = copy.deepcopy(config)
  without_mmd.mmd_samples = 2
  small = gan.make_trainer(without_mmd)
  rest = _measure_sweep(small, functools.partial(_states, without_mmd, small), num_runs,
                        min_seconds, function=small.evaluate)
  share = evaluation["seconds"] / sweep["seconds"]
  mmd_share = 1 - rest["seconds"] / evaluation["seconds"]
  print(f"the config's sweep, {len(config.objectives)} objectives x {config.num_seeds} seeds"
        f" (devices x vmap group {sweep['layout']}), a period of {trainer.period_steps} steps"
        f" and an evaluation: {sweep['run_steps']:.0f} run-steps/s,"
        f" {sweep['padded_run_periods_per_second'] * period_flops / peak:.1%} of the matmul"
        f" peak; one run of the same program ({alone['layout']}): {alone['run_steps']:.0f}"
        f" steps/s; the sweep per run against it: {sweep['run_steps'] / alone['run_steps']:.2f}x")
  print(f"its evaluation: {evaluation['seconds'] * 1e3:.0f} ms for the {num_runs} runs,"
        f" {share:.1%} of a period; the two MMD estimates on {config.mmd_samples} points"
        f" take {mmd_share:.0%} of it")
  if config.two_sample_tests:
    where = sharding.layout(num_runs, vmap_size=0)
    batch = jax.device_put(states(where.padded_runs), where.sharding)
    with jax.set_mesh(where.mesh):
      _, in_layout = _compile(jax.jit(sharding.shard_runs(trainer.compare, where)), batch)
    _, plain = _compile(jax.jit(jax.vmap(trainer.compare)), states(num_runs))
    print(f"compiling the final two-sample tests of the {num_runs} runs (a classifier and a"
          f" learned kernel trained per run): {in_layout:.1f} s in the sweep's layout,"
          f" {plain:.1f} s as one jit(vmap)")


def main(argv: list[str]) -> None:
  del argv
  sharding.use_every_cpu_core()
  min_seconds = _MIN_SECONDS.value
  config = _CONFIG.value
  own_config = copy.deepcopy(config)
  config.eval_every = config.num_steps = _STEPS_PER_CALL.value
  trainer = gan.make_trainer(config)
  states = functools.partial(_states, config, trainer)

  if _JSON.value:  # A subprocess: the parent counts the FLOPs.
    for num_runs in map(int, _RUNS.value):
      for vmap_size in map(int, _VMAP_SIZES.value):
        print(json.dumps(_measure_sweep(trainer, states, num_runs, min_seconds, vmap_size)))
    return
  one = trainer.init(jax.random.key(0), gan.run_setting(config))
  step_flops = _flops(trainer.train_step, one)
  period_flops = _STEPS_PER_CALL.value * step_flops + _flops(trainer.evaluate, one)
  peak = _matmul_peak(_MATMUL_SIZE.value, min_seconds)

  print(f"machine: {_machine()}")
  print(f"model: {config.target} config, generator and discriminator"
        f" {tuple(config.generator.hidden_sizes)} {config.generator.activation} MLPs,"
        f" batch {config.batch_size}")
  print(f"f32 matmul peak ({_MATMUL_SIZE.value}^2): {peak / 1e9:.1f} GFLOP/s")
  print(f"XLA cost analysis: {step_flops / 1e6:.1f} MFLOP per training step,"
        f" {period_flops / 1e6:.1f} MFLOP per period of {_STEPS_PER_CALL.value} steps"
        " and one evaluation")
  _config_sweep(own_config, peak, step_flops, min_seconds)
  print()

  # Baseline: a Python loop that calls a jitted single step, one dispatch per step.
  step = jax.jit(trainer.train_step)
  state = one

  def loop():
    nonlocal state
    for _ in range(_STEPS_PER_CALL.value):
      state = step(state)
    return state

  seconds, _ = _time(loop, min_seconds)
  loop_rate = _STEPS_PER_CALL.value / seconds
  print(f"baseline, Python loop over a jitted step (1 run): {loop_rate:.0f} steps/s,"
        f" {loop_rate * step_flops / peak:.1%} of peak")
  print()
  print(workdir_lib.markdown_table(
      ["runs", "devices x vmap group", "compile s", "run-steps/s", "GFLOP/s", "of matmul peak",
       "speed-up over loop", "device MiB per run",
       "one vmap of each device's runs: run-steps/s"], (),
      align="r" * 9,
  ))
  for num_runs in map(int, _RUNS.value):
    figures = _measure_sweep(trainer, states, num_runs, min_seconds)
    flops = figures["padded_run_periods_per_second"] * period_flops
    one_vmap = "-"
    if num_runs <= _ONE_VMAP_UP_TO.value:  # One group of all of each device's runs.
      per_device = -(-num_runs // jax.device_count())
      one_group = _measure_sweep(trainer, states, num_runs, min_seconds, vmap_size=per_device)
      one_vmap = f"{one_group['run_steps']:.0f}"
    print(workdir_lib.markdown_row([
        num_runs, figures["layout"], f"{figures['compile_seconds']:.1f}",
        f"{figures['run_steps']:.0f}", f"{flops / 1e9:.1f}",
        f"{flops / peak:.1%}", f"{figures['run_steps'] / loop_rate:.2f}x",
        f"{figures['memory_per_run'] / 2**20:.2f}", one_vmap,
    ]))

  _discriminator_steps_and_learning_rates(config, min_seconds)
  _permutation_test()
  if _CPU_DEVICES.value:
    _device_scaling(peak, period_flops)


def _numpy_mmd2(kernel: np.ndarray, first: np.ndarray) -> float:
  """The unbiased MMD^2 of the pooled sample split into ``first`` and the rest."""
  second = np.setdiff1d(np.arange(len(kernel)), first)
  k_xx, k_yy = kernel[np.ix_(first, first)], kernel[np.ix_(second, second)]
  n, m = len(first), len(second)
  return ((k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
          + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
          - 2 * kernel[np.ix_(first, second)].mean())


def _permutation_test() -> None:
  """The MMD permutation test against a numpy loop over permutations of one kernel matrix."""
  n, permutations = _MMD_POINTS.value, _MMD_PERMUTATIONS.value
  x = jax.random.normal(jax.random.key(0), (n, 2))
  y = jax.random.normal(jax.random.key(1), (n, 2)) + 0.1
  test = jax.jit(two_sample.mmd_permutation_test, static_argnames="num_permutations")
  start = time.perf_counter()
  jax.block_until_ready(test(jax.random.key(2), x, y, num_permutations=permutations))
  first_call = time.perf_counter() - start
  seconds, _ = _time(
      lambda: test(jax.random.key(2), x, y, num_permutations=permutations), _MIN_SECONDS.value
  )
  # The baseline is given the kernel matrix (and the bandwidth) for free.
  pooled = np.concatenate([np.asarray(x), np.asarray(y)])
  bandwidth = float(two_sample.median_heuristic(x, y))
  squared = np.sum((pooled[:, None] - pooled[None]) ** 2, axis=-1)
  kernel = np.exp(-squared / (2 * bandwidth**2))
  rng = np.random.default_rng(0)
  start = time.perf_counter()
  for _ in range(_NUMPY_PERMUTATIONS.value):
    _numpy_mmd2(kernel, rng.permutation(2 * n)[:n])
  per_permutation = (time.perf_counter() - start) / _NUMPY_PERMUTATIONS.value
  print()
  print(f"MMD permutation test, {n} points a side (2-D), {permutations} permutations, median"
        f" bandwidth: {seconds:.2f} s per test ({first_call:.1f} s for the first call, with"
        f" compilation); numpy loop over permutations of the same kernel matrix:"
        f" {per_permutation * 1e3:.1f} ms per permutation (timed over"
        f" {_NUMPY_PERMUTATIONS.value}), {per_permutation * permutations:.1f} s for"
        f" {permutations}: {per_permutation * permutations / seconds:.1f}x the jitted test")


def _device_scaling(peak: float, period_flops: float) -> None:
  """The sweep of ``--device_runs`` runs on each of ``--cpu_devices`` virtual CPU devices."""
  print()
  print(f"{_DEVICE_RUNS.value} runs on virtual CPU devices (each count in its own process;"
        " they share this machine's cores), by runs per vmap group:")
  print()
  print(workdir_lib.markdown_table(
      ["CPU devices", "devices x vmap group", "compile s", "run-steps/s", "of matmul peak",
       "against the first", "device MiB per run"], (), align="r" * 7,
  ))
  first = None
  for count in map(int, _CPU_DEVICES.value):
    process = subprocess.run(
        [sys.executable, "-m", "experiments.benchmark", f"--runs={_DEVICE_RUNS.value}",
         f"--vmap_sizes={','.join(_VMAP_SIZES.value)}",
         f"--steps_per_call={_STEPS_PER_CALL.value}", f"--min_seconds={_MIN_SECONDS.value}",
         "--json",
         *(arg for arg in sys.argv[1:] if arg.startswith("--config"))],
        env={**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": str(count)},
        capture_output=True, text=True, check=True,
    )
    for line in process.stdout.strip().splitlines():
      figures = json.loads(line)
      first = first or figures["run_steps"]
      print(workdir_lib.markdown_row([
          count, figures["layout"], f"{figures['compile_seconds']:.1f}",
          f"{figures['run_steps']:.0f}",
          f"{figures['padded_run_periods_per_second'] * period_flops / peak:.1%}",
          f"{figures['run_steps'] / first:.2f}x", f"{figures['memory_per_run'] / 2**20:.2f}",
      ]))


if __name__ == "__main__":
  app.run(main)
