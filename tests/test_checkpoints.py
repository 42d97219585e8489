"""Tests for experiments.checkpoints, and a sweep killed with SIGKILL and resumed."""

import csv
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from absl.testing import absltest

from experiments.checkpoints import SweepCheckpoints
from gan_theory.engine import Snapshot
from tests.launch import ROOT, TINY, command, launch


def snapshot(steps_done: int, num_runs: int = 3) -> Snapshot:
  state = {
      "params": np.full((num_runs, 4), steps_done, np.float32),
      "key": np.arange(2 * num_runs, dtype=np.uint32).reshape(num_runs, 2),
  }
  return Snapshot(steps_done, state, {"loss": np.arange(5.0) * steps_done})


def damage(checkpoint: Path) -> None:
  """Flips a byte in the middle of each array data file of ``checkpoint``."""
  data_files = [p for p in checkpoint.rglob("*") if p.is_file() and p.parent.name == "d"]
  assert data_files, f"no array data under {checkpoint}"
  for path in data_files:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def assert_snapshots_equal(test: absltest.TestCase, actual: Snapshot, expected: Snapshot) -> None:
  test.assertEqual(actual.steps_done, expected.steps_done)
  for name in expected.state:
    np.testing.assert_array_equal(actual.state[name], expected.state[name])
    test.assertEqual(actual.state[name].dtype, expected.state[name].dtype)
  np.testing.assert_array_equal(actual.history["loss"], expected.history["loss"])


class SweepCheckpointsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.directory = Path(self.create_tempdir().full_path) / "checkpoints"

  def save(self, *steps: int) -> None:
    with SweepCheckpoints(self.directory) as checkpoints:
      for step in steps:
        checkpoints.save(snapshot(step))

  def restore(self, template: Snapshot | None = None) -> Snapshot | None:
    with SweepCheckpoints(self.directory) as checkpoints:
      return checkpoints.restore(template or snapshot(0))

  def test_nothing_saved(self):
    self.assertIsNone(self.restore())

  def test_latest_restored_exactly_and_two_kept(self):
    self.save(10, 20, 30)
    assert_snapshots_equal(self, self.restore(), snapshot(30))
    self.assertCountEqual([p.name for p in self.directory.iterdir()], ["20", "30"])

  def test_damaged_latest_falls_back_to_the_one_before(self):
    self.save(10, 20)
    damage(self.directory / "20")
    with self.assertLogs(level="WARNING") as logs:
      assert_snapshots_equal(self, self.restore(), snapshot(10))
    self.assertIn("checkpoint at step 20 ", "\n".join(logs.output))
    self.assertFalse((self.directory / "20").exists())  # Deleted, so step 20 can be saved anew.

  def test_every_checkpoint_damaged(self):
    self.save(10, 20)
    damage(self.directory / "10")
    damage(self.directory / "20")
    with self.assertLogs(level="WARNING"):
      self.assertIsNone(self.restore())

  def test_record_that_does_not_match_the_digest(self):
    self.save(10, 20)
    record = self.directory / "20" / "record" / "metadata"
    record.write_text(record.read_text().replace('"sha256": "', '"sha256": "0'))
    with self.assertLogs(level="WARNING") as logs:
      assert_snapshots_equal(self, self.restore(), snapshot(10))
    self.assertIn("do not match their digest", "\n".join(logs.output))

  def test_other_structure_is_not_restored(self):
    self.save(10)
    with self.assertLogs(level="WARNING") as logs:
      self.assertIsNone(self.restore(snapshot(0, num_runs=5)))
    self.assertIn("do not have this sweep's structure", "\n".join(logs.output))

  def test_save_killed_midway_is_ignored(self):
    self.save(10, 20)
    # What a save killed before orbax's final rename leaves behind.
    shutil.copytree(self.directory / "20", self.directory / "30.orbax-checkpoint-tmp")
    assert_snapshots_equal(self, self.restore(), snapshot(20))


@pytest.mark.slow
class KillAndResumeTest(absltest.TestCase):
  """The launcher killed at a checkpoint, then the same command run again."""

  ARGS = (*TINY, "--config.num_steps=100", "--config.checkpoint_every=20")

  def run_to_end(self, workdir: Path) -> str:
    process = launch(f"--workdir={workdir}", *self.ARGS)
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    return process.stderr

  def test_killed_sweep_resumes_to_identical_results(self):
    root = Path(self.create_tempdir().full_path)
    self.run_to_end(root / "uninterrupted")
    expected = (root / "uninterrupted" / "results.csv").read_text()

    workdir = root / "killed"
    checkpoints = workdir / "checkpoints"
    process = subprocess.Popen(
        command(f"--workdir={workdir}", *self.ARGS), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
      self.assertIsNone(process.poll(), "the sweep ended before its first checkpoint")
      self.assertLess(time.monotonic(), deadline)
      time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    self.assertEqual(process.wait(), -signal.SIGKILL)
    self.assertCountEqual([p.name for p in workdir.iterdir()], ["config.json", "checkpoints"])

    log = self.run_to_end(workdir)
    resumed = int(log.split("resuming from the checkpoint at step ")[1].split()[0])
    self.assertBetween(resumed, 20, 80)
    self.assertEqual((workdir / "results.csv").read_text(), expected)
    with open(workdir / "results.csv") as f:
      rows = [(r["objective"], r["seed"], r["step"]) for r in csv.DictReader(f)]
    self.assertLen(rows, 3 * 2 * 11)  # objectives x seeds x evaluations, each once.
    self.assertLen(set(rows), len(rows))
    # A damaged checkpoint is passed over for the one before: SweepCheckpointsTest.


if __name__ == "__main__":
  absltest.main()
