"""How long a streamed run takes to get back to its place on --resume: saved state versus skipping.

    python benchmarks/stream_resume_latency.py [--folder /tmp/data_throughput]   # after data_throughput.py

The toolkit restores the stream's saved state (the `datasets` stream's state_dict: file and row,
plus the tokens read but not yet in a block) and reads on from there. The alternative, replaying
the stream from its start and dropping the batches already trained on (what `skip_first_batches`
does for a built corpus), costs time in proportion to the position. Both are timed to the first
batch after batch N (char tokens, blocks of 128, batches of 16), on the corpus data_throughput.py
writes; both give the same batch (checked).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path


def main() -> None:
    from toolkit.data import load_card
    from toolkit.data.stream import open_stream
    from toolkit.families.gpt2.family import SPECIAL_TOKENS
    from toolkit.recipe import TokenizerSettings
    from toolkit.tasks.causal_lm import collate_blocks
    from toolkit.tasks.stream_blocks import PackedBlocks, StreamLoader
    from toolkit.tokenization import train_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/data_throughput"))
    parser.add_argument("--positions", type=int, nargs="+", default=[100, 1000, 4000])
    args = parser.parse_args()
    card = load_card(args.folder / "card.yaml")
    sample = [row["text"] for row, _ in zip(open_stream(card, ["text"])[0], range(20_000))]
    tokenizer = train_tokenizer(TokenizerSettings(kind="char"), sample, SPECIAL_TOKENS)

    def loader():
        return StreamLoader(PackedBlocks(open_stream(card, ["text"])[0], tokenizer, 128), 16,
                            collate_blocks(tokenizer, None, False))

    print(f"{'batch N':>8} {'tokens before':>14} {'restore state s':>16} {'skip N batches s':>17}")
    for position in args.positions:
        ahead = loader()
        list(itertools.islice(ahead, position))
        state = ahead.state_dict(position)
        start = time.perf_counter()
        restored = loader()
        restored.load_state_dict(state)
        by_state = next(iter(restored))["input_ids"]
        restore_seconds = time.perf_counter() - start
        start = time.perf_counter()
        by_skip = next(itertools.islice(loader(), position, None))["input_ids"]
        skip_seconds = time.perf_counter() - start
        assert by_state.equal(by_skip)
        print(f"{position:>8} {position * 16 * 128:>14,} {restore_seconds:>16.2f} {skip_seconds:>17.2f}")


if __name__ == "__main__":
    main()
