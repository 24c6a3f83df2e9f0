"""Write the bundled teaching presets in resources/presets/ from the numbers below.

Each preset is built as a `selfattn.Preset` and written with `selfattn.dumps_preset`,
so every file is valid by construction. The numbers are chosen by hand to be
round and checkable; tests/core/test_bundled_presets.py checks that each preset
shows what its description claims.

    .venv/bin/python tools/make_presets.py           # rewrite the files
    .venv/bin/python tools/make_presets.py --check   # exit 1 if a file is out of date

seed-example.json and real-*.json are not made here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from selfattn import Options, Preset, dumps_preset
from selfattn.bundled import load_bundled

PRESET_DIR = Path(__file__).resolve().parent.parent / "resources" / "presets"


def seed_example_unscaled() -> Preset:
    seed = load_bundled("seed-example")
    return seed.replace(
        name="Seed example without scaling",
        description=(
            "The seed example with the scale set to 'none (1)' in Options: the raw scores go "
            "into the softmax without the division by sqrt(d_k) = sqrt(3). The first row's "
            "scores are still 2, 4, 4, but the gap of 2 between them is no longer shrunk to "
            "1.155, so the weights become 0.06, 0.47, 0.47 instead of 0.14, 0.43, 0.43 and the "
            "'input_2' row is almost one-hot. Switch the scale back to sqrt(d_k) and watch every "
            "row flatten; this is why transformers scale: with wide heads the raw dot products "
            "grow like sqrt(d_k) and an unscaled softmax saturates."
        ),
        options=Options(scale="none"),
    )


def causal_the_cat_sat() -> Preset:
    words = ["the", "cat", "sat", "on", "the", "mat"]
    n = len(words)
    # Embedding = position one-hot (dims 0-5) + two word features: [determiner, noun].
    features = {"the": [1, 0], "cat": [0, 1], "sat": [0, 0], "on": [0, 0], "mat": [0, 1]}
    x = np.zeros((n, n + 2))
    for p, w in enumerate(words):
        x[p, p] = 1
        x[p, n:] = features[w]
    w_q = np.zeros((n + 2, n))
    w_q[:n, :n] = 8 * np.eye(n)  # q_i = 8 e_i
    w_k = np.zeros((n + 2, n))
    w_k[:n, :n] = np.eye(n, k=1)  # k_j = e_(j+1): the key of word j matches query j+1
    w_v = np.zeros((n + 2, 2))
    w_v[n:, :] = np.eye(2)  # v_j = the word features of j
    return Preset(
        inputs=x,
        w_query=w_q,
        w_key=w_k,
        w_value=w_v,
        tokens=tuple(words),
        name="Causal language model: previous-token head",
        description=(
            "A toy causal language-model head over 'the cat sat on the mat': each row of X is a "
            "position one-hot (x1-x6) plus two word features, x7 = determiner and x8 = noun. W_K "
            "shifts positions by one, so a query's raw score is 8 only for the word just before "
            "it, and every word puts most of its weight there (0.96 for cat → the, falling to "
            "0.84 for mat as more keys share the rest). With 'causal' ticked in Options every "
            "weight above the diagonal is exactly 0, so the first 'the' can only attend to "
            "itself. W_V reads the word features, so the context columns c1, c2 say what the "
            "previous word was: after 'the' they are mostly 1, 0, a determiner (expect a noun "
            "next). Untick 'causal' and the future keys take weight too."
        ),
        options=Options(causal=True),
    )


def two_heads() -> Preset:
    words = ["she", "reads", "old", "books"]
    # Position p sits on the unit circle at 90p degrees: (1,0), (0,1), (-1,0), (0,-1);
    # the last two dims are word features [noun-like, verb].
    pos = [[1, 0], [0, 1], [-1, 0], [0, -1]]
    feats = [[1, 0], [0, 1], [0, 0], [1, 0]]
    x = np.array([p + f for p, f in zip(pos, feats, strict=True)], dtype=float)
    # Head 1 uses columns 0-1, head 2 columns 2-3 (d_k = d_v = 2).
    w_q = np.array([[4, 0, 4, 0], [0, 4, 0, 4], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    # Head 1: k_j = position j. Head 2: k_j = position j rotated by +90 degrees = position j+1.
    w_k = np.array([[1, 0, 0, 1], [0, 1, -1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    w_v = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1]], dtype=float)
    w_o = np.array([[1, 0], [0, 1], [0.5, 0], [0, 0.5]])
    return Preset(
        inputs=x,
        w_query=w_q,
        w_key=w_k,
        w_value=w_v,
        w_output=w_o,
        tokens=tuple(words),
        name="Two heads: self and previous token",
        description=(
            "Two heads of width d_k = d_v = 2 over 'she reads old books', with 'causal' ticked; "
            "the positions sit on a circle at 0, 90, 180 and 270 degrees (X columns x1-x2), so "
            "each raw score is 4 × the cosine of the angle between two positions. Head 1 "
            "compares each position with itself and puts about 0.9 of its weight on its own "
            "token (the diagonal). Head 2's W_K turns every key by 90 degrees, so each token "
            "looks at the previous one (the sub-diagonal; 'she' has nothing before it and keeps "
            "itself). W_O adds the heads: output = own word features (x3 noun-like, x4 verb) + "
            "0.5 × the previous word's. Set W_O's rows h2:v1 and h2:v2 to 0 and head 2 "
            "disappears from the output."
        ),
        options=Options(heads=2, causal=True),
    )


def cross_attention() -> Preset:
    # Embedding dims: [article, feline, black, French]; W_Q and W_K ignore the language dim.
    english = {"the": [1, 0, 0, 0], "black": [0, 0, 1, 0], "cat": [0, 1, 0, 0]}
    french = {"le": [1, 0, 0, 1], "chat": [0, 1, 0, 1], "noir": [0, 0, 1, 1]}
    meaning = np.vstack([np.eye(3), np.zeros((1, 3))])  # (4, 3): drop the language dim
    return Preset(
        inputs=np.array(list(english.values()), dtype=float),
        source_inputs=np.array(list(french.values()), dtype=float),
        tokens=tuple(english),
        source_tokens=tuple(french),
        w_query=4 * meaning,
        w_key=meaning,
        w_value=meaning,
        name="Cross-attention: word alignment",
        description=(
            "Cross-attention from English queries 'the black cat' to the French source 'le chat "
            "noir' (the Source tab): queries come from the English tokens, keys and values from "
            "the source. Both embeddings share the meaning columns x1-x3 [article, feline, "
            "black] (the French words also set x4, a language column that W_Q and W_K ignore), "
            "so a query scores 4 against the French word with the same meaning and 0 elsewhere. "
            "Each row puts 0.83 on its translation: the → le, black → noir, cat → chat; the "
            "crossing of the last two rows is the adjective moving after the noun in French. "
            "Give 'black' a little 'feline' (its x2 in the X tab) and watch its row leak towards "
            "'chat'."
        ),
    )


def padding_mask() -> Preset:
    words = ["I", "like", "green", "tea", "[PAD]", "[PAD]"]
    x = np.array(
        [[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
        dtype=float,
    )
    w_q = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
    w_k = np.array([[2, 0], [0, 1], [0, 0], [1, 1]], dtype=float)
    w_v = np.array([[1, 0], [0, 1], [1, 1], [2, 0]], dtype=float)
    return Preset(
        inputs=x,
        w_query=w_q,
        w_key=w_k,
        w_value=w_v,
        tokens=tuple(words),
        name="Padding mask",
        description=(
            "One sentence from a batch: 'I like green tea' padded to length 6 with two [PAD] "
            "tokens, whose embeddings are zero. The key mask switches the [PAD] keys off (their "
            "'attend' box is unticked in the Inputs panel's Tokens tab), so no query can attend "
            "to them: their weights are exactly 0 and the first four rows are the same as for "
            "the unpadded sentence. Tick 'attend' for the [PAD] keys and each scores 0, which is "
            "not minus infinity, so it takes a share of every row (0.09 per [PAD] in the 'like' "
            "row) and drags the context towards its zero value; the result would then depend on "
            "how much padding the batch happened to need. The [PAD] rows themselves still get "
            "numbers; a model ignores them later."
        ),
        options=Options(key_mask=(True, True, True, True, False, False)),
    )


def temperature() -> Preset:
    words = ["cold", "warm", "hot"]
    return Preset(
        inputs=np.eye(3),
        w_query=np.ones((3, 1)),  # every q_i = 1
        w_key=np.array([[0.0], [1.0], [2.0]]),  # k_j = j, so every score row is 0, 1, 2
        w_value=np.eye(3),  # v_j = e_j: the context row shows the weights again
        tokens=tuple(words),
        name="Temperature",
        description=(
            "Every query scores the keys 0, 1, 2 and the scale is 'none (1)' in Options, so the "
            "scaled scores are just the raw scores divided by the temperature. Here the "
            "temperature is 0.5, which doubles them to 0, 2, 4, and the weights are 0.016, "
            "0.117, 0.867; at temperature 1 they would be 0.090, 0.245, 0.665. Lower the "
            "temperature to 0.1 and the row is almost one-hot on 'hot'; raise it to 10 and the "
            "row is almost uniform. W_V is the identity, so each context row repeats its "
            "weights."
        ),
        options=Options(scale="none", temperature=0.5),
    )


def uniform_attention() -> Preset:
    return Preset(
        inputs=np.array([[1, 0], [0, 1], [1, 1], [2, 0]], dtype=float),
        w_query=np.zeros((2, 2)),
        w_key=np.eye(2),
        w_value=np.eye(2),
        tokens=("w", "x", "y", "z"),
        name="Uniform attention",
        description=(
            "W_Q is all zeros, so every row of Q is zero, every score is 0 and the softmax gives "
            "each of the 4 keys the same weight 1/4 = 0.25. Attention then reduces to a plain "
            "average: every context row is the mean of the rows of V, c1 = 1 and c2 = 0.5. Type "
            "any non-zero number into W_Q and the tie breaks: the rows start to prefer some keys "
            "over others."
        ),
    )


PRESETS = {
    "seed-example-unscaled": seed_example_unscaled,
    "causal-the-cat-sat": causal_the_cat_sat,
    "two-heads-self-and-previous": two_heads,
    "cross-attention-translation": cross_attention,
    "padding-mask": padding_mask,
    "temperature": temperature,
    "uniform-attention": uniform_attention,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    args = parser.parse_args(argv)
    stale = []
    for stem, build in PRESETS.items():
        path = PRESET_DIR / f"{stem}.json"
        text = dumps_preset(build())
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
