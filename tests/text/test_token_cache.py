from sentiment.config import NormalizeConfig, TokenizerConfig
from sentiment.text.token_cache import cached_tokenize
from sentiment.text.tokenizers import Tokenizer

TEXTS = ["배우 연기 정말 최고", "", "시간 아깝다ㅋㅋㅋㅋ", "😍"]


def test_second_call_hits_and_matches(tmp_path):
    tok = Tokenizer(NormalizeConfig(), TokenizerConfig())
    first, hit1 = cached_tokenize(tok, TEXTS, directory=tmp_path)
    second, hit2 = cached_tokenize(tok, TEXTS, directory=tmp_path)
    assert (hit1, hit2) == (False, True)
    assert first == second == [tok(t) for t in TEXTS]


def test_other_settings_or_texts_miss(tmp_path):
    cached_tokenize(Tokenizer(NormalizeConfig(), TokenizerConfig()), TEXTS, directory=tmp_path)
    with_pos = Tokenizer(NormalizeConfig(), TokenizerConfig(with_pos=True))
    tokens, hit = cached_tokenize(with_pos, TEXTS, directory=tmp_path)
    assert not hit and "배우/NNG" in tokens[0]
    assert not cached_tokenize(with_pos, TEXTS[:3], directory=tmp_path)[1]


def test_corrupt_entry_is_replaced(tmp_path):
    tok = Tokenizer(NormalizeConfig(), TokenizerConfig())
    cached_tokenize(tok, TEXTS, directory=tmp_path)
    for path in tmp_path.glob("*.parquet"):
        path.write_bytes(b"not parquet")
    tokens, hit = cached_tokenize(tok, TEXTS, directory=tmp_path)
    assert not hit and tokens == [tok(t) for t in TEXTS]
    assert cached_tokenize(tok, TEXTS, directory=tmp_path)[1]
