"""The published float32 numbers of the classic 3-token example."""

import numpy as np

import selfattn
from selfattn.bundled import load_bundled

PUBLISHED_WEIGHTS = np.array(
    [
        [1.3612579e-01, 4.3193707e-01, 4.3193707e-01],
        [8.9044782e-04, 9.0884298e-01, 9.0266980e-02],
        [7.4448888e-03, 7.5470752e-01, 2.3784746e-01],
    ]
)
PUBLISHED_OUTPUT = np.array(
    [
        [1.8638741, 6.3193707, 1.7041886],
        [1.9991105, 7.8141265, 0.27347228],
        [1.9925548, 7.479635, 0.73587704],
    ]
)


def test_seed_example_matches_published_numbers():
    result = selfattn.compute(load_bundled("seed-example"))
    np.testing.assert_allclose(result.weights[0], PUBLISHED_WEIGHTS, atol=1e-6)
    np.testing.assert_allclose(result.output, PUBLISHED_OUTPUT, atol=1e-5)
