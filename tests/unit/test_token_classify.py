"""The NER path of token_classification, end to end without training: characters -> BIO tags ->
chunks -> tokens with [CLS]/[SEP] -> labels -> the task's own scoring. Issue 12 asked whether the
low NER F1 came from a bug here; these pin what was checked (labels sit on the right tokens, an
entity is never cut between chunks, gold tags scored through score_tagger give F1 1.0)."""

from __future__ import annotations

import datasets
import torch

from toolkit.data.ner import NER_LABELS
from toolkit.families.bert.family import SPECIAL_TOKENS
from toolkit.recipe import TokenizerSection, read_recipe
from toolkit.tasks.base import IGNORE
from toolkit.tasks.token_classify import collate, encode, score_tagger
from toolkit.tokenization import train_tokenizer

WORDS = ["中共中央", "总书记", "、", "国家", "主席", "江", "泽民", "在", "北京", "会见"]
POS = ["nt", "n", "w", "n", "n", "nr", "nr", "p", "ns", "v"]


def _encoded(block_size: int):
    rows = datasets.Dataset.from_dict({"words": [WORDS], "pos": [POS]})
    texts = rows.map(lambda row: {"text": "".join(row["words"])}, remove_columns=rows.column_names)
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), texts, SPECIAL_TOKENS)
    recipe = read_recipe("bert/tiny_ner", [f"data.block_size={block_size}"])
    return tokenizer, recipe, encode(rows, tokenizer, recipe, NER_LABELS)


def test_labels_sit_on_their_characters_after_cls_and_chunks_keep_entities_whole():
    tokenizer, _, examples = _encoded(block_size=12)  # 10 characters per chunk, then [CLS] and [SEP]
    pieces = []
    for example in examples:
        tokens = tokenizer.convert_ids_to_tokens(example["input_ids"])
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        assert example["labels"][0] == IGNORE and example["labels"][-1] == IGNORE
        pieces.append([(token, NER_LABELS[label]) for token, label in zip(tokens[1:-1], example["labels"][1:-1])])
    assert pieces[0][:4] == [("中", "B-ORG"), ("共", "I-ORG"), ("中", "I-ORG"), ("央", "I-ORG")]
    # surname and given name are two nr words but one PER entity; the cut before 江 keeps it whole
    assert pieces[1][2:5] == [("江", "B-PER"), ("泽", "I-PER"), ("民", "I-PER")]
    assert [label for _, label in pieces[1][6:8]] == ["B-LOC", "I-LOC"]
    assert sum(len(piece) for piece in pieces) == len("".join(WORDS))


class _Oracle(torch.nn.Module):
    """Logits that pick each position's gold label (class 0 where the label is ignored)."""

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        logits = torch.nn.functional.one_hot(labels.clamp(min=0), len(NER_LABELS)).float()
        return type("Out", (), {"loss": torch.tensor(0.0), "logits": logits})()


class _OneProcess:
    gather_for_metrics = staticmethod(lambda tensor: tensor)
    pad_across_processes = staticmethod(lambda tensor, dim, pad_index: tensor)


def test_gold_labels_scored_by_the_task_give_entity_f1_one():
    tokenizer, recipe, examples = _encoded(block_size=12)
    batch = collate(tokenizer, recipe, for_eval=True)([dict(example) for example in examples])
    result = score_tagger(_OneProcess(), _Oracle(), [batch], recipe, NER_LABELS, tokenizer)
    assert (result["f1"], result["precision"], result["recall"], result["accuracy"]) == (1.0, 1.0, 1.0, 1.0)
