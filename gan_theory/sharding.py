"""Where the runs of a sweep go: one-axis mesh, vmap groups, padding, host transfers.

The run axis is sharded over every device with ``shard_map`` on a one-axis mesh named
``runs``: runs never communicate, so each device trains its own runs. On each device,
runs are vmapped in groups of ``vmap_size`` and the groups follow one another
(``lax.map``). On a CPU, small groups keep a step's working set in cache: 64 runs of the
default sweep on two devices ran 13% faster in groups of 2 than of 8, and groups of 8
about 1.5 times faster than one vmap of 64 (docs/benchmarks.md); on an accelerator, one
group of all its runs fills the device. Runs are padded to whole groups on every device
with copies of the last run, which the results drop.

On a CPU, a device runs one program at a time, and one program keeps about one core
busy: :func:`use_every_cpu_core` gives JAX one CPU device per core before it starts.

On several processes (``jax.distributed.initialize``), the mesh spans the devices of
all of them; every process passes the same global inputs and gets every output.
"""

import functools
import os
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

__all__ = [
    "Layout",
    "RUNS",
    "group_size",
    "layout",
    "map_runs",
    "shard_runs",
    "sharded_program",
    "to_device",
    "to_host",
    "use_every_cpu_core",
    "vmap_in_groups",
]

CPU_VMAP_SIZE = 2
RUNS = "runs"  # The mesh axis that the runs are sharded over.


def use_every_cpu_core() -> None:
  """Gives JAX's CPU backend one device per core that this process may use.

  Runs on several CPU devices agree with one device's to float32 rounding, not bit for
  bit. A count the user chose stays: ``JAX_NUM_CPU_DEVICES`` (the ``jax_num_cpu_devices``
  option) or ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``. Accelerators'
  devices are not affected.

  Raises:
    RuntimeError: if JAX has started its backends (call it before any computation).
  """
  if (jax.config.jax_num_cpu_devices > 0
      or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")):
    return
  # The cores this process may run on (Linux), else the machine's (macOS, Windows).
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  jax.config.update("jax_num_cpu_devices", cores or 1)


def group_size(vmap_size: int, num_runs: int) -> int:
  """How many runs to vmap together.

  At most ``vmap_size`` runs, or when it is 0, at most 2 on a CPU and all runs on an
  accelerator; the groups are balanced, so padding adds fewer runs than there are
  groups (12 runs at most 8 a group: two groups of 6).
  """
  if vmap_size == 0:
    vmap_size = CPU_VMAP_SIZE if jax.default_backend() == "cpu" else num_runs
  num_groups = -(-num_runs // vmap_size)
  return -(-num_runs // num_groups)


def vmap_in_groups(function: Callable, size: int) -> Callable:
  """``vmap(function)`` over a leading run axis, in groups of ``size`` run in sequence.

  Args:
    function: a function of one run's pytree arguments.
    size: runs per group; the run axis must be a multiple of it.

  Returns:
    A function of the stacked arguments, with the results stacked along the run axis.
  """

  def batched(*args):
    num_runs = jax.tree.leaves(args)[0].shape[0]
    groups = jax.tree.map(lambda x: x.reshape(num_runs // size, size, *x.shape[1:]), args)
    out = jax.lax.map(lambda group: jax.vmap(function)(*group), groups)
    return jax.tree.map(lambda x: x.reshape(num_runs, *x.shape[2:]), out)

  return batched


class Layout(NamedTuple):
  """Where the runs of a sweep go.

  Attributes:
    mesh: a one-axis mesh, named ``runs``, over every device.
    group_size: runs vmapped together on a device.
    padded_runs: runs after padding, a multiple of ``devices x group_size``.
    num_runs: runs before padding.
  """

  mesh: jax.sharding.Mesh
  group_size: int
  padded_runs: int
  num_runs: int

  @property
  def sharding(self) -> NamedSharding:
    """The run axis split over the mesh."""
    return NamedSharding(self.mesh, PartitionSpec(RUNS))

  def pad(self, tree):
    """``tree``'s numpy leaves ``[num_runs, ...]`` padded with copies of the last run."""
    keep = np.minimum(np.arange(self.padded_runs), self.num_runs - 1)
    return jax.tree.map(lambda x: np.asarray(x)[keep], tree)

  def unpad(self, tree):
    """``tree``'s leaves without the padding runs."""
    return jax.tree.map(lambda x: x[: self.num_runs], tree)


def layout(num_runs: int, vmap_size: int) -> Layout:
  """Spreads ``num_runs`` runs over all devices in vmap groups; see :func:`group_size`."""
  num_devices = jax.device_count()
  per_device = -(-num_runs // num_devices)
  size = group_size(vmap_size, per_device)
  per_device = -(-per_device // size) * size
  # Auto axes: shard_map places the runs explicitly, and host-side slicing (dropping the
  # padding) may then take any layout.
  mesh = jax.make_mesh((num_devices,), (RUNS,), axis_types=(jax.sharding.AxisType.Auto,))
  return Layout(
      mesh=mesh, group_size=size, padded_runs=per_device * num_devices, num_runs=num_runs
  )


def shard_runs(function: Callable, where: Layout) -> Callable:
  """``function`` of one run, mapped over the run axis as a sweep runs it.

  The run axis, of length ``where.padded_runs``, is sharded over ``where.mesh``; each
  device vmaps its runs in groups of ``where.group_size`` (:func:`vmap_in_groups`).
  """
  # No check of varying axes: the runs never communicate, and the check rejects constants
  # captured by a batched lax.switch (a generator cost's kernel bandwidths) under vmap.
  return jax.shard_map(
      vmap_in_groups(function, where.group_size), mesh=where.mesh,
      in_specs=PartitionSpec(RUNS), out_specs=PartitionSpec(RUNS), check_vma=False,
  )


def to_host(tree):
  """Every process gets the global value of ``tree``'s sharded arrays as numpy arrays."""
  return multihost_utils.process_allgather(tree, tiled=True)


def to_device(tree, sharding: NamedSharding):
  """Global arrays from numpy arrays that every process holds in full."""
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(x.shape, sharding, lambda index: x[index]), tree
  )


@functools.lru_cache(maxsize=32)
def sharded_program(function: Callable, where: Layout) -> Callable:
  """``jit(shard_runs(function, where))``, cached: the same function and layout compile once."""
  return jax.jit(shard_runs(function, where))


def map_runs(function: Callable, inputs, vmap_size: int = 0):
  """``function`` of one run applied to every run, as a sweep runs them: one compiled program.

  The runs are sharded over every device and vmapped in groups (:func:`layout`,
  :func:`shard_runs`), padded with copies of the last run, which the outputs drop. On
  several processes, every process passes the same inputs and gets every output.

  Args:
    function: a function of one run's arrays (a pytree of them) to a pytree of arrays;
      typed keys neither in nor out (pass seeds, and make keys inside).
    inputs: a pytree of numpy arrays with a leading run axis.
    vmap_size: runs per vmap group; 0 chooses by backend (:func:`group_size`).

  Returns:
    The outputs, numpy arrays with a leading run axis.
  """
  where = layout(jax.tree.leaves(inputs)[0].shape[0], vmap_size)
  with jax.set_mesh(where.mesh):
    inputs = to_device(where.pad(inputs), where.sharding)
    return where.unpad(to_host(sharded_program(function, where)(inputs)))
