"""The optional LLM judge, against an OpenAI-compatible server the tests start on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from fakevlm_tasks.services import judge
from fakevlm_tasks.services.judge import (
    PROMPT_VERSION,
    JudgeConfig,
    JudgeNotConfigured,
    JudgeVerdict,
    build_messages,
    judge_verdicts,
    parse_reply,
)
from fakevlm_tasks.scoring.parsing import FAKE, REAL, UNKNOWN
from judge_server import QUESTION, TIMEOUT_S, JudgeServer, config_for, running


# --------------------------------------------------------------------------- verdicts


def test_the_judges_one_word_replies_become_verdicts(serve, tmp_path):
    plan = {"Looks plausible to me.": ["real"], "Hmm, the hands.": ["Fake."], "No idea.": ["**unknown**"]}
    server = serve(plan)
    verdicts = judge_verdicts([(a, QUESTION) for a in plan], config_for(server, tmp_path))
    assert [v.label for v in verdicts] == [REAL, FAKE, UNKNOWN]
    assert all(v.failure is None and not v.from_cache for v in verdicts)
    assert server.requests == 3


def test_the_request_carries_the_model_the_answer_and_the_question(serve, tmp_path):
    server = serve({"Hmm, the hands.": ["fake"]})
    judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path, model="qwen-judge"))
    (body,) = server.bodies
    assert body["model"] == "qwen-judge"
    assert body["temperature"] == 0
    assert body["messages"] == build_messages("Hmm, the hands.", QUESTION)
    assert "Does the image looks real/fake?" in body["messages"][-1]["content"]


def test_results_keep_the_order_of_the_items_and_each_prompt_is_sent_once(serve, tmp_path):
    plan = {"first": ["real"], "second": ["fake"]}
    server = serve(plan)
    items = [("second", QUESTION), ("first", QUESTION), ("second", QUESTION)]
    verdicts = judge_verdicts(items, config_for(server, tmp_path, concurrency=3))
    assert [v.label for v in verdicts] == [FAKE, REAL, FAKE]
    assert server.calls == Counter({"first": 1, "second": 1})


def test_an_empty_answer_is_not_sent(serve, tmp_path):
    server = serve({"x": ["real"]})
    verdicts = judge_verdicts([("", QUESTION), (None, QUESTION), ("  ", None)], config_for(server, tmp_path))
    assert verdicts == [JudgeVerdict(UNKNOWN, failure="empty answer")] * 3
    assert server.requests == 0


# --------------------------------------------------------------------------- the cache


def test_a_second_run_answers_from_the_cache_with_no_request(serve, tmp_path):
    plan = {"Looks plausible to me.": ["real"], "Hmm, the hands.": ["fake"], "Rambling.": ["I would say real"]}
    server = serve(plan)
    config = config_for(server, tmp_path)
    items = [(a, QUESTION) for a in plan]
    first = judge_verdicts(items, config)
    assert server.requests == 3
    again = judge_verdicts(items, config)
    assert server.requests == 3  # nothing sent
    assert all(v.from_cache for v in again)
    assert [(v.label, v.failure, v.reply) for v in again] == [(v.label, v.failure, v.reply) for v in first]


def test_the_cache_survives_a_fresh_config_with_the_same_model(serve, tmp_path):
    server = serve({"Hmm, the hands.": ["fake"]})
    judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path))
    (again,) = judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path, timeout=9))
    assert again == JudgeVerdict(FAKE, True, None, "fake") and server.requests == 1


def test_the_cache_is_keyed_by_model_and_prompt(serve, tmp_path):
    server = serve({"Hmm, the hands.": ["fake"]})
    judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path))
    other_model = judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path, model="other"))
    other_question = judge_verdicts([("Hmm, the hands.", "Is it AI-generated?")], config_for(server, tmp_path))
    assert not other_model[0].from_cache and not other_question[0].from_cache
    assert server.requests == 3


def test_the_cache_records_model_prompt_version_and_prompt(serve, tmp_path):
    server = serve({"Hmm, the hands.": ["fake"]})
    config = config_for(server, tmp_path)
    judge_verdicts([("Hmm, the hands.", QUESTION)], config)
    with sqlite3.connect(config.cache_path) as db:
        rows = db.execute("SELECT model, prompt_version, prompt, reply FROM replies").fetchall()
    assert rows == [("judge-test", PROMPT_VERSION, build_messages("Hmm, the hands.", QUESTION)[-1]["content"], "fake")]


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "a reply that is not text"])
def test_a_damaged_cache_leaves_every_answer_judged_with_one_warning(serve, tmp_path, caplog_loguru, damage):
    answers = [f"Answer {i}: the hands." for i in range(40)]
    server = serve({None: ["fake"]}, max_requests=200)
    config = config_for(server, tmp_path)
    if damage == "random bytes":
        config.cache_path.write_bytes(__import__("random").Random(0).randbytes(30_000))
    elif damage == "truncated":
        judge_verdicts([(f"{a} Once more.", QUESTION) for a in answers * 5], config_for(server, tmp_path / "whole"))
        whole = (tmp_path / "whole" / "judge.sqlite").read_bytes()
        config.cache_path.write_bytes(whole[: len(whole) // 2])
    else:
        judge_verdicts([(a, QUESTION) for a in answers], config)
        with sqlite3.connect(config.cache_path) as db:
            db.execute("UPDATE replies SET reply = ?", (b"\xff\x00",))
    asked = server.requests
    verdicts = judge_verdicts([(a, QUESTION) for a in answers], config)
    assert [v.label for v in verdicts] == [FAKE] * 40 and server.requests == asked + 40
    warnings = [m for m in caplog_loguru if "judge cache" in m]
    assert len(warnings) == (0 if damage == "a reply that is not text" else 1)


def test_a_read_only_cache_is_read_and_asks_each_new_prompt_once(serve, tmp_path, read_only_caches, caplog_loguru):
    server = serve({None: ["fake"]})
    config = config_for(server, tmp_path)
    judge_verdicts([("Stored before.", QUESTION)], config)
    read_only_caches()
    # One doc at a time, as lmms-eval's process_results asks: the same new answer in 29 docs.
    runs = [judge_verdicts([(answer, QUESTION)], config) for answer in ["Stored before."] + ["New answer."] * 29]
    assert server.requests == 2 and all(v.label == FAKE for (v,) in runs)
    assert runs[0][0].from_cache and all(v.from_cache for (v,) in runs[2:])
    assert len(caplog_loguru) == 1 and "could not be written" in caplog_loguru[0]


def test_a_cache_in_a_folder_that_cannot_be_made_is_bypassed(serve, tmp_path, caplog_loguru):
    (tmp_path / "a file").write_text("not a folder")
    server = serve({None: ["real"]})
    (verdict,) = judge_verdicts([("Looks fine.", QUESTION)], config_for(server, tmp_path, cache_path=tmp_path / "a file" / "judge.sqlite"))
    assert verdict.label == REAL and len(caplog_loguru) == 1


# --------------------------------------------------------------------------- failures


def test_a_server_error_is_retried_then_answered(serve, tmp_path):
    server = serve({"Hmm, the hands.": [500, 503, "fake"]})
    (verdict,) = judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path, retries=2))
    assert verdict == JudgeVerdict(FAKE, False, None, "fake")
    assert server.requests == 3


def test_a_persistent_server_error_is_unknown_with_its_reason_and_not_cached(serve, tmp_path):
    server = serve({"Hmm, the hands.": [503]})
    config = config_for(server, tmp_path, retries=1)
    (verdict,) = judge_verdicts([("Hmm, the hands.", QUESTION)], config)
    assert verdict.label == UNKNOWN and verdict.failure == "HTTP 503 after 2 attempts"
    assert server.requests == 2
    judge_verdicts([("Hmm, the hands.", QUESTION)], config)
    assert server.requests == 4  # a failure is asked again on the next run


def test_a_timeout_is_retried_then_answered(serve, tmp_path):
    server = serve({"Slow one.": ["hang", "real"]})
    (verdict,) = judge_verdicts([("Slow one.", QUESTION)], config_for(server, tmp_path, retries=1))
    assert verdict.label == REAL and verdict.failure is None
    assert server.requests == 2


def test_a_persistent_timeout_is_unknown_with_its_reason(serve, tmp_path):
    server = serve({"Slow one.": ["hang"]})
    (verdict,) = judge_verdicts([("Slow one.", QUESTION)], config_for(server, tmp_path, retries=1))
    assert verdict.label == UNKNOWN
    assert verdict.failure == f"timeout ({TIMEOUT_S:g} s) after 2 attempts"
    assert server.requests == 2


@pytest.mark.parametrize("reply", ["I would say real", "real or fake", "", "Real. The hands look fine.", "0"])
def test_a_malformed_reply_is_unknown_never_a_guess(serve, tmp_path, reply):
    server = serve({"Hmm, the hands.": [reply]})
    (verdict,) = judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path))
    assert verdict.label == UNKNOWN
    assert verdict.failure == f"malformed reply: {reply!r}"
    assert server.requests == 1  # a reply is a reply: not retried


@pytest.mark.parametrize("action", ["not-json", "no-choices"])
def test_a_body_that_is_no_chat_completion_is_retried_then_unknown(serve, tmp_path, action):
    server = serve({"Hmm, the hands.": [action]})
    (verdict,) = judge_verdicts([("Hmm, the hands.", QUESTION)], config_for(server, tmp_path, retries=1))
    assert verdict.label == UNKNOWN
    assert verdict.failure.startswith("malformed response after 2 attempts: ")
    assert server.requests == 2


def test_one_failure_does_not_spoil_the_others(serve, tmp_path):
    plan = {"good": ["fake"], "bad": [500], "slow": ["hang"]}
    server = serve(plan)
    verdicts = judge_verdicts([(a, None) for a in plan], config_for(server, tmp_path, retries=0, concurrency=3))
    assert [(v.label, v.failure) for v in verdicts] == [
        (FAKE, None), (UNKNOWN, "HTTP 500 after 1 attempt"), (UNKNOWN, f"timeout ({TIMEOUT_S:g} s) after 1 attempt")]


def test_a_refused_connection_is_unknown_with_its_reason(tmp_path):
    closed = JudgeServer({})
    base_url = closed.base_url
    closed.server_close()  # nothing listens there any more
    config = JudgeConfig("judge-test", base_url=base_url, retries=0, retry_delay=0, timeout=TIMEOUT_S,
                         cache_path=tmp_path / "judge.sqlite")
    (verdict,) = judge_verdicts([("Hmm, the hands.", None)], config)
    assert verdict.label == UNKNOWN and verdict.failure.startswith("connection failed after 1 attempt")


# --------------------------------------------------------------------------- the reply and the prompt


@pytest.mark.parametrize("reply, expected", [
    ("real", REAL), ("Fake", FAKE), ("UNKNOWN", UNKNOWN), ("fake.", FAKE), (" **Real** ", REAL),
    ('"fake"', FAKE), ("`unknown`", UNKNOWN), ("real\n", REAL),
    ("real or fake", None), ("It is fake.", None), ("fakes", None), ("not real", None), ("", None),
    ("real fake", None), (None, None), ("unreal", None),
])
def test_the_reply_is_parsed_strictly(reply, expected):
    assert parse_reply(reply) == expected


def test_the_prompt_asks_for_one_word_and_holds_the_answer_and_question():
    system, user = build_messages("  The hands are odd.  ", QUESTION)
    assert system["role"] == "system" and user["role"] == "user"
    assert "<<<\nThe hands are odd.\n>>>" in user["content"]
    assert "<<<\nDoes the image looks real/fake?\n>>>" in user["content"]
    assert "one word" in user["content"]
    assert "<image>" not in user["content"]
    assert "(not recorded)" in build_messages("x", None)[-1]["content"]


# --------------------------------------------------------------------------- configuration


def test_the_judge_is_off_without_a_model(monkeypatch):
    monkeypatch.delenv("FAKEVLM_JUDGE_MODEL", raising=False)
    with pytest.raises(JudgeNotConfigured, match="FAKEVLM_JUDGE_MODEL"):
        judge_verdicts([("Hmm, the hands.", None)])


def test_the_environment_is_read_at_call_time(monkeypatch, serve, tmp_path):
    server = serve({"Hmm, the hands.": ["fake"]})
    monkeypatch.setenv("FAKEVLM_JUDGE_MODEL", "env-judge")
    monkeypatch.setenv("FAKEVLM_JUDGE_BASE_URL", server.base_url)
    monkeypatch.setenv("FAKEVLM_JUDGE_CACHE", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("FAKEVLM_JUDGE_RETRY_DELAY", "0")
    (verdict,) = judge_verdicts([("Hmm, the hands.", None)])
    assert verdict.label == FAKE and server.bodies[0]["model"] == "env-judge"
    assert (tmp_path / "env.sqlite").is_file()


def test_from_env_reads_every_setting(tmp_path):
    config = JudgeConfig.from_env({
        "FAKEVLM_JUDGE_MODEL": "gpt-4o-2024-08-06", "FAKEVLM_JUDGE_BASE_URL": "http://judge:8000/v1",
        "FAKEVLM_JUDGE_API_KEY_ENV": "MY_KEY", "FAKEVLM_JUDGE_TIMEOUT": "12.5", "FAKEVLM_JUDGE_RETRIES": "4",
        "FAKEVLM_JUDGE_RETRY_DELAY": "0.5", "FAKEVLM_JUDGE_CONCURRENCY": "8", "FAKEVLM_JUDGE_MAX_TOKENS": "32",
        "FAKEVLM_JUDGE_CACHE": str(tmp_path / "c.sqlite"),
    })
    assert config == JudgeConfig("gpt-4o-2024-08-06", "http://judge:8000/v1", "MY_KEY", 12.5, 4, 0.5, 8, 32,
                                 tmp_path / "c.sqlite")


def test_from_env_defaults():
    config = JudgeConfig.from_env({"FAKEVLM_JUDGE_MODEL": "m"})
    assert (config.base_url, config.api_key_env, config.retries) == (judge.DEFAULT_BASE_URL, "OPENAI_API_KEY", 2)
    assert config.cache_path.name == "judge.sqlite" and "~" not in str(config.cache_path)


@pytest.mark.parametrize("name, value, message", [
    ("TIMEOUT", "soon", "FAKEVLM_JUDGE_TIMEOUT='soon': expected a number"),
    ("RETRIES", "1.5", "FAKEVLM_JUDGE_RETRIES='1.5': expected an integer"),
    ("RETRIES", "-1", "FAKEVLM_JUDGE_RETRIES='-1': must be >= 0"),
    ("CONCURRENCY", "0", "FAKEVLM_JUDGE_CONCURRENCY='0': must be >= 1"),
])
def test_from_env_refuses_bad_numbers_naming_the_variable(name, value, message):
    with pytest.raises(ValueError) as raised:
        JudgeConfig.from_env({"FAKEVLM_JUDGE_MODEL": "m", f"FAKEVLM_JUDGE_{name}": value})
    assert str(raised.value) == message


def test_describe_names_the_judge_and_its_prompt_but_no_secret():
    described = JudgeConfig("judge-x", base_url="http://secret-host/v1", api_key_env="MY_KEY").describe()
    assert described == {"judge_model": "judge-x", "judge_prompt_version": PROMPT_VERSION,
                         "judge_prompt_sha256": judge.PROMPT_SHA256[:16]}
    assert "secret-host" not in json.dumps(described)



# --------------------------------------------------------------------------- through the lmms-eval CLI


@pytest.mark.slow
@pytest.mark.parametrize("replies, judged_rate", [(["fake"], 100.0), ([500], 0.0)], ids=["judge answers", "judge fails"])
def test_a_random_bytes_cache_leaves_a_complete_run_whose_judged_rate_says_what_the_judge_did(tmp_path, replies, judged_rate):
    """Issue 21's reproduction: the cache is garbage; the run completes, and its judged_rate and samples say
    what the judge did and, where it could not, why."""
    from fakevlm_tasks.glue import benchmarks
    from lmms_runs import offline_env, prepare, results_of, run_cli, samples_of

    prepared = tmp_path / "prepared"
    prepare(prepared, "fakeclue", *benchmarks.module("fakeclue").write_miniature(tmp_path / "fakeclue"), "--strict")
    cache = tmp_path / "judge.sqlite"
    cache.write_bytes(__import__("random").Random(1).randbytes(50_000))
    garbage = cache.read_bytes()
    unreadable = "Hmm the lighting is odd"  # the rules read no verdict in it
    with running({unreadable: replies}) as server:
        env = offline_env(prepared, FAKEVLM_PARSE_MODE="judge", FAKEVLM_JUDGE_MODEL="judge-test",
                          FAKEVLM_JUDGE_BASE_URL=server.base_url, FAKEVLM_JUDGE_CACHE=str(cache),
                          FAKEVLM_JUDGE_RETRIES="0", FAKEVLM_JUDGE_RETRY_DELAY="0",
                          FAKEVLM_JUDGE_API_KEY_ENV="FAKEVLM_TEST_NO_SUCH_KEY")
        proc = run_cli(["--model", "dummy", "--model_args", f"response={unreadable}", "--tasks", "fakeclue",
                        "--output_path", str(tmp_path / "out"), "--log_samples"], env)
    fc = results_of(tmp_path / "out", proc)["results"]["fakeclue"]
    samples = [s["acc"] for s in samples_of(tmp_path / "out", "fakeclue")]
    assert fc["judged_rate,none"] == judged_rate and fc["acc,none"] is not None
    assert all((s["verdict_source"] == "judge") == (judged_rate == 100.0) for s in samples)
    assert {s["judge_failure"] for s in samples} == ({None} if judged_rate else {"HTTP 500 after 1 attempt"})
    assert (proc.stdout + proc.stderr).count(f"judge cache {cache} could not be") == 1  # one warning
    assert cache.read_bytes() == garbage  # the user's file is left as it was
