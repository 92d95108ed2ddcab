"""`toolkit translate`, `toolkit attention`, the attention maps every seq2seq run draws, and
`toolkit compare` on seq2seq runs, on two tiny pinyin run folders (one Transformer with 2 heads,
one ConvS2S with 2 decoder layers) trained once per module."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

TINY_RUN = ["data.max_rows=400", "train.batch_size=8", "train.max_steps=2", "train.eval_every=2",
            "train.save_every=2", "eval.max_batches=1", "eval.generation.max_new_tokens=12"]
SOURCES = ["zhong1 guo2 ren2 min2", "jin1 tian1 tian1 qi4 hen3 hao3"]


def _train(tmp_path_factory, recipe: str, config: str, name: str, *more: str):
    from toolkit.api import run

    folder = tmp_path_factory.mktemp(name) / "run"
    return run(recipe, [config, *TINY_RUN, *more, f"output.dir={folder}"]).run_dir


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory):
    return _train(tmp_path_factory, "transformer_seq2seq/tiny_pinyin",
                  "model.config={d_model: 32, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 2, "
                  "decoder_attention_heads: 2, encoder_ffn_dim: 64, decoder_ffn_dim: 64}", "transformer")


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    return _train(tmp_path_factory, "conv_seq2seq/tiny_pinyin",
                  "model.config={embedding_size: 32, hidden_size: 32, encoder_layers: 2, decoder_layers: 2}", "conv",
                  "train.eval_every=1")  # two evaluations, each drawing its own attention maps


def _cli(capsys, *args):
    from toolkit.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as stop:  # argparse usage errors
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_clear_error(code, err, *culprits):
    assert code == 2, err
    assert "Traceback" not in err
    message = err[err.rindex("error:"):].strip()
    assert "\n" not in message, f"not one paragraph: {message!r}"
    for culprit in culprits:
        assert culprit in message, f"{culprit!r} not in {message!r}"


def _load(run_dir):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    import toolkit.pretrained  # noqa: F401  (registers the toolkit's model types)
    from toolkit.rundir import read_run_recipe

    return (AutoModelForSeq2SeqLM.from_pretrained(run_dir).eval(), AutoTokenizer.from_pretrained(run_dir),
            read_run_recipe(run_dir))


def test_translate_prints_what_the_task_decodes(transformer_run, capsys):
    """The CLI and the API decode exactly as the seq2seq task does (same encoding, same settings),
    with the recipe's settings by default and the flags' on top."""
    import torch

    from toolkit.api import translate as api_translate
    from toolkit.tasks.seq2seq import translate

    model, tokenizer, recipe = _load(transformer_run)
    with torch.no_grad():
        expected = translate(model, tokenizer, SOURCES, recipe)
    code, out, err = _cli(capsys, "translate", transformer_run, *SOURCES)
    assert code == 0, err
    assert out.splitlines() == expected
    assert api_translate(transformer_run, SOURCES) == expected

    beams = recipe.model_copy(update={"eval": recipe.eval.model_copy(update={
        "generation": recipe.eval.generation.model_copy(update={"num_beams": 3, "no_repeat_ngram_size": 2})})})
    with torch.no_grad():
        two_each = translate(model, tokenizer, SOURCES[:1], beams, num_return_sequences=2)
    code, out, err = _cli(capsys, "translate", transformer_run, SOURCES[0], "--beams", "3",
                          "--no-repeat-ngram-size", "2", "--num-return-sequences", "2")
    assert code == 0, err
    assert out.splitlines() == [SOURCES[0], f"  1. {two_each[0]}", f"  2. {two_each[1]}"]


def test_translate_refuses_bad_inputs_in_one_paragraph(transformer_run, tmp_path, capsys):
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}))
    _assert_clear_error(*_cli(capsys, "translate", gpt2, "zhong1")[::2], "GPT2LMHeadModel", "toolkit generate")
    _assert_clear_error(*_cli(capsys, "attention", gpt2, "zhong1")[::2], "toolkit attention", "toolkit generate")
    _assert_clear_error(*_cli(capsys, "translate", transformer_run, "zhong1", "  ")[::2], "text 2 of 2", "empty")
    _assert_clear_error(*_cli(capsys, "translate", transformer_run, "zhong1", "--beams", "0")[::2], "--beams")
    _assert_clear_error(*_cli(capsys, "translate", transformer_run, "zhong1", "--length-penalty", "nan")[::2],
                        "--length-penalty")
    _assert_clear_error(*_cli(capsys, "translate", transformer_run, "zhong1", "--beams", "2",
                              "--num-return-sequences", "3")[::2], "--num-return-sequences", "--beams 3")
    _assert_clear_error(*_cli(capsys, "attention", transformer_run, "zhong1", "--head", "3")[::2], "--head 3", "2 attention heads")
    _assert_clear_error(*_cli(capsys, "attention", transformer_run, "zhong1", "--layer", "2")[::2], "--layer 2", "1 decoder layer")
    _assert_clear_error(*_cli(capsys, "attention", transformer_run, "zhong1", "--layer", "x")[::2], "--layer")
    not_a_run = tmp_path / "model_only"
    shutil.copytree(transformer_run, not_a_run, ignore=shutil.ignore_patterns("recipe.yaml", "checkpoints"))
    _assert_clear_error(*_cli(capsys, "translate", not_a_run, "zhong1")[::2], "no recipe.yaml", "text2text-generation")

    code, out, err = _cli(capsys, "translate", transformer_run, "zhong1 xyz9 guo2")
    assert code == 0 and len(out.splitlines()) == 1, err
    assert "does not know 'xyz9'" in err


def test_attention_draws_one_panel_per_layer_and_the_chosen_head(conv_run, transformer_run, tmp_path, monkeypatch):
    """ConvS2S: one panel per decoder layer (or the one asked for), rows of weights summing to 1
    over the source tokens and the end token. Transformer: the default map is the mean of its
    heads, and --head picks one of them."""
    import matplotlib.image

    from toolkit.api import attention
    from toolkit.reporting import attention_plot

    drawn = []
    real = attention_plot.plot_attention
    monkeypatch.setattr(attention_plot, "plot_attention",
                        lambda panels, *args, **kwargs: drawn.append([t for t, _ in panels]) or real(panels, *args, **kwargs))
    out = tmp_path / "maps" / "conv.png"
    maps = attention(conv_run, SOURCES[1], out=out)
    assert drawn[-1] == [f"layer 1, alignment {maps.alignment_by_layer[0]:.0%}",
                         f"layer 2, alignment {maps.alignment_by_layer[1]:.0%}"]
    assert matplotlib.image.imread(out).shape[2] in (3, 4)
    assert maps.source_tokens == SOURCES[1].split() + ["</s>"]
    assert len(maps.layers) == 2 and maps.heads == 1
    for weights in maps.layers:
        assert weights.shape == (len(maps.target_tokens), len(maps.source_tokens))
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    attention(conv_run, SOURCES[1], out=tmp_path / "layer2.png", layer=2, num_beams=2)
    assert len(drawn[-1]) == 1 and drawn[-1][0].startswith("layer 2")

    averaged = attention(transformer_run, SOURCES[0], out=tmp_path / "t.png")
    first, second = (attention(transformer_run, SOURCES[0], out=tmp_path / f"h{h}.png", head=h) for h in (1, 2))
    assert averaged.heads == 2 and "2 heads averaged" in drawn[-3][0] and "head 2" in drawn[-1][0]
    np.testing.assert_allclose((first.layers[0] + second.layers[0]) / 2, averaged.layers[0], atol=1e-6)
    assert not np.allclose(first.layers[0], second.layers[0])


def test_attention_prints_the_alignment_accuracy_of_the_sentence(conv_run, tmp_path, capsys):
    """On the pinyin card (monotone alignment) the printed accuracy is the share of output tokens
    whose strongest attention falls on the syllable of their own position (end tokens left out)."""
    from toolkit.api import attention

    out = tmp_path / "a.png"
    code, printed, err = _cli(capsys, "attention", conv_run, SOURCES[1], "--out", out)
    assert code == 0, err
    maps = attention(conv_run, SOURCES[1], out=tmp_path / "again.png")
    checked = min(len(maps.target_tokens), len(maps.source_tokens)) - 1
    expected = [float(np.mean(w[:checked, :len(maps.source_tokens) - 1].argmax(axis=1) == np.arange(checked)))
                for w in maps.layers]
    assert maps.alignment_by_layer == pytest.approx(expected)
    lines = printed.splitlines()
    assert lines[0] == maps.output
    assert lines[1] == f"Attention heatmap: {out} (2 decoder layers, one attention per layer)"
    assert lines[2].endswith(f"{checked} tokens): layer 1 {expected[0]:.1%}, layer 2 {expected[1]:.1%}")
    assert out.is_file()


def test_cjk_glyphs_render_as_glyphs_not_boxes():
    """Each character drawn with the bundled font differs from the font's missing-glyph box
    (.notdef) and from the others, and matplotlib's text path for 中 has an outline of its own."""
    from matplotlib.ft2font import FT2Font
    from matplotlib.textpath import TextPath

    from toolkit.reporting.cjk_font import cjk_font, cjk_font_path

    font = FT2Font(str(cjk_font_path()))
    font.set_size(48, 72)

    def bitmap(text):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # matplotlib warns that the missing character is missing
            font.set_text(text, 0.0)
        font.draw_glyphs_to_bitmap()
        return np.asarray(font.get_image()).copy()

    missing = chr(0xF0000)  # a private-use code point no font draws
    assert font.get_char_index(ord(missing)) == 0
    box = bitmap(missing)
    glyphs = {char: bitmap(char) for char in "中国人民天气"}
    for char, image in glyphs.items():
        assert font.get_char_index(ord(char)) != 0, char
        assert image.any(), f"{char} draws nothing"
        assert image.shape != box.shape or not np.array_equal(image, box), f"{char} is drawn as the missing-glyph box"
    drawn = list(glyphs.values())
    for i, a in enumerate(drawn):
        for b in drawn[i + 1:]:
            assert a.shape != b.shape or not np.array_equal(a, b)
    path = TextPath((0, 0), "中", prop=cjk_font())
    assert len(path.vertices) > 0
    assert not np.array_equal(path.vertices, TextPath((0, 0), missing, prop=cjk_font()).vertices)
    assert cjk_font().get_file() == str(cjk_font_path())


def test_each_evaluation_draws_the_samples_attention_and_the_card_shows_the_last(conv_run):
    from toolkit.rundir import _unrecognised, read_run_recipe

    samples = read_run_recipe(conv_run).eval.samples
    assert len(samples) == 2
    assert sorted(p.name for p in (conv_run / "attention").iterdir()) == [
        f"step-00000{step}-sample-{n}.png" for step in (1, 2) for n in (1, 2)]
    metrics = json.loads((conv_run / "metrics.json").read_text(encoding="utf-8"))
    assert [[f["file"] for f in e["figures"]] for e in metrics["evals"]] == [
        ["attention/step-000001-sample-1.png"], ["attention/step-000002-sample-1.png"]]
    assert metrics["figures"] == metrics["evals"][-1]["figures"]
    card = (conv_run / "README.md").read_text(encoding="utf-8")
    assert "](attention/step-000002-sample-1.png)" in card and "step-000001" not in card
    # The maps and the pipeline file are the run's own: output.overwrite may replace the folder.
    assert _unrecognised(conv_run) == []


def test_compare_shows_seq2seq_scores_and_plots_them_per_source_length(transformer_run, conv_run, tmp_path, capsys):
    metrics = {run: json.loads((run / "metrics.json").read_text(encoding="utf-8")) for run in (transformer_run, conv_run)}
    buckets = tmp_path / "buckets.png"
    code, out, err = _cli(capsys, "compare", transformer_run, conv_run, "--plot", "", "--bucket-plot", buckets, "--json")
    assert code == 0, err
    rows = json.loads(out[: out.rindex("]") + 1])
    for row, run in zip(rows, (transformer_run, conv_run)):
        final, last = metrics[run]["final"], metrics[run]["evals"][-1]
        assert {k: row[k] for k in ("bleu", "chrf", "cer", "exact_match")} == {k: final[k] for k in ("bleu", "chrf", "cer", "exact_match")}
        assert row["alignment_accuracy"] == last["alignment_accuracy"]
        assert row["parameters"] == metrics[run]["train"]["parameters"] and row["train_seconds"] > 0
    assert buckets.is_file() and f"per source length: {buckets}" in out

    code, out, err = _cli(capsys, "compare", transformer_run, conv_run, "--plot", "", "--bucket-plot", tmp_path / "b2.png")
    header = out.splitlines()[0].split()
    assert header[3:] == ["bleu", "chrf", "cer", "exact_match", "alignment_accuracy", "parameters", "steps", "train_seconds"]

    # A run without per-length scores (any other task) gets no bucket plot.
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(transformer_run / "recipe.yaml", other)
    data = metrics[transformer_run]
    data["evals"] = [{k: v for k, v in e.items() if k != "buckets"} for e in data["evals"]]
    (other / "metrics.json").write_text(json.dumps(data), encoding="utf-8")
    code, out, err = _cli(capsys, "compare", other, "--plot", "", "--bucket-plot", tmp_path / "none.png")
    assert code == 0, err
    assert not (tmp_path / "none.png").exists() and "per source length" not in out


def test_eval_stores_the_per_length_figures_as_a_png_next_to_metrics(conv_run, tmp_path, capsys):
    """`toolkit eval RUN --split test` draws its BLEU and CER per source length (the plot of
    `toolkit compare --bucket-plot`) into the run folder, records it and shows it on the card."""
    from toolkit.rundir import _unrecognised

    run = tmp_path / "run"
    shutil.copytree(conv_run, run)  # the module's run stays as trained for the other tests
    code, out, err = _cli(capsys, "eval", run, "--split", "test", "--max-batches", "1")
    assert code == 0, err
    figure = run / "buckets-pinyin_pd98-test.png"
    assert figure.is_file() and figure.stat().st_size > 0
    assert f"{figure}: BLEU and CER per source length on pinyin_pd98 test" in out
    evaluation = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["evaluations"][-1]
    assert evaluation["split"] == "test" and [f["file"] for f in evaluation["figures"]] == [figure.name]
    assert f"]({figure.name})" in (run / "README.md").read_text(encoding="utf-8")
    assert _unrecognised(run) == []

    # `toolkit compare --split test` compares those scores, per length too; a run not scored on it is named.
    buckets = tmp_path / "test_buckets.png"
    code, out, err = _cli(capsys, "compare", run, "--split", "test", "--plot", "", "--bucket-plot", buckets, "--json")
    assert code == 0, err
    row = json.loads(out[: out.rindex("]") + 1])[0]
    assert {k: row[k] for k in ("bleu", "cer", "alignment_accuracy")} == {
        k: evaluation["metrics"][k] for k in ("bleu", "cer", "alignment_accuracy")}
    assert buckets.is_file() and set(evaluation["buckets"]) <= {"1-10", "11-15", "16-20", "21+"}
    code, out, err = _cli(capsys, "compare", run, conv_run, "--split", "test", "--plot", "", "--bucket-plot", "")
    assert code != 0 and f"{conv_run} has no evaluation on the test split" in err and "Traceback" not in err
