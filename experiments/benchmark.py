"""Throughput of the compiled sweep for the default model, against this machine's peak.

  python -m experiments.benchmark [--runs=1,8,64] [--steps_per_call=100]

Prints, in one run on one machine: the f32 matmul peak (a large jitted matmul); XLA's
FLOP count of one training step and one evaluation; for each number of runs, the
compile time of the sweep's own period program (sharded over the devices, runs vmapped
in groups), run-steps per second, the achieved FLOP/s as a fraction of the peak, the
speed-up over a Python loop that calls a jitted single step, the device memory per run
from XLA's memory analysis, and, for comparison, the run-steps per second of one vmap
over all runs. Every ratio is to a baseline measured in the same process. Each period
ends with an evaluation, as in a sweep.
"""

import os
import platform
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
from absl import app, flags
from jax.sharding import NamedSharding, PartitionSpec

from experiments.configs import ring
from gan_theory import gan, sweep

_RUNS = flags.DEFINE_list("runs", ["1", "8", "64"], "Numbers of runs to sweep at once.")
_STEPS_PER_CALL = flags.DEFINE_integer(
    "steps_per_call", 100, "Training steps per call of the compiled period program."
)
_MIN_SECONDS = flags.DEFINE_float("min_seconds", 3.0, "Time each measurement at least this long.")
_MATMUL_SIZE = flags.DEFINE_integer("matmul_size", 2048, "Side of the square peak-matmul.")
_ONE_VMAP_UP_TO = flags.DEFINE_integer(
    "one_vmap_up_to", 64, "Time one vmap over all runs only up to this many runs."
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


def main(argv: list[str]) -> None:
  del argv
  min_seconds = _MIN_SECONDS.value
  config = ring.get_config()
  config.eval_every = config.num_steps = _STEPS_PER_CALL.value
  trainer = gan.make_trainer(config)
  num_objectives = len(config.objectives)

  def states(num_runs: int) -> gan.RunState:
    keys = jax.vmap(jax.random.key)(jnp.arange(num_runs, dtype=jnp.uint32))
    return jax.vmap(trainer.init)(keys, jnp.arange(num_runs, dtype=jnp.int32) % num_objectives)

  one = trainer.init(jax.random.key(0), 0)
  step_flops = _flops(trainer.train_step, one)
  period_flops = _STEPS_PER_CALL.value * step_flops + _flops(trainer.evaluate, one)
  peak = _matmul_peak(_MATMUL_SIZE.value, min_seconds)

  print(f"machine: {_machine()}")
  print(f"model: default ring config, generator and discriminator {config.generator.hidden_sizes}"
        f" {config.generator.activation} MLPs, batch {config.batch_size}")
  print(f"f32 matmul peak ({_MATMUL_SIZE.value}^2): {peak / 1e9:.1f} GFLOP/s")
  print(f"XLA cost analysis: {step_flops / 1e6:.1f} MFLOP per training step,"
        f" {period_flops / 1e6:.1f} MFLOP per period of {_STEPS_PER_CALL.value} steps"
        " and one evaluation")

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
  print("| runs | devices x vmap group | compile s | run-steps/s | GFLOP/s | of matmul peak |"
        " speed-up over loop | device MiB per run | one vmap of all runs: run-steps/s |")
  print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for num_runs in map(int, _RUNS.value):
    where = sweep.layout(num_runs, vmap_size=0)
    batch = jax.device_put(
        states(where.padded_runs), NamedSharding(where.mesh, PartitionSpec(sweep.RUNS))
    )
    with jax.set_mesh(where.mesh):
      start = time.perf_counter()
      period = jax.jit(sweep.shard_runs(trainer.train_period, where)).lower(batch).compile()
      compile_seconds = time.perf_counter() - start
      seconds, _ = _time(lambda: period(batch), min_seconds)
    run_steps = num_runs * _STEPS_PER_CALL.value / seconds  # Padding runs do no work for you,
    flops = where.padded_runs * period_flops / seconds  # but they do compute.
    one_vmap = "-"
    if num_runs <= _ONE_VMAP_UP_TO.value and where.mesh.size == 1:
      single = jax.jit(jax.vmap(trainer.train_period))
      one_vmap_seconds, _ = _time(lambda: single(batch), min_seconds)
      one_vmap = f"{num_runs * _STEPS_PER_CALL.value / one_vmap_seconds:.0f}"
    print(f"| {num_runs} | {where.mesh.size} x {where.group_size} | {compile_seconds:.1f} |"
          f" {run_steps:.0f} | {flops / 1e9:.1f} | {flops / peak:.1%} |"
          f" {run_steps / loop_rate:.2f}x | {_memory_bytes(period) / where.padded_runs / 2**20:.2f} |"
          f" {one_vmap} |")


if __name__ == "__main__":
  app.run(main)
