"""What every LLM-backed Generator shares, whatever the wire format.

:func:`creator_chat.prompting.build_user_turn` gives the final user turn (the numbered
sources, then the question); this module does the rest of both ends so that Bedrock's
Converse adapter and the OpenAI-compatible adapter send the same conversation and read
citations the same way:

- :func:`conversation_turns`: the history plus that final turn, normalised (roles alternate,
  the fan speaks first, empty or unknown turns dropped, consecutive same-role turns grouped);
  each adapter only renders the groups in its own format.
- :func:`parse_citations`: the ``[n]`` markers that point at a source that exists; markers
  for sources that do not exist are removed from the text.
- :func:`finish_generation`: the reply text → a :class:`Generation` (citations validated, an
  empty reply replaced by the fixed not-found answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from creator_chat.domain.models import Generation
from creator_chat.prompting import NOT_FOUND_ANSWER

__all__ = ["Turn", "conversation_turns", "finish_generation", "parse_citations"]


# "[2]", "[1, 3]", "[1,2,3]"; at most three digits so years like "[2024]" are left alone.
_MARKER_RE = re.compile(r"([ \t]*)\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


@dataclass(frozen=True)
class Turn:
    """One speaker's turn: ``texts`` are consecutive messages of the same role, in order."""

    role: str  # "user" | "assistant"
    texts: tuple[str, ...]


def conversation_turns(history: Sequence[Mapping[str, str]], final_user_text: str) -> list[Turn]:
    """History + the final user turn, roles alternating, user first.

    Turns with an unknown role or no text are dropped; consecutive turns of the same role are
    grouped into one :class:`Turn`; leading assistant turns are dropped.
    """
    turns: list[Turn] = []
    for turn in [*history, {"role": "user", "content": final_user_text}]:
        role = turn.get("role", "")
        text = turn.get("content", "").strip()
        if role not in ("user", "assistant") or not text:
            continue
        if not turns and role != "user":
            continue
        if turns and turns[-1].role == role:
            turns[-1] = Turn(role, (*turns[-1].texts, text))
        else:
            turns.append(Turn(role, (text,)))
    return turns


def parse_citations(text: str, source_count: int) -> tuple[str, list[int]]:
    """``(text, cited)``: markers for sources that do not exist are removed from the text;
    ``cited`` is the sorted, de-duplicated source numbers that remain."""
    cited: set[int] = set()

    def _keep(match: re.Match[str]) -> str:
        numbers = [int(part) for part in match.group(2).split(",")]
        valid = [n for n in numbers if 1 <= n <= source_count]
        cited.update(valid)
        if len(valid) == len(numbers):
            return match.group(0)
        if not valid:
            return ""  # with its leading space: "claim [9]." -> "claim."
        return f"{match.group(1)}[{', '.join(str(n) for n in valid)}]"

    return _MARKER_RE.sub(_keep, text).strip(), sorted(cited)


def finish_generation(
    raw: str, *, source_count: int, input_tokens: int, output_tokens: int, model_id: str
) -> Generation:
    """The model's reply as a :class:`Generation`: citations validated against the
    ``source_count`` sources sent; a reply with no text left becomes the not-found answer."""
    text, cited = parse_citations(raw.strip(), source_count)
    if not text:
        text, cited = NOT_FOUND_ANSWER, []
    return Generation(
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model_id=model_id,
        cited=cited,
    )
