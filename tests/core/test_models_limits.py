"""The preset format admits what `from-model` can produce: a whole BERT-base layer."""

from __future__ import annotations

import numpy as np

import selfattn
from selfattn import preset as preset_module
from selfattn.preset import Options, Preset


def test_whole_bert_base_layer_with_512_tokens_round_trips_through_json():
    # BERT-base: hidden 768, 12 heads of 64, 512 positions -> 4 * 768^2 + 512 * 768 + 4 * 768
    rng = np.random.default_rng(1)

    def f32(*shape: int) -> np.ndarray:
        """float32 numbers (as a checkpoint holds), stored as float64 like from-model does."""
        return rng.standard_normal(shape).astype(np.float32).astype(np.float64)

    preset = Preset(
        inputs=f32(512, 768),
        w_query=f32(768, 768),
        w_key=f32(768, 768),
        w_value=f32(768, 768),
        w_output=f32(768, 768),
        b_query=f32(768),
        b_key=f32(768),
        b_value=f32(768),
        b_output=f32(768),
        tokens=tuple(f"w{i}" for i in range(512)),
        options=Options(heads=12),
    )
    cells = 4 * 768 * 768 + 512 * 768 + 4 * 768
    assert cells == 2_755_584
    assert cells <= preset_module.MAX_TOTAL_CELLS
    assert preset_module.MAX_TOKENS >= 512 and preset_module.MAX_WIDTH >= 768

    text = selfattn.dumps_preset(preset)
    assert len(text.encode()) <= preset_module.MAX_FILE_BYTES
    back = selfattn.parse_preset(text)
    np.testing.assert_array_equal(back.inputs, preset.inputs)
    np.testing.assert_array_equal(back.w_output, preset.w_output)
    np.testing.assert_array_equal(back.b_output, preset.b_output)
    assert back.options.heads == 12 and back.d_k == 64
