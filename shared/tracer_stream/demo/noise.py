"""Surface variation for generated requests: paraphrase wrappers (greetings, politeness,
urgency), filler words, light typos, casing and punctuation, all drawn from one
:class:`random.Random` so that a seed fixes every text.

>>> import random
>>> rng = random.Random(3)
>>> [vary("where is my order", rng) for _ in range(3)]
["urgent: where is my order, it's urgent", 'where is my order?', 'Where is my order']
"""

from __future__ import annotations

import random

__all__ = ["vary"]

_QUESTION_WORDS = ("what", "how", "why", "where", "when", "who", "is", "can", "do", "has",
                   "will", "am", "any")
_PREFIXES = ("hi, ", "hello, ", "hey ", "quick question: ", "good morning, ", "excuse me, ",
             "hi there, ", "i need help. ", "urgent: ", "sorry to bother you, ", "hello! ",
             "can you help? ", "so ")
_SUFFIXES = (", thanks", " please", ", thank you", " asap", " thx", "!!", " - thanks in advance",
             ", any idea?", " right now", ", it's urgent")
_FILLERS = ("um", "like", "actually", "basically", "just", "really", "honestly")


def vary(text: str, rng: random.Random) -> str:
    """``text`` with random wrappers, fillers, at most one typo, casing and punctuation."""
    if rng.random() < 0.30:
        text = rng.choice(_PREFIXES) + text
    if rng.random() < 0.25:
        text = text + rng.choice(_SUFFIXES)
    if rng.random() < 0.10:
        text = _insert_filler(text, rng)
    if rng.random() < 0.15:
        text = _typo(text, rng)
    text = _punctuate(text, rng)
    return _case(text, rng)


def _insert_filler(text: str, rng: random.Random) -> str:
    words = text.split()
    words.insert(rng.randrange(len(words) + 1), rng.choice(_FILLERS))
    return " ".join(words)


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    index = rng.choice(candidates)
    word = words[index]
    pos = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # swap two neighbours
        word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2:]
    elif kind == 1:  # drop one letter
        word = word[:pos] + word[pos + 1:]
    else:  # double one letter
        word = word[:pos] + word[pos] + word[pos:]
    words[index] = word
    return " ".join(words)


def _punctuate(text: str, rng: random.Random) -> str:
    if text[-1] in "!?.":
        return text
    is_question = text.split(maxsplit=1)[0].strip(",:!.") in _QUESTION_WORDS
    draw = rng.random()
    if is_question:
        return text + ("?" if draw < 0.6 else "??" if draw < 0.65 else "")
    return text + ("." if draw < 0.3 else "")


def _case(text: str, rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.50:
        return text[0].upper() + text[1:]
    if draw < 0.96:
        return text
    return text.upper()
