"""Real KoNLPy taggers (MeCab via wheels; Okt/Komoran/Hannanum/Kkma in the JVM)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.config import NormalizeConfig, TokenizerConfig
from sentiment.text.tokenizers import Tokenizer

TEXT = "배우들 연기가 정말 최고였어요ㅋㅋㅋㅋ 강추!!!"


def make(**kwargs) -> Tokenizer:
    return Tokenizer(NormalizeConfig(), TokenizerConfig(**kwargs))


@pytest.mark.parametrize("tagger", ["mecab", "okt", "komoran", "hannanum", "kkma"])
def test_each_tagger_splits_morphemes(tagger):
    tokens = make(tagger=tagger)(TEXT)
    assert "연기" in tokens  # 연기가 -> 연기 + 가
    assert any(t.startswith("배우") for t in tokens) and any(t.startswith("최고") for t in tokens)
    assert len(tokens) > len(TEXT.split())
    assert all(t and " " not in t for t in tokens)


def test_okt_norm_and_stem():
    assert "좋다" in make(tagger="okt", stem=True)("정말 좋았어요")
    assert "좋다" not in make(tagger="okt", stem=False)("정말 좋았어요")


def test_pos_tokens_filter_and_stopwords():
    with_pos = make(tagger="mecab", with_pos=True)("영화가 재밌다")
    assert "영화/NNG" in with_pos and all("/" in t for t in with_pos)
    nouns = make(tagger="mecab", pos_filter=["NN"])("영화가 정말 재밌다")
    assert nouns == ["영화"]
    assert "가" not in make(tagger="mecab", stopwords=["가"])("영화가 재밌다")


def test_empty_and_odd_inputs():
    tok = make(tagger="mecab")
    assert tok("") == [] and tok("   ") == []
    assert tok("😍😍😍😍") == ["😍😍"]
    assert len(tok("ㅋ" * 10_000)) <= 2


def test_parallel_equals_sequential():
    tok = make(tagger="mecab")
    texts = [f"{i}번째 리뷰 정말 재밌어요" if i % 2 else f"별로였다 {i}" for i in range(300)]
    assert tok.tokenize_many(texts, workers=2, chunk_size=40) == [tok(t) for t in texts]


def test_parallel_java_tagger_in_spawned_workers():
    tok = make(tagger="okt")
    texts = ["너무 재밌었다", "지루하고 별로", "최고의 영화"] * 10
    assert tok.tokenize_many(texts, workers=2, chunk_size=7) == [tok(t) for t in texts]


def test_spec_round_trip():
    tok = make(tagger="okt", with_pos=True, stopwords=["을"])
    again = Tokenizer.from_spec(tok.spec)
    assert again(TEXT) == tok(TEXT)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_mecab_any_unicode(text):
    tokens = make(tagger="mecab")(text)
    assert all(isinstance(t, str) and t and " " not in t for t in tokens)


_MECAB = make(tagger="mecab")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.sampled_from([TEXT, "", " \t", "a\nb\r\nc", "EOS\nEOS", "a\tb", "\x00x"])))
def test_mecab_fast_path_equals_the_tagged_pairs(text):
    """Plain MeCab reads tokens straight from MeCab's output; they are exactly those of the (morpheme, tag) path."""
    assert _MECAB._plain_mecab
    assert _MECAB(text) == _MECAB._tokens(_MECAB._tag(_MECAB.normalize(text)))


def test_mecab_space_separated_output_equals_the_tagged_pairs_on_the_sample(sample_frame):
    """The printable-text path (MeCab's -Owakati output) gives the (morpheme, tag) path's tokens on real comments."""
    extra = ["ㅋㅋㅋㅋ 진짜 재밌었다!!! 10점 만점에 10점", "DLC사지마세요 돈낭비임"]
    texts = sample_frame["document"].astype(str).tolist() + extra
    normalized = [_MECAB.normalize(t) for t in texts]
    assert sum(n.isprintable() for n in normalized) >= 0.9 * len(texts)  # the fast path is the one taken
    for text, norm in zip(texts, normalized):
        assert _MECAB(text) == _MECAB._tokens(_MECAB._tag(norm)), text
