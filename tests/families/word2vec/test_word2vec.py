"""word2vec: config checks, evaluation maths against gensim, the bundled sets, tiny runs, export, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from gensim.models import KeyedVectors

import toolkit
from toolkit.cli import main
from toolkit.errors import RecipeError, ToolkitError
from toolkit.embeddings import embedding_from_vectors, load_vectors
from toolkit.registry import load_recipe
from toolkit.families.word2vec.task import CorpusFile, train_vectors, write_corpus_file
from toolkit.families.word2vec.evaluation import (
    BUNDLED,
    answer_analogies,
    evaluate_analogies,
    evaluate_similarity,
    headline,
    parse_benchmark,
    read_analogies,
    read_similarity,
    run_benchmark,
    solve_analogy,
)

WORD_RECIPE = "recipes/word2vec/skipgram_word_pd98.yaml"
# Small enough to train in about a second on 2 cores; workers=1 keeps gensim deterministic.
TINY = ["data.max_rows=400", "model.config.epochs=2", "model.config.vector_size=16", "model.config.min_count=2",
        "model.config.workers=1"]


def _keyed_vectors(words: list[str], matrix) -> KeyedVectors:
    kv = KeyedVectors(vector_size=len(matrix[0]))
    kv.add_vectors(words, np.asarray(matrix, dtype=np.float32))
    return kv


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("override, expected", [
    ("model.config.negative=0", "nothing is trained"),
    ("model.config.sg=2", "model.config.sg"),
    ("model.config.level=sentence", "model.config.level"),
    ("model.config.windows=3", "did you mean 'window'"),
    ("model.size=huge", "allowed: small, base"),
])
def test_bad_word2vec_config_is_refused_at_load(override, expected):
    with pytest.raises(RecipeError) as caught:
        load_recipe(WORD_RECIPE, [override])
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_config_reaches_gensim_with_size_and_seed():
    from toolkit import registry

    family = registry.family("word2vec")
    config = family.make_word2vec_config("base", {"sg": 1, "hs": 1, "negative": 0})
    kwargs = config.gensim_kwargs(seed=7)
    assert kwargs["vector_size"] == 300 and kwargs["sg"] == 1 and kwargs["hs"] == 1 and kwargs["seed"] == 7
    assert kwargs["workers"] >= 1 and "level" not in kwargs
    model = family.build(config, seed=7)
    assert model.vector_size == 300 and model.sg == 1 and model.hs == 1 and model.negative == 0


# --------------------------------------------------------------------------- evaluation maths


def test_analogies_on_vectors_with_exact_offsets():
    # Country i is axis i, its capital the mean of axis i and a shared "capital" axis; fillers live
    # in other axes. Then d = b - a + c points closest to the right capital, by both measures.
    rng = np.random.default_rng(0)
    countries = ["中国", "日本", "法国", "英国"]
    capitals = ["北京", "东京", "巴黎", "伦敦"]
    eye = np.eye(12)
    fillers = [f"词{i}" for i in range(20)]
    filler_vectors = np.hstack([np.zeros((20, 4)), rng.normal(size=(20, 6)), np.zeros((20, 2))])
    kv = _keyed_vectors(countries + capitals + fillers,
                        np.vstack([eye[:4], (eye[:4] + eye[10]) / np.sqrt(2), filler_vectors]))
    sections = {"capital": [("中国", "北京", "日本", "东京"), ("法国", "巴黎", "英国", "伦敦"),
                            ("中国", "北京", "英国", "伦敦")],
                "missing": [("中国", "北京", "德国", "柏林")]}
    score = evaluate_analogies(kv, sections)
    summary = score.summary()
    assert summary["3cosadd"] == 1.0 and summary["3cosmul"] == 1.0
    assert summary["questions"] == 4 and summary["covered"] == 3 and summary["coverage"] == 0.75
    assert score.sections["missing"]["coverage"] == 0.0 and np.isnan(score.sections["missing"]["3cosadd"])
    assert solve_analogy(kv, "中国", "北京", "法国")["3cosadd"][0][0] == "巴黎"


def test_batched_analogies_agree_with_gensim():
    rng = np.random.default_rng(1)
    words = [chr(0x4E00 + i) for i in range(300)]
    kv = _keyed_vectors(words, rng.normal(size=(300, 20)))
    questions = [tuple(rng.choice(words, size=3, replace=False)) for _ in range(40)]
    best_add, best_mul = answer_analogies(kv, questions, topn=3)
    for (a, b, c), add, mul in zip(questions, best_add, best_mul):
        expected_add = [w for w, _ in kv.most_similar(positive=[b, c], negative=[a], topn=3)]
        expected_mul = [w for w, _ in kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=3)]
        assert [kv.index_to_key[i] for i in add] == expected_add
        assert [kv.index_to_key[i] for i in mul] == expected_mul


def test_analogy_accuracy_matches_gensim_on_a_file(tmp_path):
    rng = np.random.default_rng(2)
    words = [chr(0x4E00 + i) for i in range(60)]
    kv = _keyed_vectors(words, rng.normal(size=(60, 8)))
    lines = [": random"] + [" ".join(rng.choice(words, size=4, replace=False)) for _ in range(200)]
    # Near-duplicate vectors make some questions answerable, so the accuracy is not trivially 0.
    kv.vectors[1] = kv.vectors[0] - kv.vectors[2] + kv.vectors[3]
    lines.append(f"{words[2]} {words[3]} {words[0]} {words[1]}")
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ours = evaluate_analogies(kv, read_analogies(path)).summary()
    gensim_score, _ = kv.evaluate_word_analogies(str(path))
    assert ours["3cosadd"] == pytest.approx(gensim_score) and ours["3cosadd"] > 0


def test_analogy_conventions_of_gensim_and_ca8(tmp_path, capsys):
    # 甲 = e1; 乙 and 丙 at cosine 0.8 to 甲; 丁 = 乙 - 甲 + 丙 (normalised: (1, 1, 1) / sqrt 3); 戊 = -甲.
    kv = _keyed_vectors(["甲", "乙", "丙", "丁", "戊"],
                        [[1, 0, 0], [0.8, 0.6, 0], [0.8, 0, 0.6], [0.6, 0.6, 0.6], [-1, 0, 0]])
    # Worked by hand for 甲 : 乙 :: 丙 : ?, with cosines to (甲, 乙, 丙):
    #   丁 (1/sqrt3, 1.4/sqrt3, 1.4/sqrt3), 戊 (-1, -0.8, -0.8).
    # 3CosAdd: 丁 1.8/sqrt3 = 1.04 beats 戊 -0.6, for both conventions.
    # 3CosMul on s = (cos + 1) / 2: 丁 s = (0.789, 0.904, 0.904) -> 0.817 / (0.789 + eps);
    #   戊 s = (0, 0.1, 0.1) -> 0.01 / eps. gensim (eps 1e-6): 戊 10,000 beats 丁 1.04, wrong;
    #   CA8 (eps 0.01): 丁 0.817 / 0.799 = 1.024 beats 戊 1.0, right.
    questions = [("甲", "乙", "丙", "丁"), ("甲", "乙", "丙", "缺"), ("无", "乙", "丙", "丁")]
    summary = evaluate_analogies(kv, {"s": questions}).summary()
    # gensim: only question 1 has all four words known.
    assert (summary["3cosadd"], summary["3cosmul"], summary["coverage"]) == (1.0, 0.0, pytest.approx(1 / 3))
    # CA8: questions 1 and 2 have their first three words known; 2's missing answer counts as wrong.
    assert (summary["ca8_3cosadd"], summary["ca8_3cosmul"], summary["ca8_coverage"]) == (0.5, 0.5, pytest.approx(2 / 3))
    [gensim_mul], [ca8_mul] = (answer_analogies(kv, [("甲", "乙", "丙")], convention=c)[1][:, 0] for c in ("gensim", "ca8"))
    assert (kv.index_to_key[gensim_mul], kv.index_to_key[ca8_mul]) == ("戊", "丁")

    path = tmp_path / "tiny.txt"
    path.write_text(": s\n" + "\n".join(" ".join(q) for q in questions) + "\n", encoding="utf-8")
    record = run_benchmark(kv, parse_benchmark(f"analogy={path}"))
    assert headline(record) == pytest.approx({"tiny_3cosadd": 1.0, "tiny_3cosmul": 0.0, "tiny_coverage": 1 / 3,
                                              "tiny_ca8_3cosadd": 0.5, "tiny_ca8_3cosmul": 0.5, "tiny_ca8_coverage": 2 / 3})
    kv.save_word2vec_format(str(tmp_path / "tiny_vectors.txt"))  # a .kv pickle needs --allow-pickle
    assert main(["word2vec-eval", str(tmp_path / "tiny_vectors.txt"), "--analogy", str(path), "--sections"]) == 0
    out = capsys.readouterr().out
    gensim_line, ca8_line = out.splitlines()[:2]
    assert "gensim rule" in gensim_line and "3CosAdd 1.000, 3CosMul 0.000, coverage 33.3% (1 of 3 questions)" in gensim_line
    assert "CA8 rule" in ca8_line and "3CosAdd 0.500, 3CosMul 0.500, coverage 66.7% (2 of 3 questions)" in ca8_line


def test_similarity_spearman_and_coverage(tmp_path):
    kv = _keyed_vectors(["猫", "狗", "车", "书"], [[1, 0], [0.9, 0.1], [0, 1], [-1, 0.2]])
    path = tmp_path / "pairs.tsv"
    path.write_text("word1\tword2\tscore\n猫\t狗\t9\n猫\t车\t4\n猫\t书\t1\n猫\t鱼\t7\n", encoding="utf-8")
    pairs = read_similarity(path)
    assert len(pairs) == 4  # header skipped
    result = evaluate_similarity(kv, pairs)
    assert result["spearman"] == pytest.approx(1.0) and result["coverage"] == 0.75
    reversed_scores = [(a, b, -s) for a, b, s in pairs]
    assert evaluate_similarity(kv, reversed_scores)["spearman"] == pytest.approx(-1.0)


@pytest.mark.parametrize("name, text, message", [
    ("q.txt", ": s\n北京 中国 东京\n", "line 2"),
    ("q.txt", "", "no analogy questions"),
    ("p.txt", "猫 狗 9\n猫 车 many\n", "line 2"),
])
def test_bad_benchmark_files_name_the_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    reader = read_analogies if name == "q.txt" else read_similarity
    with pytest.raises(ToolkitError, match=message):
        reader(path)


def test_non_utf8_file_is_explained(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("北京 中国 东京 日本".encode("gbk"))
    with pytest.raises(ToolkitError, match="not UTF-8"):
        read_analogies(path)


def test_benchmark_specs(tmp_path):
    assert parse_benchmark("analogy").path == BUNDLED["analogy"]
    (tmp_path / "ws240.txt").write_text("a b 1\nc d 2\n", encoding="utf-8")
    spec = parse_benchmark(f"similarity={tmp_path / 'ws240.txt'}")
    assert spec.kind == "similarity" and spec.name == "ws240"
    with pytest.raises(ToolkitError, match="not a word2vec benchmark"):
        parse_benchmark("perplexity")
    with pytest.raises(ToolkitError, match="no such file"):
        parse_benchmark("analogy=/nonexistent/CA8.txt")


def test_bundled_sets_are_well_formed_and_gensim_reads_them():
    sections = read_analogies(BUNDLED["analogy"])
    assert set(sections) >= {"capital-country", "province-capital", "family", "antonym", "char-antonym"}
    assert sum(map(len, sections.values())) == 3050
    assert all(len(w) == 1 for q in sections["char-antonym"] + sections["char-gender"] for w in q)
    assert ("北京", "中国", "东京", "日本") in sections["capital-country"]
    pairs = read_similarity(BUNDLED["similarity"])
    assert len(pairs) == 116 and len({(a, b) for a, b, _ in pairs}) == 116
    assert all(0 <= s <= 10 for _, _, s in pairs)
    # Plain gensim parses the questions file: its sections match ours.
    kv = _keyed_vectors(["北京", "中国", "东京", "日本", "大", "小", "高", "低"], np.eye(8))
    _, gensim_sections = kv.evaluate_word_analogies(str(BUNDLED["analogy"]))
    assert [s["section"] for s in gensim_sections][:-1] == list(sections)


# --------------------------------------------------------------------------- corpus file and training


def test_corpus_file_is_written_once_and_training_is_deterministic(tmp_path):
    from toolkit.families.word2vec.task import load_splits

    recipe = load_recipe(WORD_RECIPE, TINY)
    splits, key = load_splits(recipe)
    first = write_corpus_file(splits["train"], "word", key, cache_dir=tmp_path)
    again = write_corpus_file(splits["train"], "word", key, cache_dir=tmp_path)
    assert not first.cached and again.cached and again.path == first.path
    lines = first.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == first.lines and sum(len(line.split()) for line in lines) == first.tokens
    other = write_corpus_file(splits["train"], "word", key + "-other-corpus", cache_dir=tmp_path)
    assert not other.cached and other.path != first.path  # another corpus key, another file

    config = toolkit.registry.family("word2vec").make_word2vec_config("small", recipe.model.config)
    one, monitor, timings = train_vectors(first, config, seed=3, show=False)
    two, _, _ = train_vectors(first, config, seed=3, show=False)
    assert np.array_equal(one.wv.vectors, two.wv.vectors)
    assert len(monitor.epochs) == 2 and all(e["loss"] > 0 for e in monitor.epochs)
    # Effective words come from gensim's end-of-epoch log record: downsampling makes them fewer.
    assert all(0 < e["effective_words"] < e["raw_words"] == first.tokens for e in monitor.epochs)
    assert timings["effective_words"] == sum(e["effective_words"] for e in monitor.epochs)


def test_min_count_above_every_token_is_explained(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("甲 乙\n", encoding="utf-8")
    config = toolkit.registry.family("word2vec").make_word2vec_config(None, {"min_count": 50, "workers": 1})
    with pytest.raises(ToolkitError, match="min_count"):
        train_vectors(CorpusFile(path, 1, 2, cached=False), config, seed=0, show=False)


# --------------------------------------------------------------------------- whole runs


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("w2v") / "run"
    result = toolkit.run(WORD_RECIPE, [*TINY, f"output.dir={out}"])
    return result


def test_word_run_exports_loadable_vectors_and_records_metrics(word_run):
    run_dir, metrics = word_run.run_dir, word_run.metrics
    assert not list(run_dir.glob("*.kv*"))  # no pickle in a run folder
    kv = KeyedVectors.load_word2vec_format(str(run_dir / "vectors.bin"), binary=True)
    text = KeyedVectors.load_word2vec_format(str(run_dir / "vectors.txt"))
    assert kv.index_to_key == text.index_to_key
    assert np.allclose(kv.vectors, text.vectors, atol=1e-5)
    assert metrics["vocab_size"] == len(kv) and kv.vector_size == 16
    assert any(len(w) > 1 for w in kv.index_to_key[:50])  # words, not characters

    saved = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(saved["final"]) >= {"analogy_3cosadd", "analogy_3cosmul", "analogy_coverage",
                                   "similarity_spearman", "similarity_coverage", "validation_token_coverage"}
    assert 0 < saved["final"]["analogy_coverage"] < 1
    assert len(saved["train"]["epochs"]) == 2 and saved["train"]["words_per_second"] > 0
    assert [e["kind"] for e in saved["evaluations"]] == ["analogy", "similarity", "coverage"]
    assert {s["prompt"] for s in saved["samples"]} == {"北京", "经济", "改革", "足球", "春节"}
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8"))["task"] == "word2vec"

    card = (run_dir / "README.md").read_text(encoding="utf-8")
    assert "library_name: gensim" in card and "model-index" in card and "3CosMul" in card
    assert f"{metrics['vocab_size']:,}" in card and "peoples_daily_1998" in card


def test_eval_and_cli_on_a_word_run(word_run, tmp_path, capsys):
    run_dir = word_run.run_dir
    before = len(json.loads((run_dir / "metrics.json").read_text())["evaluations"])
    result = toolkit.evaluate(run_dir, split="test")
    assert "analogy_3cosmul" in result and "test_token_coverage" in result
    assert len(json.loads((run_dir / "metrics.json").read_text())["evaluations"]) == before + 3

    word = load_vectors(run_dir).index_to_key[10]
    assert main(["neighbors", str(run_dir), word, "--topn", "3"]) == 0
    assert capsys.readouterr().out.startswith(f"{word}: ")
    a, b, c = load_vectors(run_dir).index_to_key[20:23]
    assert main(["analogy", str(run_dir), a, b, c]) == 0
    assert "3CosAdd" in capsys.readouterr().out

    questions = tmp_path / "mine.txt"
    questions.write_text(f": mine\n{a} {b} {c} {word}\n", encoding="utf-8")
    assert main(["word2vec-eval", str(run_dir / "vectors.bin"), "--analogy", str(questions)]) == 0
    assert "mine (analogy)" in capsys.readouterr().out  # a vectors file: nothing to record
    assert main(["word2vec-eval", str(run_dir), "--analogy", str(questions), "--bundled"]) == 0
    out = capsys.readouterr().out
    assert "toolkit-zh-analogy" in out and "Recorded" in out
    assert "| mine | analogy |" in (run_dir / "README.md").read_text(encoding="utf-8")

    assert main(["neighbors", str(run_dir), "不存在的词语"]) == 2
    assert "Not in the vocabulary" in capsys.readouterr().err
    assert main(["analogy", str(tmp_path), "a", "b", "c"]) == 2
    assert "not a word2vec run folder" in capsys.readouterr().err


def test_char_run_on_a_streaming_card(tmp_path):
    rows = [{"text": f"第{i}天，我们在北京和上海看山看水，天气很好。"} for i in range(40)]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump({
        "name": "tiny_stream", "description": "test rows", "source": {"files": [str(data)], "format": "jsonl", "streaming": True},
        "splits": {"validation": 2, "test": 2},
    }, allow_unicode=True), encoding="utf-8")
    result = toolkit.run("recipes/word2vec/skipgram_char_pd98.yaml", [
        f"data.card={card}", "model.config.min_count=1", "model.config.epochs=1", "model.config.vector_size=8",
        "model.config.workers=1", f"output.dir={tmp_path / 'run'}"])
    kv = load_vectors(result.run_dir)
    assert all(len(token) == 1 for token in kv.index_to_key) and "京" in kv.key_to_index
    assert result.metrics["train"]["corpus"]["lines"] == 36
    # Only the single-character sections of the bundled analogy set can be covered.
    covered = {s for s, m in result.metrics["evaluations"][0]["sections"].items() if m["covered"]}
    assert covered <= {"char-gender", "char-antonym"}
    # An edited source file gives another cached corpus file.
    from toolkit.families.word2vec.task import load_splits

    recipe = load_recipe("recipes/word2vec/skipgram_char_pd98.yaml", [f"data.card={card}"])
    _, key = load_splits(recipe)
    with data.open("a", encoding="utf-8") as handle:
        handle.write("\n" + json.dumps({"text": "新的一行"}, ensure_ascii=False))
    assert load_splits(recipe)[1] != key


def test_text_only_card_is_segmented_with_jieba(tmp_path):
    from toolkit.families.word2vec.task import iter_tokens, load_splits

    recipe = load_recipe("recipes/word2vec/cbow_word_sanguo.yaml", ["data.max_rows=80"])
    splits, _ = load_splits(recipe)
    tokens = [t for row in iter_tokens(splits["train"], "word") for t in row]
    assert {"玄德", "张飞", "关羽"} & set(tokens)  # the first chapters: jieba keeps the names whole
    assert sum(len(t) > 1 for t in tokens) > len(tokens) // 5
    text = "".join("".join(t.split()) for t in splits["train"]["text"])
    assert "".join(tokens) == text  # segmentation only inserts boundaries


def test_eval_metrics_of_another_task_fail_before_training(tmp_path):
    with pytest.raises(ToolkitError, match="not a word2vec benchmark"):
        toolkit.run(WORD_RECIPE, [*TINY, "eval.metrics=[perplexity]", f"output.dir={tmp_path / 'run'}"])


def test_pretrained_start_is_refused(tmp_path):
    with pytest.raises(ToolkitError, match="trained from scratch"):
        toolkit.run(WORD_RECIPE, ["model.init_from=gpt2", "model.size=null", "model.config={}",
                                  f"output.dir={tmp_path / 'run'}"])


# --------------------------------------------------------------------------- torch embedding


def test_embedding_from_vectors_for_a_char_tokenizer():
    import torch

    from toolkit.recipe import TokenizerSection
    from toolkit.tokenization import train_tokenizer

    tokenizer = train_tokenizer(TokenizerSection(kind="char"), ["北京上海天气很好", "山水"],
                                {"pad_token": "[PAD]", "unk_token": "[UNK]"})
    kv = _keyed_vectors(["北", "京", "山", "海外"], np.arange(16, dtype=np.float32).reshape(4, 4))
    embedding = embedding_from_vectors(kv, tokenizer, freeze=True)
    assert embedding.weight.shape == (len(tokenizer), 4) and not embedding.weight.requires_grad
    vocab = tokenizer.get_vocab()
    for char in ("北", "京", "山"):
        assert torch.equal(embedding.weight[vocab[char]], torch.tensor(kv[char]))
    assert torch.count_nonzero(embedding.weight[tokenizer.pad_token_id]) == 0
    assert embedding.coverage == pytest.approx(3 / len(vocab))
    assert embedding(torch.tensor([[vocab["山"]]])).shape == (1, 1, 4)


# --------------------------------------------------------------------------- full recipes (slow)


@pytest.mark.slow
@pytest.mark.parametrize("recipe, level, floors", [
    ("recipes/word2vec/skipgram_word_pd98.yaml", "word", {"analogy_3cosadd": 0.03, "similarity_spearman": 0.25}),
    ("recipes/word2vec/skipgram_char_pd98.yaml", "char", {"analogy_3cosadd": 0.02, "similarity_spearman": 0.15}),
    ("recipes/word2vec/cbow_word_sanguo.yaml", "word", {}),
])
def test_bundled_word2vec_recipe_learns(recipe, level, floors, tmp_path):
    result = toolkit.run(recipe, [f"output.dir={tmp_path / 'run'}"])
    final = result.metrics["final"]
    for name, floor in floors.items():
        assert final[name] > floor, (name, final)
    # Chance on the analogy set is about 1 in the vocabulary size; the loss must fall too.
    epochs = result.metrics["train"]["epochs"]
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    assert final["validation_token_coverage"] > 0.8
    vectors = load_vectors(result.run_dir)
    assert all(len(w) == 1 for w in vectors.index_to_key) == (level == "char")


def test_the_declared_view_is_what_word2vec_reads():
    """Characters are read from the text view even where the card is segmented; words from words."""
    from toolkit.data import load_card
    from toolkit.families.word2vec.task import TASK, load_splits

    card = load_card("peoples_daily_1998")
    for recipe_file, view in (("skipgram_char_pd98", "text"), ("skipgram_word_pd98", "words")):
        recipe = load_recipe(f"recipes/word2vec/{recipe_file}.yaml", ["data.max_rows=400"])
        assert TASK.view(recipe, card) == view
        assert load_splits(recipe)[0]["train"].column_names == [view]
