"""Explanations: morpheme spans in the original text, occlusion contributions, faithfulness, the CLI."""

import json

import numpy as np
import pytest
from conftest import assert_user_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.analysis.explain import deletion_test, format_terminal, without
from sentiment.config import NormalizeConfig, TokenizerConfig
from sentiment.text.normalize import Normalizer
from sentiment.text.tokenizers import Tokenizer, align_surfaces

NORM = Normalizer(NormalizeConfig())
TRICKY = [
    "진짜   재밌다ㅋㅋㅋㅋㅋㅋ!!!!!!",
    "최고 <b>영화</b> https://example.com/x?y=1 봐요",
    "BEST 영화 &amp; OST",
    "\u200b\ufeff안녕\x00하세요",
    "했다 갔었는데 됐어요",
    "   ",
    "",
    "  앞뒤 공백  ",
    "\u1100\u1161\u11a8 좋아",
]


# -- offsets and spans ----------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.sampled_from(TRICKY))
def test_normalizer_offsets_track_the_same_text(text):
    tracked = NORM.with_offsets(text)
    assert tracked.text == NORM(text)
    assert len(tracked.starts) == len(tracked.ends) == len(tracked.text)
    assert all(0 <= a < b <= len(text) for a, b in zip(tracked.starts, tracked.ends))
    assert tracked.starts == sorted(tracked.starts)


def test_normalizer_offsets_examples():
    text = "진짜   재밌다ㅋㅋㅋㅋㅋㅋ!!!!!!"
    tracked = NORM.with_offsets(text)
    assert tracked.text == "진짜 재밌다ㅋㅋ!!"
    assert text[slice(*tracked.original_span(6, 8))] == "ㅋㅋㅋㅋㅋㅋ"  # a shortened run spans the whole run
    text = "BEST 영화 &amp; OST"
    tracked = NORM.with_offsets(text)
    i = tracked.text.index("&")
    assert text[slice(*tracked.original_span(i, i + 1))] == "&amp;"


def test_align_surfaces_handles_forms_not_in_the_text():
    # decomposed morphemes (했 -> 하 + 았) share the surface segment they came from
    assert align_surfaces("했다 좋다", ["하", "았", "다", "좋", "다"]) == [(0, 1), (0, 1), (1, 2), (3, 4), (4, 5)]
    # a stem (Okt stem=True) spans the stretch up to the next aligned morpheme
    assert align_surfaces("재밌었다 ㅋㅋ", ["재밌다", "ㅋㅋ"]) == [(0, 4), (5, 7)]
    assert align_surfaces("재밌었다", ["재밌다"]) == [(0, 4)]
    # a form that appears only later is not matched across other text
    assert align_surfaces("하늘 했다", ["하늘", "하", "았", "다"]) == [(0, 2), (3, 4), (3, 4), (4, 5)]


def test_spans_are_the_tokens_and_point_at_them(sample_frame):
    tokenizer = Tokenizer(NormalizeConfig(), TokenizerConfig())
    for text in sample_frame["document"].tolist() + TRICKY:
        spans = tokenizer.spans(text)
        assert [s.token for s in spans] == tokenizer(text)
        for s in spans:
            assert 0 <= s.start < s.end <= len(text), (text, s)
            assert s.token in NORM(text[s.start : s.end]), (text, s)  # MeCab gives surface forms
        assert [s.start for s in spans] == sorted(s.start for s in spans)


def test_tagged_tokens_equal_tokens(sample_frame):
    tokenizer = Tokenizer(NormalizeConfig(), TokenizerConfig())
    for text in sample_frame["document"].tolist()[:50]:
        assert [t for t, _ in tokenizer.tagged(text)] == tokenizer(text)


# -- contributions --------------------------------------------------------------------
def test_contributions_are_leave_one_out_differences(tiny_model):
    texts = ["배우 연기 정말 최고 ㅋㅋㅋㅋ!!", "시간 아깝다 진짜 최악의 영화", "했다", ""]
    explanations = tiny_model.explain(texts)
    proba = tiny_model.predict_proba(texts)
    for e, p in zip(explanations, proba):
        j = int(p.argmax())
        assert e.label == tiny_model.classes_[j]
        assert e.probability == pytest.approx(p[j], abs=1e-5)
        ids = tiny_model.vocabulary_.encode([t.token for t in e.tokens])
        for i, t in enumerate(e.tokens):
            alone = tiny_model.predict_ids([without(ids, [i])])[0, j]
            assert t.contribution == pytest.approx(p[j] - alone, abs=1e-5)
            assert e.text[t.start : t.end] == t.text
    assert explanations[3].tokens == ()
    assert json.loads(json.dumps(explanations[0].to_dict()))["tokens"][0]["token"] == "배우"


def test_tokens_cut_by_maxlen_contribute_nothing(tiny_model):
    maxlen = tiny_model.config_.sequence.maxlen  # truncating 'pre': the model sees the last maxlen tokens
    text = " ".join(["영화"] * (maxlen + 5)) + " 최고"
    e = tiny_model.explain([text])[0]
    assert len(e.tokens) == maxlen + 6
    assert all(t.contribution == 0.0 for t in e.tokens[:6])
    assert any(t.contribution != 0.0 for t in e.tokens[6:])


def test_deleting_top_tokens_moves_probability_more_than_random_tokens(tiny_model, sample_frame):
    """Faithfulness on the hand-written sample: removing each comment's 3 highest-attributed tokens lowers the
    probability of the predicted class far more, on average, than removing 3 random tokens."""
    result = deletion_test(tiny_model, sample_frame["document"].tolist(), k=3, repeats=5, seed=0)
    assert result["texts"] > 300
    assert result["top_k_drop_mean"] > 1.5 * result["random_k_drop_mean"] > 0, result
    assert result["share_top_k_larger"] > 0.7, result


def test_terminal_format_colours_the_original_text(tiny_model):
    e = tiny_model.explain(["배우 연기 정말 최고"])
    plain = format_terminal(e, colour=False)
    assert plain.splitlines()[0].endswith("배우 연기 정말 최고")
    coloured = format_terminal(e, colour=True)
    assert "\x1b[48;5;" in coloured and "\x1b[0m" in coloured


# -- command line -----------------------------------------------------------------------
def test_explain_cli_prints_json(tiny_model_dir, tiny_model):
    result = run_cli("explain", "배우 연기 정말 최고", "시간 아깝다", "--model", str(tiny_model_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)  # stdout is a pipe: JSON
    assert [d["text"] for d in data] == ["배우 연기 정말 최고", "시간 아깝다"]
    expected = tiny_model.explain(["배우 연기 정말 최고", "시간 아깝다"])
    for d, e in zip(data, expected):
        assert [t["token"] for t in d["tokens"]] == [t.token for t in e.tokens]
        assert np.allclose([t["contribution"] for t in d["tokens"]], [t.contribution for t in e.tokens], atol=1e-5)
        assert all(d["text"][t["start"] : t["end"]] == t["text"] for t in d["tokens"])


def test_explain_cli_needs_a_text():
    assert_user_error(run_cli("explain"), "at least one text")
