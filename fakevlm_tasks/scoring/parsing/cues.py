"""Cues: the words and phrases of one sentence that mean real or fake, with the negation that turns them and
whether they qualify the image as a whole or only a detail."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .labels import FAKE, _OPPOSITE, REAL

# Order matters only between cues that start at the same place: earlier groups win.
_CUE_GROUPS = (
    # Phrases that contain a cue word but say nothing about provenance.
    ("neutral", None, False, r"""
        real[\s-](?:world|life|time|estate|looking)
      | photo[\s-]?realistic(?:ally)?
    """),
    ("real_strong", REAL, True, r"""
        (?:taken|captured|shot|photographed|recorded)\s(?:\w+\s){0,3}?(?:in|from)\s(?:the\s)?real[\s-]world
      | (?:taken|captured|shot|photographed|recorded)\s(?:\w+\s){0,2}?(?:with|by|on|using)\s
            (?:an?\s|the\s)?(?:\w+\s)?(?:camera|phone|smartphone|photographer)s?
      | natural\s(?:photo|photograph|photography|image|picture)s?
      | real | authentic(?:ity|ally)? | genuine(?:ly)?
      | un(?:edited|altered|manipulated|tampered|modified|retouched|doctored)
      | non[\s-]?(?:manipulated|generated|synthetic)
    """),
    ("fake_strong", FAKE, True, r"""
        ai[\s-]?(?:generated|generation|created|made|synthesi[sz]ed|rendered|art|artwork|images?)
      | (?:created|made|produced|drawn|painted|rendered)\s(?:by|with|using)\s(?:an?\s|the\s)?
            (?:ai|gan|gans|diffusion|generative|computer|neural\snetwork|algorithm)
      | computer[\s-]generated | cgi
      | artificially\s(?:generated|created|made|produced)
      | generated | generation\sartifacts?
      | synthetic(?:ally)? | synthesi[sz]ed
      | fake[sd]? | fakery
      | deep[\s-]?fakes? | face[\s-]?swap(?:s|ped|ping)?
      | manipulat(?:ed|ion|ions|ing)
      | forg(?:ed|ery|eries) | tamper(?:ed|ing) | doctored | photoshopped | fabricated
      | counterfeit | alter(?:ed|ation|ations) | spliced | splicing | inpainted | inpainting
      | edited | editing
    """),
    # "This is a photo(graph)": a weak real, only right after "is/was a".
    ("real_weak", REAL, False, r"""
        (?:(?<=\bis\s)|(?<=\bis\sa\s)|(?<=\bwas\sa\s)|(?<='s\sa\s)|(?<=\bis\san\s))
        (?:actual\s)?photo(?:graph)?
    """),
    ("fake_weak", FAKE, False, r"""
        unreal(?:istic(?:ally)?)? | (?:not|isnt|hardly)\s(?:very\s|quite\s|entirely\s)?realistic
      | unnatural(?:ly)? | artificial(?:ly)?
    """),
)
_CUE_RE = re.compile(
    "|".join(rf"(?P<{name}>\b(?:{body}))\b" for name, _, _, body in _CUE_GROUPS),
    re.VERBOSE,
)
_CUE_KIND = {name: (label, strong) for name, label, strong, _ in _CUE_GROUPS}

# Negators and how many words may stand between one and the cue it flips. "no"/"not"
# open long phrases ("no evidence that the image has been manipulated"); the others
# bind to the next few words only ("without detail it looks fake" must not flip).
_LONG_REACH, _SHORT_REACH = 6, 3
_NEGATORS = {
    **dict.fromkeys(("not", "no", "never", "nothing", "cannot", "isnt", "arent", "wasnt", "werent",
                     "doesnt", "dont", "didnt", "cant", "couldnt", "wont", "wouldnt",
                     "shouldnt", "hasnt", "havent", "hadnt", "aint"), _LONG_REACH),
    **dict.fromkeys(("without", "none", "neither", "nor", "unlikely", "unlike",
                     "hardly", "barely"), _SHORT_REACH),
}
# A Chinese character counts as one word: what is left of Chinese text after the
# glossary below must still keep a negation from reaching far.
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u4e00-\u9fff]")

# "real or fake", "real/fake", "real vs. AI-generated": naming both classes decides nothing.
_ALTERNATIVE_RE = re.compile(r"\s*(?:or|/|vs\.?|versus|nor|and)\s*(?:an?\s+|the\s+)?")

# Words after which what follows is drawn as a conclusion.
_CONCLUSIVE = (r"so|therefore|thus|hence|consequently|which\s(?:means|indicates|suggests|shows)"
               r"|(?<=,\s)(?:indicating|suggesting|meaning|showing)")
# Where a negation stops reaching. A comma ends a clause only when a new subject follows
# it; otherwise it separates list items ("no blurring, distortion, or AI generation")
# and the negation carries on. Adverbial pivots ("not actually fake") do not stop it.
_NEGATION_STOP_RE = re.compile(
    r",\s*(?=(?:and\s|but\s|so\s)?(?:it|it's|this|that|these|those|i|i'm|we|there|the|they|yes|no)\b)"
    r"|,\s*(?:indicating|suggesting|meaning|showing|which)\b"
    r"|\b(?:but|however|yet|so|therefore|thus|hence|consequently|because|since)\b"
)
# A cue is "about the image" when it qualifies the image itself ("a fake image", "it is
# fake", "but is actually fake") rather than a detail ("the lighting looks fake").
_SUBJECT = r"(?:it|this|that|image|photo|photograph|picture|pic|one|artwork)"
_COPULA = r"(?:is|was|be|looks?|appears?|seems?|has\sbeen)"
_ABOUT_IMAGE_BEFORE_RE = re.compile(
    rf"(?:\b{_SUBJECT}(?:'s|\s(?:\w+\s)?{_COPULA})|(?:^|[,;]|\bbut|\band|\bso)\s*{_COPULA})"
    rf"(?:\sto\sbe)?(?:\slike)?(?:\s\w+ly)?(?:\san?)?(?:\s\w+ly)?\s*$"
)
_ABOUT_IMAGE_AFTER_RE = re.compile(r"\s*(?:image|photo|photograph|picture|pic|one)s?\b")
# What a conclusion draws is about the image: "..., indicating AI generation".
_CONCLUDED_BEFORE_RE = re.compile(rf"\b(?:{_CONCLUSIVE})(?:\s[\w-]+){{0,3}}\s$")


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    raw: str  # the cue's own class, before negation
    label: str  # after negation
    strong: bool
    about_image: bool


def _cues(sentence: str) -> list[_Cue]:
    """The real/fake cues of one sentence, negation applied, "X or Y" pairs removed."""
    found = []
    for match in _CUE_RE.finditer(sentence):
        label, strong = _CUE_KIND[match.lastgroup]
        if label is not None:
            found.append((match.start(), match.end(), label, strong))
    found = _drop_alternatives(sentence, found)

    cues = []
    for i, (start, end, raw, strong) in enumerate(found):
        # Negation reaches back to the clause start, and no further than the nearest cue
        # of the other class ("not real, fake": the "not" is spent on "real").
        scope_start = _clause_start(sentence, start)
        for other_start, other_end, other_raw, _ in found[:i]:
            if other_raw != raw and other_end > scope_start:
                scope_start = other_end
        flips = _count_negations(sentence[scope_start:start])
        label = _OPPOSITE[raw] if flips % 2 else raw
        about = bool(_ABOUT_IMAGE_BEFORE_RE.search(sentence, 0, start)
                     or _ABOUT_IMAGE_AFTER_RE.match(sentence, end)
                     or _CONCLUDED_BEFORE_RE.search(sentence, 0, start))
        cues.append(_Cue(start, end, raw, label, strong, about))
    return cues


def _drop_alternatives(sentence, found):
    kept, i = [], 0
    while i < len(found):
        if (i + 1 < len(found) and found[i][2] != found[i + 1][2]
                and _ALTERNATIVE_RE.fullmatch(sentence, found[i][1], found[i + 1][0])):
            i += 2
            continue
        kept.append(found[i])
        i += 1
    return kept


def _clause_start(sentence: str, position: int) -> int:
    stops = [m.end() for m in _NEGATION_STOP_RE.finditer(sentence, 0, position)]
    return stops[-1] if stops else 0


def _count_negations(before: str) -> int:
    words = _WORD_RE.findall(before)
    count = 0
    for distance, word in enumerate(reversed(words)):
        reach = _NEGATORS.get(word)
        if reach is not None and distance <= reach:
            count += 1
    return count

