"""What a prompt asks for, read as a person means it: the prompt-word table of the local
backend's effects and ``plan``, which turns a prompt into named steps ("snow", "sky:sunset",
"remove", "object:hat:red", …) for ``_imageops.apply_prompt`` to carry out.

Kept apart from the pixels so the words can be read, tested and extended on their own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from . import _effects


def seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


# (name, pattern, effect) in the order they are applied; patterns are matched on the prompt
# with "keep …"/"while preserving …" clauses removed.
EFFECTS: tuple[tuple[str, str, _effects.Effect], ...] = (
    ("snow", r"\bsnow|\bblizzard", _effects.snow),
    ("winter", r"\bwinter|\bwintry|\bfrost|\bicy\b", _effects.winter),
    ("rain", r"\brain(s|y|ing|fall|storm)?\b|\bdrizzl|\bdownpour|\bwet\b", _effects.rain),
    ("fog", r"\bfog|\bmist|\bhaz[ey]\b|\bhazy", _effects.fog),
    ("autumn", r"\bautumn|\bfall (colou?rs?|foliage|leaves)|\bfoliage", _effects.autumn),
    ("golden hour", r"\bgolden[- ]hour|\bgolden light|\bmagic hour", _effects.golden_hour),
    ("sunset", r"\bsunrise|\bsunset|\bdawn|\bdusk", _effects.sunset),
    ("night", r"\bnight|\bmidnight", _effects.night),
    ("greyscale", r"\bgr[ae]yscale|\bmonochrome|\bdesaturat|\bb\s*&\s*w\b", _effects.greyscale),
    ("sepia", r"\bsepia", _effects.sepia),
    ("vintage film",
     r"\bvintage|\bretro\b|\bold photo|\bfilm (look|grain|photo)|\banalog|\b(19)?70s",
     _effects.vintage_film),
    ("watercolour", r"\bwatercolou?r|\baquarelle", _effects.watercolour),
    ("oil painting", r"\boil\b|\bimpasto|\bpainterly|\bvan gogh", _effects.oil_painting),
    ("pencil sketch", r"\bsketch|\bpencil|\bcharcoal|\bdrawing\b|\bline art",
     _effects.pencil_sketch),
    ("cartoon", r"\bcartoon|\bcomic|\banime|\bposteri[sz]|\bcel[- ]shad", _effects.cartoon),
    ("pixel art", r"\bpixel|\b(8|16)[- ]bit\b", _effects.pixel_art),
    ("warm", r"\bwarm", _effects.warm),
    ("cool", r"\bcool|\bcold", _effects.cool),
    ("brighter", r"\bbrighter|\bbrighten|\blighter|\blighten", _effects.brighter),
    ("darker", r"\bdarker|\bdarken|\bdimmer", _effects.darker),
    ("blur", r"\bblur|\bbokeh", _effects.blur),
    ("sharpen", r"\bsharpen|\bsharper|\bcrisper", _effects.sharpen),
    ("vivid", r"\bvibrant|\bvivid|\bmore saturat|\bcolou?rful|\bpunch(y|ier)|\bpop\b",
     _effects.vivid),
    ("invert", r"\binvert|\bnegative", _effects.invert),
)  # fmt: skip
EFFECT_FNS = {name: fn for name, _, fn in EFFECTS}

_KEEP_CLAUSE = re.compile(
    r"(,?\s*\b(while|whilst)\b|\b(and\s+|but\s+)?(keep|keeping|preserv\w*|leave|leaving|without "
    r"changing)\b)[^.;]*"
)
_PHRASE = r"(?:(?!\s(?:and|then|so|but)\s)[^.;,])*"  # up to the end of the clause
_REPLACE_AREA = re.compile(
    r"\b(replace|change|turn|make|swap|transform|paint|set)\s+(the\s+)?(colou?r\s+of\s+(the\s+)?)?"
    r"(\w+\s+){0,2}?(?P<area>sky|background|backdrop)\s*(with|to|into|for|as|be)?\s+(?P<what>"
    + _PHRASE
    + r")"
)
_REMOVE = re.compile(
    rf"\b(remov\w*|eras\w*|delet\w*|get rid of|take out|clean up)\b\s*(?P<what>{_PHRASE})"
)
_STORM = re.compile(r"\b(storms?|stormy|thunder\w*)\b")
_RESTORE = re.compile(r"\b(restor\w*|repair\w*|mend\w*|fix\w*|heal\w*)\b")
_REPLACE_OBJECT = re.compile(rf"\breplac\w*\s+(?P<obj>[^.;,]*?)\s+with\s+(?P<what>{_PHRASE})")
_THE = re.compile(r"\bthe\s+(?:\w+\s+){0,2}?(?P<noun>\w+)\b")
WHOLE_WORDS = frozenset(
    ("photo", "image", "picture", "scene", "shot", "frame", "whole", "colors", "colours",
     "color", "colour", "lighting", "light", "mood", "style")
)  # fmt: skip

SKY_KINDS = (
    ("sunset", r"sunrise|sunset|dawn|dusk|golden|orange"),
    ("night", r"night|star|milky|galaxy|moon"),
    ("storm", r"storm|cloud|overcast|thunder|rain|grey sky|gray sky|dramatic"),
)
BACKDROP_KINDS = (
    ("studio", r"studio|backdrop|plain|seamless|neutral|solid|simple|clean|empty"),
    ("blur", r"blur|bokeh|out of focus|soft focus"),
    ("beach", r"beach|sea|ocean|coast|tropical"),
    ("forest", r"forest|jungle|trees|woods|park|garden|nature"),
    ("city", r"city|street|urban|neon|skyline|downtown"),
    ("night", r"night|space|stars|galaxy|cosmos"),
    ("sunset", r"sunset|sunrise|dawn|dusk"),
    ("sky", r"\bsky\b|clouds"),
)


def _kind(what: str, table: Sequence[tuple[str, str]], default: str) -> str:
    """A colour word wins ("a blue backdrop"), then the table's first matching kind."""
    colours: list[str] = [w for w in _WORD.findall(what) if w in _effects.COLOURS]
    if colours:
        return colours[0]
    for name, pattern in table:
        if re.search(pattern, what):
            return name
    return default


_WORD = re.compile(r"[a-z]+")
_BW = re.compile(r"black\s*(and|&|n)\s*white")  # a look, not two colour words


def _is_new_area(what: str, area: str) -> bool:
    """True when "change the sky/background to <what>" asks for new content, False when <what>
    is an effect to apply there ("… snowy", "… black and white")."""
    table = SKY_KINDS if area == "sky" else BACKDROP_KINDS
    return bool(_kind(what, table, "")) or not any(re.search(p, what) for _, p, _ in EFFECTS)


_IN_COLOUR = re.compile(
    r"\b(?:but\s+|and\s+)?(?:keep|keeping|leave|leaving)\s+(?:only\s+)?the\s+"
    r"(?P<what>(?:\w+\s+){0,2}?\w+)\s+(?:in\s+)?(?:(?:full|its|their)\s+)?colou?r(?:ed|ful|s)?\b"
)
_EXCEPT = re.compile(
    r"\b(?:except|excepting|apart from|other than|but not|all but|everything but)"
    r"\s+(?:for\s+)?the\s+(?:\w+\s+){0,2}?(?P<noun>\w+)\b"
)


def clean(prompt: str) -> str:
    """Lower case, "keep …"/"while …" clauses dropped, "black and white" read as one word.
    "… but keep the cup in colour" is read as "… except the cup" first: it says where the
    edit does not go, which a dropped "keep" clause would lose."""
    text = _IN_COLOUR.sub(lambda m: f" except the {m.group('what')}", prompt.lower())
    return _BW.sub("greyscale", _KEEP_CLAUSE.sub(" ", text))


def target(text: str) -> str | None:
    """The region a prompt's words point at: "sky", "background", "subject" or None (whole).
    "Everything except the cup" points at what is not the cup (a colour splash: the
    background greyed, the subject kept)."""
    excepted = _EXCEPT.search(text)
    if excepted:
        noun = excepted.group("noun")
        if noun in ("background", "backdrop"):
            return "subject"
        if noun == "sky":
            return None  # no region is "all but the sky": the whole photo
        if noun not in WHOLE_WORDS:
            return "background"
    if re.search(r"\bsky\b", text):
        return "sky"
    if re.search(r"\b(background|backdrop|behind)\b", text):
        return "background"
    match = _THE.search(text)
    if match and match.group("noun") not in WHOLE_WORDS:
        return "subject"
    if re.search(r"\b(subject|person|people|him|her|them)\b", text):
        return "subject"
    return None


# Things a prompt can add, and the kind ``_objects`` draws for each word.
OBJECT_WORDS: dict[str, str] = {
    "party hat": "party hat", "birthday hat": "party hat", "top hat": "hat", "hat": "hat",
    "cap": "hat", "beanie": "hat", "fedora": "hat", "sombrero": "hat", "crown": "crown",
    "tiara": "crown", "sunglasses": "sunglasses", "shades": "sunglasses", "glasses": "glasses",
    "spectacles": "glasses", "scarf": "scarf", "flower": "flower", "rose": "flower",
    "daisy": "flower", "tulip": "flower", "bow tie": "bow", "bowtie": "bow", "bow": "bow",
}  # fmt: skip
_OBJECT = re.compile(
    r"\b(?P<noun>" + "|".join(sorted(OBJECT_WORDS, key=len, reverse=True)) + r")(e?s)?\b"
)
_INSIDE = re.compile(r"^\s*(?:\w+\s+){0,2}?(in|into|inside)\b")
_RECOLOUR = re.compile(
    r"\b(make|turn|paint|colou?r|dye|change)\s+(the\s+|his\s+|her\s+|its\s+)(?:\w+\s+){0,2}?"
    r"(?P<noun>[a-z]+)\s+(?:into\s+|to\s+|in\s+)?(?:a\s+|an\s+)?(?:\w+\s+)?"
    r"(?P<colour>[a-z]+)\b"
)


def _object_step(text: str) -> str | None:
    """"object:<kind>:<colour>[:in]" for "give the cat a red hat", "put a flower in the cup",
    "a red hat"; the colour is the colour word nearest before the object's word, else any in
    the clause, else "" (the object's own default)."""
    match = _OBJECT.search(text)
    if match is None:
        return None
    kind = OBJECT_WORDS[match.group("noun")]
    start = max(text.rfind(c, 0, match.start()) for c in ".;,") + 1
    before = [w for w in _WORD.findall(text[start : match.start()]) if w in _effects.COLOURS]
    after_text = text[match.end() :].split(".")[0]
    after = [w for w in _WORD.findall(after_text) if w in _effects.COLOURS]
    colour = before[-1] if before else (after[0] if after else "")
    inside = bool(_INSIDE.search(after_text)) and kind == "flower"
    return f"object:{kind}:{colour}" + (":in" if inside else "")


def _recolour_step(text: str) -> str | None:
    """"recolour:<colour>" for "make the cat black", "turn the cup blue" (the subject, not
    the whole photo, the sky or the background)."""
    match = _RECOLOUR.search(text)
    if match is None or match.group("colour") not in _effects.COLOURS:
        return None
    if match.group("noun") in WHOLE_WORDS or match.group("noun") in (
        "sky", "background", "backdrop", "it", "everything",
    ):  # fmt: skip
        return None
    return f"recolour:{match.group('colour')}"


def plan(prompt: str) -> list[str]:
    """Names of the steps ``prompt`` triggers, in application order (for tests/docs).

    Region-specific steps carry their kind: "sky:sunset", "background:studio", "replace:sign",
    "object:hat:red", "recolour:black".
    """
    text = clean(prompt)
    names: list[str] = []
    rest = text
    area = _REPLACE_AREA.search(text)
    if area and _is_new_area(area.group("what"), area.group("area")):
        what = area.group("what")
        if area.group("area") == "sky":
            names.append(f"sky:{_kind(what, SKY_KINDS, 'clear')}")
        else:
            names.append(f"background:{_kind(what, BACKDROP_KINDS, 'scene')}")
        rest = text[: area.start()] + text[area.end() :]
    elif area:
        pass  # "make the background black and white": an effect, applied to that area
    elif (obj := _REPLACE_OBJECT.search(text)) and target(obj.group("obj")) != "sky":
        what = obj.group("what")
        if re.search(r"poster|billboard|advert|neon|screen|display", what):
            names.append("replace:poster")
        elif re.search(r"blank|plain|empty|clean", what) or re.search(r"sign|panel|label", what):
            names.append("replace:sign")
        rest = text[: obj.start()] + " " + what + text[obj.end() :] if names else text
    removal = _REMOVE.search(rest)
    if removal is None and (step := _object_step(rest)):
        names.append(step)
        rest = _OBJECT.sub(" ", rest)
        rest = " ".join(w for w in rest.split() if w not in _effects.COLOURS)
    elif removal is None and (step := _recolour_step(rest)):
        names.append(step)
        rest = " ".join(w for w in rest.split() if w not in _effects.COLOURS)
    if removal:
        if re.search(r"\b(background|backdrop)\b", removal.group("what")):
            names.append("background:white")
        else:
            names.append("remove")
        rest = rest[: removal.start()] + rest[removal.end() :]
    if _RESTORE.search(rest):
        names.append("restore")
    if _STORM.search(rest) and not any(n.startswith("sky:") for n in names):
        names.append("sky:storm")  # "a stormy sky", "storm clouds": the sky, not a grade
    for name, pattern, _ in EFFECTS:
        if re.search(pattern, rest) and not (name == "sunset" and names[:1] == ["sky:sunset"]):
            names.append(name)
    if re.search(r"\bstudio\b", rest) and not any(n.startswith("background:") for n in names):
        names.append("background:studio")
    colours = [w for w in _WORD.findall(rest) if w in _effects.COLOURS]
    if colours and not any(n.startswith(("sky:", "background:")) for n in names):
        names.append(f"tint:{colours[-1]}")
    return names or ["restyle"]
