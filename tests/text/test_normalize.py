import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.config import NormalizeConfig
from sentiment.text.normalize import Normalizer

norm = Normalizer(NormalizeConfig())


def test_examples():
    assert norm("진짜   재밌다ㅋㅋㅋㅋㅋㅋ!!!!!!") == "진짜 재밌다ㅋㅋ!!"
    assert norm("최고 <b>영화</b> https://example.com/x?y=1 www.test.kr 봐요") == "최고 영화 봐요"
    assert norm("BEST 영화 &amp; OST") == "best 영화 & ost"
    assert norm("\u200b\ufeff안녕\x00하세요") == "안녕 하세요"
    assert norm("   ") == ""


def test_disabled_is_identity():
    assert Normalizer(NormalizeConfig(enabled=False))("ㅋㅋㅋㅋ  A") == "ㅋㅋㅋㅋ  A"


def test_long_input_is_cut():
    out = norm("가" * 100_000)
    assert out == "가가"
    long_text = "좋아요 " * 50_000
    assert len(norm(long_text)) <= NormalizeConfig().max_chars


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_any_unicode(text):
    out = norm(text)
    assert isinstance(out, str)
    assert len(out) <= NormalizeConfig().max_chars
    assert out == out.strip()
    assert not re.search(r"(.)\1{2,}", out)
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in out)
