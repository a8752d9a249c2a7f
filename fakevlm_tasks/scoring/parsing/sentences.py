"""One sentence's reading (which verdict, how strong, about the image or a detail, concluding or not) and the
choice across sentences; an "Answer: ..." label's verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .cues import _CONCLUSIVE, _EVIDENCE_WORDS, _NEGATORS, _VERB_RE, _WORD_RE, _clause_start, _Cue, _cues
from .labels import _OPPOSITE, UNKNOWN
from .scale import _score_contradicts

# Words after which the clause that follows carries the verdict.
_CONTRAST = r"but|however|yet|actually|in\sfact|in\sreality|instead|rather|nevertheless|nonetheless"
_PIVOT_RE = re.compile(rf"\b(?:(?P<contrast>{_CONTRAST})|(?P<conclusive>{_CONCLUSIVE}))\b")
# A concession ("although it looks real, ...") never carries the verdict: drop it, up
# to the next comma when it opens the sentence, else to the end of the sentence.
# A qualifier ("Likely real (with some AI-generated concerns)") concedes the same way.
_CONCESSION_RE = re.compile(
    r"\b(?:although|though|even\sthough|even\sif|while|whereas|despite|in\sspite\sof|admittedly|granted"
    r"|to\sbe\sfair|with\s(?:some|minor|slight|possible|potential|a\sfew|certain)\b)\b"
)
# Hedges and refusals: the speaker does not commit ("I cannot verify the authenticity
# ...", "it cannot be confirmed ..."). "Detect" and "identify" refuse only when no
# observation follows: "I cannot detect any signs of manipulation" is a verdict.
_INABLE = (r"(?:can\s?not|cant|unable\sto|not\sable\sto|impossible\s(?:for\sme\s)?to|hard\sto"
           r"|difficult\sto|challenging\sto|not\spossible\s(?:for\sme\s)?to|no\sway\s(?:for\sme\s)?to"
           r"|not\sin\sa\sposition\sto|beyond\smy\s(?:ability|capabilit(?:y|ies))\sto)")
_EPISTEMIC = (r"(?:tell|determine|say|decide|know|be\ssure|be\scertain|verify|confirm|assess|judge"
              r"|evaluate|ascertain|establish|guarantee|conclude|distinguish|discern|analy[sz]e"
              r"|examine|help|assist|rule\sout|exclude|make\s(?:a\s|any\s)?(?:determination|judge?ment|call)"
              r"|(?:provide|give|offer)\s(?:a\s|an\s|any\s)?(?:\w+\s)?"
              r"(?:answer|assessment|verdict|judge?ment)"
              r"|(?:detect|identify)(?!\s(?:any|signs?|evidence|traces?|obvious|clear|visible|artifacts?"
              r"|anomal\w*|inconsistenc\w*|indications?)\b))")
_HEDGE_RE = re.compile(
    rf"""\b(?:not\s(?:(?:entirely|completely|fully)\s)?(?:sure|certain|definitive|conclusive)|unsure|uncertain|unclear(?=\s(?:whether|if|which|how))|(?<=is\s)unclear|(?<=remains\s)unclear|inconclusive
      | {_INABLE}\s(?:\w+ly\s)?{_EPISTEMIC}
      | (?:do\snot|dont)\sknow | (?:not\s|in)capable\sof\s\w+ing | no\sway\sof\s\w+ing
      | (?:do\snot|dont|will\snot|wont)\s(?:make|provide|offer|give)\s(?:a\s|any\s)?(?:\w+\s)?
            (?:judge?ments?|determinations?|assessments?|verdicts?)
      | (?:not|no)\s(?:have\s)?(?:enough|sufficient)\s(?:information|context|data|evidence)
      | (?:cannot|cant|can\snot|not)\sbe\s(?:\w+ly\s)?(?:determined|verified|confirmed|established
                                              |ascertained|assessed|known|judged|told|ruled\sout|excluded)
      | (?:do\snot|dont|not)\shave\s(?:the\s)?(?:ability|capability|capacity|means|tools?|access))\b""",
    re.VERBOSE,
)
# A first impression ("at first it looks real, but ...") is overturned by the contrast
# or closer look that follows, even one that names no class.
_FIRST_IMPRESSION_RE = re.compile(
    r"\b(?:at\sfirst(?:\s(?:glance|sight|look))?|initially|on\sthe\ssurface|superficially|seemingly"
    r"|at\sa\s(?:quick\s)?glance|on\sfirst\s(?:glance|look|sight|inspection))\b"
)
_CLOSER_LOOK = (r"(?:on|upon|after|with)\s(?:a\s)?(?:closer|further|careful|second)\s\w+"
                r"|(?:a\s)?closer\s(?:inspection|examination|look|analysis)|looking\s(?:closer|more\sclosely)")
_REVISION_START_RE = re.compile(
    rf"^(?:and\s)?(?:{_CONTRAST}|still|that\ssaid|even\sso|on\sthe\sother\shand|{_CLOSER_LOOK})\b")
# "It could be real": a possibility, weaker than any plain statement.
_POSSIBILITY_RE = re.compile(r"\b(?:could|might|may|possibly|perhaps|maybe|possible|potential|concerns?|plausible|can\s(?:also|sometimes))\b")

# "Answer: fake", "**Verdict:** Real", "my final answer is fake", "## Verdict" (a heading
# whose content is the next line). "The label is blurred" is not a label.
_LABEL_WORD = (r"(?:final\s)?(?:answer|verdict|conclusion|classification|prediction|label"
               r"|judge?ment|assessment|decision|determination|result)")
# A score line that names its class is a label too: "**Final Score: 2/10 - Certainly Real**".
_LABEL_RE = re.compile(
    rf"""\b(?:{_LABEL_WORD}|(?:final\s)?(?:score|rating))\s*(?::|=|\s-\s)\s*
      | \b(?:final\s)?(?:answer|verdict|classification)\sis\b\s*
      | ^{_LABEL_WORD}\s*$""",
    re.VERBOSE,
)
# Sentences that conclude, or revise what came before ("However, it is synthetic.").
_CONCLUSION_START_RE = re.compile(
    rf"""^(?:and\s|so,?\s)?(?:{_CONTRAST}|still|that\ssaid|even\sso|on\sthe\sother\shand|{_CLOSER_LOOK}
      | in\sconclusion|in\ssummary|to\sconclude|to\ssummari[sz]e|to\ssum\sup
      | overall | all\sin\sall | ultimately | in\sshort | therefore | thus | hence | consequently
      | as\sa\sresult | based\son | given | i\sconclude | i\swould\sconclude)\b""",
    re.VERBOSE,
)
_YES_NO_RE = re.compile(
    r"^(?P<word>yes|yeah|yep|yup|no|nope)\b(?:\s*[,.!:-]+\s*|\s*$|\s+(?=(?:it|this|the|that|i)\b))"
)
_YES = {"yes", "yeah", "yep", "yup"}
# What may stand before a concession that opens its sentence ("Overall, while it looks real, ...").
_OPENERS = frozenset(("", "overall", "however", "still", "but", "and", "so", "yet", "in conclusion", "in summary",
                      "ultimately", "thus", "therefore", "that said", "in short", "finally"))
# Sentences that weigh both classes and choose neither, and instructions to the reader
# ("Look for signs of manipulation", "Check whether the shadows agree").
_UNDECIDED_RE = re.compile(
    r"\b(?:could|can|may|might)\s(?:\w+\s){0,2}?(?:be\s)?either\b|\bboth\s(?:readings|interpretations|possibilities|options"
    r"|explanations|are\s(?:plausible|possible|likely))|\bcant\stell\swhich|\bgo\seither\sway|\bequally\s(?:likely|plausible)"
    r"|\bborderline\b|\b50/50\b|\bfifty[\s-]fifty\b"
    r"|\b(?:likelihood|probability|chance)\s(?:of\s)?(?:[\w-]+\s){0,6}?(?:is|as)\s+(?:\w+\s+)?(?:medium|moderate)\b")
_INSTRUCTION_RE = re.compile(
    r"^(?:[\w\s,/-]{0,40}:\s*)?(?:look|check|consider|examine|compare|verify|ensure|pay\sattention|watch|inspect|zoom|try"
    r"|search|use)\b")
# Where a label's content ends: at the next field ("Analysis result: real, Forgery type: None").
_NEXT_FIELD_RE = re.compile(r"[,;]?\s(?=[a-z]+(?:\s[a-z]+)?\s?:)")


@dataclass(frozen=True)
class _Reading:
    """What one sentence says: its verdict, how strong, whether it is about the image
    as a whole, and whether it concludes (or revises) what came before."""

    label: str | None
    strong: bool = False
    about_image: bool = False
    concludes: bool = False
    hedged: bool = False  # a refusal or hedge ("I cannot be certain", "it is not definitive")
    undecided: bool = False  # weighs both classes without choosing ("it could be either")
    first_impression: bool = False  # "at first it looks real": a later revision overturns it
    cues: tuple[_Cue, ...] = ()  # the cues that gave ``label`` (for verdict_spans), placed in the part of the sentence read
    read_from: int = 0  # where that part starts in the sentence (after a dropped concession)


def _yes_no_label(word: str, yes_means: str | None) -> str | None:
    if yes_means is None:
        return None
    return yes_means if word in _YES else _OPPOSITE[yes_means]


def _labelled_verdict(sentences, yes_means, scale=None) -> tuple[str | None, bool]:
    """The last decisive "Answer: ..." (its text, or the next sentence's if empty), and whether it is a score
    line whose number falls on the other class's side of the question's ``scale`` (:mod:`.scale`) from the class
    its words name ("Final Score: 2/10 (certainly fake)" where 0 is certainly real)."""
    found, contradicted = None, False
    for i, (sentence, _) in enumerate(sentences):
        for match in _LABEL_RE.finditer(sentence):
            content = _NEXT_FIELD_RE.split(sentence[match.end():], 1)[0].strip(" ,:-")
            heading = not content  # "### Conclusion" over a paragraph: its first sentence must judge the image
            if heading and i + 1 < len(sentences):
                content = sentences[i + 1][0]
            yes_no = _YES_NO_RE.match(content)
            if yes_no:
                label = _yes_no_label(yes_no.group("word"), yes_means)
            else:
                reading = _read_sentence(content)
                label = reading.label if reading.about_image or not heading or len(content.split()) <= 4 else None
            if label:
                found, contradicted = label, label != UNKNOWN and _score_contradicts(content, label, scale)
    return found, contradicted


def _read_statements(statements: list[str]) -> list[_Reading]:
    """Each sentence's reading; a first impression followed by a revision ("At first glance
    it looks real. On closer inspection, the text is garbled.") reads as its opposite, weakly."""
    readings = [_read_sentence(s) for s in statements]
    for i, reading in enumerate(readings[:-1]):
        if reading.first_impression and _REVISION_START_RE.match(statements[i + 1]):
            readings[i] = _Reading(_OPPOSITE[reading.label], about_image=reading.about_image)
    return readings


def _choose(readings, concluding_only: bool = False) -> str | None:
    """Across sentences: strong before weak, then statements about the image before
    remarks on a detail; among those, the last concluding sentence, else the first.
    After a refusal or hedge only a strong verdict on the image counts: "I cannot verify
    this. The lighting looks unnatural." has none; after a sentence that weighs both
    classes without choosing ("It could be either real or AI-generated.") only one that
    follows it. ``concluding_only``: only concluding sentences count (a reasoning block
    read because nothing followed it: its musings are no verdict)."""
    readings = list(readings)
    undecided = [i for i, r in enumerate(readings) if r.undecided]
    if undecided:
        readings = readings[undecided[-1] + 1:]
    if undecided or any(r.hedged for r in readings):
        readings = [r for r in readings if r.strong and r.about_image]
    if concluding_only:
        readings = [r for r in readings if r.concludes and r.strong]
    readings = [r for r in readings if r.label]
    if not readings:
        return None
    best = max((r.strong, r.about_image) for r in readings)
    tier = [r for r in readings if (r.strong, r.about_image) == best]
    concluding = [r for r in tier if r.concludes]
    return (concluding[-1] if concluding else tier[0]).label


def _read_sentence(sentence: str) -> _Reading:
    read_from, read_to = _unconceded(sentence)
    sentence = sentence[read_from:read_to]
    if _UNDECIDED_RE.search(sentence):
        return _Reading(None, hedged=True, undecided=True)
    cues = [] if _is_topic(sentence) or _INSTRUCTION_RE.match(sentence) else _cues(sentence)
    if not cues:
        return _Reading(None, hedged=bool(_HEDGE_RE.search(sentence)))
    strong = any(c.strong for c in cues)
    cues = [c for c in cues if c.strong == strong]
    if any(c.about_image for c in cues):
        cues = [c for c in cues if c.about_image]

    pivots = list(_PIVOT_RE.finditer(sentence))
    last = max(c.start for c in cues)
    pivot = next((p for p in reversed(pivots) if p.end() <= last), None)
    segment_start = pivot.end() if pivot else 0
    segment_end = next((p.start() for p in pivots if p.start() > last), len(sentence))
    cues = [c for c in cues if c.start >= segment_start]
    if _HEDGE_RE.search(sentence, segment_start, segment_end):
        return _Reading(None, hedged=True)

    labels = {c.label for c in cues}
    if len(labels) != 1:
        return _Reading(None)
    label = labels.pop()
    first_impression = bool(_FIRST_IMPRESSION_RE.search(sentence, segment_start, segment_end))
    following = next((p for p in pivots if p.start() > last), None)
    if first_impression and following and following.group("contrast"):
        return _Reading(_OPPOSITE[label], about_image=cues[0].about_image)
    if _POSSIBILITY_RE.search(sentence, max(segment_start, _clause_start(sentence, last)), last):
        strong = False
    concludes = bool(_CONCLUSION_START_RE.match(sentence)) or bool(pivot and pivot.group("conclusive"))
    return _Reading(label, strong, cues[0].about_image, concludes, hedged=bool(_HEDGE_RE.search(sentence)),
                    first_impression=first_impression, cues=tuple(cues), read_from=read_from)


def _is_topic(sentence: str) -> bool:
    """A heading that names what to look for ("Signs of digital editing:", "Manipulated/AI-generated:"): no verb,
    an evidence word and no negation. "No signs of manipulation." is a claim; "Signs of manipulation" a topic."""
    words = {w.group(0) for w in _WORD_RE.finditer(sentence)}
    return bool(words & _EVIDENCE_WORDS) and not words & _NEGATORS.keys() and not _VERB_RE.search(sentence)


def _unconceded(sentence: str) -> tuple[int, int]:
    """``(start, end)`` of the sentence without its concession."""
    match = _CONCESSION_RE.search(sentence)
    if not match:
        return 0, len(sentence)
    if len(sentence[:match.start()].split()) <= 2 and sentence[:match.start()].strip(" ,") in _OPENERS:
        comma = sentence.find(",", match.end())
        return (comma + 1, len(sentence)) if comma >= 0 else (len(sentence), len(sentence))
    return 0, match.start()

