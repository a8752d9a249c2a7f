"""The text the robust rules read: lower-cased, markup and typography tidied, Chinese rewritten as the English
the rules know; and its sentences."""

from __future__ import annotations

import re

_CLEANUPS = (
    (re.compile(r"<image>"), " "),
    (re.compile(r"</?[a-z][\w-]*>"), "\n"),  # reasoning detectors' <fast>, <reasoning>, <answer>: each ends a sentence
    (re.compile(r"[‘’ʼ`´]"), "'"),
    (re.compile(r"[“”]"), '"'),
    (re.compile(r"\s*[–—]\s*|\s-\s"), " - "),
    (re.compile(r"^\s*(?:[-*+>]|\d+[.)])\s+", re.MULTILINE), ""),  # list bullets, quotes
    (re.compile(r"(?<=\d)\.(?=\d)"), "·"),  # "0.91" is no sentence end
    (re.compile(r"[*_#|{}\[\]()\\\"]"), " "),  # markdown, LaTeX braces, quotes
    (re.compile(r"\bartificial\sintelligence\b|\ba\.i\.?(?=\s|$)"), "ai"),
    (re.compile(r"\b(?:e\.g|i\.e|etc|vs|approx)\."), lambda m: m.group(0).replace(".", "")),
    (re.compile(r"\b(?:free\s(?:of|from)|absence\sof|lack(?:s|ing)?(?:\sof|\sany)?)\b"), "without"),
    # "a low likelihood of being AI-generated", "the likelihood of it being AI-generated is low".
    (re.compile(r"\b(?:low|little|minimal|small|slim)\s(?:likelihood|probability|chance)\s(?=of\b)"), "no likelihood "),
    (re.compile(r"\b(?:likelihood|probability|chance)\s(of\s(?:[\w-]+\s){1,6}?)(?:is|as)\s(?:very\s|quite\s|relatively\s|fairly\s)?"
                r"(?:low|minimal|small|slim)\b"), r"no likelihood \1"),
    # "AI-generated rather than a genuine photograph": the alternative named second is denied.
    (re.compile(r"\b(?:rather\sthan|instead\sof|as\sopposed\sto)\b"), "not"),
    # Negation words that negate nothing.
    (re.compile(r"\b(?:no\sdoubt|without\s(?:a|any)\sdoubt|no\squestion|not\sonly|whether\sor\snot|or\snot)\b"), " "),
    (re.compile(r"\bcan(?:not|'t|\snot)\shelp\s(?:but\s)?(?=notic|think|feel)"), " "),  # "can't help noticing"
    (re.compile(r"n't\b"), "nt"),
)
_SENTENCE_RE = re.compile(r"[^.!?;\n]+[.!?;]*")

# Chinese answers are read by rewriting their verdict phrases, negations and connectives
# as the English the rules above read; characters it does not name stay (and count as
# words for the reach of a negation). Applied in order: compounds before their parts
# (不过 "however" before 不 "not", 非常 "very" before 非 "not"), lifelike (逼真) and
# "real or fake" (真假) before real (真).
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_CHINESE = tuple((re.compile(pattern), english) for pattern, english in (
    (r"。", ". "), (r"[，、]", ", "), (r"；", "; "), (r"：", ": "), (r"！", "! "), (r"？", "? "),
    (r"（", " ("), (r"）", ") "), (r"[「」『』《》]", '"'),
    (r"人工智能", "ai"),
    (r"作为\s*ai", " as an ai "), (r"抱歉|对不起", " sorry "),
    (r"(?:无法|不能|没法|难以|很难)(?:准确|可靠|完全)?(?:地)?"
     r"(?:确定|判断|判定|确认|验证|鉴别|分辨|区分|得知|知道|评估|断定)", " cannot determine "),
    (r"不确定|不清楚|说不准|不好说|不知道", " not sure "),
    (r"是真是假|真假|真伪|真实与否", " real or fake "),
    (r"真实性", " authenticity "),
    (r"逼真|真实感|写实", " photorealistic "),
    (r"真实世界|现实世界", " real-world "),
    (r"非常|十分|特别|很", " "),
    (r"不仅|不只", " "), (r"不过|然而|可是|但是|但|却|而是", ", but "),
    (r"(?:实际上|事实上|其实)(?=是)", " actually it "), (r"实际上|事实上|其实", " actually "), (r"它", " it "),
    (r"虽然|尽管|即使|即便", " although "),
    (r"乍一看|乍看之下|乍看|第一眼|初看", " at first glance "), (r"仔细(?:观察|看|检查)", " on closer inspection "),
    (r"可能|也许|或许", " may "),
    (r"综上所述|综上|总之|总的来说|总体来看|总体而言|整体来看|综合来看", " overall, "),
    (r"因此|所以|由此可见", " therefore "),
    (r"答案", " answer "), (r"结论", " conclusion "), (r"判断|判定", " judgment "),
    (r"结果", " result "), (r"预测", " prediction "),
    (r"深度伪造", " deepfake "),
    (r"ai\s*(?:生成|合成|制作|创作|绘制|创建|产生)", " ai-generated "),
    (r"(?:计算机|电脑)生成", " computer-generated "),
    (r"生成", " generated "), (r"合成", " synthetic "), (r"伪造|造假", " forged "),
    (r"篡改", " tampered "), (r"修改过|编辑过|修图|p过|ps过", " edited "),
    (r"假的|假图|假照片|虚假", " fake "),
    (r"未经(?:篡改|修改|编辑|处理|修饰)", " unedited "),
    (r"真实拍摄|实拍|相机拍摄|真实|真图|真照片|真的(?=\s*(?:$|[.,;!?]|图|照片))", " real "),
    (r"不自然", " unnatural "), (r"不一致", " inconsistent "),
    (r"^是的", " yes, "),
    (r"并非|并不是|不是", " is not "), (r"没有|没", " no "), (r"[非未不]", " not "), (r"无", " no "),
    (r"(?:这|该|此)(?:张|幅|个)?(?:图片|图像|照片|图)", " this image "), (r"图片|图像|照片|相片", " image "),
    (r"这", " this "), (r"看起来|看上去|似乎|好像", " looks "), (r"一张|一幅|一个", " a "),
    (r"是", " is "), (r"的|了", " "),
    # Tidy the seams the rewrites leave: the English rules expect single spaces.
    (r"[ \t]+", " "), (r" (?=[.,;:!?])", ""), (r",(?:\s*,)+", ","),
))


def _normalise(text: str) -> str:
    text = text.lower()
    if _CJK_RE.search(text):
        for pattern, replacement in _CHINESE:
            text = pattern.sub(replacement, text)
    for pattern, replacement in _CLEANUPS:
        text = pattern.sub(replacement, text)
    return text


def _sentences(normalised: str) -> list[tuple[int, str, bool]]:
    """``(offset, sentence, is_question)`` of each non-empty sentence of normalised text, stripped of " ,-"."""
    out = []
    for match in _SENTENCE_RE.finditer(normalised):
        raw = match.group(0)
        sentence = raw.strip(" ,-")
        if sentence:
            out.append((match.start() + len(raw) - len(raw.lstrip(" ,-")), sentence, "?" in raw))
    return out

