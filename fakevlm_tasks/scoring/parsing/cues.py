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
      | (?:well|realistically|accurately|faithfully|naturally|nicely|finely|clearly|highly)[\s-]rendered
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
      | (?:created|made|produced|generated|output)\s(?:by|with|from)\s(?:an?\s|the\s)?(?:image\s)?generators?
      | computer[\s-]generated | cgi | 3d[\s-]render(?:ed|ing|s)? | render(?:ed|s)? | (?<=\ba\s)render
      | diffusion[\s-](?:output|generated|images?)
      | artificially\s(?:generated|created|made|produced)
      | generated | generation\sartifacts?
      | synthetic(?:ally)? | synthesi[sz](?:ed|es|ing|e)? | synthesis\sartifacts?
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
      | unnatural(?:ly)? | artificial(?:ly)? | rendering
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
# A negation reaches a cue at any distance within its clause when it negates the evidence
# for it ("no visible fusion artifacts or inconsistencies in skin color that would suggest
# manipulation", "I can't find convincing evidence that this photo was produced by a
# generator"): an evidence word within its reach, or a relative clause that draws the cue.
_EVIDENCE_WORDS = frozenset((
    "evidence", "sign", "signs", "indication", "indications", "indicator", "indicators", "trace", "traces",
    "proof", "hint", "hints", "artifact", "artifacts", "anomaly", "anomalies", "inconsistency",
    "inconsistencies", "giveaway", "giveaways", "telltale", "hallmarks", "reason"))
# ... but not past the clause's own verb: "the absence of artifacts suggests that it is real".
_CLAIM_VERBS = frozenset(("suggest", "suggests", "indicate", "indicates", "show", "shows", "mean", "means", "imply",
                          "implies", "support", "supports", "confirm", "confirms", "point", "points"))
_AUXILIARIES = frozenset(("that", "which", "would", "could", "might", "may", "can", "to", "typically", "usually",
                          "often", "commonly", "normally", "generally"))
_DRAWN_BY_RE = re.compile(
    r"\b(?:that|which)\s(?:\w+\s){0,2}(?:suggest|indicate|imply|point|reveal|betray|signal|show|hint|mark)\w*\b")
# Cues that assert nothing: in a heading or a field's name (what comes before a colon, with
# no verb and no negation: "Forgery type: None", "Signs of digital editing or AI generation:"),
# and after "whether"/"if" ("determine whether it has been tampered with") or "you" ("you can
# make an informed decision about its authenticity").
_VERB_RE = re.compile(r"\b(?:is|are|was|were|be|been|am|appears?|seems?|looks?|has|have|had|shows?|suggests?"
                      r"|indicates?|exhibits?|contains?|displays?|reveals?|points?|detected|found|present|visible|evident)\b")
_UNASSERTED_RE = re.compile(r"\bwhether\b|(?<!\bas\s)(?<!\beven\s)\bif\b"
    r"|\byou\s(?:can|could|should|may|might|would|will)\s(?:\w+\s)?(?:make|decide|determine|check|look|use|assess|evaluate"
    r"|judge|verify|consider|analy[sz]e)\b|\bhelp\syou\b")
# ... and authenticity as what is to be checked ("to assess its authenticity").
_CHECKED_RE = re.compile(r"\b(?:assess|determin|evaluat|verif|check|judg|examin|analy[sz]|establish|confirm|question)\w*"
                         r"\s(?:the\s|its\s|their\s|this\s)?$")
# "Real" said of something other than the image ("real military vehicles have standardized
# markings", "a photograph of a real strawberry") is a comparison or a detail: a weak cue.
_OTHER_NOUN_RE = re.compile(
    r"[\s-]+(?!(?:image|photo|photograph|picture|pic|one|shot|snapshot|capture|footage|and|or|but|nor|not|though"
    r"|although|however|yet|so|because|since|as|to|in|of|with|for|on|at|by|from|that|which|the|a|an|this|it|its|while"
    r"|whereas|if|when|than|despite|given|based|too|also|enough|rather|instead|[a-z]+ly|is|are|was|were|be|been)\b)"
    r"[a-z]{3,}\b")
# A Chinese character counts as one word: what is left of Chinese text after the
# glossary below must still keep a negation from reaching far.
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u4e00-\u9fff]")
# A class named as a kind of thing ("typical of AI-generated images", "than real smoke", "in
# real photography", "explosions are usually captured by professional cameras") is a
# comparison, not a verdict on this image: such a cue is weak.
_GENERIC_BEFORE_RE = re.compile(
    r"\b(?:in|of|than|from|like|unlike|for|with|by|to|as|among|about|on)\s(?:(?:many|most|other|typical|some|all)\s)?$")
_GENERIC_ADVERB_RE = re.compile(r"\b(?:usually|typically|often|generally|normally|commonly|tend\sto)\b")
_GENERIC_AFTER_RE = re.compile(r"[\s-]+(?:images|photos|photographs|pictures|content|media|imagery|generators|models|tools)\b")

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
_SUBJECT = r"(?:it|this|that|image|photo|photograph|picture|pic|one|artwork|media)"
_COPULA = r"(?:is|was|be|looks?|appears?|seems?|has\sbeen|as)"
_ABOUT_IMAGE_BEFORE_RE = re.compile(
    rf"(?:\b{_SUBJECT}(?:'s|\s(?:\w+\s)?{_COPULA})|(?:^|[,;]|\bbut|\band|\bso)\s*{_COPULA})"
    rf"(?:\s(?:more|most|very|quite|also|still|\w+ly))*(?:\sto\sbe|\sbeing)?(?:\slike)?(?:\s(?:more|most|\w+ly))*(?:\san?)?(?:\s\w+ly)?\s*$"
)
_ABOUT_IMAGE_AFTER_RE = re.compile(r"\s*(?:image|photo|photograph|picture|pic|one)s?\b")
# What a conclusion draws is about the image: "..., indicating AI generation".
_CONCLUDED_BEFORE_RE = re.compile(rf"\b(?:{_CONCLUSIVE})(?:\s[\w-]+){{0,3}}\s$")
# How far back from a cue (in characters) its clause, negation and qualifiers are looked for; further back belongs
# to no reading a person makes, and the bound keeps one very long sentence (a question read from an untrusted
# annotation file, say) linear to read rather than quadratic.
_REACH = 400


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
        if label is None or _in_heading(sentence, match.start(), match.end()):
            continue
        if _UNASSERTED_RE.search(sentence, _clause_start(sentence, match.start()), match.start()) or (
                match.group(0).startswith("authentic") and _CHECKED_RE.search(sentence, _back(match.start()), match.start())):
            continue
        if label == REAL and match.group(0) in ("real", "genuine", "authentic") and _OTHER_NOUN_RE.match(sentence, match.end()):
            strong = False
        found.append((match.start(), match.end(), label, strong))
    found = _drop_alternatives(sentence, found)

    cues = []
    for i, (start, end, raw, strong) in enumerate(found):
        # Negation reaches back to the clause start, and no further than the nearest cue
        # of the other class ("not real, fake": the "not" is spent on "real").
        scope_start = _clause_start(sentence, start)
        for j in range(i - 1, -1, -1):  # the nearest first; cues do not overlap, so their ends grow with their starts
            _, other_end, other_raw, _ = found[j]
            if other_end <= scope_start:
                break
            if other_raw != raw:
                scope_start = other_end
                break
        flips = len(_negating(sentence, scope_start, start))
        label = _OPPOSITE[raw] if flips % 2 else raw
        about = bool(_ABOUT_IMAGE_BEFORE_RE.search(sentence, _back(start), start)
                     or _ABOUT_IMAGE_AFTER_RE.match(sentence, end)
                     or _CONCLUDED_BEFORE_RE.search(sentence, _back(start), start))
        generic = bool(_GENERIC_BEFORE_RE.search(sentence, _back(start), start) or _GENERIC_AFTER_RE.match(sentence, end)
                       or _GENERIC_ADVERB_RE.search(sentence, _clause_start(sentence, start), start))
        cues.append(_Cue(start, end, raw, label, strong and not generic, about and not generic))
    return cues


def _back(position: int) -> int:
    return max(0, position - _REACH)


def _in_heading(sentence: str, start: int, end: int) -> bool:
    colon = sentence.find(":", end, end + _REACH)
    if colon < 0:
        return False
    heading = sentence[max(sentence.rfind(d, 0, start) for d in ":,;") + 1:colon]
    words = {w.group(0) for w in _WORD_RE.finditer(heading)}
    return len(words) <= 8 and "," not in heading and not words & _NEGATORS.keys() and not _VERB_RE.search(heading)


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
    """Where the clause holding ``position`` starts: after the last stop before it, and at most :data:`_REACH` back."""
    stops = [m.end() for m in _NEGATION_STOP_RE.finditer(sentence, _back(position), position)]
    return stops[-1] if stops else _back(position)


def _negating(sentence: str, start: int, end: int) -> list[re.Match]:
    """The negators in ``sentence[start:end]`` that reach a cue at ``end``: near enough, or negating the evidence for it."""
    words = list(_WORD_RE.finditer(sentence, start, end))
    negating = []
    for i, word in enumerate(words):
        reach = _NEGATORS.get(word.group(0))
        if reach is None:
            continue
        near = len(words) - 1 - i <= reach
        evidence = any(w.group(0) in _EVIDENCE_WORDS for w in words[i + 1:i + 2 + reach]) and not any(
            w.group(0) in _CLAIM_VERBS and words[j - 1].group(0) not in _AUXILIARIES
            for j, w in enumerate(words[i + 2:], i + 2))
        if near or evidence or _DRAWN_BY_RE.search(sentence, word.end(), end):
            negating.append(word)
    return negating

