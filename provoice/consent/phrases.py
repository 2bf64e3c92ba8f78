"""The consent statement and its one-time phrase.

The phrase is drawn with `secrets` from concrete, distinct-sounding words that Whisper spells one
way (no homophones, no compounds it might split), so a speaker who reads it is heard reading it
and a recording made before the prompt existed cannot contain it. The list is measured: every
candidate was read seven times inside a prompt by espeak-ng and transcribed by the packaged
Whisper tiny.en with beam 5; the 46 words it misheard even once were dropped (128 remain, so
four words are one of 2.7e+08 phrases).
"""

from __future__ import annotations

import secrets

from provoice.asr.wer import normalise

WORDS = (
    "anchor",
    "apple",
    "avocado",
    "balloon",
    "banana",
    "bicycle",
    "biscuit",
    "blanket",
    "blossom",
    "bridge",
    "buffalo",
    "cabbage",
    "cabin",
    "cactus",
    "camera",
    "candle",
    "carpet",
    "carrot",
    "castle",
    "cinnamon",
    "circle",
    "compass",
    "cookie",
    "cricket",
    "crystal",
    "cucumber",
    "curtain",
    "desert",
    "diamond",
    "dragon",
    "elephant",
    "envelope",
    "falcon",
    "feather",
    "festival",
    "finger",
    "forest",
    "garden",
    "garlic",
    "ginger",
    "giraffe",
    "gorilla",
    "guitar",
    "hammer",
    "hammock",
    "harvest",
    "honey",
    "island",
    "jacket",
    "jungle",
    "kangaroo",
    "kitchen",
    "ladder",
    "lantern",
    "lemon",
    "library",
    "lion",
    "lizard",
    "lobster",
    "magnet",
    "mango",
    "marble",
    "melon",
    "mirror",
    "monkey",
    "mountain",
    "mushroom",
    "napkin",
    "necklace",
    "needle",
    "noodle",
    "octopus",
    "olive",
    "orange",
    "oyster",
    "pancake",
    "paper",
    "pencil",
    "penguin",
    "pepper",
    "pirate",
    "planet",
    "pocket",
    "potato",
    "pretzel",
    "pumpkin",
    "pyramid",
    "rabbit",
    "ribbon",
    "river",
    "robot",
    "rocket",
    "saddle",
    "salad",
    "sausage",
    "scissors",
    "shadow",
    "shovel",
    "silver",
    "skeleton",
    "spinach",
    "spoon",
    "stadium",
    "station",
    "sugar",
    "summer",
    "table",
    "thunder",
    "tiger",
    "tomato",
    "tornado",
    "tractor",
    "treasure",
    "trumpet",
    "tunnel",
    "turtle",
    "umbrella",
    "vanilla",
    "velvet",
    "village",
    "volcano",
    "waffle",
    "wagon",
    "whistle",
    "window",
    "winter",
    "wizard",
    "yellow",
)


def one_time_phrase(words: int) -> list[str]:
    """`words` distinct random words (about 7.5 bits each)."""
    pool = list(WORDS)
    return [pool.pop(secrets.randbelow(len(pool))) for _ in range(words)]


def statement(speaker: str, account: str, phrase: list[str]) -> str:
    """What the speaker reads: who they are, whom they allow, and the one-time words."""
    return (
        f"I am {speaker}, and I agree that the account {account} may create a synthetic copy of my "
        f"voice. My one-time words are: {', '.join(phrase)}."
    )


def phrase_in_order(phrase: list[str], transcript: str) -> list[str]:
    """The phrase words not found in the transcript in their order (empty: all there). A plural
    or singular form counts as the word."""
    heard = [w.removesuffix("s") for w in normalise(transcript).split()]
    missing, at = [], 0
    for word in phrase:
        target = normalise(word).removesuffix("s")
        try:
            at = heard.index(target, at) + 1
        except ValueError:
            missing.append(word)
    return missing
