"""The results directory: claimed before anything compiles, written file by file atomically."""

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import ml_collections

__all__ = ["WorkdirError", "claim", "write_atomic", "write_config", "write_text"]

CONFIG_FILE = "config.json"


class WorkdirError(ValueError):
  """The workdir cannot hold this run's results."""


def _config_dict(config: ml_collections.ConfigDict) -> dict:
  # A JSON round trip turns tuples into lists, so it compares like a file read back.
  return json.loads(config.to_json(sort_keys=True))


def claim(
    workdir: str | os.PathLike, config: ml_collections.ConfigDict, outputs: tuple[str, ...],
    overwrite: bool,
) -> Path:
  """Makes ``workdir`` ready for the results of ``config``, or explains why it cannot.

  A workdir is refused when it holds results of a different config (or results with
  no config.json to tell whose they are), unless ``overwrite`` is set, and when it
  cannot be created or written.

  Args:
    workdir: the results directory.
    config: the resolved config of this run.
    outputs: the file names this run writes.
    overwrite: replace the results of a different config.

  Returns:
    The workdir as a ``Path``.

  Raises:
    WorkdirError: one line naming --workdir and the reason.
  """
  path = Path(workdir)
  try:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as error:
    raise WorkdirError(f"--workdir={workdir} cannot be written: {error.strerror}") from None
  if overwrite:
    return path
  config_path = path / CONFIG_FILE
  if config_path.exists():
    try:
      same = json.loads(config_path.read_text()) == _config_dict(config)
    except (OSError, ValueError):
      same = False
    if not same:
      raise WorkdirError(
          f"--workdir={workdir} holds results of a different config; pass --overwrite to"
          " replace them, or choose another workdir"
      )
  elif any((path / name).exists() for name in outputs):
    raise WorkdirError(
        f"--workdir={workdir} holds results without a {CONFIG_FILE}; pass --overwrite to"
        " replace them, or choose another workdir"
    )
  return path


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
  """Calls ``write`` on a temporary file beside ``path``, then renames it into place.

  A reader, or a run that dies midway, sees the old file or the whole new one,
  never a part.
  """
  handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)
  try:
    with handle:
      write(handle)
    # mkstemp files are private (0600); give the results the umask's usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(handle.name, 0o666 & ~umask)
    os.replace(handle.name, path)
  except BaseException:
    os.unlink(handle.name)
    raise


def write_text(path: Path, text: str) -> None:
  """Writes ``text`` to ``path`` atomically."""
  write_atomic(path, lambda f: f.write(text.encode()))


def write_config(path: Path, config: ml_collections.ConfigDict) -> None:
  """Writes the resolved ``config`` as ``path/config.json``, atomically."""
  write_text(path / CONFIG_FILE, json.dumps(_config_dict(config), indent=2, sort_keys=True) + "\n")
