"""A made-up parallel corpus that a tiny model learns in seconds, for tests and quick recipes.

English sentences come from a small grammar; each toy language is a seeded word-for-word cipher of
English with its own word order, so languages share structure (what multilingual and
meta-learned initialisations can transfer) and differ in vocabulary (what must be adapted).
"""

from __future__ import annotations

import random

from metanmt.translation.data.corpus import write_corpus
from metanmt.translation.data.languages import LanguageRoles

SUBJECTS = [
    "the cat",
    "the dog",
    "a bird",
    "my friend",
    "the teacher",
    "a child",
    "the farmer",
    "our neighbour",
]
VERBS = ["sees", "likes", "finds", "wants", "paints", "carries", "follows", "hears"]
OBJECTS = [
    "the ball",
    "a red apple",
    "the old house",
    "a small boat",
    "the green tree",
    "a long road",
    "the blue door",
    "some bread",
]
ENDINGS = ["", "today", "every morning", "in the garden", "near the river", "again"]

ORDERS = ("svo", "sov", "vso", "osv")


def english_sentence(rng: random.Random) -> str:
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(ENDINGS)]
    return " ".join(p for p in parts if p)


def _words() -> list[str]:
    return sorted(
        {w for group in (SUBJECTS, VERBS, OBJECTS, ENDINGS) for p in group for w in p.split()}
    )


class ToyLanguage:
    """A deterministic English -> toy mapping: a cipher over words and a word order."""

    def __init__(self, code: str, seed: int = 0):
        rng = random.Random(f"{code}-{seed}")
        letters = "bcdfghjklmnprstvzaeiou" if rng.random() < 0.5 else "kqxzwyaeiouvtsnml"
        used = set()
        self.code, self.cipher = code, {}
        for word in _words():
            while True:
                made = "".join(rng.choice(letters) for _ in range(rng.randint(2, 6)))
                if made not in used:
                    used.add(made)
                    self.cipher[word] = made
                    break
        self.order = ORDERS[rng.randrange(len(ORDERS))]

    def translate_from_english(self, sentence: str, rng: random.Random | None = None) -> str:
        words = sentence.split()
        # Split back into grammar slots: subject (2 words), verb (1), object (2-3), ending (rest).
        subject, verb = words[:2], words[2:3]
        object_length = 3 if " ".join(words[3:6]) in OBJECTS else 2
        obj, ending = words[3 : 3 + object_length], words[3 + object_length :]
        slots = {"s": subject, "v": verb, "o": obj}
        ordered = [w for key in self.order for w in slots[key]] + ending
        return " ".join(self.cipher[w] for w in ordered)


def toy_pairs(code: str, count: int, seed: int = 0, exclude=frozenset()) -> list[tuple[str, str]]:
    """``count`` distinct (toy sentence, English) pairs of language ``code``, none with an English
    side in ``exclude`` (fewer if the grammar runs out of sentences)."""
    language = ToyLanguage(code)
    rng = random.Random(f"pairs-{code}-{seed}")
    pairs, seen = [], set(exclude)
    for _ in range(count * 20):
        english = english_sentence(rng)
        if english in seen:
            continue
        seen.add(english)
        pairs.append((language.translate_from_english(english), english))
        if len(pairs) == count:
            break
    return pairs


def prepare_toy_corpus(
    out, roles=None, pairs_per_language: int = 400, dev: int = 100, test: int = 100
):
    """A prepared corpus in the real format, toy sentences under the codes of ``roles`` (default
    the MetaNMT split), so every command and recipe runs on it unchanged. Every evaluation track
    gets the same toy dev and test sets (and pool)."""
    roles = roles or LanguageRoles()
    rows = lambda chunk, origin: [(s, t, origin) for s, t in chunk]  # noqa: E731
    evaluation, held_out_english = {}, set()
    for language in roles.validation + roles.test:  # first, so nothing else reuses their English
        pairs = toy_pairs(language, dev + test, seed=1, exclude=held_out_english)
        held_out_english |= {english for _, english in pairs}
        evaluation[language] = {
            "dev": rows(pairs[:dev], "toy-dev"),
            "test": rows(pairs[dev:], "toy-test"),
        }
    splits = {}
    for language in roles.languages():
        pairs = rows(toy_pairs(language, pairs_per_language, exclude=held_out_english), "toy")
        if roles.role_of(language) == "train":
            splits[language] = {"train": pairs}
            continue
        splits[language] = {
            split: evaluation[language][split.rsplit(".", 1)[-1]]
            if split.endswith((".dev", ".test"))
            else pairs
            for split in roles.splits(language)
        }
    return write_corpus(out, roles, splits, source="toy (metanmt.translation.data.toy)")
