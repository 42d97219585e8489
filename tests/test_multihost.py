"""A sweep on two processes over the loopback address, as on two hosts.

Each process has 2 CPU devices and gloo collectives, so the runs are sharded over 4
devices in 2 processes. Each process runs in a directory of its own with the same
relative --workdir, so a file written by process 1 would show up in its directory.
"""

import csv
import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
from absl.testing import absltest

from experiments import main
from tests.launch import ROOT, TINY, command
from tests.tiny import tiny_config

# Equal to float32 rounding: 4 devices run other dot kernels than 1 (see test_sweep).
RTOL, ATOL = 1e-5, 1e-6


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def read_results(path: Path) -> tuple[list[tuple[str, ...]], np.ndarray]:
  with open(path) as f:
    rows = list(csv.reader(f))
  keys = [tuple(row[:4]) for row in rows[1:]]
  values = np.array([[float(v) if v else np.nan for v in row[4:]] for row in rows[1:]])
  return keys, values


class TwoProcessTest(absltest.TestCase):

  def launch_two_processes(self, directories: list[Path]) -> list[str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_NUM_CPU_DEVICES": "2",
        "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo",
    }
    processes = [
        subprocess.Popen(
            command("--workdir=out", *TINY, "--config.checkpoint_every=10",
                    f"--coordinator_address=127.0.0.1:{port}",
                    "--num_processes=2", f"--process_id={i}"),
            cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for i, directory in enumerate(directories)
    ]
    logs = [process.communicate(timeout=600)[0] for process in processes]
    for process, log in zip(processes, logs):
      self.assertEqual(process.returncode, 0, log[-3000:])
    return logs

  @pytest.mark.slow
  def test_two_processes_match_one_and_only_process_0_writes(self):
    root = Path(self.create_tempdir().full_path)
    directories = [root / "process_0", root / "process_1"]
    for directory in directories:
      directory.mkdir()
    self.launch_two_processes(directories)
    self.assertFalse((directories[1] / "out").exists())
    checkpoints = directories[0] / "out" / "checkpoints"
    self.assertCountEqual([p.name for p in checkpoints.iterdir()], ["10", "20"])
    self.assertIn("on 4 cpu device(s)", (directories[0] / "out" / "summary.md").read_text())

    single = root / "single"  # The same config in this process, on one device.
    main.run(tiny_config(checkpoint_every=10), single)
    keys, values = read_results(directories[0] / "out" / "results.csv")
    expected_keys, expected_values = read_results(single / "results.csv")
    self.assertEqual(keys, expected_keys)
    np.testing.assert_allclose(values, expected_values, rtol=RTOL, atol=ATOL)

    # Again: process 0 restores the final checkpoint and sends it to process 1.
    before = (directories[0] / "out" / "results.csv").read_text()
    logs = self.launch_two_processes(directories)
    self.assertIn("resuming from the checkpoint at step 20", logs[0])
    self.assertEqual((directories[0] / "out" / "results.csv").read_text(), before)
    self.assertFalse((directories[1] / "out").exists())


if __name__ == "__main__":
  absltest.main()
