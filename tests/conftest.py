"""Shared test configuration: Qt runs headless, hypothesis stays quick and reproducible."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # tests never need a screen

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
