"""Chat templates: a user's text wrapped the way an instruction-tuned model expects.

The template is Jinja2 text shipped with the model (``tokenizer_config.json``'s
``chat_template``, a ``chat_template.jinja`` file beside it, or the GGUF metadata
key ``tokenizer.chat_template``). It comes from a file, so it is rendered ONLY in
``jinja2.sandbox.ImmutableSandboxedEnvironment``: no attribute tricks
(``''.__class__``), no mutating lists or dicts, nothing imported or executed.
The environment mirrors the one ``transformers`` uses (``trim_blocks``,
``lstrip_blocks``, ``raise_exception``, ``tojson``, ``strftime_now``,
``loop controls``) so the rendered prompt is the same text.
"""

from __future__ import annotations

import datetime
import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

GGUF_TEMPLATE_KEY = "tokenizer.chat_template"


class ChatTemplateError(ValueError):
    """A chat template that cannot be found, parsed or rendered (the message says which)."""


# ---------------------------------------------------------------- finding the template


def template_from_folder(folder: str | Path) -> str | None:
    """The chat template of a checkpoint folder, or None when it has none.

    ``chat_template.jinja`` wins over ``tokenizer_config.json``'s ``chat_template``
    (as in ``transformers``); a list of named templates yields the one named "default".
    """
    folder = Path(folder)
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    config = _tokenizer_config(folder)
    value = config.get("chat_template")
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, dict) and entry.get("name") == "default":
                template = entry.get("template")
                if isinstance(template, str):
                    return template
        raise ChatTemplateError(
            f"{folder / 'tokenizer_config.json'}: chat_template is a list without a "
            "template named 'default'"
        )
    raise ChatTemplateError(
        f"{folder / 'tokenizer_config.json'}: chat_template must be text, "
        f"got {type(value).__name__}"
    )


def special_tokens_from_folder(folder: str | Path) -> dict[str, str]:
    """bos/eos/unk/pad token texts from ``tokenizer_config.json`` (the template may use them)."""
    config = _tokenizer_config(Path(folder))
    out: dict[str, str] = {}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(name)
        if isinstance(value, dict):  # a serialised AddedToken
            value = value.get("content")
        if isinstance(value, str):
            out[name] = value
    return out


def _tokenizer_config(folder: Path) -> dict[str, Any]:
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChatTemplateError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ChatTemplateError(f"{path}: expected a JSON object")
    return data


# GGUF metadata value types (gguf-py's GGUFValueType) and the sizes of the fixed ones.
_GGUF_FIXED = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_GGUF_FIXED |= {10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def template_from_gguf(path: str | Path) -> str | None:
    """The ``tokenizer.chat_template`` value of a GGUF file, or None when absent.

    Reads only the metadata section up to that key (skipping the token list and
    merges), not the tensors: a fraction of a second instead of parsing the file.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            return _find_gguf_string(fh, GGUF_TEMPLATE_KEY)
        except (struct.error, EOFError, UnicodeDecodeError) as exc:
            raise ChatTemplateError(f"{path}: damaged GGUF metadata ({exc})") from None
        except ChatTemplateError as exc:
            raise ChatTemplateError(f"{path}: {exc}") from None


def _read(fh: BinaryIO, size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise EOFError("file ends inside the metadata")
    return data


def _unpack(fh: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _read(fh, struct.calcsize(fmt)))[0]


def _read_gguf_bytes(fh: BinaryIO) -> bytes:
    return _read(fh, _unpack(fh, "<Q"))


def _skip_gguf_value(fh: BinaryIO, value_type: int) -> None:
    if value_type in _GGUF_FIXED:
        fh.seek(struct.calcsize(_GGUF_FIXED[value_type]), 1)
    elif value_type == _GGUF_STRING:
        fh.seek(_unpack(fh, "<Q"), 1)
    elif value_type == _GGUF_ARRAY:
        item_type, count = _unpack(fh, "<I"), _unpack(fh, "<Q")
        if item_type in _GGUF_FIXED:
            fh.seek(count * struct.calcsize(_GGUF_FIXED[item_type]), 1)
        else:
            for _ in range(count):
                _skip_gguf_value(fh, item_type)
    else:
        raise ChatTemplateError(f"unknown GGUF metadata type {value_type}")


def _find_gguf_string(fh: BinaryIO, wanted: str) -> str | None:
    if _read(fh, 4) != b"GGUF":
        raise ChatTemplateError("not a GGUF file (no GGUF magic)")
    version = _unpack(fh, "<I")
    if version not in (2, 3):
        raise ChatTemplateError(f"GGUF version {version} is not supported (2 or 3)")
    _tensor_count, kv_count = _unpack(fh, "<Q"), _unpack(fh, "<Q")
    for _ in range(kv_count):
        key = _read_gguf_bytes(fh).decode("utf-8")
        value_type = _unpack(fh, "<I")
        if key != wanted:
            _skip_gguf_value(fh, value_type)
            continue
        if value_type != _GGUF_STRING:
            raise ChatTemplateError(f"metadata key {wanted} is not text")
        return _read_gguf_bytes(fh).decode("utf-8")
    return None


# ---------------------------------------------------------------- rendering


def _raise_exception(message: object) -> NoReturn:
    raise ChatTemplateError(f"the chat template refused the messages: {message}")


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, sort_keys: bool = False
) -> str:
    # transformers' tojson: no HTML escaping (jinja's own tojson escapes < > & ')
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now().strftime(fmt)


class _RefusingSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, but an unsafe attribute is refused at once instead of
    quietly rendering as an empty string (the default: an undefined value)."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed"
        )


def _environment() -> ImmutableSandboxedEnvironment:
    env = _RefusingSandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.loopcontrols"],
        undefined=jinja2.Undefined,
        autoescape=False,
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def user_messages(text: str) -> list[dict[str, str]]:
    """One user turn: what the "as a chat message" switch wraps the text in."""
    return [{"role": "user", "content": text}]


def render_chat(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    add_generation_prompt: bool = True,
    special_tokens: Mapping[str, str] | None = None,
) -> str:
    """The prompt text the template makes of ``messages`` (sandboxed; see the module doc).

    ``special_tokens`` supplies ``bos_token``, ``eos_token`` ... as template variables.
    """
    try:
        compiled = _environment().from_string(template)
        return compiled.render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=add_generation_prompt,
            **dict(special_tokens or {}),
        )
    except ChatTemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise ChatTemplateError(f"chat template line {exc.lineno}: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise ChatTemplateError(f"the chat template tried something unsafe: {exc}") from None
    except jinja2.TemplateError as exc:
        raise ChatTemplateError(f"chat template: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ChatTemplateError(f"chat template: {type(exc).__name__}: {exc}") from None
