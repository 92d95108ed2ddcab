"""Views: the columns a task asks of a corpus."""

from __future__ import annotations

VIEWS: dict[str, list[str]] = {
    "text": ["text"],  # causal LM, tokenizer training
    "words": ["words"],  # word2vec, whole-word masking
    "pos_tags": ["words", "pos"],  # POS tagging, NER derived from nr/ns/nt
    "text_label": ["text", "label"],  # sequence classification
    "documents": ["document", "text"],  # next-sentence prediction
    "word_documents": ["document", "words"],  # next-sentence prediction with whole-word masking
    "source_target": ["source", "target"],  # seq2seq: translation, pinyin -> characters
}

# What a card must do to provide a column it lacks.
HOW_TO_GET = {
    "words": "add `segment` to the card's preprocess steps (jieba) or use a segmented source",
    "pos": "use a POS-tagged source (format word_pos)",
    "label": "use a labelled source (format labelled_lines, or map a column with source.columns)",
    "document": "use a source with document structure (format json_docs), or say what a document is with "
    "`documents: {split_on: title_lines}` (newspaper articles) or `document_rows: N`",
    "source": "use a parallel source and map its two sides with source.columns (e.g. {translation.en: source, "
    "translation.zh: target}), or derive the card from another with source.derived_from and a transform",
    "target": "use a parallel source and map its two sides with source.columns (e.g. {translation.en: source, "
    "translation.zh: target}), or derive the card from another with source.derived_from and a transform",
}
