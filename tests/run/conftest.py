"""Fixtures of the Ray executor's tests."""

from __future__ import annotations

import shutil
import tempfile

import pytest


@pytest.fixture(scope="module")
def ray_session():
    """A Ray instance shared by one test module (it stands for a cluster where a test
    passes its address)."""
    ray = pytest.importorskip("ray")
    # Short temp dir on purpose: Ray's socket paths under it must stay below 108 chars.
    tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=tmp)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
