"""Volumes as written in notes, in millilitres: "1.2 L", "1,200 mL", "650 cc", "900 milliliters",
"one point two liters", "a liter and a half", "nearly a liter", "fifteen hundred cc", "1 1/2 liters", and
dictation's hundreds without the word ("eight fifty milliliters" is 850, "twelve fifty cc" 1250)."""

from __future__ import annotations

import re

UNITS = {"ml": 1.0, "mls": 1.0, "milliliter": 1.0, "milliliters": 1.0, "millilitre": 1.0, "millilitres": 1.0,
         "cc": 1.0, "ccs": 1.0, "cl": 10.0, "dl": 100.0, "l": 1000.0, "liter": 1000.0, "liters": 1000.0,
         "litre": 1000.0, "litres": 1000.0, "lit": 1000.0}
SMALL = {"zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
         "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
         "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000}
_UNIT = r"(?:ml|mls|millilit(?:er|re)s?|ccs?|cl|dl|l|lit(?:er|re)s?|lit)"
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?|\.\d+"
_DIGITS = re.compile(
    rf"(?P<n>{_NUMBER})(?:\s+(?P<frac>\d)/(?P<den>\d))?\s*-?\s*(?P<u>{_UNIT})\b(?P<half>\s+and a half)?", re.IGNORECASE)
_WORDS = re.compile(rf"(?P<w>(?:(?:{'|'.join(SMALL)}|{'|'.join(SCALES)}|and|point|half|a half)[\s-]+)+)"
                    rf"(?P<u>{_UNIT})\b(?P<half>\s+and a half)?", re.IGNORECASE)


def words_value(words: list[str]) -> float | None:
    """The number a list of number words says ("forty", "one point two", "eight fifty"), or None."""
    total, current, fraction, decimals, seen = 0.0, 0.0, 0.0, None, False
    previous = None
    for word in words:
        if word == "point":
            decimals = ""
            continue
        if decimals is not None:
            if word in SMALL and SMALL[word] < 10:
                decimals += str(SMALL[word])
            continue
        if word == "half":
            fraction += 0.5
            seen = True
        elif word in SMALL:
            value = SMALL[word]
            if value >= 20 and previous in SMALL and 0 < SMALL[previous] < 20 and current < 20:
                current *= 100  # "eight fifty": a number under twenty before a tens word counts hundreds
            current += value
            seen = True
        elif word in SCALES:
            current = (current or 1) * SCALES[word]
            if SCALES[word] >= 1000:
                total, current = total + current, 0.0
            seen = True
        previous = word
    if not seen:
        return None
    value = total + current + fraction
    if decimals:
        value += float(f"0.{decimals}")
    return value


def volume_ml(text: str) -> float | None:
    """The first volume stated in `text`, in mL, or None."""
    found = _DIGITS.search(text)
    if found:
        value = float(found.group("n").replace(",", ""))
        if found.group("frac"):
            value += int(found.group("frac")) / max(int(found.group("den")), 1)
        if found.group("half"):
            value += 0.5
        return value * UNITS[found.group("u").lower()]
    found = _WORDS.search(text)
    if found:
        words = [w for w in re.split(r"[\s-]+", found.group("w").lower()) if w and w != "and"]
        # "a half" is one half; "a liter" is one liter
        if words[-2:] == ["a", "half"]:
            words = words[:-2] + ["half"]
        if words[:2] == ["half", "a"] or words[:2] == ["half", "an"]:  # "half a liter"
            words = ["half"] + words[2:]
        value = words_value(words)
        if value is None:
            return None
        if found.group("half"):
            value += 0.5
        return value * UNITS[found.group("u").lower()]
    return None
